#!/usr/bin/env bash
# kill_test.sh [N] [BUILD_DIR]: the SIGKILL durability test with N kills (default 200; CI runs
# 20). Each round posts events (batches from four connections, single events from one) and reads
# profiles against a real portraitd, kills it with SIGKILL at a random moment, restarts it, and
# checks that every event answered 202 is stored, that every read answered 200 left its audit
# record, and that sampled profiles' metrics equal a recomputation from their stored events; at
# the end, the database's integrity. Needs integration_test built in BUILD_DIR (default
# build-test/, see scripts/test.sh). Exits non-zero on any loss or mismatch.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-200}
build=${2:-$top/build-test}
[ -x "$build/bin/integration_test" ] || {
  echo "kill_test.sh: no $build/bin/integration_test; build it first"; exit 1; }
cd "$build/bin"
PORTRAIT_KILL_ROUNDS=$rounds ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=0} \
  ./integration_test --gtest_filter='Durability.EveryAcknowledgedEventSurvivesSigkillAtARandomMoment'
