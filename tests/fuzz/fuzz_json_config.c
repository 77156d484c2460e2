/* libFuzzer target for the model config loader: the bytes are tried as a
 * checkpoint's config.json (next to the bundled backbone config) and, in a
 * second checkpoint, as its own eagle2_hg_model/config.json next to the tiny
 * golden config.json. Either gives a validated config or an error, never a
 * crash or a leak; a config that loads satisfies the loader's promises.
 *   fuzz_json_config -max_total_time=30 [corpus dir] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/json_util.h"
#include "model/config.h"

/* Temp checkpoints, made once: main/ gets the bytes as config.json; back/
 * holds the golden config.json and gets them as its backbone config. */
static char tmp_root[64], main_dir[128], back_dir[128];

static void cleanup(void)
{
    char p[256];
    snprintf(p, sizeof p, "%s/config.json", main_dir), unlink(p);
    snprintf(p, sizeof p, "%s/eagle2_hg_model/config.json", back_dir), unlink(p);
    snprintf(p, sizeof p, "%s/eagle2_hg_model", back_dir), rmdir(p);
    snprintf(p, sizeof p, "%s/config.json", back_dir), unlink(p);
    rmdir(main_dir);
    rmdir(back_dir);
    rmdir(tmp_root);
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) {
        fprintf(stderr, "fuzz_json_config: cannot write %s\n", path);
        abort();
    }
}

/* The golden tiny config.json. */
static const char GOLDEN[] = GROOT_TEST_DATA "/goldens/tiny/checkpoint/config.json";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    snprintf(tmp_root, sizeof tmp_root, "/tmp/fuzz_json_config.XXXXXX");
    if (!mkdtemp(tmp_root))
        abort();
    atexit(cleanup);
    snprintf(main_dir, sizeof main_dir, "%s/main", tmp_root);
    snprintf(back_dir, sizeof back_dir, "%s/back", tmp_root);
    char p[256];
    snprintf(p, sizeof p, "%s/eagle2_hg_model", back_dir);
    if (mkdir(main_dir, 0700) || mkdir(back_dir, 0700) || mkdir(p, 0700))
        abort();
    char *text;
    size_t len;
    gr_error err = {0};
    if (gr_read_file(GOLDEN, &text, &len, &err) != GROOT_OK) {
        fprintf(stderr, "fuzz_json_config: %s\n", err.msg);
        abort();
    }
    snprintf(p, sizeof p, "%s/config.json", back_dir);
    write_file(p, text, len);
    free(text);
    return 0;
}

static void check(const char *dir, const uint8_t *data, size_t size)
{
    gr_model_config cfg;
    gr_error err = {0};
    groot_status st = gr_model_config_load(dir, GROOT_ASSETS_DIR, &cfg, &err);
    if (st != GROOT_OK) {
        if (!err.msg[0])
            abort();
        return;
    }
    /* What a loaded config promises the model code. */
    const gr_vision_config *v = &cfg.vision;
    const gr_text_config *t = &cfg.text;
    const gr_action_config *a = &cfg.action;
    if (v->hidden <= 0 || v->heads <= 0 || v->hidden % v->heads || v->patch <= 0 ||
        v->image_size % v->patch || t->heads <= 0 || t->kv_heads <= 0 || t->heads % t->kv_heads ||
        t->head_dim <= 0 || t->head_dim % 2 || t->layers < 1 || cfg.image_token_id < 0 ||
        cfg.image_token_id >= t->vocab || cfg.tokens_per_image <= 0 ||
        (long long)a->dit.heads * a->dit.head_dim != a->embed ||
        (long long)a->vlsa.heads * a->vlsa.head_dim != a->backbone_dim ||
        a->backbone_dim != t->hidden || a->horizon > a->max_seq_len)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char p[256];
    snprintf(p, sizeof p, "%s/config.json", main_dir);
    write_file(p, data, size);
    check(main_dir, data, size);
    snprintf(p, sizeof p, "%s/eagle2_hg_model/config.json", back_dir);
    write_file(p, data, size);
    check(back_dir, data, size);
    return 0;
}
