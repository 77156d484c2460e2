/* groot tokenize: the token ids of a text, as one JSON array on one line. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: groot tokenize [--text STR] [--assets DIR]\n\n"
            "Prints the token ids of STR (or of all of standard input, byte for byte,\n"
            "a final newline included) as a JSON array. Special tokens such as\n"
            "<|im_start|> are matched literally; no BOS/EOS is added.\n\n"
            "  --text STR    the text (UTF-8); without it, standard input is read\n"
            "  --assets DIR  groot's assets directory (default: the compiled-in one)\n");
}

/* All of stdin; NULL when it cannot be read or memory runs out. */
static char *read_stdin(size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, stdin);
        if (n < cap)
            break;
        char *grown = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
        if (!grown) {
            free(buf);
            return NULL;
        }
        buf = grown;
        cap *= 2;
    }
    if (buf && ferror(stdin)) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

int cmd_tokenize(int argc, char **argv)
{
    const char *text = NULL, *assets = NULL, *v;
    int bad = 0;
    for (int i = 1; i < argc && !bad; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if ((v = cli_opt(argc, argv, &i, "--text", &bad))) {
            text = v;
        } else if ((v = cli_opt(argc, argv, &i, "--assets", &bad))) {
            assets = v;
        } else if (!bad) {
            fprintf(stderr, "groot tokenize: unknown argument '%s'\n", argv[i]);
            bad = 1;
        }
    }
    if (bad) {
        usage(stderr);
        return 2;
    }

    char *input = NULL;
    size_t len = 0;
    if (text) {
        len = strlen(text);
    } else {
        input = read_stdin(&len);
        if (!input) {
            fprintf(stderr, "groot tokenize: cannot read standard input\n");
            return 1;
        }
        text = input;
    }

    groot_tokenizer *tok = NULL;
    groot_status st = groot_tokenizer_open(assets, &tok);
    if (st != GROOT_OK) {
        cli_report("tokenize", "opening the tokenizer", st, tok);
        groot_tokenizer_close(tok);
        free(input);
        return 1;
    }
    const int32_t *ids = NULL;
    size_t n = 0;
    st = groot_tokenize(tok, text, len, &ids, &n);
    if (st != GROOT_OK) {
        cli_report("tokenize", "tokenizing", st, tok);
    } else {
        putchar('[');
        for (size_t i = 0; i < n; i++)
            printf(i ? ",%d" : "%d", (int)ids[i]);
        puts("]");
    }
    groot_tokenizer_close(tok);
    free(input);
    if (st == GROOT_OK && (fflush(stdout) != 0 || ferror(stdout))) {
        fprintf(stderr, "groot tokenize: cannot write standard output\n");
        return 1;
    }
    return st == GROOT_OK ? 0 : 1;
}
