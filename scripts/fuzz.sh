#!/usr/bin/env bash
# fuzz.sh [SECONDS] [HARNESS...]: builds the libFuzzer harnesses with clang in build-fuzz/ (the
# libraries instrumented for coverage, ASan and UBSan) and runs each for SECONDS (default 60) on
# its corpus under tests/fuzz/corpus/<harness>/, one after another. New inputs go to
# build-fuzz/corpus/<harness>/ (copy the useful ones into the checked-in corpus); a crash leaves
# build-fuzz/crash-* and fails the script. Harnesses: request_fuzz cloud_event_fuzz config_fuzz
# rules_fuzz expression_fuzz (default: all).
set -euo pipefail
seconds=${1:-60}
shift || true
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(request_fuzz cloud_event_fuzz config_fuzz rules_fuzz expression_fuzz)
top=$(cd "$(dirname "$0")/.." && pwd)
build="$top/build-fuzz"
flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
    -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_C_FLAGS="$flags" \
    -DPORTRAIT_FUZZ=ON -DPORTRAIT_BENCH=OFF -DPORTRAIT_TESTS=OFF >/dev/null
fi
targets=()
for h in "${harnesses[@]}"; do targets+=(--target "$h"); done
nice -n 10 cmake --build "$build" -j"$(nproc)" "${targets[@]}" >"$build/build.log" 2>&1 ||
  { tail -40 "$build/build.log"; exit 1; }
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
for h in "${harnesses[@]}"; do
  mkdir -p "$build/corpus/$h" "$top/tests/fuzz/corpus/$h"
  echo "== $h: ${seconds}s"
  (cd "$build" && nice -n 10 "bin/$h" -max_total_time="$seconds" -print_final_stats=1 \
      -timeout=10 -rss_limit_mb=4096 -max_len=65536 \
      "corpus/$h" "$top/tests/fuzz/corpus/$h" 2>&1 | tee "$build/$h.log" |
    grep -E '^#[0-9]+ +(INITED|DONE)|stat::|ERROR|SUMMARY|crash-' || true)
  if grep -q -E '^==[0-9]+==ERROR|SUMMARY: |deadly signal' "$build/$h.log"; then
    echo "fuzz.sh: $h crashed; see $build/$h.log"
    exit 1
  fi
done
