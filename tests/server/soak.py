#!/usr/bin/env python3
"""Soak test of `groot serve` on the tiny synthesized model: up to 5,000
sequential get_action calls (bounded by --max-seconds), no error allowed, and
resident memory (VmRSS from /proc/<pid>/status) at the end within 5% of its
value after the first 100 calls.

Latency honestly reported: the server's reply stays the reference's, so it
cannot carry its compute time. Instead the server logs one line per request
with its in-process decode/compute/encode times; requests are sequential, so
the n-th get_action log line belongs to the n-th call. Overhead per call =
client round trip - server compute (i.e. transport + msgpack + npy both ways +
Python's own encode/decode). Ping round trips are printed beside it as the
floor of the transport alone.

Exit 77 (skipped) only when pyzmq, msgpack or numpy cannot be imported.
"""
import argparse
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import client_test as ct
    import numpy as np
except SystemExit:
    raise
except ImportError as e:
    print(f"SKIP: {e}")
    sys.exit(77)


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def pct(xs, p):
    return float(np.percentile(np.asarray(xs), p)) if xs else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--groot", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--calls", type=int, default=5000)
    ap.add_argument("--max-seconds", type=float, default=float(os.environ.get("GROOT_SOAK_SECONDS", "1200")))
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    model = ct.synth_model(a.groot, a.work)
    srv = ct.Server(a.groot, model, a.work, tag="soak")
    c = ct.Client(srv.port)
    try:
        cfg = c.call("get_modality_config", requires_input=False)
        dims = ct.state_dims(model, cfg["state"]["modality_keys"])
        obs = ct.make_observation(cfg["video"]["modality_keys"], dims, seed=3)
        rtts, pings = [], []
        rss_100 = None
        start = time.time()
        n = 0
        while n < a.calls and time.time() - start < a.max_seconds:
            t0 = time.perf_counter()
            r = c.call("get_action", obs)
            rtts.append((time.perf_counter() - t0) * 1e3)
            n += 1
            ct.check("error" not in r, f"call {n}: {r.get('error')}")
            if n == 100:
                rss_100 = rss_kb(srv.proc.pid)
            if n % 50 == 0:
                t0 = time.perf_counter()
                c.ping()
                pings.append((time.perf_counter() - t0) * 1e3)
        elapsed = time.time() - start
        rss_end = rss_kb(srv.proc.pid)
        c.call("kill", requires_input=False)
        ct.check(srv.proc.wait(60) == 0, "server exit code")
        computes = [float(m) for m in re.findall(r"zmq get_action batch=\S+ decode=\S+ compute=([0-9.]+)ms", srv.text())]
        ct.check(len(computes) == n, f"{len(computes)} log lines for {n} calls")
        over = [r - cm for r, cm in zip(rtts, computes)]
        print(f"soak: {n} get_action calls in {elapsed:.1f} s"
              + ("" if n == a.calls else f" (stopped at the {a.max_seconds:.0f} s bound)"))
        print(f"soak: compute p50 {pct(computes, 50):.2f} ms; round trip p50 {pct(rtts, 50):.2f} ms")
        print(f"soak: overhead (round trip - server compute) p50 {pct(over, 50):.3f} ms p99 {pct(over, 99):.3f} ms")
        print(f"soak: ping round trip p50 {pct(pings, 50):.3f} ms p99 {pct(pings, 99):.3f} ms")
        if rss_100 is None:
            ct.fail(f"only {n} calls in the time bound: too few to judge memory")
        growth = (rss_end - rss_100) / rss_100
        print(f"soak: VmRSS after 100 calls {rss_100} kB, at the end {rss_end} kB ({growth * 100:+.2f}%)")
        ct.check(growth <= 0.05, f"resident memory grew {growth * 100:.2f}% (> 5%)")
        print("server_soak: all checks passed")
    finally:
        c.close()
        srv.stop()


if __name__ == "__main__":
    try:
        main()
    except (AssertionError, ct.subprocess.CalledProcessError) as e:
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
