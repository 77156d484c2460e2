/*
 * The CPU backend against naive double-precision references: every op, on
 * random inputs, through strided views (fused-projection column slices,
 * ld > cols), aliasing where the contract allows it, and the error paths.
 * Also prints (never asserts) the speed of the two shapes that dominate a
 * CPU run: Qwen3 attention at L=600 and a 294x2048x6144 linear.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "backend/backend.h"
#include "backend/cpu/cpu_backend.h"
#include "groot.h"
#include "core/half.h"
#include "core/random.h"
#include "test_util.h"

#define TOL 1e-5

/* ---- a seeded PRNG (splitmix64), so failures reproduce ---- */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng_next(void) { return gr_splitmix64(&rng_state); }

/* Uniform in [-a, a). */
static float rng_uniform(float a) { return (float)(((double)(rng_next() >> 11) / 9007199254740992.0) * 2 - 1) * a; }

static float *rand_buf(size_t n, float a)
{
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = rng_uniform(a);
    return p;
}

static gr_backend *be;

static gr_tensor make(int64_t rows, int64_t cols, gr_dtype dt)
{
    gr_tensor t;
    groot_status st = be->ops->alloc(be, &t, rows, cols, dt);
    CHECK(st == GROOT_OK, "alloc [%lld,%lld]: %s", (long long)rows, (long long)cols, be->err.msg);
    return t;
}

/* A float32 tensor holding host data h (contiguous rows*cols). */
static gr_tensor make_from(const float *h, int64_t rows, int64_t cols)
{
    gr_tensor t = make(rows, cols, GR_F32);
    groot_status st = be->ops->upload(be, &t, h, GR_F32);
    CHECK(st == GROOT_OK, "upload: %s", be->err.msg);
    return t;
}

/* The whole contents of t (any view) as a fresh contiguous host array. */
static float *fetch(const gr_tensor *t)
{
    float *h = malloc((size_t)(t->rows * t->cols + 1) * sizeof *h);
    groot_status st = be->ops->download(be, t, h);
    CHECK(st == GROOT_OK, "download: %s", be->err.msg);
    return h;
}

static void check_close(const char *what, const float *out, const double *ref, size_t n, double tol)
{
    float *rf = malloc((n + 1) * sizeof *rf);
    for (size_t i = 0; i < n; i++)
        rf[i] = (float)ref[i];
    double e = tu_rel_err(out, rf, n);
    CHECK(e <= tol, "%s: rel err %.3g > %.3g", what, e, tol);
    free(rf);
}

#define OK(expr)                                                                 \
    do {                                                                         \
        groot_status s_ = (expr);                                                \
        CHECK(s_ == GROOT_OK, "%s -> %s: %s", #expr, groot_status_name(s_), be->err.msg); \
    } while (0)

static double act_ref(gr_act a, double x)
{
    switch (a) {
    case GR_ACT_GELU_TANH: return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    case GR_ACT_RELU: return x > 0 ? x : 0;
    case GR_ACT_SILU: return x / (1 + exp(-x));
    default: return x;
    }
}

static const char *act_name(gr_act a)
{
    static const char *n[] = {"none", "gelu_tanh", "relu", "silu"};
    return n[a];
}

/* ---- linear ---- */

/* ref[i, j] = act(sum_k x[i,k] w[j,k] + b[j]) + res[i,j], host arrays with strides. */
static void linear_ref(const float *x, int64_t ldx, const float *w, int64_t ldw, const float *b, gr_act act,
                       const float *res, int64_t ldr, int64_t m, int64_t n, int64_t k, double *ref)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = b ? b[j] : 0;
            for (int64_t q = 0; q < k; q++)
                s += (double)x[i * ldx + q] * w[j * ldw + q];
            s = act_ref(act, s);
            if (res)
                s += res[i * ldr + j];
            ref[i * n + j] = s;
        }
}

static void test_linear(void)
{
    const int64_t m = 7, k = 33, n = 19;
    /* x: columns [5, 38) of a [7, 50] buffer; w: rows [10, 29) and columns
     * [3, 36) of a [40, 41] buffer (a fused weight); y: columns [10, 29) of
     * a [7, 60] buffer (a fused output). */
    float *xh = rand_buf(m * 50, 1), *wh = rand_buf(40 * 41, 0.3f), *bh = rand_buf(n, 0.5f);
    float *rh = rand_buf(m * n, 1);
    gr_tensor xb = make_from(xh, m, 50), wb = make_from(wh, 40, 41), b = make_from(bh, 1, n);
    gr_tensor rs = make_from(rh, m, n), yb = make(m, 60, GR_F32);
    gr_tensor x = gr_view_cols(xb, 5, k);
    gr_linear L = {.w = gr_view_cols(gr_view_rows(wb, 10, n), 3, k), .b = b, .math = GR_MATH_EXACT};
    gr_tensor y = gr_view_cols(yb, 10, n);
    double *ref = malloc(m * n * sizeof *ref);
    char what[96];

    for (int a = GR_ACT_NONE; a <= GR_ACT_SILU; a++) {
        for (int with_res = 0; with_res < 2; with_res++) {
            OK(be->ops->linear(be, &x, &L, (gr_act)a, with_res ? &rs : NULL, &y));
            linear_ref(xh + 5, 50, wh + 10 * 41 + 3, 41, bh, (gr_act)a, with_res ? rh : NULL, n, m, n, k, ref);
            float *out = fetch(&y);
            snprintf(what, sizeof what, "linear act=%s residual=%d", act_name((gr_act)a), with_res);
            check_close(what, out, ref, m * n, TOL);
            free(out);
        }
        /* residual aliasing y: y = act(x w^T + b) + y */
        gr_tensor yv = y;
        float *y0 = rand_buf(m * n, 1);
        OK(be->ops->upload(be, &yv, y0, GR_F32));
        OK(be->ops->linear(be, &x, &L, (gr_act)a, &y, &y));
        linear_ref(xh + 5, 50, wh + 10 * 41 + 3, 41, bh, (gr_act)a, y0, n, m, n, k, ref);
        float *out = fetch(&y);
        snprintf(what, sizeof what, "linear act=%s residual aliases y", act_name((gr_act)a));
        check_close(what, out, ref, m * n, TOL);
        free(out);
        free(y0);
    }
    /* no bias, writing around the view must leave the rest of yb alone */
    float *before = fetch(&yb);
    gr_linear nb = L;
    nb.b.data = NULL;
    OK(be->ops->linear(be, &x, &nb, GR_ACT_NONE, NULL, &y));
    linear_ref(xh + 5, 50, wh + 10 * 41 + 3, 41, NULL, GR_ACT_NONE, NULL, 0, m, n, k, ref);
    float *out = fetch(&y), *after = fetch(&yb);
    check_close("linear no bias", out, ref, m * n, TOL);
    int outside_same = 1;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < 60; j++)
            if ((j < 10 || j >= 29) && after[i * 60 + j] != before[i * 60 + j])
                outside_same = 0;
    CHECK(outside_same, "linear wrote outside its column view");
    free(out);
    free(after);
    free(before);

    /* shape errors */
    gr_tensor xbad = gr_view_cols(xb, 0, k + 1);
    CHECK(be->ops->linear(be, &xbad, &L, GR_ACT_NONE, NULL, &y) == GROOT_ERR_INVALID_ARG, "x/w mismatch");
    CHECK(strstr(be->err.msg, "linear") != NULL, "message names the op: %s", be->err.msg);
    gr_tensor ybad = gr_view_cols(yb, 0, n + 1);
    CHECK(be->ops->linear(be, &x, &L, GR_ACT_NONE, NULL, &ybad) == GROOT_ERR_INVALID_ARG, "y mismatch");
    gr_tensor rbad = gr_view_rows(rs, 0, m - 1);
    CHECK(be->ops->linear(be, &x, &L, GR_ACT_NONE, &rbad, &y) == GROOT_ERR_INVALID_ARG, "residual mismatch");
    gr_tensor wbf = make(n, k, GR_BF16);
    gr_linear Lbf = {.w = wbf, .b = b};
    CHECK(be->ops->linear(be, &x, &Lbf, GR_ACT_NONE, NULL, &y) == GROOT_ERR_UNSUPPORTED, "bf16 weight");
    CHECK(strstr(be->err.msg, "BF16") != NULL, "message names the dtype: %s", be->err.msg);

    be->ops->free(be, &wbf);
    be->ops->free(be, &xb);
    be->ops->free(be, &wb);
    be->ops->free(be, &b);
    be->ops->free(be, &rs);
    be->ops->free(be, &yb);
    CHECK(xb.data == NULL, "free clears the tensor");
    free(ref);
    free(xh);
    free(wh);
    free(bh);
    free(rh);
}

/* ---- norms ---- */

static void ln_ref(const float *x, int64_t ldx, const float *w, const float *b, const float *scale,
                   const float *shift, double eps, int64_t m, int64_t n, double *ref)
{
    for (int64_t i = 0; i < m; i++) {
        const float *xr = x + i * ldx;
        double mu = 0, var = 0;
        for (int64_t j = 0; j < n; j++)
            mu += xr[j];
        mu /= n;
        for (int64_t j = 0; j < n; j++)
            var += (xr[j] - mu) * (xr[j] - mu);
        var /= n;
        for (int64_t j = 0; j < n; j++) {
            double v = (xr[j] - mu) / sqrt(var + eps);
            if (w)
                v *= w[j];
            if (b)
                v += b[j];
            if (scale)
                v = v * (1 + (double)scale[j]) + shift[j];
            ref[i * n + j] = v;
        }
    }
}

static void test_norms(void)
{
    const int64_t m = 9, n = 200, ld = 260;
    /* An offset mean makes the variance computation earn its keep. */
    float *xh = rand_buf(m * ld, 2);
    for (int64_t i = 0; i < m * ld; i++)
        xh[i] += 3.0f;
    float *wh = rand_buf(n, 1), *bh = rand_buf(n, 1), *sc = rand_buf(n, 0.5f), *sh = rand_buf(n, 0.5f);
    gr_tensor xb = make_from(xh, m, ld), w = make_from(wh, 1, n), b = make_from(bh, 1, n);
    gr_tensor scale = make_from(sc, 1, n), shift = make_from(sh, 1, n), y = make(m, n, GR_F32);
    gr_tensor x = gr_view_cols(xb, 30, n);
    double *ref = malloc(m * n * sizeof *ref);
    float *out;

    OK(be->ops->layernorm(be, &x, &w, &b, 1e-5f, &y));
    ln_ref(xh + 30, ld, wh, bh, NULL, NULL, 1e-5, m, n, ref);
    out = fetch(&y);
    check_close("layernorm affine", out, ref, m * n, TOL);
    free(out);

    OK(be->ops->layernorm(be, &x, NULL, NULL, 1e-6f, &y));
    ln_ref(xh + 30, ld, NULL, NULL, NULL, NULL, 1e-6, m, n, ref);
    out = fetch(&y);
    check_close("layernorm no affine", out, ref, m * n, TOL);
    free(out);

    OK(be->ops->modulate(be, &x, &scale, &shift, 1e-6f, &y));
    ln_ref(xh + 30, ld, NULL, NULL, sc, sh, 1e-6, m, n, ref);
    out = fetch(&y);
    check_close("modulate", out, ref, m * n, TOL);
    free(out);

    OK(be->ops->rmsnorm(be, &x, &w, 1e-6f, &y));
    for (int64_t i = 0; i < m; i++) {
        double ss = 0;
        for (int64_t j = 0; j < n; j++)
            ss += (double)xh[i * ld + 30 + j] * xh[i * ld + 30 + j];
        double r = 1 / sqrt(ss / n + 1e-6);
        for (int64_t j = 0; j < n; j++)
            ref[i * n + j] = wh[j] * xh[i * ld + 30 + j] * r;
    }
    out = fetch(&y);
    check_close("rmsnorm", out, ref, m * n, TOL);
    free(out);

    /* in place (y aliases x) gives the same as out of place */
    gr_tensor xc = make_from(xh, m, ld), xv = gr_view_cols(xc, 30, n);
    OK(be->ops->rmsnorm(be, &xv, &w, 1e-6f, &xv));
    out = fetch(&xv);
    check_close("rmsnorm in place", out, ref, m * n, TOL);
    free(out);

    gr_tensor wbad = gr_view_cols(w, 0, n - 1);
    CHECK(be->ops->rmsnorm(be, &x, &wbad, 1e-6f, &y) == GROOT_ERR_INVALID_ARG, "rmsnorm weight shape");
    CHECK(be->ops->layernorm(be, &x, &wbad, NULL, 1e-6f, &y) == GROOT_ERR_INVALID_ARG, "layernorm weight shape");
    CHECK(be->ops->modulate(be, &x, &wbad, &shift, 1e-6f, &y) == GROOT_ERR_INVALID_ARG, "modulate scale shape");

    gr_tensor *all[] = {&xb, &w, &b, &scale, &shift, &y, &xc};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        be->ops->free(be, all[i]);
    free(ref);
    free(xh);
    free(wh);
    free(bh);
    free(sc);
    free(sh);
}

/* ---- qk_norm_rope ---- */

static void test_qk_norm_rope(void)
{
    const int L = 37, heads = 4, hd = 16, half = hd / 2, width = 8 * hd; /* fused q|k|v with q at col 0 */
    float *xh = rand_buf((size_t)L * width, 2), *wh = rand_buf(hd, 1);
    float *ch = malloc(sizeof(float) * L * half), *sh = malloc(sizeof(float) * L * half);
    /* The model's table: inv_freq = theta^(-2i/D) and angles in float32. */
    for (int p = 0; p < L; p++)
        for (int i = 0; i < half; i++) {
            float inv = (float)pow(1e6, -2.0 * i / hd);
            float ang = (float)p * inv;
            ch[p * half + i] = cosf(ang);
            sh[p * half + i] = sinf(ang);
        }
    gr_tensor xb = make_from(xh, L, width), w = make_from(wh, 1, hd);
    gr_tensor c = make_from(ch, L, half), s = make_from(sh, L, half);
    gr_tensor x = gr_view_cols(xb, 0, heads * hd);
    OK(be->ops->qk_norm_rope(be, &x, heads, hd, &w, 1e-6f, &c, &s));

    double *ref = malloc(sizeof(double) * L * heads * hd);
    for (int p = 0; p < L; p++)
        for (int h = 0; h < heads; h++) {
            const float *xr = xh + p * width + h * hd;
            double ss = 0, nrm[64];
            for (int i = 0; i < hd; i++)
                ss += (double)xr[i] * xr[i];
            double r = 1 / sqrt(ss / hd + 1e-6);
            for (int i = 0; i < hd; i++)
                nrm[i] = wh[i] * xr[i] * r;
            double *o = ref + (size_t)p * heads * hd + h * hd;
            for (int i = 0; i < half; i++) {
                double co = ch[p * half + i], si = sh[p * half + i];
                o[i] = nrm[i] * co - nrm[i + half] * si;
                o[i + half] = nrm[i + half] * co + nrm[i] * si;
            }
        }
    float *out = fetch(&x);
    check_close("qk_norm_rope", out, ref, (size_t)L * heads * hd, TOL);
    free(out);
    /* columns after q (k and v) untouched */
    float *all = fetch(&xb);
    int same = 1;
    for (int p = 0; p < L; p++)
        for (int j = heads * hd; j < width; j++)
            same &= all[p * width + j] == xh[p * width + j];
    CHECK(same, "qk_norm_rope wrote outside its view");
    free(all);

    gr_tensor cshort = gr_view_rows(c, 0, L - 1);
    CHECK(be->ops->qk_norm_rope(be, &x, heads, hd, &w, 1e-6f, &cshort, &s) == GROOT_ERR_INVALID_ARG,
          "short cos table");
    CHECK(be->ops->qk_norm_rope(be, &x, heads + 1, hd, &w, 1e-6f, &c, &s) == GROOT_ERR_INVALID_ARG,
          "heads*head_dim != cols");

    be->ops->free(be, &xb);
    be->ops->free(be, &w);
    be->ops->free(be, &c);
    be->ops->free(be, &s);
    free(ref);
    free(xh);
    free(wh);
    free(ch);
    free(sh);
}

/* ---- attention ---- */

static void attention_ref(const float *q, int64_t ldq, const float *k, int64_t ldk, const float *v, int64_t ldv,
                          int64_t lq, int64_t lk, int heads, int kvh, int hd, int causal, double scale,
                          double *ref)
{
    double *p = malloc(sizeof(double) * lk);
    for (int h = 0; h < heads; h++) {
        int g = h / (heads / kvh);
        for (int64_t i = 0; i < lq; i++) {
            double mx = -INFINITY, sum = 0;
            int64_t nv = causal ? i + 1 : lk;
            for (int64_t j = 0; j < nv; j++) {
                double s = 0;
                for (int d = 0; d < hd; d++)
                    s += (double)q[i * ldq + h * hd + d] * k[j * ldk + g * hd + d];
                p[j] = s * scale;
                mx = p[j] > mx ? p[j] : mx;
            }
            for (int64_t j = 0; j < nv; j++)
                sum += p[j] = exp(p[j] - mx);
            for (int d = 0; d < hd; d++) {
                double o = 0;
                for (int64_t j = 0; j < nv; j++)
                    o += p[j] / sum * v[j * ldv + g * hd + d];
                ref[i * heads * hd + h * hd + d] = o;
            }
        }
    }
    free(p);
}

/* Self attention on q|k|v column slices of one fused [L, (H + 2 KV) D] buffer. */
static void check_self_attention(int64_t L, int heads, int kvh, int hd, int causal)
{
    const int64_t width = (int64_t)(heads + 2 * kvh) * hd;
    float *h = rand_buf((size_t)(L * width), 2);
    gr_tensor fused = make_from(h, L, width), out = make(L, (int64_t)heads * hd, GR_F32);
    gr_tensor q = gr_view_cols(fused, 0, (int64_t)heads * hd);
    gr_tensor k = gr_view_cols(fused, (int64_t)heads * hd, (int64_t)kvh * hd);
    gr_tensor v = gr_view_cols(fused, (int64_t)(heads + kvh) * hd, (int64_t)kvh * hd);
    float scale = 1.0f / sqrtf((float)hd);
    OK(be->ops->attention(be, &q, &k, &v, heads, kvh, hd, causal, scale, NULL, &out));
    double *ref = malloc(sizeof(double) * L * heads * hd);
    attention_ref(h, width, h + heads * hd, width, h + (heads + kvh) * hd, width, L, L, heads, kvh, hd, causal,
                  scale, ref);
    float *o = fetch(&out);
    char what[96];
    snprintf(what, sizeof what, "self attention L=%lld heads %d/%d dim %d causal=%d", (long long)L, heads, kvh,
             hd, causal);
    check_close(what, o, ref, (size_t)(L * heads * hd), TOL);
    free(o);
    free(ref);
    free(h);
    be->ops->free(be, &fused);
    be->ops->free(be, &out);
}

static void test_attention(void)
{
    check_self_attention(37, 4, 2, 16, 1);
    check_self_attention(37, 4, 2, 16, 0);
    check_self_attention(37, 4, 4, 16, 1);
    /* long enough for several causal row blocks, with a ragged last one */
    check_self_attention(300, 2, 1, 8, 1);

    /* cross attention, Lq != Lk, kv from a separate fused k|v buffer and an
     * output that is a column slice */
    const int64_t lq = 37, lk = 23;
    const int heads = 4, kvh = 2, hd = 16;
    float *qh = rand_buf((size_t)(lq * heads * hd), 2), *kvhh = rand_buf((size_t)(lk * 2 * kvh * hd), 2);
    gr_tensor q = make_from(qh, lq, heads * hd), kv = make_from(kvhh, lk, 2 * kvh * hd);
    gr_tensor ob = make(lq, heads * hd + 10, GR_F32), out = gr_view_cols(ob, 10, heads * hd);
    gr_tensor k = gr_view_cols(kv, 0, kvh * hd), v = gr_view_cols(kv, kvh * hd, kvh * hd);
    OK(be->ops->attention(be, &q, &k, &v, heads, kvh, hd, 0, 0.3f, NULL, &out));
    double *ref = malloc(sizeof(double) * lq * heads * hd);
    attention_ref(qh, heads * hd, kvhh, 2 * kvh * hd, kvhh + kvh * hd, 2 * kvh * hd, lq, lk, heads, kvh, hd, 0, 0.3,
                  ref);
    float *o = fetch(&out);
    check_close("cross attention Lq=37 Lk=23 GQA 4/2", o, ref, (size_t)(lq * heads * hd), TOL);
    free(o);

    /* repeated shapes reuse the scratch: no allocation per call */
    float *scratch = gr_cpu(be)->scratch;
    OK(be->ops->attention(be, &q, &k, &v, heads, kvh, hd, 0, 0.3f, NULL, &out));
    CHECK(gr_cpu(be)->scratch == scratch, "attention reallocated its scratch for a repeated shape");

    CHECK(be->ops->attention(be, &q, &k, &v, heads, kvh, hd, 1, 0.3f, NULL, &out) == GROOT_ERR_INVALID_ARG,
          "causal with Lq != Lk");
    CHECK(be->ops->attention(be, &q, &k, &v, heads, 3, hd, 0, 0.3f, NULL, &out) == GROOT_ERR_INVALID_ARG,
          "heads not a multiple of kv_heads");
    gr_tensor vshort = gr_view_rows(v, 0, lk - 1);
    CHECK(be->ops->attention(be, &q, &k, &vshort, heads, kvh, hd, 0, 0.3f, NULL, &out) == GROOT_ERR_INVALID_ARG,
          "k/v rows differ");

    /* kv_valid: the first 17 keys are real, the rest a bucket's padding
     * (filled with garbage): the same as attention over 17 keys. */
    gr_tensor valid = make(1, 1, GR_I32);
    *(int32_t *)valid.data = 17;
    for (int64_t r = 17; r < lk; r++)
        for (int64_t c = 0; c < kv.cols; c++)
            ((float *)kv.data)[r * kv.ld + c] = r % 2 ? 1e30f : -1e30f;
    OK(be->ops->attention(be, &q, &k, &v, heads, kvh, hd, 0, 0.3f, &valid, &out));
    attention_ref(qh, heads * hd, kvhh, 2 * kvh * hd, kvhh + kvh * hd, 2 * kvh * hd, lq, 17, heads, kvh, hd, 0, 0.3,
                  ref);
    o = fetch(&out);
    check_close("cross attention over 17 of 23 keys (kv_valid)", o, ref, (size_t)(lq * heads * hd), TOL);
    free(o);
    int32_t bad[3] = {0, 24, -5};
    for (int i = 0; i < 3; i++) {
        *(int32_t *)valid.data = bad[i];
        CHECK(be->ops->attention(be, &q, &k, &v, heads, kvh, hd, 0, 0.3f, &valid, &out) == GROOT_ERR_INVALID_ARG &&
                  strstr(be->err.msg, "kv_valid"),
              "kv_valid %d accepted (%s)", (int)bad[i], be->err.msg);
    }
    gr_tensor valid_f = make(1, 1, GR_F32);
    CHECK(be->ops->attention(be, &q, &k, &v, heads, kvh, hd, 0, 0.3f, &valid_f, &out) != GROOT_OK &&
              strstr(be->err.msg, "kv_valid"),
          "a float32 kv_valid accepted");
    be->ops->free(be, &valid);
    be->ops->free(be, &valid_f);

    be->ops->free(be, &q);
    be->ops->free(be, &kv);
    be->ops->free(be, &ob);
    free(ref);
    free(qh);
    free(kvhh);
}

/* attention_spans: two causal samples of 21 and 16 tokens stacked in one
 * fused buffer, each against the double-precision reference on its own
 * rows; then spans that do not fit, a causal span that is not square and
 * a kv_valid without a column per span, each refused by name. */
static void test_attention_spans(void)
{
    const int heads = 2, kvh = 1, hd = 8;
    const int64_t width = (int64_t)(heads + 2 * kvh) * hd, L = 37;
    float *h = rand_buf((size_t)(L * width), 3);
    gr_tensor fused = make_from(h, L, width), out = make(L, (int64_t)heads * hd, GR_F32);
    gr_tensor q = gr_view_cols(fused, 0, (int64_t)heads * hd);
    gr_tensor k = gr_view_cols(fused, (int64_t)heads * hd, (int64_t)kvh * hd);
    gr_tensor v = gr_view_cols(fused, (int64_t)(heads + kvh) * hd, (int64_t)kvh * hd);
    gr_row_spans rs = {.count = 2, .q_row = {0, 21}, .q_rows = {21, 16}, .kv_row = {0, 21}, .kv_rows = {21, 16}};
    OK(be->ops->attention_spans(be, &q, &k, &v, heads, kvh, hd, 1, 0.5f, &rs, NULL, &out));
    float *o = fetch(&out);
    double *ref = malloc(sizeof(double) * L * heads * hd);
    for (int i = 0; i < 2; i++) {
        const float *hs = h + rs.q_row[i] * width;
        attention_ref(hs, width, hs + heads * hd, width, hs + (heads + kvh) * hd, width, rs.q_rows[i],
                      rs.kv_rows[i], heads, kvh, hd, 1, 0.5, ref + rs.q_row[i] * heads * hd);
    }
    check_close("attention_spans: 2 causal samples of 21 and 16 tokens", o, ref, (size_t)(L * heads * hd), TOL);
    free(o);
    free(ref);

    gr_row_spans bad = rs;
    bad.q_rows[1] = 17; /* past q's 37 rows */
    CHECK(be->ops->attention_spans(be, &q, &k, &v, heads, kvh, hd, 0, 0.5f, &bad, NULL, &out) ==
                  GROOT_ERR_INVALID_ARG &&
              strstr(be->err.msg, "span 1"),
          "a span past q accepted (%s)", be->err.msg);
    bad = rs;
    bad.q_rows[1] = 15;
    CHECK(be->ops->attention_spans(be, &q, &k, &v, heads, kvh, hd, 1, 0.5f, &bad, NULL, &out) ==
                  GROOT_ERR_INVALID_ARG &&
              strstr(be->err.msg, "causal"),
          "a causal span of 15 queries and 16 keys accepted (%s)", be->err.msg);
    bad.count = 0;
    CHECK(be->ops->attention_spans(be, &q, &k, &v, heads, kvh, hd, 0, 0.5f, &bad, NULL, &out) ==
              GROOT_ERR_INVALID_ARG,
          "no spans accepted");
    gr_tensor valid = make(1, 1, GR_I32);
    CHECK(be->ops->attention_spans(be, &q, &k, &v, heads, kvh, hd, 1, 0.5f, &rs, &valid, &out) ==
                  GROOT_ERR_INVALID_ARG &&
              strstr(be->err.msg, "kv_valid"),
          "a kv_valid of 1 column for 2 spans accepted (%s)", be->err.msg);
    be->ops->free(be, &valid);
    be->ops->free(be, &fused);
    be->ops->free(be, &out);
    free(h);
}

/* ---- elementwise ---- */

static void test_elementwise(void)
{
    const int64_t m = 11, n = 70;
    float *gu = rand_buf(m * 2 * n, 4), *xh = rand_buf(m * n, 4), *rows = rand_buf(3 * n, 1);
    gr_tensor fused = make_from(gu, m, 2 * n), y = make(m, n, GR_F32);
    gr_tensor gate = gr_view_cols(fused, 0, n), up = gr_view_cols(fused, n, n);
    double *ref = malloc(sizeof(double) * m * n);
    float *out;

    OK(be->ops->swiglu(be, &gate, &up, &y));
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++)
            ref[i * n + j] = act_ref(GR_ACT_SILU, gu[i * 2 * n + j]) * gu[i * 2 * n + n + j];
    out = fetch(&y);
    check_close("swiglu", out, ref, m * n, TOL);
    free(out);

    for (int a = GR_ACT_NONE; a <= GR_ACT_SILU; a++) {
        gr_tensor x = make_from(xh, m, n);
        OK(be->ops->activation(be, &x, (gr_act)a, &x)); /* in place */
        for (int64_t i = 0; i < m * n; i++)
            ref[i] = act_ref((gr_act)a, xh[i]);
        out = fetch(&x);
        char what[64];
        snprintf(what, sizeof what, "activation %s in place", act_name((gr_act)a));
        check_close(what, out, ref, m * n, TOL);
        free(out);
        be->ops->free(be, &x);
    }
    /* a gelu_tanh spot value from PyTorch: gelu(1.0, approximate='tanh') */
    CHECK(fabsf(gr_cpu_act1(GR_ACT_GELU_TANH, 1.0f) - 0.8411920071f) < 1e-6f, "gelu_tanh(1) = %.9g",
          gr_cpu_act1(GR_ACT_GELU_TANH, 1.0f));

    gr_tensor x = make_from(xh, m, n), r = make_from(rows, 3, n);
    OK(be->ops->add_rows(be, &x, &r, &y));
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++)
            ref[i * n + j] = (double)xh[i * n + j] + rows[(i % 3) * n + j];
    out = fetch(&y);
    check_close("add_rows broadcast", out, ref, m * n, TOL);
    free(out);

    /* axpy into a column view: y = gate + 0.25 * x */
    OK(be->ops->axpy(be, 0.25f, &x, &gate));
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++)
            ref[i * n + j] = gu[i * 2 * n + j] + 0.25 * xh[i * n + j];
    out = fetch(&gate);
    check_close("axpy", out, ref, m * n, TOL);
    free(out);

    /* copy: strided f32 -> contiguous, f32 -> bf16 -> f32, f32 -> f16 -> f32 */
    OK(be->ops->copy(be, &up, &y));
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++)
            ref[i * n + j] = gu[i * 2 * n + n + j];
    out = fetch(&y);
    check_close("copy f32 view", out, ref, m * n, 0);
    free(out);
    gr_dtype halves[] = {GR_BF16, GR_F16};
    for (int t = 0; t < 2; t++) {
        gr_tensor hb = make(m, n, halves[t]);
        OK(be->ops->copy(be, &x, &hb));
        OK(be->ops->copy(be, &hb, &y));
        int exact = 1;
        out = fetch(&y);
        for (int64_t i = 0; i < m * n; i++) {
            float want = halves[t] == GR_BF16 ? gr_bf16_to_f32(gr_f32_to_bf16(xh[i]))
                                              : gr_f16_to_f32(gr_f32_to_f16(xh[i]));
            exact &= out[i] == want;
        }
        CHECK(exact, "copy through %s rounds as half.h does", gr_dtype_name(halves[t]));
        free(out);
        float *direct = fetch(&hb); /* download converts half dtypes too */
        exact = 1;
        for (int64_t i = 0; i < m * n; i++)
            exact &= direct[i] == (halves[t] == GR_BF16 ? gr_bf16_to_f32(gr_f32_to_bf16(xh[i]))
                                                        : gr_f16_to_f32(gr_f32_to_f16(xh[i])));
        CHECK(exact, "download of %s", gr_dtype_name(halves[t]));
        free(direct);
        be->ops->free(be, &hb);
    }

    gr_tensor ybad = gr_view_cols(y, 0, n - 1);
    CHECK(be->ops->swiglu(be, &gate, &up, &ybad) == GROOT_ERR_INVALID_ARG, "swiglu shape");
    CHECK(be->ops->axpy(be, 1.0f, &x, &ybad) == GROOT_ERR_INVALID_ARG, "axpy shape");
    CHECK(be->ops->add_rows(be, &x, &ybad, &y) == GROOT_ERR_INVALID_ARG, "add_rows shape");
    CHECK(be->ops->copy(be, &x, &ybad) == GROOT_ERR_INVALID_ARG, "copy shape");

    be->ops->free(be, &fused);
    be->ops->free(be, &y);
    be->ops->free(be, &x);
    be->ops->free(be, &r);
    free(ref);
    free(gu);
    free(xh);
    free(rows);
}

/* ---- embed, patchify, upload ---- */

static void test_embed(void)
{
    const int vocab = 50, dim = 24, L = 12, img_id = 47;
    int32_t ids[12] = {3, 47, 47, 9, 0, 49, 47, 12, 3, 47, 1, 2};
    float *table = rand_buf((size_t)vocab * dim, 1), *imgs = rand_buf(4 * dim, 1);
    gr_tensor idt = make(1, L, GR_I32), y = make(L, dim, GR_F32), im = make_from(imgs, 4, dim);
    OK(be->ops->upload(be, &idt, ids, GR_I32));

    gr_dtype dts[] = {GR_F32, GR_BF16, GR_F16};
    for (int t = 0; t < 3; t++) {
        /* host table rounded to the dtype, uploaded raw */
        uint16_t *h16 = malloc(sizeof(uint16_t) * vocab * dim);
        float *rounded = malloc(sizeof(float) * vocab * dim);
        for (int i = 0; i < vocab * dim; i++) {
            h16[i] = dts[t] == GR_BF16 ? gr_f32_to_bf16(table[i]) : gr_f32_to_f16(table[i]);
            rounded[i] = dts[t] == GR_F32 ? table[i]
                         : dts[t] == GR_BF16 ? gr_bf16_to_f32(h16[i])
                                             : gr_f16_to_f32(h16[i]);
        }
        gr_tensor tb = make(vocab, dim, dts[t]);
        OK(be->ops->upload(be, &tb, dts[t] == GR_F32 ? (const void *)table : (const void *)h16, dts[t]));
        OK(be->ops->embed(be, &idt, &tb, img_id, &im, &y));
        float *out = fetch(&y);
        int exact = 1, next = 0;
        for (int i = 0; i < L; i++)
            for (int d = 0; d < dim; d++) {
                float want = ids[i] == img_id ? imgs[next * dim + d] : rounded[ids[i] * dim + d];
                exact &= out[i * dim + d] == want;
                if (d == dim - 1 && ids[i] == img_id)
                    next++;
            }
        CHECK(exact, "embed with %s table and image rows", gr_dtype_name(dts[t]));
        free(out);
        be->ops->free(be, &tb);
        free(h16);
        free(rounded);
    }
    gr_tensor tb = make_from(table, vocab, dim);
    gr_tensor im3 = gr_view_rows(im, 0, 3);
    CHECK(be->ops->embed(be, &idt, &tb, img_id, &im3, &y) == GROOT_ERR_INVALID_ARG, "image count mismatch");
    CHECK(be->ops->embed(be, &idt, &tb, img_id, NULL, &y) == GROOT_ERR_INVALID_ARG, "no images for image ids");
    int32_t bad[12] = {0};
    bad[5] = vocab;
    OK(be->ops->upload(be, &idt, bad, GR_I32));
    CHECK(be->ops->embed(be, &idt, &tb, img_id, NULL, &y) == GROOT_ERR_INVALID_ARG, "id out of vocab");

    be->ops->free(be, &tb);
    be->ops->free(be, &idt);
    be->ops->free(be, &y);
    be->ops->free(be, &im);
    free(table);
    free(imgs);
}

static void test_patchify(void)
{
    const int V = 2, C = 3, H = 28, W = 28, p = 14, gh = H / p, gw = W / p;
    float *px = rand_buf((size_t)V * C * H * W, 1);
    gr_tensor pix = make_from(px, V, C * H * W), y = make(V * gh * gw, C * p * p, GR_F32);
    OK(be->ops->patchify(be, &pix, C, H, W, p, &y));
    float *out = fetch(&y);
    int exact = 1;
    for (int v = 0; v < V; v++)
        for (int py = 0; py < gh; py++)
            for (int pxi = 0; pxi < gw; pxi++)
                for (int c = 0; c < C; c++)
                    for (int ky = 0; ky < p; ky++)
                        for (int kx = 0; kx < p; kx++) {
                            int64_t row = (int64_t)v * gh * gw + py * gw + pxi;
                            int64_t col = (c * p + ky) * p + kx;
                            float want = px[(size_t)v * C * H * W + ((size_t)c * H + py * p + ky) * W + pxi * p + kx];
                            exact &= out[row * C * p * p + col] == want;
                        }
    CHECK(exact, "patchify 2x3x28x28 / 14");
    free(out);
    CHECK(be->ops->patchify(be, &pix, C, H, W, 5, &y) == GROOT_ERR_INVALID_ARG, "patch does not tile");
    be->ops->free(be, &pix);
    be->ops->free(be, &y);
    free(px);
}

/* frames_to_pixels: the image layer's crop + resize and normalization,
 * each frame into its row, a batch's frames side by side with the same
 * bytes as one by one; what the op refuses, it names. */
static void test_frames_to_pixels(void)
{
    enum { S = 32, N = 5 };
    const int dims[N][6] = {/* h, w, top, left, crop_h, crop_w */
                            {48, 64, 2, 3, 44, 60}, {20, 20, 0, 0, 20, 20}, {1, 1, 0, 0, 1, 1},
                            {32, 32, 0, 0, 32, 32}, {90, 40, 10, 4, 70, 32}};
    uint8_t *rgb[N];
    gr_frame_job jobs[N];
    uint64_t st = 7;
    for (int i = 0; i < N; i++) {
        const size_t n = (size_t)dims[i][0] * dims[i][1] * 3;
        rgb[i] = malloc(n);
        for (size_t k = 0; k < n; k++)
            rgb[i][k] = (uint8_t)(gr_splitmix64(&st) >> 56);
        jobs[i] = (gr_frame_job){rgb[i], dims[i][0], dims[i][1], dims[i][2], dims[i][3], dims[i][4], dims[i][5],
                                 N - 1 - i};
    }
    gr_tensor px = make(N, 3 * S * S, GR_F32);
    OK(be->ops->frames_to_pixels(be, N, jobs, S, &px)); /* side by side where threads allow */
    float *got = fetch(&px);
    gr_resizer r;
    gr_resizer_init(&r);
    gr_error err = {0};
    uint8_t resized[S * S * 3];
    float want[3 * S * S];
    for (int i = 0; i < N; i++) {
        CHECK(gr_image_resize_window(&r, rgb[i], dims[i][0], dims[i][1], dims[i][2], dims[i][3], dims[i][4],
                                     dims[i][5], S, S, resized, &err) == GROOT_OK,
              "resize: %s", err.msg);
        gr_image_to_pixels(resized, S, S, want);
        CHECK(memcmp(got + (size_t)jobs[i].row * 3 * S * S, want, sizeof want) == 0,
              "frame %d (%dx%d, crop %dx%d) differs from the image layer's pixels", i, dims[i][0], dims[i][1],
              dims[i][4], dims[i][5]);
    }
    free(got);
    gr_resizer_free(&r);

    gr_frame_job bad = jobs[0];
    bad.left = 5; /* 5 + 60 > 64 */
    CHECK(be->ops->frames_to_pixels(be, 1, &bad, S, &px) == GROOT_ERR_INVALID_ARG &&
              strstr(be->err.msg, "crop window 44x60 at (2,5)"),
          "window past the edge: %s", be->err.msg);
    bad = jobs[0];
    bad.rgb = NULL;
    CHECK(be->ops->frames_to_pixels(be, 1, &bad, S, &px) == GROOT_ERR_INVALID_ARG &&
              strstr(be->err.msg, "rgb is NULL"),
          "no pixels: %s", be->err.msg);
    bad = jobs[0];
    bad.row = N;
    CHECK(be->ops->frames_to_pixels(be, 1, &bad, S, &px) == GROOT_ERR_INVALID_ARG && strstr(be->err.msg, "row 5"),
          "row past the tensor: %s", be->err.msg);
    bad = jobs[0];
    bad.height = 20000;
    CHECK(be->ops->frames_to_pixels(be, 1, &bad, S, &px) == GROOT_ERR_INVALID_ARG && strstr(be->err.msg, "20000x64"),
          "frame too tall: %s", be->err.msg);
    CHECK(be->ops->frames_to_pixels(be, 1, jobs, S + 1, &px) == GROOT_ERR_INVALID_ARG &&
              strstr(be->err.msg, "pixels must be float32"),
          "pixels of another size: %s", be->err.msg);
    CHECK(be->ops->frames_to_pixels(be, 2, NULL, S, &px) == GROOT_ERR_INVALID_ARG, "jobs NULL: %s", be->err.msg);
    be->ops->free(be, &px);
    for (int i = 0; i < N; i++)
        free(rgb[i]);
}

static void test_alloc_bad_shapes(void)
{
    /* Shapes no allocation can hold: each refused, naming the op, nothing held. */
    tu_check_alloc_refusals(be);
}

static void test_upload(void)
{
    const int n = 40;
    float *h = rand_buf(n, 100);
    uint16_t bf[40], f16[40];
    for (int i = 0; i < n; i++) {
        bf[i] = gr_f32_to_bf16(h[i]);
        f16[i] = gr_f32_to_f16(h[i]);
    }
    gr_tensor t = make(4, 10, GR_F32);
    OK(be->ops->upload(be, &t, bf, GR_BF16));
    float *out = fetch(&t);
    int exact = 1;
    for (int i = 0; i < n; i++)
        exact &= out[i] == gr_bf16_to_f32(bf[i]);
    CHECK(exact, "upload bf16 -> f32");
    free(out);
    OK(be->ops->upload(be, &t, f16, GR_F16));
    out = fetch(&t);
    exact = 1;
    for (int i = 0; i < n; i++)
        exact &= out[i] == gr_f16_to_f32(f16[i]);
    CHECK(exact, "upload f16 -> f32");
    free(out);
    int32_t ints[40];
    CHECK(be->ops->upload(be, &t, ints, GR_I32) == GROOT_ERR_UNSUPPORTED, "i32 into f32");

    /* into a strided view: only the view's elements change */
    gr_tensor wide = make(4, 16, GR_F32);
    float zeros[64] = {0};
    OK(be->ops->upload(be, &wide, zeros, GR_F32));
    gr_tensor v = gr_view_cols(wide, 3, 10);
    OK(be->ops->upload(be, &v, h, GR_F32));
    out = fetch(&wide);
    exact = 1;
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 16; c++)
            exact &= out[r * 16 + c] == (c >= 3 && c < 13 ? h[r * 10 + c - 3] : 0.0f);
    CHECK(exact, "upload into a column view");
    free(out);

    uint8_t u8[6] = {0, 1, 127, 128, 254, 255};
    gr_tensor tu = make(1, 6, GR_U8);
    OK(be->ops->upload(be, &tu, u8, GR_U8));
    CHECK(memcmp(tu.data, u8, 6) == 0, "u8 upload exact");
    CHECK(be->ops->download(be, &tu, h) == GROOT_ERR_UNSUPPORTED, "download of u8");

    be->ops->free(be, &t);
    be->ops->free(be, &wide);
    be->ops->free(be, &tu);
    free(h);
}

static groot_status recorded(void *ctx)
{
    (*(int *)ctx)++;
    return GROOT_OK;
}

static void test_execution(void)
{
    int calls = 0;
    OK(be->ops->run_recorded(be, 7, recorded, &calls));
    OK(be->ops->run_recorded(be, 7, recorded, &calls));
    CHECK(calls == 2, "run_recorded calls fn every time (%d)", calls);
    double ms = -1;
    OK(be->ops->timer_mark(be, 0));
    OK(be->ops->timer_mark(be, 1));
    OK(be->ops->timer_elapsed(be, 0, 1, &ms));
    CHECK(ms >= 0 && ms < 1000, "elapsed %g ms", ms);
    CHECK(be->ops->timer_mark(be, GR_TIMER_SLOTS) == GROOT_ERR_INVALID_ARG, "timer slot range");
    CHECK(be->ops->timer_elapsed(be, 0, 5, &ms) == GROOT_ERR_INVALID_ARG, "unmarked slot");
    OK(be->ops->sync(be));
}

/* ---- shapes big enough to run on a team ---- */

/* Small ops run on one thread (gr_cpu_team); these shapes are above the
 * grain, so the column-band split of linear and the head split of attention
 * are checked too. Run on a backend with an explicit 4-thread team. */
static void test_parallel_paths(void)
{
    const int64_t m = 128, k = 768, n = 1000; /* n not a multiple of the band alignment */
    float *xh = rand_buf((size_t)(m * k), 1), *wh = rand_buf((size_t)(n * k), 0.05f), *bh = rand_buf(n, 0.5f);
    float *y0 = rand_buf((size_t)(m * n), 1);
    gr_tensor x = make_from(xh, m, k), y = make(m, n, GR_F32), b = make_from(bh, 1, n);
    gr_linear L = {.w = make_from(wh, n, k), .b = b};
    double *ref = malloc(sizeof(double) * (size_t)(m * n));
    gr_tensor r = make_from(y0, m, n);
    OK(be->ops->linear(be, &x, &L, GR_ACT_GELU_TANH, &r, &y));
    linear_ref(xh, k, wh, k, bh, GR_ACT_GELU_TANH, y0, n, m, n, k, ref);
    float *out = fetch(&y);
    check_close("big linear gelu + residual", out, ref, (size_t)(m * n), TOL);
    free(out);
    /* residual aliasing y, with an activation (product through scratch) */
    OK(be->ops->upload(be, &y, y0, GR_F32));
    OK(be->ops->linear(be, &x, &L, GR_ACT_SILU, &y, &y));
    linear_ref(xh, k, wh, k, bh, GR_ACT_SILU, y0, n, m, n, k, ref);
    out = fetch(&y);
    check_close("big linear silu, residual aliases y", out, ref, (size_t)(m * n), TOL);
    free(out);
    /* and without one (sgemm accumulates onto y) */
    OK(be->ops->upload(be, &y, y0, GR_F32));
    OK(be->ops->linear(be, &x, &L, GR_ACT_NONE, &y, &y));
    linear_ref(xh, k, wh, k, bh, GR_ACT_NONE, y0, n, m, n, k, ref);
    out = fetch(&y);
    check_close("big linear, residual aliases y", out, ref, (size_t)(m * n), TOL);
    free(out);
    free(ref);
    be->ops->free(be, &x);
    be->ops->free(be, &y);
    be->ops->free(be, &b);
    be->ops->free(be, &r);
    be->ops->free(be, &L.w);
    free(xh);
    free(wh);
    free(bh);
    free(y0);

    check_self_attention(300, 8, 4, 64, 1);
    check_self_attention(300, 8, 4, 64, 0);
}

/* ---- speed (printed only) ---- */

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

static void time_big_ops(void)
{
    const int L = 600, heads = 16, kvh = 8, hd = 128;
    float *qh = rand_buf((size_t)L * heads * hd, 1), *kh = rand_buf((size_t)L * kvh * hd, 1);
    gr_tensor q = make_from(qh, L, heads * hd), k = make_from(kh, L, kvh * hd), v = make_from(kh, L, kvh * hd);
    gr_tensor o = make(L, heads * hd, GR_F32);
    /* Warm up for a while, not one call: the small ops before this run on
     * one thread (gr_cpu_team), and a team woken after a long serial stretch
     * takes some tens of ms to reach full speed on a loaded machine. */
    double t0 = now_ms();
    do
        OK(be->ops->attention(be, &q, &k, &v, heads, kvh, hd, 1, 1.0f / sqrtf(hd), NULL, &o));
    while (now_ms() - t0 < 100.0);
    const int reps = 3;
    t0 = now_ms();
    for (int i = 0; i < reps; i++)
        OK(be->ops->attention(be, &q, &k, &v, heads, kvh, hd, 1, 1.0f / sqrtf(hd), NULL, &o));
    double at = (now_ms() - t0) / reps;
    printf("timing: attention L=%d %dx%d (kv %d) causal: %.2f ms\n", L, heads, hd, kvh, at);
    be->ops->free(be, &q);
    be->ops->free(be, &k);
    be->ops->free(be, &v);
    be->ops->free(be, &o);
    free(qh);
    free(kh);

    const int m = 294, kk = 2048, n = 6144;
    float *xh = rand_buf((size_t)m * kk, 1), *wh = rand_buf((size_t)n * kk, 0.02f);
    gr_tensor x = make_from(xh, m, kk), y = make(m, n, GR_F32);
    gr_linear Lw = {.w = make_from(wh, n, kk)};
    t0 = now_ms();
    do
        OK(be->ops->linear(be, &x, &Lw, GR_ACT_NONE, NULL, &y));
    while (now_ms() - t0 < 100.0);
    t0 = now_ms();
    for (int i = 0; i < reps; i++)
        OK(be->ops->linear(be, &x, &Lw, GR_ACT_NONE, NULL, &y));
    double lt = (now_ms() - t0) / reps;
    printf("timing: linear %dx%dx%d: %.2f ms (%.1f GFLOP/s)\n", m, kk, n, lt, 2.0 * m * kk * n / lt * 1e-6);
    be->ops->free(be, &x);
    be->ops->free(be, &y);
    be->ops->free(be, &Lw.w);
    free(xh);
    free(wh);
}

/* GROOT_SEQ_BUCKET: a whole number in range, or creating a backend fails
 * with a message naming the variable and the value. */
static void test_env_knobs(void)
{
    const char *bad[] = {"abc", "0", "16x", "99999"};
    for (int i = 0; i < 4; i++) {
        gr_backend *b = NULL;
        gr_error err = {0};
        setenv("GROOT_SEQ_BUCKET", bad[i], 1);
        groot_status st = gr_backend_create("cpu", 0, &b, &err);
        CHECK(st == GROOT_ERR_INVALID_ARG && b == NULL && strstr(err.msg, "GROOT_SEQ_BUCKET") &&
                  strstr(err.msg, bad[i]),
              "GROOT_SEQ_BUCKET=%s: %s %s", bad[i], groot_status_name(st), err.msg);
        if (b)
            gr_backend_destroy(b);
    }
    gr_backend *b = NULL;
    gr_error err = {0};
    setenv("GROOT_SEQ_BUCKET", "8", 1);
    groot_status st = gr_backend_create("cpu", 0, &b, &err);
    CHECK(st == GROOT_OK && b && b->seq_bucket == 8, "GROOT_SEQ_BUCKET=8: %s", err.msg);
    if (b)
        gr_backend_destroy(b);
    unsetenv("GROOT_SEQ_BUCKET");
}

/* Which OpenBLAS kernels to ask for: only where it fell back to kernels
 * without AVX2 on a CPU that has them, and never over the user's choice. */
static void test_blas_core_advice(void)
{
    struct {
        const char *detected;
        int avx512, avx2, env;
        const char *want;
    } c[] = {
        {"Prescott", 1, 1, 0, "SkylakeX"}, {"prescott", 0, 1, 0, "Haswell"}, {"Nehalem", 0, 1, 0, "Haswell"},
        {"Prescott", 0, 0, 0, NULL},       {"Prescott", 1, 1, 1, NULL},      {"SkylakeX", 1, 1, 0, NULL},
        {"Haswell", 1, 1, 0, NULL},        {"Zen", 0, 1, 0, NULL},           {NULL, 1, 1, 0, NULL},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        const char *got = gr_blas_core_advice(c[i].detected, c[i].avx512, c[i].avx2, c[i].env);
        CHECK((got == NULL) == (c[i].want == NULL) && (!got || strcmp(got, c[i].want) == 0),
              "advice for %s (avx512 %d, avx2 %d, env %d): %s, want %s", c[i].detected ? c[i].detected : "(null)",
              c[i].avx512, c[i].avx2, c[i].env, got ? got : "none", c[i].want ? c[i].want : "none");
    }
    const char *live = groot_cpu_kernels_advice();
    printf("OpenBLAS kernels: %s; advice: %s\n", openblas_get_corename(), live ? live : "none");
}

int main(void)
{
    gr_error err = {0};
    test_blas_core_advice();
    groot_status st = gr_backend_create("cpu", 0, &be, &err);
    CHECK(st == GROOT_OK, "create: %s", err.msg);
    if (st != GROOT_OK)
        return tu_finish("backend_cpu");
    CHECK(strcmp(be->ops->name, "cpu") == 0, "name %s", be->ops->name);
    test_linear();
    test_norms();
    test_qk_norm_rope();
    test_attention();
    test_attention_spans();
    test_elementwise();
    test_embed();
    test_patchify();
    test_frames_to_pixels();
    test_alloc_bad_shapes();
    test_upload();
    test_execution();
    test_env_knobs();
    time_big_ops();
    gr_backend_destroy(be);

    /* an explicit thread count gives the same answers */
    st = gr_backend_cpu_create(1, &be, &err);
    CHECK(st == GROOT_OK && be->num_threads == 1, "create with 1 thread: %s", err.msg);
    test_attention();
    test_norms();
    gr_backend_destroy(be);

    st = gr_backend_cpu_create(4, &be, &err);
    CHECK(st == GROOT_OK && be->num_threads == 4, "create with 4 threads: %s", err.msg);
    test_parallel_paths();
    gr_backend_destroy(be);
    return tu_finish("backend_cpu");
}
