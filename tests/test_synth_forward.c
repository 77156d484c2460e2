/*
 * The synthesis round trip: `groot synth --preset tiny` writes a checkpoint
 * that `groot forward` opens and runs to finite actions of the right shape —
 * through the library and through the CLI, which must agree exactly.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "groot.h"
#include "test_util.h"

static int all_finite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return 0;
    return 1;
}

int main(void)
{
    const char *dir = tu_tmpdir();
    char model[512], out[512], cmd[4096], err[1024];
    snprintf(model, sizeof model, "%s/tiny", dir);
    snprintf(out, sizeof out, "%s/out.safetensors", dir);
    groot_status st = groot_synth("tiny", 3, model, err, sizeof err);
    CHECK(st == GROOT_OK, "synth: %s", err);

    groot_model *m = NULL;
    st = groot_model_open(model, GROOT_ASSETS_DIR, NULL, &m);
    CHECK(st == GROOT_OK, "open synthesized model: %s", groot_errmsg(m));
    groot_tensors *in = NULL;
    CHECK(groot_tensors_open(tu_data("goldens/tiny/cases.safetensors"), &in) == GROOT_OK, "inputs");
    if (st != GROOT_OK || !in)
        return tu_finish("test_synth_forward");
    groot_model_dims d;
    groot_model_get_dims(m, &d);

    const void *ids, *pix, *state, *emb, *noise;
    int64_t shape[GROOT_MAX_DIMS];
    groot_tensors_get(in, "a.0.input_ids", NULL, NULL, shape, &ids);
    int L = (int)shape[0];
    groot_tensors_get(in, "a.0.pixel_values", NULL, NULL, NULL, &pix);
    groot_tensors_get(in, "a.0.state", NULL, NULL, NULL, &state);
    groot_tensors_get(in, "a.0.embodiment_id", NULL, NULL, NULL, &emb);
    groot_tensors_get(in, "a.0.init_noise", NULL, NULL, NULL, &noise);
    groot_sample s = {.input_ids = ids, .seq_len = L, .pixel_values = pix, .num_views = 1, .state = state,
                      .embodiment_id = *(const int32_t *)emb, .init_noise = noise};
    size_t na = (size_t)d.action_horizon * d.action_dim;
    float *act = malloc(na * sizeof(float)), *bb = malloc((size_t)L * d.backbone_dim * sizeof(float));
    groot_sample_out o = {.action_pred = act, .backbone_features = bb};
    st = groot_forward(m, &s, 1, &o, NULL);
    CHECK(st == GROOT_OK, "forward: %s", groot_errmsg(m));
    CHECK(d.action_horizon == 16 && d.action_dim == 32, "action shape %dx%d", d.action_horizon, d.action_dim);
    CHECK(all_finite(act, na) && all_finite(bb, (size_t)L * d.backbone_dim), "outputs not finite");
    double moved = 0;
    for (size_t i = 0; i < na; i++)
        moved += fabs(act[i] - ((const float *)noise)[i]);
    CHECK(moved > 1e-3 * na, "the flow did not move the actions (%g)", moved);

    /* The CLI on the same inputs writes the same actions, given the
     * OpenBLAS kernels this process runs (it would otherwise choose others
     * where groot_cpu_kernels_advice names some, and round differently). */
    setenv("OPENBLAS_CORETYPE", openblas_get_corename(), 1);
    snprintf(cmd, sizeof cmd, "%s/groot forward --model %s --inputs %s --prefix a.0 --out %s --assets %s 2>/dev/null",
             GROOT_BINARY_DIR, model, tu_data("goldens/tiny/cases.safetensors"), out, GROOT_ASSETS_DIR);
    CHECK(system(cmd) == 0, "%s failed", cmd);
    groot_tensors *res = NULL;
    const void *cli_act = NULL;
    groot_dtype dt;
    int ndim = 0;
    if (groot_tensors_open(out, &res) == GROOT_OK &&
        groot_tensors_get(res, "action_pred", &dt, &ndim, shape, &cli_act) == GROOT_OK) {
        CHECK(dt == GROOT_F32 && ndim == 3 && shape[0] == 1 && shape[1] == 16 && shape[2] == 32,
              "CLI action_pred shape");
        CHECK(memcmp(cli_act, act, na * sizeof(float)) == 0, "CLI and library disagree");
    } else {
        CHECK(0, "reading %s: %s", out, groot_errmsg(res));
    }
    groot_tensors_close(res);
    free(act);
    free(bb);
    groot_tensors_close(in);
    groot_model_close(m);
    return tu_finish("test_synth_forward");
}
