#!/usr/bin/env bash
# Installs what is missing, builds portrait with AddressSanitizer and UndefinedBehaviorSanitizer,
# and runs every test. Usage: scripts/test.sh   (build tree: build-test/)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Debug -DPORTRAIT_SANITIZE=ON -DPORTRAIT_BENCH=OFF \
  >/dev/null
cmake --build build-test -j"$(nproc)"
# Clang's thread-safety analysis over the library sources: what a mutex guards is checked.
scripts/thread_check.sh build-test
# Sanitizer findings fail the run; detect_leaks needs ptrace, which some sandboxes forbid.
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=0:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
ctest --test-dir build-test --output-on-failure -j"$(nproc)" --timeout 300
