/*
 * How fast one SM takes in data through the TMA unit, with nothing else to
 * do: a producer thread streams 2-D or 3-D boxes (the Hopper GEMM's
 * 128-byte swizzle) into a ring of shared-memory stages, a consumer thread
 * hands each stage back as soon as it lands. Boxes of 64, 128 or 256 rows
 * of a [rows, 64] matrix read straight through, and 64-row boxes of 1, 2
 * or 4 K blocks of a [rows, 1536] matrix walked as the GEMM walks its
 * operands; one CTA, or one on each of 132 SMs; from L2 (a 16 MB source
 * read over and over) and from DRAM (distinct rows of 1 GB). Prints bytes
 * a cycle per CTA (median over CTAs, clock64) and the grid's total rate:
 * whether gemm_tma.cu's stage rate (40-50 bytes a cycle an SM,
 * BENCHMARKS.md) is set by the hardware or by the kernel.
 *
 * Built as tests/tma_intake with the CUDA backend (tests/cuda.cmake);
 * usage: tma_intake.
 */
#include "../src/backend/cuda/gemm_tma.cu"

#include "bench_util.cuh"

namespace {

/* A box of a 3-D tensor map {inner, rows, k blocks} into shared memory. */
__device__ __forceinline__ void tma_load3(void *dst, const CUtensorMap *map, uint64_t *bar, int c0, int c1, int c2)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    asm volatile("cp.async.bulk.tensor.3d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4, "
                 "%5}], [%2];\n" ::"r"(smem_addr(dst)),
                 "l"((uint64_t)map), "r"(smem_addr(bar)), "r"(c0), "r"(c1), "r"(c2)
                 : "memory");
#endif
}

/* Box i of CTA b: where it starts. Layout 0: a [rows, 64] matrix read
 * straight through (box_rows rows a box). Layout 1: a [rows, K] matrix
 * (the GEMM's operands) walked as the GEMM does, 64 rows and one K block
 * of 64 a box (2-D). Layout 2: the same matrix, 64 rows and kb K blocks
 * a box (3-D map {64, rows, K/64}). */
struct walk {
    int layout, box_rows, kb, kblocks;
    int64_t rows;
};

template <int STAGES>
__global__ void __launch_bounds__(64, 1)
intake_kernel(const __grid_constant__ CUtensorMap map, walk w, int box_bytes, int boxes, long long *cycles)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    extern __shared__ unsigned char raw[];
    unsigned char *ring = (unsigned char *)(((uintptr_t)raw + 1023) & ~(uintptr_t)1023);
    uint64_t *full = (uint64_t *)(ring + STAGES * box_bytes), *empty = full + STAGES;
    if (threadIdx.x == 0) {
        for (int s = 0; s < STAGES; s++) {
            mbar_init(&full[s], 1);
            mbar_init(&empty[s], 1);
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    __syncthreads();
    const long long t0 = clock64();
    if (threadIdx.x == 0) {
        const int64_t first = (int64_t)blockIdx.x * boxes;
        for (int i = 0; i < boxes; i++) {
            const int s = i % STAGES;
            if (i >= STAGES)
                mbar_wait(&empty[s], ((i / STAGES) + 1) & 1);
            mbar_expect_tx(&full[s], (uint32_t)box_bytes);
            const int64_t b = first + i;
            if (w.layout == 0) {
                tma_load(ring + s * box_bytes, &map, &full[s], 0, (int)((b * w.box_rows) % w.rows));
            } else {
                const int per_row_block = w.kblocks / w.kb;
                const int kb0 = (int)(b % per_row_block) * w.kb;
                const int row = (int)((b / per_row_block * 64) % w.rows);
                if (w.layout == 1)
                    tma_load(ring + s * box_bytes, &map, &full[s], kb0 * 64, row);
                else
                    tma_load3(ring + s * box_bytes, &map, &full[s], 0, row, kb0);
            }
        }
    } else if (threadIdx.x == 32) {
        for (int i = 0; i < boxes; i++) {
            const int s = i % STAGES;
            mbar_wait(&full[s], (i / STAGES) & 1);
            mbar_arrive(&empty[s]);
        }
    }
    __syncthreads();
    if (threadIdx.x == 0)
        cycles[blockIdx.x] = clock64() - t0;
#endif
}

struct result {
    double bytes_per_cycle, total_gbs;
};

template <int STAGES>
result run(const CUtensorMap &map, const walk &w, int box_bytes, int ctas, long long *d_cycles, cudaStream_t s)
{
    const int boxes = (int)((4 << 20) / box_bytes); /* 4 MB a CTA */
    const size_t smem = 1024 + (size_t)STAGES * box_bytes + 2 * STAGES * sizeof(uint64_t);
    CK(cudaFuncSetAttribute(intake_kernel<STAGES>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    std::vector<double> per, tot;
    for (int rep = 0; rep < 5; rep++) {
        CK(cudaEventRecord(e0, s));
        intake_kernel<STAGES><<<ctas, 64, smem, s>>>(map, w, box_bytes, boxes, d_cycles);
        CK(cudaGetLastError());
        CK(cudaEventRecord(e1, s));
        CK(cudaStreamSynchronize(s));
        float ms;
        CK(cudaEventElapsedTime(&ms, e0, e1));
        std::vector<long long> cyc(ctas);
        CK(cudaMemcpy(cyc.data(), d_cycles, ctas * sizeof(long long), cudaMemcpyDeviceToHost));
        std::vector<double> bpc;
        for (long long c : cyc)
            bpc.push_back((double)boxes * box_bytes / (double)c);
        if (rep) { /* the first run warms an L2-sized source into L2 */
            per.push_back(median(bpc));
            tot.push_back((double)ctas * boxes * box_bytes / (ms * 1e-3) / 1e9);
        }
    }
    CK(cudaEventDestroy(e0));
    CK(cudaEventDestroy(e1));
    return {median(per), median(tot)};
}

result run_stages(int stages, const CUtensorMap &map, const walk &w, int box_bytes, int ctas, long long *d,
                  cudaStream_t s)
{
    switch (stages) {
    case 2: return run<2>(map, w, box_bytes, ctas, d, s);
    case 4: return run<4>(map, w, box_bytes, ctas, d, s);
    case 8: return run<8>(map, w, box_bytes, ctas, d, s);
    default: return run<16>(map, w, box_bytes, ctas, d, s);
    }
}

} // namespace

int main()
{
    PFN_cuTensorMapEncodeTiled_v12000 enc = (PFN_cuTensorMapEncodeTiled_v12000)grk_gemm_tma_encoder();
    if (!enc) {
        fprintf(stderr, "no cuTensorMapEncodeTiled\n");
        return 1;
    }
    const size_t bytes = (size_t)1 << 30;
    uint16_t *buf;
    long long *d_cycles;
    CK(cudaMalloc(&buf, bytes));
    CK(cudaMemset(buf, 1, bytes));
    CK(cudaMalloc(&d_cycles, 1024 * sizeof(long long)));
    cudaStream_t s;
    CK(cudaStreamCreate(&s));
    printf("%-5s %-22s %5s %6s %7s %8s | bytes/cycle/CTA  total GB/s\n", "from", "boxes", "CTAs", "stages",
           "box KB", "ring KB");
    for (int hot = 1; hot >= 0; hot--) {
        /* Layout 0, a [rows, 64] matrix: 16 MB (L2) or 1 GB. */
        {
            const int64_t rows = (int64_t)(hot ? 16 << 20 : bytes) / 128;
            for (int box_rows : {64, 128, 256}) {
                CUtensorMap map;
                if (encode_map(enc, &map, buf, GRK_BF16, rows, 64, 64, box_rows) != CUDA_SUCCESS) {
                    fprintf(stderr, "tensor map\n");
                    return 1;
                }
                const walk w = {0, box_rows, 1, 1, rows};
                for (int ctas : {1, 132})
                    for (int stages : {4, 8, 16}) {
                        const int box_kb = box_rows / 8;
                        if (stages * box_kb > 200)
                            continue;
                        const result r = run_stages(stages, map, w, box_rows * 128, ctas, d_cycles, s);
                        printf("%-5s %-22s %5d %6d %7d %8d | %15.1f %11.0f\n", hot ? "L2" : "DRAM",
                               box_rows == 64 ? "contiguous 64 rows" : box_rows == 128 ? "contiguous 128 rows"
                                                                                       : "contiguous 256 rows",
                               ctas, stages, box_kb, stages * box_kb, r.bytes_per_cycle, r.total_gbs);
                    }
            }
        }
        /* Layouts 1 and 2: a [rows, 1536] matrix (the DiT's K), 64-row boxes of 1, 2 or 4 K blocks. */
        {
            const int64_t K = 1536, rows = (int64_t)(hot ? 16 << 20 : bytes) / (K * 2);
            for (int kb : {1, 2, 4}) {
                CUtensorMap map;
                CUresult cr;
                if (kb == 1) {
                    cr = encode_map(enc, &map, buf, GRK_BF16, rows, K, K, 64);
                } else {
                    cuuint64_t dims[3] = {64, (cuuint64_t)rows, (cuuint64_t)(K / 64)};
                    cuuint64_t strides[2] = {(cuuint64_t)K * 2, 128};
                    cuuint32_t box[3] = {64, 64, (cuuint32_t)kb}, estr[3] = {1, 1, 1};
                    cr = enc(&map, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 3, buf, dims, strides, box, estr,
                             CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                             CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
                }
                if (cr != CUDA_SUCCESS) {
                    printf("%d K blocks a box: the tensor map was refused (%d)\n", kb, (int)cr);
                    continue;
                }
                const walk w = {kb == 1 ? 1 : 2, 64, kb, (int)(K / 64), rows};
                char label[32];
                snprintf(label, sizeof label, "[R,1536] 64 rows x %d kb", kb);
                for (int ctas : {1, 132})
                    for (int stages : {4, 8, 16}) {
                        const int box_kb = 8 * kb;
                        if (stages * box_kb > 200)
                            continue;
                        const result r = run_stages(stages, map, w, box_kb * 1024, ctas, d_cycles, s);
                        printf("%-5s %-22s %5d %6d %7d %8d | %15.1f %11.0f\n", hot ? "L2" : "DRAM", label, ctas,
                               stages, box_kb, stages * box_kb, r.bytes_per_cycle, r.total_gbs);
                    }
            }
        }
    }
    return 0;
}
