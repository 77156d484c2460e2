/*
 * The CPU backend's private state and the entry points its op files share.
 * Tensors live in host memory; every op runs synchronously on the calling
 * thread plus this backend's OpenMP team (and OpenBLAS's own threads inside
 * sgemm), so sync and download never have anything to wait for.
 */
#ifndef GR_BACKEND_CPU_H
#define GR_BACKEND_CPU_H

#include <time.h>

#include "backend/backend.h"
#include "image/image.h"

/* At most this many camera frames are resized at once (frames_to_pixels). */
#define GR_CPU_FRAME_THREADS 8

typedef struct gr_cpu_backend {
    gr_backend base; /* first, so a gr_backend * is a gr_cpu_backend * */
    int threads;     /* OpenMP team size for this backend's parallel regions */
    /* Per-op scratch (attention scores, aliased-residual GEMM output). Grown
     * only when a larger shape arrives, so repeated shapes never allocate. */
    float *scratch;
    size_t scratch_cap; /* in floats */
    /* frames_to_pixels: a resizer and a resized frame (size x size x 3) per
     * frame resized at once, kept between calls. */
    gr_resizer resizers[GR_CPU_FRAME_THREADS];
    uint8_t *frames[GR_CPU_FRAME_THREADS];
    size_t frame_cap; /* bytes of each frames[t] */
    struct timespec marks[GR_TIMER_SLOTS];
    unsigned char marked[GR_TIMER_SLOTS];
} gr_cpu_backend;

static inline gr_cpu_backend *gr_cpu(gr_backend *be) { return (gr_cpu_backend *)be; }

/* Team sizing. A parallel region's fork/join costs a few us while the
 * team is still spinning from the last region and 10-50 us when its threads
 * must be woken, but a whole scheduler slice when another process holds the
 * worker's core: measured on a loaded 2-core machine, a 2-thread region over
 * a 1000-element row add took 5 ms against 0.3 us serial, and two tiny-model
 * forwards side by side (as under ctest -j2) spent ~6 ms per parallel region.
 * OpenMP's wait policy (OMP_WAIT_POLICY, GOMP_SPINCOUNT) is process-global,
 * so instead small ops never fork: every region passes num_threads(team)
 * if(team > 1) with team from gr_cpu_team, which gives each thread at least
 * GR_CPU_GRAIN_NS of estimated work. The ops estimate their cost in
 * nanoseconds of one core from measured per-element and per-FLOP rates. An
 * op is thus parallel only above ~2 ms of serial work: below that the most
 * a second core could save (< 1 ms) is less than one lost slice under
 * contention, while every large-model GEMM and attention (2-50 ms) keeps
 * the whole team. */
#define GR_CPU_GRAIN_NS 1.0e6

static inline int gr_cpu_team(const gr_cpu_backend *cb, double work_ns)
{
    double t = work_ns / GR_CPU_GRAIN_NS;
    if (!(t >= 2.0)) /* also catches NaN */
        return 1;
    return t >= (double)cb->threads ? cb->threads : (int)t;
}

/* Estimated serial cost, in ns, of one element of an activation (tanhf
 * dominates GELU: ~7.5 ns measured; expf ~2 ns). */
static inline double gr_cpu_act_cost(gr_act act)
{
    return act == GR_ACT_GELU_TANH ? 8.0 : act == GR_ACT_SILU ? 2.0 : 0.25;
}

/* A float buffer of at least n floats, owned by the backend. */
groot_status gr_cpu_scratch(gr_cpu_backend *cb, size_t n, float **out);

/* Validates t for op: present, dtype `want` (or any if want == GR_DTYPE_COUNT),
 * ld >= cols, and rows/cols equal to the given values where they are >= 0.
 * The message names the op, the operand and the shapes. */
groot_status gr_cpu_check(gr_backend *be, const char *op, const char *what, const gr_tensor *t,
                          gr_dtype want, int64_t rows, int64_t cols);

/* True for F32, BF16 and F16. */
int gr_cpu_is_float(gr_dtype t);
/* Converts n elements of float dtype `from` at src to float32. */
void gr_cpu_to_f32(const void *src, gr_dtype from, float *dst, int64_t n);
/* Converts n float32 values to float dtype `to` at dst. */
void gr_cpu_from_f32(const float *src, gr_dtype to, void *dst, int64_t n);

/* Elementwise activation on one value, exactly as the reference computes it in float32. */
float gr_cpu_act1(gr_act act, float x);
/* True for the activations gr_act names. */
int gr_cpu_act_valid(gr_act act);

/* The ops, one group per file: cpu_gemm.c, cpu_norm.c, cpu_attention.c, cpu_elementwise.c. */
groot_status gr_cpu_linear(gr_backend *be, const gr_tensor *x, const gr_linear *L, gr_act act,
                           const gr_tensor *residual, gr_tensor *y);
groot_status gr_cpu_layernorm(gr_backend *be, const gr_tensor *x, const gr_tensor *w,
                              const gr_tensor *b, float eps, gr_tensor *y);
groot_status gr_cpu_rmsnorm(gr_backend *be, const gr_tensor *x, const gr_tensor *w, float eps,
                            gr_tensor *y);
groot_status gr_cpu_modulate(gr_backend *be, const gr_tensor *x, const gr_tensor *scale,
                             const gr_tensor *shift, float eps, gr_tensor *y);
groot_status gr_cpu_qk_norm_rope(gr_backend *be, gr_tensor *x, int heads, int head_dim,
                                 const gr_tensor *w, float eps, const gr_tensor *cos,
                                 const gr_tensor *sin);
groot_status gr_cpu_attention(gr_backend *be, const gr_tensor *q, const gr_tensor *k,
                              const gr_tensor *v, int heads, int kv_heads, int head_dim,
                              int causal, float scale, const gr_tensor *kv_valid, gr_tensor *out);
groot_status gr_cpu_swiglu(gr_backend *be, const gr_tensor *gate, const gr_tensor *up, gr_tensor *y);
groot_status gr_cpu_activation(gr_backend *be, const gr_tensor *x, gr_act act, gr_tensor *y);
groot_status gr_cpu_add_rows(gr_backend *be, const gr_tensor *x, const gr_tensor *rows, gr_tensor *y);
groot_status gr_cpu_axpy(gr_backend *be, float alpha, const gr_tensor *x, gr_tensor *y);
groot_status gr_cpu_copy(gr_backend *be, const gr_tensor *src, gr_tensor *dst);
groot_status gr_cpu_embed(gr_backend *be, const gr_tensor *ids, const gr_tensor *table,
                          int image_token_id, const gr_tensor *images, gr_tensor *y);
groot_status gr_cpu_patchify(gr_backend *be, const gr_tensor *pixels, int channels, int height,
                             int width, int patch, gr_tensor *y);
/* cpu_blas.c: the OPENBLAS_CORETYPE to set where OpenBLAS detected kernels
 * without AVX2 (`detected`, its core name) on a CPU that has AVX-512 or
 * AVX2+FMA; NULL when it chose well or the environment chose (env_chose). */
const char *gr_blas_core_advice(const char *detected, int avx512, int avx2_fma, int env_chose);

/* cpu_frames.c */
groot_status gr_cpu_frames_to_pixels(gr_backend *be, int n, const gr_frame_job *jobs, int size,
                                     gr_tensor *pixels);
void gr_cpu_frames_free(gr_cpu_backend *cb);

#endif
