#!/usr/bin/env python3
"""The model's GEMM shapes (bf16, B=1) in PyTorch/cuBLAS on this card, each
timed inside a CUDA graph: 'cold' walks distinct weight copies (more bytes
than L2 holds, as in the model), 'hot' reuses one (L2-resident). Tells how
far a shape is from its floor and what keeping weights in L2 would buy.
Usage: python3 bench/gemm_shapes.py"""
import torch

SHAPES = [  # name, M, N, K
    ("vit qkv", 256, 3456, 1152), ("vit o", 256, 1152, 1152),
    ("vit fc1", 256, 4304, 1152), ("vit fc2", 256, 1152, 4304),
    ("llm qkv", 294, 4096, 2048), ("llm o", 294, 2048, 2048),
    ("llm gate_up", 294, 12288, 2048), ("llm down", 294, 2048, 6144),
    ("vl qkv", 294, 6144, 2048), ("vl ff1", 294, 8192, 2048),
    ("vl ff2", 294, 2048, 8192), ("dit q", 49, 1536, 1536), ("dit qkv", 49, 4608, 1536),
    ("dit ff1", 49, 6144, 1536), ("dit ff2", 49, 1536, 6144),
]


def timed(fn, reps):
    """fn captured once in a CUDA graph and replayed 15 times: the median,
    min and max of a replay's time over reps, in microseconds."""
    g = torch.cuda.CUDAGraph()
    s = torch.cuda.Stream()
    with torch.cuda.stream(s):
        fn()
        torch.cuda.synchronize()
        with torch.cuda.graph(g):
            fn()
    ts = []
    for _ in range(15):
        a, b = torch.cuda.Event(True), torch.cuda.Event(True)
        a.record()
        g.replay()
        b.record()
        torch.cuda.synchronize()
        ts.append(a.elapsed_time(b) * 1000.0 / reps)
    ts.sort()
    return ts[len(ts) // 2], ts[0], ts[-1]


def main():
    dev = "cuda"
    print(f"{'shape':12} {'M':>4} {'N':>6} {'K':>5} {'MB':>6} {'cold us':>8} {'hot us':>8} {'TB/s cold':>9} {'TFLOP/s':>8}")
    for name, m, n, k in SHAPES:
        wbytes = n * k * 2
        copies = max(4, int(200e6 // wbytes))
        ws = [torch.randn(n, k, device=dev, dtype=torch.bfloat16) for _ in range(copies)]
        x = torch.randn(m, k, device=dev, dtype=torch.bfloat16)
        b = torch.randn(n, device=dev, dtype=torch.bfloat16)
        ys = [torch.empty(m, n, device=dev, dtype=torch.bfloat16) for _ in range(copies)]

        def cold():
            for w, y in zip(ws, ys):
                torch.addmm(b, x, w.t(), out=y)

        def hot():
            for y in ys:
                torch.addmm(b, x, ws[0].t(), out=y)

        tc = timed(cold, copies)[0]
        th = timed(hot, copies)[0]
        print(f"{name:12} {m:4d} {n:6d} {k:5d} {wbytes / 1e6:6.1f} {tc:8.2f} {th:8.2f} "
              f"{wbytes / tc / 1e6:9.2f} {2 * m * n * k / tc / 1e6:8.1f}")
        del ws, ys


if __name__ == "__main__":
    main()
