#!/usr/bin/env bash
# Builds groot (with the CUDA backend when nvcc is present, so every .cu file
# compiles) and runs the whole test suite three ways: fuzzing the parsers for a
# bounded time (when clang is present), under AddressSanitizer +
# UndefinedBehaviorSanitizer, and the release build last. CUDA correctness
# tests skip without a GPU; scripts/device_check.sh runs them on one.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
jobs=$(nproc)

if command -v clang >/dev/null 2>&1; then
  CC=clang cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Debug -DGROOT_FUZZ=ON -DGROOT_CUDA=OFF
  cmake --build build-fuzz -j "$jobs"
  for f in build-fuzz/tests/fuzz_*; do
    [ -x "$f" ] || continue
    name=$(basename "$f")
    mkdir -p "build-fuzz/corpus-$name"
    # The checked-in seeds (tests/fuzz/corpus/<name without fuzz_>) are read
    # only: libFuzzer writes new inputs into the first directory alone.
    seeds=()
    [ -d "tests/fuzz/corpus/${name#fuzz_}" ] && seeds=("tests/fuzz/corpus/${name#fuzz_}")
    echo "fuzzing $name for ${GROOT_FUZZ_SECONDS:-30} s"
    "$f" -max_total_time="${GROOT_FUZZ_SECONDS:-30}" -rss_limit_mb=2048 "build-fuzz/corpus-$name" ${seeds[@]+"${seeds[@]}"} \
      > "build-fuzz/$name.log" 2>&1 || { tail -n 40 "build-fuzz/$name.log"; echo "fuzzer $name failed"; exit 1; }
    tail -n 2 "build-fuzz/$name.log"
  done
fi

cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DGROOT_SANITIZE=ON -DGROOT_CUDA=OFF
cmake --build build-asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j "$jobs"

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure -j "$jobs"
