#!/usr/bin/env python3
"""Sums an `ncu --csv --print-units base --metrics gpu__time_duration.sum`
listing of one call: kernel count, total time, and the kernels grouped by
name, largest first. Usage: ncu_summary.py FILE.csv [--order]"""
import csv
import re
import sys
from collections import defaultdict


def short(name):
    name = re.sub(r"^void ", "", name)
    name = re.sub(r"\((?!anonymous|unnamed).*", "", name)
    name = name.replace("<unnamed>::", "").replace("(anonymous namespace)::", "")
    name = re.sub(r"cutlass::Kernel2<(\w+)>", r"\1", name)
    name = re.sub(r"<32, 16, int.*", "", name)
    return name[:60]


def main():
    rows = []
    with open(sys.argv[1], newline="") as f:
        lines = [l for l in f if l.startswith('"')]
    for r in csv.DictReader(lines):
        if r.get("Metric Name") != "gpu__time_duration.sum":
            continue
        rows.append((r["Kernel Name"], r["Grid Size"], r["Block Size"], float(r["Metric Value"].replace(",", "")) / 1000.0))
    total = sum(t for *_, t in rows)
    print(f"kernels {len(rows)}  sum of kernel times {total / 1000.0:.3f} ms")
    by = defaultdict(lambda: [0, 0.0])
    for n, g, b, t in rows:
        k = by[(short(n), g, b)]
        k[0] += 1
        k[1] += t
    print(f"{'kernel':60} {'grid':>14} {'block':>10} {'n':>4} {'sum us':>9} {'avg us':>8}")
    for (n, g, b), (c, t) in sorted(by.items(), key=lambda kv: -kv[1][1])[:45]:
        print(f"{n:60} {g:>14} {b:>10} {c:4d} {t:9.1f} {t / c:8.2f}")
    if "--order" in sys.argv:
        for i, (n, g, b, t) in enumerate(rows):
            print(f"{i:4d} {short(n):60} {g:>14} {t:8.2f}")


if __name__ == "__main__":
    main()
