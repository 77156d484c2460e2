/*
 * State/action transform plans (see normalize.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/normalize.h"

typedef enum op_kind { OP_SINCOS, OP_ROTATE, OP_NORM } op_kind;

typedef struct sa_op {
    op_kind kind;
    int in_dim, out_dim;
    gr_rotation from, to;  /* OP_ROTATE */
    gr_norm_mode mode;     /* OP_NORM */
    double *a, *b;         /* OP_NORM: (min, max), (q01, q99) or (mean, std); owned */
} sa_op;

typedef struct key_plan {
    const char *key;
    int raw_dim, model_dim;
    sa_op *ops;
    int num_ops;
} key_plan;

struct gr_transform_plan {
    key_plan *keys[2];
    int num_keys[2];
    int total[2];
    double *scratch; /* two rows of scratch_dim doubles */
    int scratch_dim;
};

static void free_keys(key_plan *k, int n)
{
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < k[i].num_ops; j++) {
            free(k[i].ops[j].a);
            free(k[i].ops[j].b);
        }
        free(k[i].ops);
    }
    free(k);
}

void gr_transform_plan_free(gr_transform_plan *p)
{
    if (!p)
        return;
    for (int s = 0; s < 2; s++)
        free_keys(p->keys[s], p->num_keys[s]);
    free(p->scratch);
    free(p);
}

static groot_status push_op(key_plan *k, const sa_op *op, gr_error *err)
{
    sa_op *o = realloc(k->ops, (size_t)(k->num_ops + 1) * sizeof *o);
    if (!o)
        return gr_fail(err, GROOT_ERR_NOMEM, "out of memory");
    k->ops = o;
    k->ops[k->num_ops++] = *op;
    return GROOT_OK;
}

static double *copy_stat(const double *v, int n)
{
    double *c = malloc(sizeof(double) * (size_t)(n ? n : 1));
    if (c)
        memcpy(c, v, sizeof(double) * (size_t)n);
    return c;
}

static double *fill_stat(double v, int n)
{
    double *c = malloc(sizeof(double) * (size_t)(n ? n : 1));
    for (int i = 0; c && i < n; i++)
        c[i] = v;
    return c;
}

/* Fixed min_max range of a converted absolute rotation (float32, as the
 * reference's statistics are). */
static double rotation_range(const gr_rotation *r)
{
    if (r->kind == GR_ROT_EULER || r->kind == GR_ROT_AXIS_ANGLE)
        return (double)(float)M_PI;
    return 1.0;
}

/* Adds the ops of one StateActionTransform step; *dim is the key's current
 * width, updated. */
static groot_status add_transform_ops(key_plan *k, const gr_sa_step *s, const gr_metadata *md,
                                      const char *modality, const char *subkey,
                                      const gr_meta_key *mk, int *dim, gr_error *err)
{
    int rotated = 0;
    gr_rotation to = s->target;
    if (s->has_target) {
        if (!mk->rotation_type)
            return gr_fail(err, GROOT_ERR_FORMAT,
                           "%s: embodiment tag \"%s\": target_rotations converts %s, but its "
                           "metadata has no rotation_type (%s.modalities.%s.%s.rotation_type)",
                           md->path, md->tag, s->key, md->tag, modality, subkey);
        char what[512];
        snprintf(what, sizeof what, "%s: %s.modalities.%s.%s.rotation_type", md->path, md->tag,
                 modality, subkey);
        gr_rotation from;
        GR_TRY(gr_rotation_parse(mk->rotation_type, what, &from, err));
        if (!gr_rotation_same(&from, &to)) {
            if (*dim != gr_rotation_dim(&from))
                return gr_fail(err, GROOT_ERR_FORMAT,
                               "%s: embodiment tag \"%s\": %s has %d values but rotation_type "
                               "\"%s\" has %d",
                               md->path, md->tag, s->key, *dim, mk->rotation_type,
                               gr_rotation_dim(&from));
            sa_op op = {.kind = OP_ROTATE, .in_dim = *dim, .out_dim = gr_rotation_dim(&to),
                        .from = from, .to = to};
            GR_TRY(push_op(k, &op, err));
            *dim = op.out_dim;
            rotated = 1;
        }
    }
    if (s->mode == GR_NORM_NONE)
        return GROOT_OK;
    sa_op op = {.kind = OP_NORM, .in_dim = *dim, .out_dim = *dim, .mode = s->mode};
    if (rotated) {
        if (!mk->absolute)
            return gr_fail(err, GROOT_ERR_INVALID_ARG,
                           "%s: %s is a relative rotation converted to another representation: "
                           "it cannot be normalized (the reference refuses it too)",
                           md->path, s->key);
        if (s->mode != GR_NORM_MIN_MAX)
            return gr_fail(err, GROOT_ERR_INVALID_ARG,
                           "%s: %s is a converted absolute rotation: it must be normalized "
                           "min_max (got %s)",
                           md->path, s->key, gr_norm_mode_name(s->mode));
        double r = rotation_range(&to);
        op.a = fill_stat(-r, *dim);
        op.b = fill_stat(r, *dim);
    } else if (s->mode != GR_NORM_BINARY) {
        gr_stat sa = s->mode == GR_NORM_MIN_MAX ? GR_STAT_MIN
                     : s->mode == GR_NORM_Q99   ? GR_STAT_Q01
                                                : GR_STAT_MEAN;
        gr_stat sb = s->mode == GR_NORM_MIN_MAX ? GR_STAT_MAX
                     : s->mode == GR_NORM_Q99   ? GR_STAT_Q99
                                                : GR_STAT_STD;
        const double *va, *vb;
        GR_TRY(gr_metadata_stat(md, modality, subkey, sa, *dim, &va, err));
        GR_TRY(gr_metadata_stat(md, modality, subkey, sb, *dim, &vb, err));
        op.a = copy_stat(va, *dim);
        op.b = copy_stat(vb, *dim);
    }
    if (s->mode != GR_NORM_BINARY && (!op.a || !op.b)) {
        free(op.a);
        free(op.b);
        return gr_fail(err, GROOT_ERR_NOMEM, "out of memory");
    }
    groot_status st = push_op(k, &op, err);
    if (st != GROOT_OK) {
        free(op.a);
        free(op.b);
    }
    return st;
}

static groot_status build_key(const gr_data_config *cfg, const gr_metadata *md, const char *key,
                              key_plan *k, gr_error *err)
{
    const char *dot = strchr(key, '.');
    const char *subkey = dot ? dot + 1 : key;
    const char *modality = strncmp(key, "state.", 6) == 0 ? "state" : "action";
    const gr_meta_key *mk = gr_metadata_key(md, modality, subkey);
    k->key = key;
    if (!mk || !mk->has_modality || mk->dim <= 0)
        return gr_fail(err, GROOT_ERR_FORMAT,
                       "%s: embodiment tag \"%s\" has no shape for %s key \"%s\" "
                       "(%s.modalities.%s.%s.shape), which data config \"%s\" uses",
                       md->path, md->tag, modality, subkey, md->tag, modality, subkey, cfg->name);
    int dim = mk->dim;
    k->raw_dim = dim;
    for (int t = 0; t < cfg->num_sa; t++) {
        const gr_sa_transform *x = &cfg->sa[t];
        for (int i = 0; i < x->num_steps; i++) {
            if (strcmp(x->steps[i].key, key) != 0)
                continue;
            if (x->kind == GR_SA_SINCOS) {
                sa_op op = {.kind = OP_SINCOS, .in_dim = dim, .out_dim = 2 * dim};
                GR_TRY(push_op(k, &op, err));
                dim *= 2;
            } else {
                GR_TRY(add_transform_ops(k, &x->steps[i], md, modality, subkey, mk, &dim, err));
            }
        }
    }
    k->model_dim = dim;
    return GROOT_OK;
}

groot_status gr_transform_plan_build(const gr_data_config *cfg, const gr_metadata *md,
                                     gr_transform_plan **out, gr_error *err)
{
    *out = NULL;
    gr_transform_plan *p = calloc(1, sizeof *p);
    if (!p)
        return gr_fail(err, GROOT_ERR_NOMEM, "out of memory");
    const gr_strlist *orders[2] = {&cfg->state_order, &cfg->action_order};
    groot_status st = GROOT_OK;
    int widest = 1;
    for (int s = 0; s < 2 && st == GROOT_OK; s++) {
        int n = orders[s]->count;
        p->keys[s] = calloc((size_t)(n ? n : 1), sizeof(key_plan));
        if (!p->keys[s]) {
            st = gr_fail(err, GROOT_ERR_NOMEM, "out of memory");
            break;
        }
        for (int i = 0; i < n && st == GROOT_OK; i++) {
            p->num_keys[s] = i + 1;
            st = build_key(cfg, md, orders[s]->items[i], &p->keys[s][i], err);
            if (st != GROOT_OK)
                break;
            key_plan *k = &p->keys[s][i];
            p->total[s] += k->model_dim;
            if (k->raw_dim > widest)
                widest = k->raw_dim;
            for (int j = 0; j < k->num_ops; j++)
                if (k->ops[j].out_dim > widest)
                    widest = k->ops[j].out_dim;
        }
    }
    /* Rotations go through 3x3 matrices: room for 9 whatever the sides. */
    if (widest < 9)
        widest = 9;
    if (st == GROOT_OK && p->total[GR_SIDE_ACTION] > cfg->max_action_dim)
        st = gr_fail(err, GROOT_ERR_FORMAT,
                     "data config \"%s\" with embodiment tag \"%s\": the action keys take %d "
                     "model dims, more than max_action_dim %d",
                     cfg->name, md->tag, p->total[GR_SIDE_ACTION], cfg->max_action_dim);
    if (st == GROOT_OK) {
        p->scratch_dim = widest;
        p->scratch = malloc(sizeof(double) * 2 * (size_t)widest);
        if (!p->scratch)
            st = gr_fail(err, GROOT_ERR_NOMEM, "out of memory");
    }
    if (st != GROOT_OK) {
        gr_transform_plan_free(p);
        return st;
    }
    *out = p;
    return GROOT_OK;
}

int gr_plan_num_keys(const gr_transform_plan *p, gr_sa_side side)
{
    return p->num_keys[side];
}

const char *gr_plan_key(const gr_transform_plan *p, gr_sa_side side, int i)
{
    return p->keys[side][i].key;
}

int gr_plan_raw_dim(const gr_transform_plan *p, gr_sa_side side, int i)
{
    return p->keys[side][i].raw_dim;
}

int gr_plan_model_dim(const gr_transform_plan *p, gr_sa_side side, int i)
{
    return p->keys[side][i].model_dim;
}

int gr_plan_total_model_dim(const gr_transform_plan *p, gr_sa_side side)
{
    return p->total[side];
}

/* ---- the ops ---- */

static void norm_forward(const sa_op *op, const double *x, double *y)
{
    for (int i = 0; i < op->in_dim; i++) {
        double v = x[i];
        switch (op->mode) {
        case GR_NORM_MIN_MAX:
            v = op->a[i] != op->b[i] ? 2.0 * ((v - op->a[i]) / (op->b[i] - op->a[i])) - 1.0 : 0.0;
            break;
        case GR_NORM_Q99:
            if (op->a[i] != op->b[i])
                v = 2.0 * ((v - op->a[i]) / (op->b[i] - op->a[i])) - 1.0;
            /* The reference clamps after the degenerate fallback, so an
             * unchanged x is clamped too. */
            v = v < -1.0 ? -1.0 : v > 1.0 ? 1.0 : v;
            break;
        case GR_NORM_MEAN_STD:
            if (op->b[i] != 0.0)
                v = (v - op->a[i]) / op->b[i];
            break;
        case GR_NORM_BINARY: v = v > 0.5 ? 1.0 : 0.0; break;
        case GR_NORM_NONE: break;
        }
        y[i] = v;
    }
}

/* The reference's inverses take no degenerate branch: min_max and q99 give
 * lo where lo == hi, mean_std gives mean where std == 0. */
static void norm_inverse(const sa_op *op, const double *x, double *y)
{
    for (int i = 0; i < op->in_dim; i++) {
        double v = x[i];
        switch (op->mode) {
        case GR_NORM_MIN_MAX:
        case GR_NORM_Q99: v = (v + 1.0) / 2.0 * (op->b[i] - op->a[i]) + op->a[i]; break;
        case GR_NORM_MEAN_STD: v = v * op->b[i] + op->a[i]; break;
        case GR_NORM_BINARY: v = v > 0.5 ? 1.0 : 0.0; break;
        case GR_NORM_NONE: break;
        }
        y[i] = v;
    }
}

static void op_forward(const sa_op *op, const double *x, double *y)
{
    switch (op->kind) {
    case OP_SINCOS:
        for (int i = 0; i < op->in_dim; i++) {
            y[i] = sin(x[i]);
            y[op->in_dim + i] = cos(x[i]);
        }
        break;
    case OP_ROTATE: gr_rotation_convert(&op->from, x, &op->to, y); break;
    case OP_NORM: norm_forward(op, x, y); break;
    }
}

static void op_inverse(const sa_op *op, const double *x, double *y)
{
    switch (op->kind) {
    case OP_SINCOS:
        /* The reference never inverts sin/cos (no config applies it to
         * actions); atan2 is its exact inverse for angles in (-pi, pi]. */
        for (int i = 0; i < op->in_dim; i++)
            y[i] = atan2(x[i], x[op->in_dim + i]);
        break;
    case OP_ROTATE: gr_rotation_convert(&op->to, x, &op->from, y); break;
    case OP_NORM: norm_inverse(op, x, y); break;
    }
}

/* Runs key k's chain on the row in scratch[0]; returns the buffer holding
 * the result. */
static const double *run_chain(gr_transform_plan *p, const key_plan *k, int inverse)
{
    double *cur = p->scratch, *nxt = p->scratch + p->scratch_dim;
    for (int j = 0; j < k->num_ops; j++) {
        const sa_op *op = &k->ops[inverse ? k->num_ops - 1 - j : j];
        if (inverse)
            op_inverse(op, cur, nxt);
        else
            op_forward(op, cur, nxt);
        double *t = cur;
        cur = nxt;
        nxt = t;
    }
    return cur;
}

groot_status gr_plan_forward(gr_transform_plan *p, gr_sa_side side, const double *const *inputs,
                             float *out, int out_dim, gr_error *err)
{
    if (!inputs || !out || out_dim < 0)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "transform forward: bad arguments");
    int o = 0;
    for (int i = 0; i < p->num_keys[side]; i++) {
        const key_plan *k = &p->keys[side][i];
        if (!inputs[i])
            return gr_fail(err, GROOT_ERR_INVALID_ARG, "transform forward: no values for %s",
                           k->key);
        memcpy(p->scratch, inputs[i], sizeof(double) * (size_t)k->raw_dim);
        const double *r = run_chain(p, k, 0);
        /* GR00TTransform truncates a state longer than max_state_dim. */
        for (int j = 0; j < k->model_dim && o < out_dim; j++)
            out[o++] = (float)r[j];
    }
    for (; o < out_dim; o++)
        out[o] = 0.0f;
    return GROOT_OK;
}

groot_status gr_plan_inverse(gr_transform_plan *p, gr_sa_side side, const float *in, int rows,
                             int in_dim, float *const *outs, gr_error *err)
{
    if (!in || !outs || rows < 0)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "transform inverse: bad arguments");
    if (in_dim < p->total[side])
        return gr_fail(err, GROOT_ERR_INVALID_ARG,
                       "transform inverse: %d model dims given, the %s keys need %d", in_dim,
                       side == GR_SIDE_ACTION ? "action" : "state", p->total[side]);
    for (int r = 0; r < rows; r++) {
        const float *row = in + (size_t)r * in_dim;
        int o = 0;
        for (int i = 0; i < p->num_keys[side]; i++) {
            const key_plan *k = &p->keys[side][i];
            for (int j = 0; j < k->model_dim; j++)
                p->scratch[j] = (double)row[o + j];
            o += k->model_dim;
            const double *res = run_chain(p, k, 1);
            float *dst = outs[i] + (size_t)r * k->raw_dim;
            for (int j = 0; j < k->raw_dim; j++)
                dst[j] = (float)res[j];
        }
    }
    return GROOT_OK;
}
