/*
 * Programmatic dependent launch (Hopper). A call is a chain of hundreds of
 * short kernels, each of which would otherwise start only after the one
 * before it has drained and flushed. Launched with grk_launch, a kernel may
 * be scheduled while its predecessor still runs: it does what does not
 * depend on earlier kernels (a GEMM fetches its weights), then
 * grk_pdl_wait() blocks until every earlier kernel has finished and its
 * writes are visible. grk_pdl_release() lets the next kernel be scheduled
 * in turn; it only moves that kernel's start, never what it may read.
 * Without the launch attribute (s.pdl 0), or before sm_90, both do nothing.
 */
#ifndef GR_CUDA_LAUNCH_CUH
#define GR_CUDA_LAUNCH_CUH

#include <cuda_runtime.h>

#include "cuda_kernels.h"

__device__ __forceinline__ void grk_pdl_wait()
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}

__device__ __forceinline__ void grk_pdl_release()
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;\n" ::);
#endif
}

/* The L2 prefetch of pf (cuda_kernels.h) in 64 KB bulk requests; this
 * caller issues pieces part, part + parts, ... An SM's bulk-copy unit works
 * through its requests in turn, so the pieces are dealt out over the
 * grid's blocks first: piled on one block they streamed at a fraction of
 * DRAM's rate and held that SM (a call took 3x as long). Asynchronous, and
 * harmless to results: a prefetch only fills L2. */
__device__ __forceinline__ void grk_prefetch_l2_part(const grk_pf &pf, uint64_t part, uint64_t parts)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    const uint64_t piece = 64 * 1024, n = (pf.bytes + piece - 1) / piece;
    for (uint64_t i = part; i < n; i += parts) {
        const uint64_t off = i * piece;
        const uint32_t len = (uint32_t)(pf.bytes - off < piece ? pf.bytes - off : piece);
        asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;\n" ::"l"((const char *)pf.p + off), "r"(len)
                     : "memory");
    }
#endif
}

/* The GPU's nanosecond clock, common to all SMs (for the bench builds'
 * per-block timestamps). */
__device__ __forceinline__ long long grk_global_ns()
{
    long long t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    return t;
}

__device__ __forceinline__ uint64_t grk_block_linear()
{
    return blockIdx.x + (uint64_t)gridDim.x * (blockIdx.y + (uint64_t)gridDim.y * blockIdx.z);
}

__device__ __forceinline__ uint64_t grk_grid_blocks() { return (uint64_t)gridDim.x * gridDim.y * gridDim.z; }

/* Every thread of the grid takes its share: a kernel's first lines. */
__device__ __forceinline__ void grk_prefetch_l2(const grk_pf &pf)
{
    if (!pf.bytes)
        return;
    const uint64_t nb = grk_grid_blocks(), nt = (uint64_t)blockDim.x * blockDim.y * blockDim.z;
    const uint64_t tid = threadIdx.x + (uint64_t)blockDim.x * (threadIdx.y + (uint64_t)blockDim.y * threadIdx.z);
    grk_prefetch_l2_part(pf, tid * nb + grk_block_linear(), nt * nb);
}

/* kernel<<<grid, block, smem, s>>>(args...) as a programmatic dependent.
 * The kernel must call grk_pdl_wait() before it touches anything an
 * earlier kernel writes or reads. */
template <typename... KArgs, typename... Args>
cudaError_t grk_launch(void (*kernel)(KArgs...), dim3 grid, dim3 block, size_t smem, grk_stream s,
                       Args... args)
{
    if (s.pdl) {
        /* An SM changes its L1/shared split only when idle: a kernel
         * wanting another split than the GEMMs' could not share SMs with
         * them, and would not overlap. */
        cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributePreferredSharedMemoryCarveout,
                                             (int)cudaSharedmemCarveoutMaxShared);
        if (e != cudaSuccess)
            return e;
    }
    cudaLaunchConfig_t lc = {};
    lc.gridDim = grid;
    lc.blockDim = block;
    lc.dynamicSmemBytes = smem;
    lc.stream = s.s;
    cudaLaunchAttribute at[1];
    at[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    at[0].val.programmaticStreamSerializationAllowed = 1;
    lc.attrs = at;
    lc.numAttrs = s.pdl ? 1 : 0;
    return cudaLaunchKernelEx(&lc, kernel, ((KArgs)args)...);
}

#endif
