/* `groot tokenize` (tools/cmd_tokenize.c) run in-process, with its standard
 * streams pointed at files, so that it can be checked before the whole CLI
 * links. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "test_util.h"

static char out_path[512], err_path[512], in_path[512];

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = calloc(1, 1 << 16);
    if (buf)
        buf[fread(buf, 1, (1 << 16) - 1, f)] = '\0';
    fclose(f);
    return buf;
}

/* Runs cmd_tokenize with stdout/stderr captured; stdin from `input` when not NULL. */
static int run(int argc, char **argv, const char *input, char **out, char **err)
{
    fflush(stdout);
    fflush(stderr);
    int saved_out = dup(1), saved_err = dup(2), saved_in = -1;
    int fo = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int fe = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fo, 1);
    dup2(fe, 2);
    close(fo);
    close(fe);
    if (input) {
        FILE *f = fopen(in_path, "wb");
        fwrite(input, 1, strlen(input), f);
        fclose(f);
        saved_in = dup(0);
        int fi = open(in_path, O_RDONLY);
        dup2(fi, 0);
        close(fi);
        clearerr(stdin);
    }
    int rc = cmd_tokenize(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    if (saved_in >= 0) {
        dup2(saved_in, 0);
        close(saved_in);
        clearerr(stdin);
    }
    *out = slurp(out_path);
    *err = slurp(err_path);
    return rc;
}

int main(void)
{
    const char *dir = tu_tmpdir();
    snprintf(out_path, sizeof out_path, "%s/out", dir);
    snprintf(err_path, sizeof err_path, "%s/err", dir);
    snprintf(in_path, sizeof in_path, "%s/in", dir);
    char *out, *err;

    char *a1[] = {"tokenize", "--text", "put 2 cups", "--assets", GROOT_ASSETS_DIR};
    int rc = run(5, a1, NULL, &out, &err);
    CHECK(rc == 0 && out && !strcmp(out, "[628,220,17,25374]\n"), "--text: rc %d, '%s' '%s'", rc,
          out, err);
    free(out);
    free(err);

    char *a2[] = {"tokenize", "--assets=" GROOT_ASSETS_DIR};
    rc = run(2, a2, "Qu\xC3\xA9?", &out, &err);
    CHECK(rc == 0 && out && !strcmp(out, "[65706,30]\n"), "stdin: rc %d, '%s' '%s'", rc, out, err);
    free(out);
    free(err);

    char *a3[] = {"tokenize", "--assets", GROOT_ASSETS_DIR};
    rc = run(3, a3, "", &out, &err);
    CHECK(rc == 0 && out && !strcmp(out, "[]\n"), "empty stdin: rc %d, '%s'", rc, out);
    free(out);
    free(err);

    char *a4[] = {"tokenize", "--text", "ok \xFF", "--assets", GROOT_ASSETS_DIR};
    rc = run(5, a4, NULL, &out, &err);
    CHECK(rc == 1 && err && strstr(err, "GROOT_ERR_INVALID_ARG") && strstr(err, "byte offset 3"),
          "invalid UTF-8: rc %d, '%s'", rc, err);
    CHECK(out && out[0] == '\0', "nothing on stdout after an error: '%s'", out);
    free(out);
    free(err);

    char *a5[] = {"tokenize", "--bogus"};
    rc = run(2, a5, NULL, &out, &err);
    CHECK(rc == 2 && err && strstr(err, "--bogus"), "unknown option: rc %d", rc);
    free(out);
    free(err);

    char *a6[] = {"tokenize", "--text", "x", "--assets", "/nonexistent"};
    rc = run(5, a6, NULL, &out, &err);
    CHECK(rc == 1 && err && strstr(err, "GROOT_ERR_IO"), "missing assets: rc %d, '%s'", rc, err);
    free(out);
    free(err);

    unlink(out_path);
    unlink(err_path);
    unlink(in_path);
    rmdir(dir);
    return tu_finish("test_tokenizer_cli");
}
