#!/usr/bin/env bash
# One steady-state call of the whole pipeline under Nsight Compute: the
# third replay of the call's graph runs kernel by kernel instead
# (GROOT_PROFILE_REPLAY), every kernel is timed on its own, then summed by
# kernel and by stage. Usage:
#   scripts/device_profile.sh [PACKED_DIR (.dev)] [MODEL_DIR] [PRECISION (bf16)] [time|sol]
# time (default): warm caches, clocks left alone, duration only. The
#   difference between the call's CUDA-event time and the sum of its
#   kernels is what launches and dependencies between them cost.
# sol: what bounds each kernel -- DRAM, L2 and SM throughput and the
#   tensor pipe's active cycles as percentages of their peaks, with caches
#   flushed before each kernel (a call streams 6 GB of weights through a
#   50 MB L2, so the weights a kernel reads are cold in the graph too).
set -uo pipefail
cd "$(dirname "$0")/.."
B=${1:-.dev}
M=${2:-/tmp/groot-3b}
P=${3:-bf16}
MODE=${4:-time}
OUT=${OUT:-/tmp/groot-out}
mkdir -p "$OUT"
[ -f "$B/bin.txz" ] && [ ! -x "$B/groot" ] && tar xJf "$B/bin.txz" -C "$B"
if [ -f "$B/devlibs.txz" ] && [ ! -d /tmp/groot-devlibs ]; then
  mkdir -p /tmp/groot-devlibs && tar xJf "$B/devlibs.txz" -C /tmp/groot-devlibs
fi
export LD_LIBRARY_PATH=/tmp/groot-devlibs:${LD_LIBRARY_PATH:-}
[ -f "$M/config.json" ] || "$B/groot" synth --preset n1.5-3b --seed 1 --out "$M" >/dev/null || exit 1
metrics=gpu__time_duration.sum
cache=none
if [ "$MODE" = sol ]; then
  cache=all
  metrics=$metrics,dram__throughput.avg.pct_of_peak_sustained_elapsed
  metrics=$metrics,lts__throughput.avg.pct_of_peak_sustained_elapsed
  metrics=$metrics,sm__throughput.avg.pct_of_peak_sustained_elapsed
  # The wgmma pipe's name differs between Nsight Compute versions.
  for t in sm__pipe_tensor_op_gmma_cycles_active sm__pipe_tensor_cycles_active sm__pipe_tensor_op_hmma_cycles_active; do
    if ncu --query-metrics --chip gh100 2>/dev/null | grep -q "^$t "; then
      metrics=$metrics,$t.avg.pct_of_peak_sustained_elapsed
      break
    fi
  done
fi
# Replay 3 of the warm-up calls (call 1 runs eagerly, call 2 captures).
GROOT_PROFILE_REPLAY=3 ncu --profile-from-start off --cache-control $cache --clock-control none \
  --metrics "$metrics" --csv --print-units base \
  "$B/groot" bench --model "$M" --device cuda --precision "$P" --component all --iters 1 --warmup 5 \
  >"$OUT/ncu_${P}_$MODE.csv" 2>"$OUT/ncu_${P}_$MODE.err"
rc=$?
# A kernel the tool cannot replay ends the run; what it measured before still counts.
[ $rc -ne 0 ] && tail -n 20 "$OUT/ncu_${P}_$MODE.err"
python3 scripts/ncu_summary.py "$OUT/ncu_${P}_$MODE.csv" || exit 1
exit $rc
