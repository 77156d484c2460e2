/* groot synth: a checkpoint in the released layout with seeded random weights. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cmd_synth(int argc, char **argv)
{
    const char *preset = "tiny", *out = NULL;
    long seed = 0;
    int bad = 0;
    for (int i = 1; i < argc && !bad; i++) {
        const char *v;
        if (!strcmp(argv[i], "--help")) {
            bad = 1;
        } else if ((v = cli_opt(argc, argv, &i, "--preset", &bad))) {
            preset = v;
        } else if ((v = cli_opt(argc, argv, &i, "--seed", &bad))) {
            if (!cli_parse_long("--seed", v, 0, 0x7fffffffL, &seed))
                return 2;
        } else if ((v = cli_opt(argc, argv, &i, "--out", &bad))) {
            out = v;
        } else if (!bad) {
            fprintf(stderr, "groot synth: unknown option '%s'\n", argv[i]);
            bad = 1;
        }
    }
    if (bad || !out) {
        fprintf(stderr, "usage: groot synth --preset tiny|n1.5-3b [--seed S] --out DIR\n"
                        "Writes a complete checkpoint with RANDOM weights: its actions mean nothing.\n");
        return 2;
    }
    char err[1024] = "";
    double t0 = cli_now_ms();
    groot_status st = groot_synth(preset, (uint64_t)seed, out, err, sizeof err);
    if (st != GROOT_OK) {
        fprintf(stderr, "groot synth: %s: %s\n", groot_status_name(st), err);
        return 1;
    }
    fprintf(stderr, "groot synth: wrote preset '%s' (seed %ld, random weights) to %s in %.1f s\n", preset, seed,
            out, (cli_now_ms() - t0) / 1e3);
    return 0;
}
