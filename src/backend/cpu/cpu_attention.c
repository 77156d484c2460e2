/*
 * Multi-head attention on the CPU: the heads are shared out over this
 * backend's OpenMP team, and each thread works through its head in blocks
 * of query rows: S = scale * Q_blk K^T (single-threaded sgemm), softmax
 * over S's rows, O_blk = P V (sgemm), with S in the thread's own slice of
 * the backend's scratch.
 *
 * Row blocks bound the score scratch and, under a causal mask, skip the
 * keys a block can never see (~40% fewer flops at L = 600).
 */
#include <cblas.h>
#include <math.h>
#include <omp.h>

#include "backend/cpu/cpu_backend.h"

/* Query rows per block under a causal mask (smaller: more skipped keys, but
 * thinner sgemms). Without a mask a block is as tall as the scratch cap allows. */
#define CAUSAL_BLOCK 128
#define FULL_BLOCK_FLOATS (1 << 20)

/* In-place softmax of m rows of scores (row stride ld); row i of the block
 * is query row0 + i and sees keys [0, min(row0 + i + 1, nk)) under the
 * causal mask, else [0, nk); the rest become 0. */
static void softmax_rows(float *s, int64_t m, int64_t ld, int64_t nk, int causal, int64_t row0)
{
    for (int64_t i = 0; i < m; i++) {
        float *sr = s + i * ld;
        int64_t nv = causal && row0 + i + 1 < nk ? row0 + i + 1 : nk;
        float mx = -INFINITY;
        for (int64_t j = 0; j < nv; j++)
            mx = sr[j] > mx ? sr[j] : mx;
        float sum = 0.0f;
        for (int64_t j = 0; j < nv; j++) {
            float e = expf(sr[j] - mx);
            sr[j] = e;
            sum += e;
        }
        float inv = 1.0f / sum;
        for (int64_t j = 0; j < nv; j++)
            sr[j] *= inv;
        for (int64_t j = nv; j < nk; j++)
            sr[j] = 0.0f;
    }
}

groot_status gr_cpu_attention(gr_backend *be, const gr_tensor *q, const gr_tensor *k,
                              const gr_tensor *v, int heads, int kv_heads, int head_dim,
                              int causal, float scale, const gr_tensor *kv_valid, gr_tensor *out)
{
    gr_cpu_backend *cb = gr_cpu(be);
    if (heads <= 0 || kv_heads <= 0 || head_dim <= 0 || heads % kv_heads)
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG,
                       "attention: %d heads over %d kv heads of dim %d (heads must be a positive multiple)",
                       heads, kv_heads, head_dim);
    const int64_t qc = (int64_t)heads * head_dim, kc = (int64_t)kv_heads * head_dim;
    GR_TRY(gr_cpu_check(be, "attention", "q", q, GR_F32, -1, qc));
    GR_TRY(gr_cpu_check(be, "attention", "k", k, GR_F32, -1, kc));
    GR_TRY(gr_cpu_check(be, "attention", "v", v, GR_F32, k->rows, kc));
    GR_TRY(gr_cpu_check(be, "attention", "out", out, GR_F32, q->rows, qc));
    const int64_t lq = q->rows;
    int64_t lk = k->rows;
    if (causal && lq != lk)
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "attention: causal mask needs Lq == Lk, got %lld and %lld",
                       (long long)lq, (long long)lk);
    if (kv_valid) {
        GR_TRY(gr_cpu_check(be, "attention", "kv_valid", kv_valid, GR_I32, 1, 1));
        const int32_t n = *(const int32_t *)kv_valid->data;
        if (n < 1 || n > lk)
            return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "attention: kv_valid %d outside [1, %lld]", (int)n,
                           (long long)lk);
        lk = n;
    }
    if (lq == 0)
        return GROOT_OK;
    if (lk == 0)
        return gr_fail(&be->err, GROOT_ERR_INVALID_ARG, "attention: no keys for %lld queries", (long long)lq);

    int64_t blk = causal ? CAUSAL_BLOCK : FULL_BLOCK_FLOATS / lk;
    if (blk < 1)
        blk = 1;
    if (blk > lq)
        blk = lq;
    /* Per score: the softmax (an expf and three passes, ~3.5 ns measured)
     * and 4 * head_dim FLOPs of sgemm (~0.0125 ns each); a causal mask
     * halves the scores. Small attentions run on one thread. */
    const double scores = (double)heads * (double)lq * (causal ? (double)(lk + 1) * 0.5 : (double)lk);
    int team = gr_cpu_team(cb, scores * (3.5 + (double)head_dim / 20.0));
    if (team > heads)
        team = heads;
    float *scratch = NULL;
    GR_TRY(gr_cpu_scratch(cb, (size_t)team * (size_t)(blk * lk), &scratch));

    const int group = heads / kv_heads;
    const float *qd = q->data, *kd = k->data, *vd = v->data;
    float *od = out->data;
#pragma omp parallel for num_threads(team) if (team > 1) schedule(dynamic, 1)
    for (int h = 0; h < heads; h++) {
        float *s = scratch + (size_t)omp_get_thread_num() * (size_t)(blk * lk);
        const int64_t kvo = (int64_t)(h / group) * head_dim, qo = (int64_t)h * head_dim;
        for (int64_t r0 = 0; r0 < lq; r0 += blk) {
            const int64_t m = lq - r0 < blk ? lq - r0 : blk;
            /* Under the mask no row of this block sees past its last row. */
            const int64_t nk = causal && r0 + m < lk ? r0 + m : lk;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)nk, head_dim, scale,
                        qd + r0 * q->ld + qo, (int)q->ld, kd + kvo, (int)k->ld, 0.0f, s, (int)nk);
            softmax_rows(s, m, nk, nk, causal, r0);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, head_dim, (int)nk, 1.0f, s, (int)nk,
                        vd + kvo, (int)v->ld, 0.0f, od + r0 * out->ld + qo, (int)out->ld);
        }
    }
    return GROOT_OK;
}
