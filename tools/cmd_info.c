/* groot info: what a checkpoint holds, without loading its weights. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cmd_info(int argc, char **argv)
{
    const char *model = NULL, *assets = NULL;
    int bad = 0;
    for (int i = 1; i < argc && !bad; i++) {
        const char *v;
        if (!strcmp(argv[i], "--help")) {
            bad = 1;
        } else if ((v = cli_opt(argc, argv, &i, "--model", &bad))) {
            model = v;
        } else if ((v = cli_opt(argc, argv, &i, "--assets", &bad))) {
            assets = v;
        } else if (!bad) {
            fprintf(stderr, "groot info: unknown option '%s'\n", argv[i]);
            bad = 1;
        }
    }
    if (bad || !model) {
        fprintf(stderr, "usage: groot info --model DIR [--assets DIR]\n");
        return 2;
    }
    size_t cap = 1 << 16;
    char *buf = malloc(cap);
    if (!buf)
        return 1;
    groot_status st = groot_checkpoint_describe(model, assets, buf, cap);
    if (st != GROOT_OK) {
        fprintf(stderr, "groot info: %s: %s\n", groot_status_name(st), buf);
        free(buf);
        return 1;
    }
    fputs(buf, stdout);
    free(buf);
    return 0;
}
