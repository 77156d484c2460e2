#!/usr/bin/env python3
"""Same-card comparison for `groot bench`: plain PyTorch modules with the
released GR00T N1.5 3B shapes (random weights, bf16), timed eager and under
torch.compile (inductor + CUDA graphs), with CUDA events, median of N.

Components: one DiT step (16 blocks, 49 tokens, cross-attention to a
294-token vl on even blocks, AdaLN modulation) and the 12-layer Qwen3 stack
(294 tokens, GQA 16/8 x 128, q/k RMSNorm, RoPE, causal SDPA). These are
written from SPEC.md, not taken from the reference; they do what the
reference's modules do at inference, so their times are what PyTorch gets
for the same work on this card.

Usage: python3 bench/torch_side_by_side.py [--iters 100] [--no-compile]
Prints one JSON object per (component, mode)."""
import argparse, json, math, statistics
import torch
import torch.nn as nn
import torch.nn.functional as F

dev = "cuda"
dt = torch.bfloat16


class DiTBlock(nn.Module):
    def __init__(self, dim=1536, heads=32, head_dim=48, cross_dim=None):
        super().__init__()
        inner = heads * head_dim
        self.heads, self.head_dim = heads, head_dim
        self.mod = nn.Linear(dim, 2 * dim)
        self.q = nn.Linear(dim, inner)
        kv_in = cross_dim or dim
        self.k = nn.Linear(kv_in, inner)
        self.v = nn.Linear(kv_in, inner)
        self.o = nn.Linear(inner, dim)
        self.ff1 = nn.Linear(dim, 4 * dim)
        self.ff2 = nn.Linear(4 * dim, dim)
        self.cross = cross_dim is not None

    def forward(self, x, temb, vl):
        scale, shift = self.mod(F.silu(temb)).chunk(2, dim=-1)
        y = F.layer_norm(x, x.shape[-1:], eps=1e-5) * (1 + scale[:, None]) + shift[:, None]
        kv = vl if self.cross else y
        B, S, _ = y.shape
        q = self.q(y).view(B, S, self.heads, self.head_dim).transpose(1, 2)
        k = self.k(kv).view(B, kv.shape[1], self.heads, self.head_dim).transpose(1, 2)
        v = self.v(kv).view(B, kv.shape[1], self.heads, self.head_dim).transpose(1, 2)
        a = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(B, S, -1)
        x = x + self.o(a)
        h = F.layer_norm(x, x.shape[-1:], eps=1e-5)
        return x + self.ff2(F.gelu(self.ff1(h), approximate="tanh"))


class DiTStep(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([DiTBlock(cross_dim=2048 if i % 2 == 0 else None) for i in range(16)])
        self.proj_out_1 = nn.Linear(1536, 3072)
        self.proj_out_2 = nn.Linear(1536, 1024)

    def forward(self, x, temb, vl):
        for b in self.blocks:
            x = b(x, temb, vl)
        shift, scale = self.proj_out_1(F.silu(temb)).chunk(2, dim=-1)
        x = F.layer_norm(x, x.shape[-1:], eps=1e-6) * (1 + scale[:, None]) + shift[:, None]
        return self.proj_out_2(x)


def rms(x, w, eps=1e-6):
    xf = x.float()
    return (w * (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps))).to(x.dtype)


class Qwen3Layer(nn.Module):
    def __init__(self, dim=2048, heads=16, kv_heads=8, head_dim=128, ffn=6144):
        super().__init__()
        self.h, self.kvh, self.hd = heads, kv_heads, head_dim
        self.in_norm = nn.Parameter(torch.ones(dim))
        self.post_norm = nn.Parameter(torch.ones(dim))
        self.q = nn.Linear(dim, heads * head_dim, bias=False)
        self.k = nn.Linear(dim, kv_heads * head_dim, bias=False)
        self.v = nn.Linear(dim, kv_heads * head_dim, bias=False)
        self.o = nn.Linear(heads * head_dim, dim, bias=False)
        self.q_norm = nn.Parameter(torch.ones(head_dim))
        self.k_norm = nn.Parameter(torch.ones(head_dim))
        self.gate = nn.Linear(dim, ffn, bias=False)
        self.up = nn.Linear(dim, ffn, bias=False)
        self.down = nn.Linear(ffn, dim, bias=False)

    def forward(self, x, cos, sin):
        B, L, _ = x.shape
        h = rms(x, self.in_norm)
        q = rms(self.q(h).view(B, L, self.h, self.hd), self.q_norm).transpose(1, 2)
        k = rms(self.k(h).view(B, L, self.kvh, self.hd), self.k_norm).transpose(1, 2)
        v = self.v(h).view(B, L, self.kvh, self.hd).transpose(1, 2)

        def rope(t):
            t1, t2 = t[..., : self.hd // 2], t[..., self.hd // 2:]
            return t * cos + torch.cat((-t2, t1), -1) * sin

        q, k = rope(q), rope(k)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        x = x + self.o(a.transpose(1, 2).reshape(B, L, -1))
        h = rms(x, self.post_norm)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class Qwen3Stack(nn.Module):
    def __init__(self, layers=12):
        super().__init__()
        self.layers = nn.ModuleList([Qwen3Layer() for _ in range(layers)])
        self.norm = nn.Parameter(torch.ones(2048))

    def forward(self, x, cos, sin):
        for l in self.layers:
            x = l(x, cos, sin)
        return rms(x, self.norm)


def time_ms(fn, iters, warmup=10):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    out = []
    for _ in range(iters):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        out.append(a.elapsed_time(b))
    out.sort()
    return statistics.median(out), out[0], out[int(0.9 * (len(out) - 1))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iters", type=int, default=100)
    ap.add_argument("--no-compile", action="store_true")
    args = ap.parse_args()
    torch.manual_seed(0)
    with torch.no_grad():
        dit = DiTStep().to(dev, dt).eval()
        x = torch.randn(1, 49, 1536, device=dev, dtype=dt)
        temb = torch.randn(1, 1536, device=dev, dtype=dt)
        vl = torch.randn(1, 294, 2048, device=dev, dtype=dt)
        llm = Qwen3Stack().to(dev, dt).eval()
        xt = torch.randn(1, 294, 2048, device=dev, dtype=dt)
        inv = 1.0 / (1e6 ** (torch.arange(0, 128, 2, device=dev, dtype=torch.float32) / 128))
        ang = torch.arange(294, device=dev, dtype=torch.float32)[:, None] * inv[None]
        emb = torch.cat((ang, ang), -1)
        cos, sin = emb.cos().to(dt)[None, None], emb.sin().to(dt)[None, None]
        cases = [("dit_step", dit, (x, temb, vl)), ("llm", llm, (xt, cos, sin))]
        for name, mod, inp in cases:
            modes = [("eager", mod)]
            if not args.no_compile:
                modes.append(("compile_reduce_overhead", torch.compile(mod, mode="reduce-overhead")))
            for mode, f in modes:
                med, lo, p90 = time_ms(lambda: f(*inp), args.iters)
                print(json.dumps({"component": name, "mode": mode, "dtype": "bf16", "median_ms": med,
                                  "min_ms": lo, "p90_ms": p90, "torch": torch.__version__,
                                  "gpu": torch.cuda.get_device_name()}), flush=True)


if __name__ == "__main__":
    main()
