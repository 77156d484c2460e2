/* groot forward: the network on preprocessed inputs, every intermediate out.
 * The debugging entry point the golden tests drive: inputs and outputs use
 * the goldens' tensor names and shapes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_PREFIXES 16

static void forward_usage(void)
{
    fprintf(stderr,
            "usage: groot forward --model DIR --inputs FILE.safetensors --prefix P [--prefix P2 ...]\n"
            "                     --out OUT.safetensors [--device cpu|cuda] [--precision P]\n"
            "                     [--denoising-steps N] [--threads N] [--assets DIR]\n"
            "Reads P.input_ids (int32 [L]), P.pixel_values (f32 [V,3,224,224]), P.state\n"
            "(f32 [1,1,max_state_dim]), P.embodiment_id (int32 [1]), P.init_noise\n"
            "(f32 [1,horizon,action_dim]); writes vit_embeds, backbone_features, vl_embs,\n"
            "state_features, velocities and action_pred (named P.<name> when several\n"
            "prefixes run as one batch).\n");
}

/* Fetches prefix.name, checking dtype and that its element count is plausible. */
static int get_input(groot_tensors *in, const char *prefix, const char *name, groot_dtype want,
                     int ndim_want, int64_t shape[GROOT_MAX_DIMS], const void **data)
{
    char full[512];
    snprintf(full, sizeof full, "%s.%s", prefix, name);
    groot_dtype dt;
    int ndim;
    groot_status st = groot_tensors_get(in, full, &dt, &ndim, shape, data);
    if (st != GROOT_OK) {
        cli_report("forward", "reading input", st, in);
        return 0;
    }
    if (dt != want || ndim != ndim_want) {
        fprintf(stderr, "groot forward: input '%s' must be %s with %d dims (got dtype %d, %d dims)\n", full,
                want == GROOT_I32 ? "int32" : "float32", ndim_want, (int)dt, ndim);
        return 0;
    }
    return 1;
}

typedef struct sample_bufs {
    groot_sample in;
    groot_sample_out out;
    float *mem;
} sample_bufs;

static int prepare_sample(groot_tensors *in, const char *p, const groot_model_dims *d, sample_bufs *s)
{
    int64_t sh[GROOT_MAX_DIMS];
    const void *ids, *pix, *state, *emb, *noise;
    if (!get_input(in, p, "input_ids", GROOT_I32, 1, sh, &ids))
        return 0;
    s->in.input_ids = ids;
    s->in.seq_len = (int)sh[0];
    if (!get_input(in, p, "pixel_values", GROOT_F32, 4, sh, &pix))
        return 0;
    if (sh[1] != 3 || sh[2] != d->image_size || sh[3] != d->image_size) {
        fprintf(stderr, "groot forward: %s.pixel_values must be [V,3,%d,%d]\n", p, d->image_size, d->image_size);
        return 0;
    }
    s->in.pixel_values = pix;
    s->in.num_views = (int)sh[0];
    if (!get_input(in, p, "state", GROOT_F32, 3, sh, &state))
        return 0;
    if (sh[0] != 1 || sh[1] != 1 || sh[2] != d->max_state_dim) {
        fprintf(stderr, "groot forward: %s.state must be [1,1,%d]\n", p, d->max_state_dim);
        return 0;
    }
    s->in.state = state;
    if (!get_input(in, p, "embodiment_id", GROOT_I32, 1, sh, &emb))
        return 0;
    if (sh[0] != 1) {
        fprintf(stderr, "groot forward: %s.embodiment_id must be [1]\n", p);
        return 0;
    }
    s->in.embodiment_id = *(const int32_t *)emb;
    if (!get_input(in, p, "init_noise", GROOT_F32, 3, sh, &noise))
        return 0;
    if (sh[0] != 1 || sh[1] != d->action_horizon || sh[2] != d->action_dim) {
        fprintf(stderr, "groot forward: %s.init_noise must be [1,%d,%d]\n", p, d->action_horizon, d->action_dim);
        return 0;
    }
    s->in.init_noise = noise;

    size_t L = (size_t)s->in.seq_len, V = (size_t)s->in.num_views, D = (size_t)d->backbone_dim;
    size_t n_vit = V * d->tokens_per_image * D, n_bb = L * D, n_vl = L * D, n_sf = d->state_feature_dim;
    size_t n_act = (size_t)d->action_horizon * d->action_dim, n_vel = (size_t)d->denoising_steps * n_act;
    s->mem = malloc((n_vit + n_bb + n_vl + n_sf + n_vel + n_act) * sizeof(float));
    if (!s->mem) {
        fprintf(stderr, "groot forward: out of memory\n");
        return 0;
    }
    float *m = s->mem;
    s->out.vit_embeds = m, m += n_vit;
    s->out.backbone_features = m, m += n_bb;
    s->out.vl_embs = m, m += n_vl;
    s->out.state_features = m, m += n_sf;
    s->out.velocities = m, m += n_vel;
    s->out.action_pred = m;
    return 1;
}

static int add_output(groot_tensors *out, const char *prefix, const char *name, int ndim,
                      const int64_t *shape, const float *data)
{
    char full[512];
    if (prefix)
        snprintf(full, sizeof full, "%s.%s", prefix, name);
    else
        snprintf(full, sizeof full, "%s", name);
    groot_status st = groot_tensors_add(out, full, GROOT_F32, ndim, shape, data);
    if (st != GROOT_OK) {
        cli_report("forward", "adding output", st, out);
        return 0;
    }
    return 1;
}

static int write_outputs(groot_tensors *out, const char *prefix, const groot_model_dims *d,
                         const sample_bufs *s)
{
    int64_t L = s->in.seq_len, V = s->in.num_views, D = d->backbone_dim;
    int64_t vit[3] = {V, d->tokens_per_image, D}, feat[3] = {1, L, D};
    int64_t sf[3] = {1, 1, d->state_feature_dim};
    int64_t vel[4] = {d->denoising_steps, 1, d->action_horizon, d->action_dim};
    int64_t act[3] = {1, d->action_horizon, d->action_dim};
    return add_output(out, prefix, "vit_embeds", 3, vit, s->out.vit_embeds) &&
           add_output(out, prefix, "backbone_features", 3, feat, s->out.backbone_features) &&
           add_output(out, prefix, "vl_embs", 3, feat, s->out.vl_embs) &&
           add_output(out, prefix, "state_features", 3, sf, s->out.state_features) &&
           add_output(out, prefix, "velocities", 4, vel, s->out.velocities) &&
           add_output(out, prefix, "action_pred", 3, act, s->out.action_pred);
}

int cmd_forward(int argc, char **argv)
{
    const char *model_dir = NULL, *inputs = NULL, *out_path = NULL, *assets = NULL;
    const char *prefixes[MAX_PREFIXES];
    int num_prefixes = 0, bad = 0;
    groot_model_options opts;
    groot_model_options_init(&opts);
    for (int i = 1; i < argc && !bad; i++) {
        const char *v;
        long n;
        if (!strcmp(argv[i], "--help")) {
            forward_usage();
            return 0;
        } else if ((v = cli_opt(argc, argv, &i, "--model", &bad))) {
            model_dir = v;
        } else if ((v = cli_opt(argc, argv, &i, "--inputs", &bad))) {
            inputs = v;
        } else if ((v = cli_opt(argc, argv, &i, "--prefix", &bad))) {
            if (num_prefixes == MAX_PREFIXES) {
                fprintf(stderr, "groot forward: at most %d prefixes\n", MAX_PREFIXES);
                return 2;
            }
            prefixes[num_prefixes++] = v;
        } else if ((v = cli_opt(argc, argv, &i, "--out", &bad))) {
            out_path = v;
        } else if ((v = cli_opt(argc, argv, &i, "--device", &bad))) {
            opts.device = v;
        } else if ((v = cli_opt(argc, argv, &i, "--precision", &bad))) {
            opts.precision = v;
        } else if ((v = cli_opt(argc, argv, &i, "--assets", &bad))) {
            assets = v;
        } else if ((v = cli_opt(argc, argv, &i, "--denoising-steps", &bad))) {
            if (!cli_parse_long("--denoising-steps", v, 1, 1000, &n))
                return 2;
            opts.denoising_steps = (int)n;
        } else if ((v = cli_opt(argc, argv, &i, "--threads", &bad))) {
            if (!cli_parse_long("--threads", v, 0, 1024, &n))
                return 2;
            opts.num_threads = (int)n;
        } else if (!bad) {
            fprintf(stderr, "groot forward: unknown option '%s'\n", argv[i]);
            bad = 1;
        }
    }
    if (bad || !model_dir || !inputs || !out_path || num_prefixes == 0) {
        forward_usage();
        return 2;
    }

    int rc = 1;
    groot_model *model = NULL;
    groot_tensors *in = NULL, *out = NULL;
    sample_bufs bufs[MAX_PREFIXES];
    memset(bufs, 0, sizeof bufs);
    groot_sample samples[MAX_PREFIXES];
    groot_sample_out outs[MAX_PREFIXES];
    groot_model_dims dims;
    groot_timings t;
    groot_status st;

    double t0 = cli_now_ms();
    if ((st = groot_model_open(model_dir, assets, &opts, &model)) != GROOT_OK) {
        cli_report("forward", "opening the model", st, model);
        goto done;
    }
    double t_open = cli_now_ms() - t0;
    groot_model_get_dims(model, &dims);
    if ((st = groot_tensors_open(inputs, &in)) != GROOT_OK) {
        cli_report("forward", "opening inputs", st, in);
        goto done;
    }
    for (int b = 0; b < num_prefixes; b++) {
        if (!prepare_sample(in, prefixes[b], &dims, &bufs[b]))
            goto done;
        samples[b] = bufs[b].in;
        outs[b] = bufs[b].out;
    }
    if ((st = groot_forward(model, samples, num_prefixes, outs, &t)) != GROOT_OK) {
        cli_report("forward", "running the network", st, model);
        goto done;
    }
    if ((st = groot_tensors_create(&out)) != GROOT_OK) {
        cli_report("forward", "creating outputs", st, out);
        goto done;
    }
    for (int b = 0; b < num_prefixes; b++)
        if (!write_outputs(out, num_prefixes > 1 ? prefixes[b] : NULL, &dims, &bufs[b]))
            goto done;
    if ((st = groot_tensors_write(out, out_path)) != GROOT_OK) {
        cli_report("forward", "writing outputs", st, out);
        goto done;
    }
    fprintf(stderr,
            "groot forward: batch %d, load %.1f ms; upload %.2f, vision %.2f, language %.2f, vl %.2f, "
            "action head %.2f, download %.2f, total %.2f ms\n",
            num_prefixes, t_open, t.upload_ms, t.vision_ms, t.language_ms, t.vl_ms, t.action_head_ms,
            t.download_ms, t.total_ms);
    rc = 0;
done:
    for (int b = 0; b < num_prefixes; b++)
        free(bufs[b].mem);
    groot_tensors_close(out);
    groot_tensors_close(in);
    groot_model_close(model);
    return rc;
}
