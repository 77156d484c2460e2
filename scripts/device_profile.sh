#!/usr/bin/env bash
# One steady-state call of the whole pipeline under Nsight Compute: every
# kernel of the replayed graph timed on its own (warm caches, clocks left
# alone), then summed by kernel and by stage. The difference between the
# call's CUDA-event time and the sum of its kernels is what launches and
# dependencies between them cost. Usage:
#   scripts/device_profile.sh [PACKED_DIR (.dev)] [MODEL_DIR] [PRECISION (bf16)]
set -uo pipefail
cd "$(dirname "$0")/.."
B=${1:-.dev}
M=${2:-/tmp/groot-3b}
P=${3:-bf16}
OUT=${OUT:-/tmp/groot-out}
mkdir -p "$OUT"
[ -f "$B/bin.txz" ] && [ ! -x "$B/groot" ] && tar xJf "$B/bin.txz" -C "$B"
if [ -f "$B/devlibs.txz" ] && [ ! -d /tmp/groot-devlibs ]; then
  mkdir -p /tmp/groot-devlibs && tar xJf "$B/devlibs.txz" -C /tmp/groot-devlibs
fi
export LD_LIBRARY_PATH=/tmp/groot-devlibs:${LD_LIBRARY_PATH:-}
[ -f "$M/config.json" ] || "$B/groot" synth --preset n1.5-3b --seed 1 --out "$M" >/dev/null || exit 1
# Replay 3 of the warm-up calls (call 1 runs eagerly, call 2 captures).
GROOT_PROFILE_REPLAY=3 ncu --profile-from-start off --cache-control none --clock-control none \
  --metrics gpu__time_duration.sum --csv --print-units base \
  "$B/groot" bench --model "$M" --device cuda --precision "$P" --component all --iters 1 --warmup 5 \
  >"$OUT/ncu_$P.csv" 2>"$OUT/ncu_$P.err" || { tail -n 20 "$OUT/ncu_$P.err"; exit 1; }
python3 scripts/ncu_summary.py "$OUT/ncu_$P.csv"
