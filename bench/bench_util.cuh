/*
 * What the CUDA measuring programs in bench/ share: a check that stops the
 * program on a CUDA error (naming the call and line), seeded fills of bf16
 * and float32 buffers, an L2 flush, and the median of a set of timings.
 */
#ifndef GR_BENCH_UTIL_CUH
#define GR_BENCH_UTIL_CUH

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <vector>

#define CK(x)                                                                                                 \
    do {                                                                                                      \
        cudaError_t e_ = (x);                                                                                 \
        if (e_ != cudaSuccess) {                                                                              \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_));               \
            exit(1);                                                                                          \
        }                                                                                                     \
    } while (0)

/* p[i] = scale * (a hash of i and seed, uniform in [-0.5, 0.5)). */
__global__ void fill_bf16(__nv_bfloat16 *p, int64_t n, uint32_t seed, float scale)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        uint32_t h = (uint32_t)i * 2654435761u ^ seed;
        h ^= h >> 13;
        h *= 0x5bd1e995u;
        p[i] = __float2bfloat16((((h >> 8) & 0xffff) / 65536.0f - 0.5f) * scale);
    }
}

/* The same hash, as float32. */
__global__ void fill_f32(float *p, int64_t n, uint32_t seed, float scale)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        uint32_t h = (uint32_t)i * 2654435761u ^ seed;
        h ^= h >> 13;
        h *= 0x5bd1e995u;
        p[i] = (((h >> 8) & 0xffff) / 65536.0f - 0.5f) * scale;
    }
}

/* Reads a buffer larger than L2 so that the next kernel finds its data in DRAM. */
__global__ void read_flush(const float4 *p, int64_t n, float *sink)
{
    float acc = 0.0f;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        acc += p[i].x;
    if (acc == 12345.0f)
        *sink = acc;
}

static inline void flush_l2(unsigned char *flush, size_t bytes, cudaStream_t s)
{
    read_flush<<<528, 512, 0, s>>>((const float4 *)flush, (int64_t)(bytes / 16), (float *)flush);
}

static inline double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
}

/* Microseconds per item (a replay holds `items` of them) of replays of
 * ge: before() runs ahead of each replay, outside the timed span; the
 * first `skip` replays are dropped; the median of the rest. */
template <typename Before>
static double replay_us(cudaGraphExec_t ge, cudaStream_t s, int items, int reps, int skip, Before before)
{
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    std::vector<double> v;
    for (int rep = 0; rep < reps; rep++) {
        before();
        CK(cudaEventRecord(e0, s));
        CK(cudaGraphLaunch(ge, s));
        CK(cudaEventRecord(e1, s));
        CK(cudaStreamSynchronize(s));
        float ms;
        CK(cudaEventElapsedTime(&ms, e0, e1));
        if (rep >= skip)
            v.push_back(ms * 1000.0 / items);
    }
    CK(cudaEventDestroy(e0));
    CK(cudaEventDestroy(e1));
    return median(v);
}

#endif
