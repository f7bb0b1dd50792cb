#!/usr/bin/env bash
# Installs what is missing, builds portrait with AddressSanitizer and UndefinedBehaviorSanitizer,
# and runs every test. Usage: scripts/test.sh   (build tree: build-test/)
#
# The tree is built with clang: it compiles it about twice as fast as g++, and its
# -Wthread-safety analysis (an error here) checks what each mutex guards. The release build
# (scripts/demo.sh, the README) uses the system's default compiler, g++.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
if [ -f build-test/CMakeCache.txt ] && ! grep -q 'CMAKE_CXX_COMPILER:.*clang' build-test/CMakeCache.txt; then
  echo "build-test/ was configured with another compiler; remove it and run again" >&2
  exit 1
fi
# ccache (scripts/deps.sh installs it) hashes paths under this folder as relative, so a clone in
# another folder reuses what an earlier build compiled.
export CCACHE_BASEDIR=$PWD
CXX=clang++ cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Debug -DPORTRAIT_SANITIZE=ON \
  -DPORTRAIT_BENCH=OFF -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache \
  >/dev/null
cmake --build build-test -j"$(nproc)"
# Sanitizer findings fail the run; detect_leaks needs ptrace, which some sandboxes forbid.
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=0:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
# Test data directories on tmpfs when there is one: the SQLCipher files are as real there, a
# SIGKILL loses nothing the page cache holds (so the durability tests mean the same), and the
# suite does not wait on thousands of fsyncs.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
  export TMPDIR=/dev/shm
fi
ctest --test-dir build-test --output-on-failure -j"$(nproc)" --timeout 300
