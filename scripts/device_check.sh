#!/usr/bin/env bash
# Everything groot checks and measures on a GPU, in one go, from a build made
# elsewhere (scripts/device_pack.sh) and carried to the GPU machine:
#   1. the CUDA backend's op tests, the CUDA engine against the tiny goldens
#      (fp32 <= 1e-4, tf32 <= 2e-3), the batch rule and prompt length buckets;
#   2. compute-sanitizer memcheck and racecheck on a tiny forward;
#   3. a synthetic n1.5-3b checkpoint: CUDA at every precision against the CPU
#      fp32 path (16-bit also with the Hopper GEMMs forced);
#   4. benchmarks: every component at bf16, fp16, tf32 and fp32 (B=1) with
#      the default GEMM routes (Hopper GEMMs for at most 64 rows), bf16 also
#      with cuBLASLt only (bf16_tma0), the Hopper GEMMs chosen by timing
#      (bf16_tma1) and forced (bf16_tma2), without the L2 prefetch
#      (bf16_pf0), without programmatic edges into cuBLASLt's GEMMs
#      (bf16_gpdl0), throughput of the whole call at B = 1, 4, 8, 16
#      (bf16), and the whole policy call (camera preprocessing included) with
#      224x224 and 480x640 frames.
# Logs and JSON land in /tmp/groot-out; where $OUT is set (the device tool
# brings back only a few files), they are packed into $OUT/device_logs.tgz
# beside summary.txt and bench_table.txt. A short table is printed last.
# Usage: scripts/device_check.sh [PACKED_DIR (.dev)] [quick]
set -uo pipefail
cd "$(dirname "$0")/.."
B=${1:-.dev}
MODE=${2:-full}
BRING=${OUT:-}
OUT=/tmp/groot-out
rm -rf "$OUT" && mkdir -p "$OUT"
finish() {
  printf '%s\n' "${summary[@]}" >"$OUT/summary.txt"
  if [ -n "$BRING" ]; then
    tar czf "$BRING/device_logs.tgz" -C "$OUT" .
    cp "$OUT/summary.txt" "$BRING/"
    [ -f "$OUT/bench_table.txt" ] && cp "$OUT/bench_table.txt" "$BRING/"
  fi
}
LOG="$OUT/device_check.log"
: >"$LOG"
summary=()
add() { summary+=("$(printf '%-44s %s' "$1" "$2")"); }

# The programs come packed (device_pack.sh).
[ -f "$B/bin.txz" ] && tar xJf "$B/bin.txz" -C "$B"
# The carried build needs its non-CUDA shared libraries beside it.
if [ -f "$B/devlibs.txz" ]; then
  mkdir -p /tmp/groot-devlibs && tar xJf "$B/devlibs.txz" -C /tmp/groot-devlibs
  export LD_LIBRARY_PATH=/tmp/groot-devlibs:${LD_LIBRARY_PATH:-}
fi
# Tests were compiled with the source tree's absolute path: make it resolve here.
src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$B/CMakeCache.txt")
if [ -n "$src" ] && [ ! -e "$src" ]; then mkdir -p "$(dirname "$src")" && ln -s "$PWD" "$src"; fi

nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader | tee -a "$LOG"
card=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
G="$B/groot"
tiny=tests/data/goldens/tiny/checkpoint
cases=tests/data/goldens/tiny/cases.safetensors

step() { echo "== $*" | tee -a "$LOG"; }
figures() { while read -r _ k v; do add "$k" "$v"; done < <(grep "^figure " "$1"); }

step "1. CUDA op tests, goldens, batch rule"
if "$B/tests/test_backend_cuda" >"$OUT/test_backend_cuda.log" 2>&1; then
  add "test_backend_cuda (every op vs CPU)" PASS
else
  add "test_backend_cuda (every op vs CPU)" "FAIL (rc $?)"
fi
tail -n 5 "$OUT/test_backend_cuda.log" >>"$LOG"
for p in fp32:1e-4 tf32:2e-3 bf16:2e-2 fp16:2e-2; do
  "$B/tests/check_device" golden "${p%%:*}" "${p##*:}" >"$OUT/golden_${p%%:*}.log" 2>&1
  add "goldens cuda ${p%%:*} (tol ${p##*:})" "$([ $? = 0 ] && echo PASS || echo FAIL)"
  figures "$OUT/golden_${p%%:*}.log"
done
"$B/tests/check_device" batch "$tiny" >"$OUT/batch.log" 2>&1
add "batch rule B=4 (cuda fp32)" "$([ $? = 0 ] && echo PASS || echo FAIL)"
figures "$OUT/batch.log"
"$B/tests/check_device" bucket "$tiny" >"$OUT/bucket.log" 2>&1
add "prompt length buckets (one graph, = cpu)" "$([ $? = 0 ] && echo PASS || echo FAIL)"
figures "$OUT/bucket.log"
[ -f /tmp/groot-tiny/config.json ] || "$G" synth --preset tiny --seed 1 --out /tmp/groot-tiny >/dev/null 2>&1
"$B/tests/check_device" warmup /tmp/groot-tiny >"$OUT/warmup.log" 2>&1
add "policy warm-up (first calls replay)" "$([ $? = 0 ] && echo PASS || echo FAIL)"
"$B/tests/test_policy_e2e" cuda >"$OUT/policy_e2e_cuda.log" 2>&1
add "policy goldens, cuda fp32 (frames on the GPU)" "$([ $? = 0 ] && echo PASS || echo FAIL)"

step "2. compute-sanitizer"
for tool in memcheck racecheck; do
  if compute-sanitizer --tool $tool --error-exitcode 3 "$G" forward --device cuda --model "$tiny" \
      --inputs "$cases" --prefix a.0 --out /tmp/o.safetensors >"$OUT/sanitizer_$tool.log" 2>&1; then
    add "compute-sanitizer $tool (tiny forward)" "clean"
  else
    add "compute-sanitizer $tool (tiny forward)" "REPORTS: see sanitizer_$tool.log"
  fi
  grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$OUT/sanitizer_$tool.log" | tail -n 2 >>"$LOG"
  # bf16 with every GEMM that fits on gemm_tma.cu (31 of the tiny model's)
  if GROOT_GEMM_TMA=2 compute-sanitizer --tool $tool --error-exitcode 3 "$G" forward --device cuda --precision bf16 \
      --model "$tiny" --inputs "$cases" --prefix a.0 --out /tmp/o.safetensors >"$OUT/sanitizer_${tool}_tma.log" 2>&1; then
    add "compute-sanitizer $tool (bf16, Hopper GEMMs)" "clean"
  else
    add "compute-sanitizer $tool (bf16, Hopper GEMMs)" "REPORTS: see sanitizer_${tool}_tma.log"
  fi
done
if compute-sanitizer --tool memcheck --error-exitcode 3 "$B/tests/test_backend_cuda" frames \
    >"$OUT/sanitizer_memcheck_frames.log" 2>&1; then
  add "compute-sanitizer memcheck (camera frames)" "clean"
else
  add "compute-sanitizer memcheck (camera frames)" "REPORTS: see sanitizer_memcheck_frames.log"
fi
[ "$MODE" = quick ] && { printf '%s\n' "${summary[@]}"; finish; exit 0; }

step "3. synthetic n1.5-3b: CUDA vs CPU fp32"
m3b=/tmp/groot-3b
[ -f $m3b/config.json ] || "$G" synth --preset n1.5-3b --seed 1 --out $m3b 2>&1 | tail -n 1 | tee -a "$LOG"
"$G" info --model $m3b >"$OUT/info_3b.txt" 2>&1
"$B/tests/check_device" parity $m3b fp32,tf32,bf16,fp16 >"$OUT/parity.log" 2>&1
add "3B parity (cuda vs cpu fp32)" "$([ $? = 0 ] && echo PASS || echo FAIL)"
figures "$OUT/parity.log"
tail -n 3 "$OUT/parity.log" >>"$LOG"
# The same with every 16-bit GEMM that fits on gemm_tma.cu (GROOT_GEMM_TMA=2).
GROOT_GEMM_TMA=2 "$B/tests/check_device" parity $m3b bf16,fp16 >"$OUT/parity_tma.log" 2>&1
add "3B parity, Hopper GEMMs forced" "$([ $? = 0 ] && echo PASS || echo FAIL)"
while read -r _ k v; do add "tma_$k" "$v"; done < <(grep "^figure " "$OUT/parity_tma.log")

step "3b. the policy end to end (groot run) on the 3B checkpoint: CUDA fp32 vs CPU"
run_args=(--model $m3b --data-config fourier_gr1_arms_only --embodiment gr1
  --image video.ego_view=assets/sample_ego_view.png
  --state state.left_arm=0.1,-0.2,0.3,-0.4,0.5,-0.1,0.2 --state state.right_arm=-0.1,0.2,-0.3,0.4,-0.5,0.1,-0.2
  --state state.left_hand=0,0.1,0.2,0.3,0.4,0.5 --state state.right_hand=0.5,0.4,0.3,0.2,0.1,0
  --instruction "pick the pear from the counter and place it in the plate" --seed 0 --json)
"$G" run "${run_args[@]}" --device cpu >"$OUT/run_cpu.json" 2>"$OUT/run_cpu.err"
"$G" run "${run_args[@]}" --device cuda --precision fp32 >"$OUT/run_cuda_fp32.json" 2>"$OUT/run_cuda.err"
"$G" run "${run_args[@]}" --device cuda --precision bf16 >"$OUT/run_cuda_bf16.json" 2>>"$OUT/run_cuda.err"
GROOT_GEMM_TMA=1 "$G" run "${run_args[@]}" --device cuda --precision bf16 >"$OUT/run_cuda_bf16_tma1.json" 2>>"$OUT/run_cuda.err"
while read -r k v; do add "$k" "$v"; done < <(python3 - "$OUT" <<'PYEOF'
import json, sys, math
out = sys.argv[1]
def acts(f):
    return json.load(open(f"{out}/{f}"))["actions"]
try:
    ref = acts("run_cpu.json")
    for p in ["fp32", "bf16"]:
        got = acts(f"run_cuda_{p}.json")
        num = sum((a - b) ** 2 for k in ref for ra, ga in zip(ref[k], got[k]) for a, b in zip(ga, ra))
        den = sum(b * b for k in ref for ra in ref[k] for b in ra)
        print(f"groot_run_cuda_{p}_vs_cpu_actions {math.sqrt(num / den):.3e}")
    t = json.load(open(f"{out}/run_cuda_bf16.json"))["timings_ms"]
    print(f"groot_run_cuda_bf16_first_call_total_ms {t['total']:.2f}")
    t = json.load(open(f"{out}/run_cuda_bf16_tma1.json"))["timings_ms"]
    print(f"groot_run_cuda_bf16_first_call_ms_GEMM_TMA=1 {t['total']:.2f}")
except Exception as e:
    print(f"groot_run_compare FAILED:{type(e).__name__}")
PYEOF
)

step "3c. new prompt lengths 294..333 (three 16-row buckets), each length twice (bf16)"
# bucket16: as built; exact: one recording per length; borrow: a new bucket's GEMMs take
# the tuned pick of a neighbouring M instead of a search (GROOT_GEMM_BORROW=1).
"$B/tests/bench_prompt_lengths" $m3b cuda bf16 294 40 >"$OUT/prompt_lengths_bucket16.txt" 2>&1
GROOT_SEQ_BUCKET=1 "$B/tests/bench_prompt_lengths" $m3b cuda bf16 294 40 >"$OUT/prompt_lengths_exact.txt" 2>&1
GROOT_GEMM_BORROW=1 "$B/tests/bench_prompt_lengths" $m3b cuda bf16 294 40 >"$OUT/prompt_lengths_borrow.txt" 2>&1
for f in bucket16 exact borrow; do
  cat "$OUT/prompt_lengths_$f.txt" >>"$LOG"
  # the worst first-pass call after the very first, and the median of the second pass
  add "new prompt length: worst call ms ($f)" "$(awk '$1 == 1 && NR > 3 {if ($3 > w) w = $3} END {printf "%.2f", w}' "$OUT/prompt_lengths_$f.txt")"
  add "prompt lengths, 2nd pass median ms ($f)" "$(awk '$1 == 2 {print $3}' "$OUT/prompt_lengths_$f.txt" | sort -n | awk '{a[NR] = $1} END {printf "%.2f", a[int((NR + 1) / 2)]}')"
done

step "4. benchmarks on $card"
for p in bf16 fp16 tf32 fp32; do
  "$G" bench --model $m3b --device cuda --precision $p --component every --batch 1 --views 1 \
    --iters 50 --warmup 5 --json >"$OUT/bench_$p.jsonl" 2>"$OUT/bench_$p.err"
done
for t in 0 1 2; do
  GROOT_GEMM_TMA=$t "$G" bench --model $m3b --device cuda --precision bf16 --component every --batch 1 --views 1 \
    --iters 50 --warmup 5 --json >"$OUT/bench_bf16_tma$t.jsonl" 2>"$OUT/bench_bf16_tma$t.err"
done
GROOT_L2_PREFETCH=0 "$G" bench --model $m3b --device cuda --precision bf16 --component every --batch 1 --views 1 \
  --iters 50 --warmup 5 --json >"$OUT/bench_bf16_pf0.jsonl" 2>"$OUT/bench_bf16_pf0.err"
GROOT_GRAPH_PDL=0 "$G" bench --model $m3b --device cuda --precision bf16 --component every --batch 1 --views 1 \
  --iters 50 --warmup 5 --json >"$OUT/bench_bf16_gpdl0.jsonl" 2>"$OUT/bench_bf16_gpdl0.err"
for b in 1 4 8 16; do
  "$G" bench --model $m3b --device cuda --precision bf16 --component all --batch $b --views 1 \
    --iters 30 --warmup 3 --json >"$OUT/throughput_b$b.jsonl" 2>"$OUT/throughput_b$b.err"
done
# The whole policy call (tokenizer, transforms, the camera frame cropped and resized
# on the GPU, the network), with the model's own frame size and a VGA camera's.
for hw in "224 224" "480 640"; do
  "$B/tests/bench_policy" $m3b cuda bf16 $hw 30 >"$OUT/policy_${hw/ /x}.txt" 2>&1
done
python3 - "$OUT" <<'EOF' | tee "$OUT/bench_table.txt"
import json, sys, glob, os
out = sys.argv[1]
print("%-8s %-15s %10s %10s %10s %10s %7s" % ("prec", "component", "median ms", "p90 ms", "floor ms", "ratio", "B"))
for p in ["bf16", "bf16_pf0", "bf16_gpdl0", "bf16_tma0", "bf16_tma1", "bf16_tma2", "fp16", "tf32", "fp32"]:
    f = os.path.join(out, "bench_%s.jsonl" % p)
    if not os.path.exists(f):
        continue
    for line in open(f):
        try:
            r = json.loads(line)
        except ValueError:
            continue
        print("%-8s %-15s %10.4f %10.4f %10.4f %10.2f %7d" % (p, r.get("component"), r.get("median_ms", 0),
              r.get("p90_ms", 0), r.get("floor_ms", 0), r.get("ratio", 0), r.get("batch", 0)))
for b in [1, 4, 8, 16]:
    f = os.path.join(out, "throughput_b%d.jsonl" % b)
    if not os.path.exists(f):
        continue
    for line in open(f):
        try:
            r = json.loads(line)
        except ValueError:
            continue
        ms = r.get("median_ms", 0)
        if ms:
            print("throughput bf16 B=%-3d %9.3f ms/call %9.1f samples/s %10.1f actions/s  gpu mem %s MiB" %
                  (b, ms, 1000.0 / ms * b, 1000.0 / ms * b * 16, r.get("memory_mib", "?")))
EOF
for hw in 224x224 480x640; do
  awk -v hw=$hw '$1 == "call" {c = $2} $1 == "preprocess" {p = $2} $1 == "network" {n = $2}
    END {if (c) printf "policy call bf16 %-8s %9.3f ms/call (preprocess %.3f, network %.3f)\n", hw, c, p, n}' \
    "$OUT/policy_$hw.txt" | tee -a "$OUT/bench_table.txt"
done
echo
echo "== summary ($card)"
printf '%s\n' "${summary[@]}"
finish
