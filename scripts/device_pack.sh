#!/usr/bin/env bash
# Packs a CUDA build made here (default build-dev) into .dev/ for the GPU
# machine, which has CUDA but none of groot's Debian dependencies: in bin.txz
# the groot binary and the device test programs, the build's CMakeCache.txt
# (it names the source path the tests were compiled with) and, in
# devlibs.txz, the non-CUDA shared libraries they load. Carry .dev to the
# device and run scripts/device_check.sh there (it unpacks both).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build-dev}
D=${2:-.dev}
rm -rf "$D" && mkdir -p "$D/tests"
cp "$B/groot" "$D/"
cp "$B/tests/check_device" "$B/tests/test_backend_cuda" "$B/tests/test_policy_e2e" "$B/tests/bench_prompt_lengths" "$D/tests/"
# The measuring programs, where this build has them.
for bin in attention_sweep gemm_tma_trace tma_intake dit_stream cublas_pdl_probe cublas_config_sweep cublas_splitk_probe bench_policy; do
  if [ -x "$B/tests/$bin" ]; then cp "$B/tests/$bin" "$D/tests/"; fi
done
cp "$B/CMakeCache.txt" "$D/"
# The carried tree (sources, goldens, this folder) must stay under 64 MiB.
strip "$D/groot" "$D"/tests/*
tmp=$(mktemp -d)
for bin in "$D/groot" "$D"/tests/*; do
  ldd "$bin" 2>/dev/null | awk '/=> \// {print $3}'
done | sort -u | grep -v -E 'libcuda|libcublas|libcudart|libc\.so|libm\.so|libdl|libpthread|librt|ld-linux|libstdc\+\+|libgcc_s' |
  while read -r lib; do cp -L "$lib" "$tmp/"; done
strip --strip-unneeded "$tmp"/* 2>/dev/null || true
tar cJf "$D/devlibs.txz" -C "$tmp" .
rm -rf "$tmp"
# The programs travel compressed too (each holds the whole library);
# device_check.sh unpacks them in place.
tar cJf "$D/bin.txz" -C "$D" groot tests
rm -rf "$D/groot" "$D/tests"
du -sh "$D"
