#!/usr/bin/env python3
"""The backbone's GEMM shapes (bf16, B=1, x W^T + bias) as PyTorch's own
autotuner builds them on this card, against cuBLAS: is there a faster GEMM
for 256-304 rows on this machine than the cuBLASLt kernels groot uses?

Each route is timed with gemm_shapes.py's timer: a chain over distinct
weight copies (more bytes than L2 holds, as in the model) inside a CUDA
graph, median of 15 replays, microseconds a GEMM.
  cublas   torch.addmm, eager (cuBLAS/cuBLASLt's heuristic pick)
  triton   torch.compile max-autotune, Triton templates only
  tma      the same with Triton's persistent TMA templates enabled
  best     max-autotune over Triton and cuBLAS (ATen) together
Usage: python3 bench/gemm_autotune.py [ROUTE ...]   (default: all four)"""
import sys

import torch
import torch._inductor.config as inductor_config

import gemm_shapes  # beside this file
from gemm_shapes import timed

SHAPES = [s for s in gemm_shapes.SHAPES if s[1] > 64]  # the backbone's: 256-304 rows
ROUTES = ["cublas", "triton", "tma", "best"]


def linear(x, w, b):
    return torch.addmm(b, x, w.t())


def route_fn(route):
    if route == "cublas":
        return linear
    torch._dynamo.reset()
    inductor_config.max_autotune = True
    inductor_config.max_autotune_gemm = True
    inductor_config.max_autotune_gemm_backends = "ATEN,TRITON" if route == "best" else "TRITON"
    if hasattr(inductor_config.triton, "enable_persistent_tma_matmul"):
        inductor_config.triton.enable_persistent_tma_matmul = route == "tma"
    elif route == "tma":
        sys.exit("gemm_autotune: this PyTorch has no persistent TMA matmul templates")
    inductor_config.triton.cudagraphs = False
    return torch.compile(linear, dynamic=False, fullgraph=True)


def main():
    routes = sys.argv[1:] or ROUTES
    for r in routes:
        if r not in ROUTES:
            sys.exit(f"gemm_autotune: unknown route '{r}' (one of {', '.join(ROUTES)})")
    dev = "cuda"
    print(torch.cuda.get_device_name(), "torch", torch.__version__, flush=True)
    results = {}
    for name, m, n, k in SHAPES:
        wbytes = n * k * 2
        copies = max(4, int(200e6 // wbytes))
        ws = [torch.randn(n, k, device=dev, dtype=torch.bfloat16) / k**0.5 for _ in range(copies)]
        x = torch.randn(m, k, device=dev, dtype=torch.bfloat16)
        b = torch.randn(n, device=dev, dtype=torch.bfloat16)
        ref = linear(x.float(), ws[0].float(), b.float())
        for r in routes:
            fn = route_fn(r)
            y = fn(x, ws[0], b)  # compiles and autotunes for this shape
            err = ((y.float() - ref).abs().max() / ref.abs().max()).item()
            if not err < 2e-2:
                sys.exit(f"gemm_autotune: {name} via {r}: max rel err {err:.3g}")

            def chain():
                for w in ws:
                    fn(x, w, b)

            med, lo, hi = timed(chain, copies)
            results[(name, r)] = med
            print(f"{name:12} {m:4d} {n:6d} {k:5d} {r:7} {med:8.2f} us  [{lo:.2f}, {hi:.2f}]  "
                  f"{wbytes / med / 1e6:5.2f} TB/s  {2 * m * n * k / med / 1e6:6.1f} TFLOP/s  err {err:.1e}",
                  flush=True)
        del ws
    print()
    print("| shape | " + " | ".join(routes) + " |")
    print("|---|" + "---:|" * len(routes))
    for name, m, n, k in SHAPES:
        print(f"| {name} {m}x{n}x{k} | " + " | ".join(f"{results[(name, r)]:.2f}" for r in routes) + " |")


if __name__ == "__main__":
    main()
