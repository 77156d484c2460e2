/*
 * Programmatic edges into cuBLASLt's GEMMs, made in a captured graph.
 *
 * groot's kernels launch as programmatic dependents (launch.cuh): they are
 * scheduled while the kernel before them drains, and wait
 * (griddepcontrol.wait) before they read what it wrote. cuBLASLt launches
 * its kernels itself, without that attribute, so a capture joins each of
 * its GEMMs to the kernel before with a full edge: the GEMM is launched
 * only once that kernel has finished and flushed, and the SMs idle in
 * between. Yet cuBLASLt's Hopper kernels (the nvjet family) execute
 * griddepcontrol.wait before they touch their operands: with a
 * programmatic edge into one, made after the capture, a 50 us kernel
 * writing the GEMM's input still gave exact results for every algorithm
 * tried (and test_backend_cuda's graph_pdl case checks it on every run).
 *
 * Which edges: those into and out of the kernels of cuBLASLt's 16-bit
 * GEMMs, where the kernel at the head of the edge waits before it reads:
 *  - groot's own: every groot kernel calls grk_pdl_wait before reading
 *    and releases its dependents only after that wait has returned, so an
 *    early start never reaches past the kernel before;
 *  - cuBLASLt's named nvjet*.
 * Any other kernel cuBLASLt adds (a split-K reduction, say) keeps the full
 * edge into it. Edges between groot's kernels keep what their launch
 * chose (gr_cuda_ks), and TF32/FP32 GEMMs keep full edges both ways:
 * making those programmatic too slowed TF32 calls by 2-11% and FP32 by 1%
 * (BENCHMARKS.md, "Programmatic edges into cuBLASLt").
 *
 * Where. That cuBLASLt's kernels wait is seen, not documented: it was
 * checked (bench/cublas_pdl_probe.cu: five of the backbone's GEMM shapes,
 * four algorithms each; the 3B parity checks with every edge rewritten)
 * on Hopper with cuBLASLt 13, so by default the pass runs
 * only there (compute capability 9.x, cuBLASLt 13.x). GROOT_GRAPH_PDL=1
 * runs it on any card with griddepcontrol (9.0 on) once the probe has
 * passed there; =0 never.
 *
 * Whose node is whose is known exactly: the GEMM layer records the
 * capture's tail before and after each cublasLtMatmul, and the nodes on
 * the path between are cuBLASLt's. If that record is incomplete (a tail
 * of several nodes, or more GEMMs than it holds), the graph keeps every
 * edge as captured.
 */
#include "backend/cuda/cuda_backend.h"

#include <cuda.h>
#include <cudaTypedefs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The capture's current tail: the one node the next captured work will
 * depend on (NULL at the capture's start or when there are several). */
static int capture_tail(gr_cuda_backend *cb, cudaGraphNode_t *tail)
{
    enum cudaStreamCaptureStatus cs;
    const cudaGraphNode_t *deps = NULL;
    size_t n = 0;
    *tail = NULL;
    if (cudaStreamGetCaptureInfo(cb->stream, &cs, NULL, NULL, &deps, NULL, &n) != cudaSuccess ||
        cs != cudaStreamCaptureStatusActive || n > 1)
        return 0;
    *tail = n ? deps[0] : NULL;
    return 1;
}

void gr_cuda_capture_begin_cublas(gr_cuda_backend *cb)
{
    cb->cublas_spans_n = 0;
    cb->cublas_spans_lost = 0;
}

cudaGraphNode_t gr_cuda_capture_before_cublas(gr_cuda_backend *cb)
{
    cudaGraphNode_t t;
    if (!capture_tail(cb, &t))
        cb->cublas_spans_lost = 1;
    return t;
}

void gr_cuda_capture_note_cublas(gr_cuda_backend *cb, cudaGraphNode_t before, int pdl)
{
    cudaGraphNode_t after;
    if (!capture_tail(cb, &after) || !after || after == before || cb->cublas_spans_n >= GR_CUDA_CUBLAS_SPANS) {
        cb->cublas_spans_lost = 1;
        return;
    }
    cb->cublas_spans[cb->cublas_spans_n].before = before;
    cb->cublas_spans[cb->cublas_spans_n].after = after;
    cb->cublas_spans[cb->cublas_spans_n].pdl = pdl;
    cb->cublas_spans_n++;
}

/* A node cuBLASLt added, and whether its GEMM is 16-bit. */
typedef struct cublas_node {
    cudaGraphNode_t node;
    int pdl;
} cublas_node;

static int node_cmp(const void *a, const void *b)
{
    const uintptr_t x = (uintptr_t)((const cublas_node *)a)->node, y = (uintptr_t)((const cublas_node *)b)->node;
    return x < y ? -1 : x > y;
}

/* The nodes cuBLASLt added, sorted; NULL when they cannot be told (or no memory). */
static cublas_node *cublas_nodes(const gr_cuda_backend *cb, size_t *n)
{
    enum { MAX_PER_GEMM = 8 };
    cublas_node *set = malloc((size_t)(cb->cublas_spans_n * MAX_PER_GEMM + 1) * sizeof *set);
    if (!set)
        return NULL;
    size_t k = 0;
    for (int i = 0; i < cb->cublas_spans_n; i++) {
        const cudaGraphNode_t before = cb->cublas_spans[i].before;
        cudaGraphNode_t v = cb->cublas_spans[i].after;
        for (int steps = 0; v != before; steps++) {
            cudaGraphNode_t dep[2];
            size_t nd = 2;
            if (steps == MAX_PER_GEMM || cudaGraphNodeGetDependencies(v, dep, NULL, &nd) != cudaSuccess || nd > 1 ||
                (nd == 0 && before)) {
                free(set);
                return NULL;
            }
            set[k].node = v;
            set[k++].pdl = cb->cublas_spans[i].pdl;
            if (nd == 0)
                break;
            v = dep[0];
        }
    }
    qsort(set, k, sizeof *set, node_cmp);
    *n = k;
    return set;
}

static const cublas_node *cublas_find(const cublas_node *set, size_t n, cudaGraphNode_t node)
{
    const cublas_node key = {node, 0};
    return bsearch(&key, set, n, sizeof *set, node_cmp);
}

/* The kernel a node launches, by name ("" when it cannot be read). */
static const char *kernel_name(const gr_cuda_backend *cb, cudaGraphNode_t node)
{
    PFN_cuGraphKernelNodeGetParams_v12000 get = (PFN_cuGraphKernelNodeGetParams_v12000)cb->drv_node_params;
    PFN_cuFuncGetName_v12030 fname = (PFN_cuFuncGetName_v12030)cb->drv_func_name;
    PFN_cuKernelGetName_v12030 kname = (PFN_cuKernelGetName_v12030)cb->drv_kernel_name;
    CUDA_KERNEL_NODE_PARAMS_v2 p;
    memset(&p, 0, sizeof p);
    const char *name = NULL;
    if (!get || get((CUgraphNode)node, &p) != CUDA_SUCCESS)
        return "";
    if (p.func && fname)
        fname(&name, p.func);
    else if (p.kern && kname)
        kname(&name, p.kern);
    return name ? name : "";
}

void gr_cuda_pdl_drivers(gr_cuda_backend *cb)
{
    enum cudaDriverEntryPointQueryResult q;
    if (cudaGetDriverEntryPointByVersion("cuGraphKernelNodeGetParams", &cb->drv_node_params, 12000,
                                         cudaEnableDefault, &q) != cudaSuccess ||
        q != cudaDriverEntryPointSuccess)
        cb->drv_node_params = NULL;
    if (cudaGetDriverEntryPointByVersion("cuFuncGetName", &cb->drv_func_name, 12030, cudaEnableDefault, &q) !=
            cudaSuccess ||
        q != cudaDriverEntryPointSuccess)
        cb->drv_func_name = NULL;
    if (cudaGetDriverEntryPointByVersion("cuKernelGetName", &cb->drv_kernel_name, 12030, cudaEnableDefault, &q) !=
            cudaSuccess ||
        q != cudaDriverEntryPointSuccess)
        cb->drv_kernel_name = NULL;
}

static int is_kernel(cudaGraphNode_t n)
{
    enum cudaGraphNodeType t;
    return cudaGraphNodeGetType(n, &t) == cudaSuccess && t == cudaGraphNodeTypeKernel;
}

static int make_programmatic(gr_cuda_backend *cb, cudaGraph_t g)
{
    if (cb->cublas_spans_lost || !cb->drv_node_params || (!cb->drv_func_name && !cb->drv_kernel_name))
        return 0;
    size_t ne = 0, nc = 0;
    if (cudaGraphGetEdges(g, NULL, NULL, NULL, &ne) != cudaSuccess || !ne)
        return 0;
    cublas_node *theirs = cublas_nodes(cb, &nc);
    cudaGraphNode_t *from = malloc(ne * sizeof *from), *to = malloc(ne * sizeof *to);
    cudaGraphEdgeData *ed = malloc(ne * sizeof *ed);
    int changed = 0;
    if (theirs && from && to && ed && cudaGraphGetEdges(g, from, to, ed, &ne) == cudaSuccess) {
        for (size_t i = 0; i < ne; i++) {
            if (ed[i].type != cudaGraphDependencyTypeDefault || ed[i].from_port != cudaGraphKernelNodePortDefault ||
                !is_kernel(from[i]) || !is_kernel(to[i]))
                continue;
            const cublas_node *u = cublas_find(theirs, nc, from[i]), *v = cublas_find(theirs, nc, to[i]);
            /* Touching a cuBLASLt GEMM, each end of it that is cuBLASLt's of a
             * 16-bit GEMM, and its head one that waits (nvjet). */
            const int make = (u || v) && (!u || u->pdl) &&
                             (!v || (v->pdl && strncmp(kernel_name(cb, to[i]), "nvjet", 5) == 0));
            if (cb->gemm_log >= 2 && (u || v))
                fprintf(stderr, "groot cuda: edge %s -> %s: %s\n", kernel_name(cb, from[i]), kernel_name(cb, to[i]),
                        make ? "programmatic" : "full");
            if (!make)
                continue;
            cudaGraphEdgeData e;
            memset(&e, 0, sizeof e);
            e.from_port = cudaGraphKernelNodePortProgrammatic;
            e.type = cudaGraphDependencyTypeProgrammatic;
            if (cudaGraphRemoveDependencies(g, &from[i], &to[i], &ed[i], 1) != cudaSuccess)
                continue;
            if (cudaGraphAddDependencies(g, &from[i], &to[i], &e, 1) == cudaSuccess) {
                changed++;
            } else if (cudaGraphAddDependencies(g, &from[i], &to[i], &ed[i], 1) != cudaSuccess) {
                changed = -1; /* the graph lost an ordering: it must not run */
                break;
            }
        }
    }
    free(theirs);
    free(from);
    free(to);
    free(ed);
    return changed;
}

int gr_cuda_graph_programmatic(gr_cuda_backend *cb, cudaGraph_t g)
{
    const int changed = make_programmatic(cb, g);
    /* Its queries may fail by design (cudaGraphGetEdges says
     * cudaErrorLossyQuery where edges carry data); their status is handled
     * there and must not linger as the thread's last error. */
    (void)cudaGetLastError();
    return changed;
}
