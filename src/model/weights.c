/*
 * Loading primitives (see weights_loader.h) and the whole-model load/free.
 */
#include "model/weights_loader.h"
#include "model/prenorm_block.h"

#include <stdlib.h>
#include <string.h>

static groot_status grow_floats(gr_loader *ld, float **buf, size_t *cap, size_t n, const char *name)
{
    if (n <= *cap)
        return GROOT_OK;
    float *p = malloc(n * sizeof(float));
    if (!p)
        return gr_fail(ld->err, GROOT_ERR_NOMEM, "%s: %zu-float staging buffer", name, n);
    free(*buf);
    *buf = p;
    *cap = n;
    return GROOT_OK;
}

/* Backend ops report into be->err; loading reports into ld->err. */
static groot_status backend_failed(gr_loader *ld, groot_status st, const char *name)
{
    *ld->err = ld->be->err;
    ld->err->status = st;
    gr_error_prefix(ld->err, "loading %s", name);
    return st;
}

static groot_status loader_alloc(gr_loader *ld, gr_tensor *t, int64_t rows, int64_t cols, gr_dtype dtype,
                                 const char *name)
{
    groot_status st = ld->be->ops->alloc(ld->be, t, rows, cols, dtype);
    return st ? backend_failed(ld, st, name) : GROOT_OK;
}

static groot_status loader_upload(gr_loader *ld, gr_tensor *dst, const float *src, const char *name)
{
    groot_status st = ld->be->ops->upload(ld->be, dst, src, GR_F32);
    return st ? backend_failed(ld, st, name) : GROOT_OK;
}

/* Checks name's shape; when loading, converts it to float32 in ld->staging
 * and lets the OS drop its file pages (the staging copy is what we use). */
static groot_status loader_read(gr_loader *ld, const char *name, int ndim, const int64_t *shape,
                                const float **out)
{
    const gr_st_tensor *t;
    *out = NULL;
    GR_TRY(gr_checkpoint_expect(ld->ckpt, name, ndim, shape, &t, ld->err));
    if (ld->check_only)
        return GROOT_OK;
    GR_TRY(grow_floats(ld, &ld->staging, &ld->staging_cap, (size_t)t->numel, name));
    GR_TRY(gr_st_to_f32(t, ld->staging, ld->err));
    const gr_st_file *file = NULL;
    if (gr_checkpoint_find(ld->ckpt, name, &file) && file)
        gr_st_release(file, t);
    *out = ld->staging;
    return GROOT_OK;
}

groot_status gr_load_vector(gr_loader *ld, gr_tensor *t, const char *name, int64_t n)
{
    const float *data;
    GR_TRY(loader_read(ld, name, 1, &n, &data));
    if (ld->check_only)
        return GROOT_OK;
    GR_TRY(loader_alloc(ld, t, 1, n, GR_F32, name));
    return loader_upload(ld, t, data, name);
}

groot_status gr_load_linear_parts(gr_loader *ld, gr_linear *L, const gr_precision *p, int nparts,
                                  const char *const *wnames, const char *const *bnames,
                                  const int64_t *outs, int64_t in)
{
    int64_t total = 0;
    for (int i = 0; i < nparts; i++)
        total += outs[i];
    GR_TRY(gr_alloc_linear(ld, L, p, total, in, bnames != NULL, wnames[0]));
    return gr_load_linear_parts_at(ld, L, 0, nparts, wnames, bnames, outs, in);
}

groot_status gr_alloc_linear(gr_loader *ld, gr_linear *L, const gr_precision *p, int64_t rows, int64_t in,
                             int bias, const char *name)
{
    if (ld->check_only)
        return GROOT_OK;
    memset(L, 0, sizeof *L);
    L->math = p->math;
    GR_TRY(loader_alloc(ld, &L->w, rows, in, p->weight, name));
    if (bias)
        GR_TRY(loader_alloc(ld, &L->b, 1, rows, GR_F32, name));
    return GROOT_OK;
}

groot_status gr_load_linear_parts_at(gr_loader *ld, gr_linear *L, int64_t row0, int nparts,
                                     const char *const *wnames, const char *const *bnames, const int64_t *outs,
                                     int64_t in)
{
    for (int i = 0; i < nparts; i++) {
        const float *data;
        int64_t wshape[2] = {outs[i], in};
        GR_TRY(loader_read(ld, wnames[i], 2, wshape, &data));
        if (!ld->check_only) {
            gr_tensor part = gr_view_rows(L->w, row0, outs[i]);
            GR_TRY(loader_upload(ld, &part, data, wnames[i]));
        }
        if (bnames) {
            GR_TRY(loader_read(ld, bnames[i], 1, &outs[i], &data));
            if (!ld->check_only) {
                gr_tensor part = gr_view_cols(L->b, row0, outs[i]);
                GR_TRY(loader_upload(ld, &part, data, bnames[i]));
            }
        }
        row0 += outs[i];
    }
    return GROOT_OK;
}

groot_status gr_load_linear(gr_loader *ld, gr_linear *L, const gr_precision *p, const char *wname,
                            const char *bname, int64_t out, int64_t in)
{
    return gr_load_linear_parts(ld, L, p, 1, &wname, bname ? &bname : NULL, &out, in);
}

groot_status gr_load_linear_shaped(gr_loader *ld, gr_linear *L, const gr_precision *p, const char *wname,
                                   int ndim, const int64_t *shape, const char *bname, int64_t rows,
                                   int64_t cols)
{
    const float *data;
    GR_TRY(loader_read(ld, wname, ndim, shape, &data));
    if (!ld->check_only) {
        memset(L, 0, sizeof *L);
        L->math = p->math;
        GR_TRY(loader_alloc(ld, &L->w, rows, cols, p->weight, wname));
        GR_TRY(loader_upload(ld, &L->w, data, wname));
    }
    if (bname) {
        GR_TRY(loader_read(ld, bname, 1, &rows, &data));
        if (!ld->check_only) {
            GR_TRY(loader_alloc(ld, &L->b, 1, rows, GR_F32, bname));
            GR_TRY(loader_upload(ld, &L->b, data, bname));
        }
    }
    return GROOT_OK;
}

groot_status gr_load_category_part(gr_loader *ld, gr_category_linear *c, const gr_precision *p,
                                   const char *wname, const char *bname, int num_cat, int64_t in_total,
                                   int64_t in0, int64_t nin, int64_t out)
{
    const float *data;
    int64_t wshape[3] = {num_cat, in_total, out};
    GR_TRY(loader_read(ld, wname, 3, wshape, &data));
    if (!ld->check_only) {
        memset(c, 0, sizeof *c);
        c->out = out;
        c->math = p->math;
        GR_TRY(loader_alloc(ld, &c->w, (int64_t)num_cat * out, nin, p->weight, wname));
        GR_TRY(grow_floats(ld, &ld->reorder, &ld->reorder_cap, (size_t)(out * nin), wname));
        for (int cat = 0; cat < num_cat; cat++) {
            const float *src = data + (size_t)cat * (size_t)(in_total * out);
            for (int64_t o = 0; o < out; o++)
                for (int64_t i = 0; i < nin; i++)
                    ld->reorder[o * nin + i] = src[(in0 + i) * out + o];
            gr_tensor rows = gr_view_rows(c->w, (int64_t)cat * out, out);
            GR_TRY(loader_upload(ld, &rows, ld->reorder, wname));
        }
    }
    if (bname) {
        int64_t bshape[2] = {num_cat, out};
        GR_TRY(loader_read(ld, bname, 2, bshape, &data));
        if (!ld->check_only) {
            GR_TRY(loader_alloc(ld, &c->b, num_cat, out, GR_F32, bname));
            GR_TRY(loader_upload(ld, &c->b, data, bname));
        }
    }
    return GROOT_OK;
}

groot_status gr_load_f32_rows(gr_loader *ld, gr_tensor *t, const char *name, int64_t file_rows,
                              int64_t cols, int64_t use_rows)
{
    const float *data;
    int64_t shape[2] = {file_rows, cols};
    GR_TRY(loader_read(ld, name, 2, shape, &data));
    if (ld->check_only)
        return GROOT_OK;
    GR_TRY(loader_alloc(ld, t, use_rows, cols, GR_F32, name));
    return loader_upload(ld, t, data, name);
}

groot_status gr_load_raw(gr_loader *ld, gr_tensor *t, const char *name, int64_t rows, int64_t cols)
{
    const gr_st_tensor *st;
    int64_t shape[2] = {rows, cols};
    GR_TRY(gr_checkpoint_expect(ld->ckpt, name, 2, shape, &st, ld->err));
    if (ld->check_only)
        return GROOT_OK;
    if (st->dtype != GR_F32 && st->dtype != GR_BF16 && st->dtype != GR_F16)
        return gr_fail(ld->err, GROOT_ERR_FORMAT, "%s: dtype %s is not a float dtype", name,
                       gr_dtype_name(st->dtype));
    GR_TRY(loader_alloc(ld, t, rows, cols, st->dtype, name));
    groot_status s = ld->be->ops->upload(ld->be, t, st->data, st->dtype);
    if (s)
        return backend_failed(ld, s, name);
    /* Uploads may be asynchronous; the pages must stay until the copy lands. */
    s = ld->be->ops->sync(ld->be);
    if (s)
        return backend_failed(ld, s, name);
    const gr_st_file *file = NULL;
    if (gr_checkpoint_find(ld->ckpt, name, &file) && file)
        gr_st_release(file, st);
    return GROOT_OK;
}

groot_status gr_loader_array(gr_loader *ld, void **arr, int count, size_t elem, const char *what)
{
    if (*arr)
        return GROOT_OK;
    *arr = calloc((size_t)(count > 0 ? count : 1), elem);
    return *arr ? GROOT_OK : gr_fail(ld->err, GROOT_ERR_NOMEM, "%s: %d entries", what, count);
}

static groot_status load_all(gr_loader *ld, const gr_model_config *cfg, const gr_precision prec[GR_COMP_COUNT],
                             gr_model_weights *w)
{
    GR_TRY(gr_load_vision(ld, cfg, &prec[GR_COMP_VIT], &w->vision));
    GR_TRY(gr_load_text(ld, cfg, &prec[GR_COMP_LLM], &w->text));
    GR_TRY(gr_load_vl(ld, cfg, &prec[GR_COMP_VL], &w->vl));
    return gr_load_action(ld, cfg, &prec[GR_COMP_DIT], &w->action);
}

groot_status gr_model_weights_load(gr_backend *be, const gr_checkpoint *ckpt, const gr_model_config *cfg,
                                   const gr_precision prec[GR_COMP_COUNT], gr_model_weights *w,
                                   gr_error *err)
{
    memset(w, 0, sizeof *w);
    gr_loader ld = {.ckpt = ckpt, .be = be, .err = err, .check_only = 1};
    groot_status st = load_all(&ld, cfg, prec, w);
    if (st == GROOT_OK) {
        ld.check_only = 0;
        st = load_all(&ld, cfg, prec, w);
    }
    free(ld.staging);
    free(ld.reorder);
    if (st != GROOT_OK)
        gr_model_weights_free(be, cfg, w);
    return st;
}

groot_status gr_model_weights_check(const gr_checkpoint *ckpt, const gr_model_config *cfg, gr_error *err)
{
    /* Precision only shapes the loading pass; any will do for checking. */
    gr_precision prec[GR_COMP_COUNT];
    for (int i = 0; i < GR_COMP_COUNT; i++)
        prec[i] = (gr_precision){GR_F32, GR_F32, GR_MATH_EXACT};
    gr_model_weights w;
    memset(&w, 0, sizeof w);
    gr_loader ld = {.ckpt = ckpt, .be = NULL, .err = err, .check_only = 1};
    groot_status st = load_all(&ld, cfg, prec, &w);
    free(w.vision.layers);
    free(w.text.layers);
    free(w.vl.blocks);
    free(w.action.blocks);
    return st;
}

static void free_linear(gr_backend *be, gr_linear *L)
{
    be->ops->free(be, &L->w);
    be->ops->free(be, &L->b);
}

static void free_category(gr_backend *be, gr_category_linear *c)
{
    be->ops->free(be, &c->w);
    be->ops->free(be, &c->b);
}

void gr_model_weights_drop_precompute(gr_backend *be, const gr_model_config *cfg, gr_model_weights *w)
{
    gr_action_weights *a = &w->action;
    free_linear(be, &a->act1_rows);
    be->ops->free(be, &a->act1_b);
    free_category(be, &a->act2_e);
    free_category(be, &a->act2_tau);
    free_linear(be, &a->temb1);
    free_linear(be, &a->temb2);
    free_linear(be, &a->proj_out_1);
    if (a->blocks)
        for (int i = 0; i < cfg->action.dit.layers; i++)
            free_linear(be, &a->blocks[i].ada);
}

void gr_model_weights_free(gr_backend *be, const gr_model_config *cfg, gr_model_weights *w)
{
    if (!be || !w)
        return;
    gr_vision_weights *v = &w->vision;
    free_linear(be, &v->patch);
    be->ops->free(be, &v->pos);
    if (v->layers) {
        for (int i = 0; i < cfg->vision.layers; i++) {
            gr_prenorm_block_free(be, &v->layers[i]);
        }
        free(v->layers);
    }
    be->ops->free(be, &v->post_w);
    be->ops->free(be, &v->post_b);
    free_linear(be, &v->mlp1);

    gr_text_weights *t = &w->text;
    be->ops->free(be, &t->embed);
    if (t->layers) {
        for (int i = 0; i < cfg->text.layers; i++) {
            gr_text_layer_weights *l = &t->layers[i];
            be->ops->free(be, &l->in_norm);
            be->ops->free(be, &l->post_norm);
            be->ops->free(be, &l->q_norm);
            be->ops->free(be, &l->k_norm);
            free_linear(be, &l->qkv);
            free_linear(be, &l->o);
            free_linear(be, &l->gate_up);
            free_linear(be, &l->down);
        }
        free(t->layers);
    }
    be->ops->free(be, &t->norm);

    gr_vl_weights *vl = &w->vl;
    be->ops->free(be, &vl->vlln_w);
    be->ops->free(be, &vl->vlln_b);
    if (vl->blocks) {
        for (int i = 0; i < cfg->action.vlsa.layers; i++) {
            gr_prenorm_block_free(be, &vl->blocks[i]);
        }
        free(vl->blocks);
    }

    gr_action_weights *a = &w->action;
    free_category(be, &a->state1);
    free_category(be, &a->state2);
    free_linear(be, &a->act1_rows);
    be->ops->free(be, &a->act1_b);
    free_category(be, &a->act2_e);
    free_category(be, &a->act2_tau);
    free_category(be, &a->act3);
    free_category(be, &a->dec1);
    free_category(be, &a->dec2);
    be->ops->free(be, &a->future_tokens);
    be->ops->free(be, &a->pos);
    free_linear(be, &a->temb1);
    free_linear(be, &a->temb2);
    free_linear(be, &a->proj_out_1);
    free_linear(be, &a->proj_out_2);
    free_linear(be, &a->cross_kv);
    if (a->blocks) {
        for (int i = 0; i < cfg->action.dit.layers; i++) {
            gr_dit_block_weights *b = &a->blocks[i];
            free_linear(be, &b->q);
            free_linear(be, &b->qkv);
            free_linear(be, &b->out);
            free_linear(be, &b->ff1);
            free_linear(be, &b->ff2);
            free_linear(be, &b->ada);
        }
        free(a->blocks);
    }
    memset(w, 0, sizeof *w);
}
