#!/usr/bin/env python3
"""Sums an `ncu --csv --print-units base` listing of one call: kernel
count, total time, and the kernels grouped by name, largest first. Metrics
besides gpu__time_duration.sum (device_profile.sh's sol mode: throughputs
as percentages of peak) are averaged over each group, weighted by time.
Usage: ncu_summary.py FILE.csv [--order]"""
import csv
import math
import re
import sys
from collections import defaultdict

TIME = "gpu__time_duration.sum"
LABELS = [("dram__", "dram%"), ("lts__", "l2%"), ("sm__throughput", "sm%"), ("sm__pipe_tensor", "tensor%")]


def short(name):
    name = re.sub(r"^void ", "", name)
    name = re.sub(r"\((?!anonymous|unnamed).*", "", name)
    name = name.replace("<unnamed>::", "").replace("(anonymous namespace)::", "")
    name = re.sub(r"cutlass::Kernel2<(\w+)>", r"\1", name)
    name = re.sub(r"<32, 16, int.*", "", name)
    return name[:60]


def label(metric):
    for prefix, lab in LABELS:
        if metric.startswith(prefix):
            return lab
    return None


def main():
    kernels = {}  # ID -> [name, grid, block, {metric: value}]
    with open(sys.argv[1], newline="") as f:
        lines = [l for l in f if l.startswith('"')]
    for r in csv.DictReader(lines):
        try:
            v = float(r["Metric Value"].replace(",", ""))
        except ValueError:
            continue
        k = kernels.setdefault(r["ID"], [r["Kernel Name"], r["Grid Size"], r["Block Size"], {}])
        k[3][r["Metric Name"]] = v
    # A kernel Nsight Compute could not replay reports no (or a NaN) duration.
    rows = [(n, g, b, m[TIME] / 1000.0, m) for n, g, b, m in kernels.values() if m.get(TIME, math.nan) == m.get(TIME)]
    unread = len(kernels) - len(rows)
    extra = sorted({lab for *_, m in rows for x in m for lab in [label(x)] if lab},
                   key=[l for _, l in LABELS].index)
    total = sum(t for _, _, _, t, _ in rows)
    print(f"kernels {len(rows)}  sum of kernel times {total / 1000.0:.3f} ms" +
          (f"  ({unread} more without a duration)" if unread else ""))
    by = defaultdict(lambda: [0, 0.0, defaultdict(float)])
    for n, g, b, t, m in rows:
        k = by[(short(n), g, b)]
        k[0] += 1
        k[1] += t
        for x, v in m.items():
            if label(x):
                k[2][label(x)] += v * t
    head = "".join(f" {lab:>8}" for lab in extra)
    print(f"{'kernel':60} {'grid':>14} {'block':>10} {'n':>4} {'sum us':>9} {'avg us':>8}{head}")
    for (n, g, b), (c, t, w) in sorted(by.items(), key=lambda kv: -kv[1][1])[:45]:
        cols = "".join(f" {w[lab] / t:8.1f}" for lab in extra)
        print(f"{n:60} {g:>14} {b:>10} {c:4d} {t:9.1f} {t / c:8.2f}{cols}")
    if "--order" in sys.argv:
        for i, (n, g, b, t, m) in enumerate(rows):
            cols = "".join(f" {m[x]:6.1f}" for x in m if label(x))
            print(f"{i:4d} {short(n):60} {g:>14} {t:8.2f}{cols}")


if __name__ == "__main__":
    main()
