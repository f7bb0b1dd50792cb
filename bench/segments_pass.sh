#!/usr/bin/env bash
# segments_pass.sh FOLDER [PORTRAITD]: the base-wide pass after a change of segments alone, on
# a data folder `scale_bench --keep` left (or any whose rules/segments.toml has a segment
# `when = "metrics.orders >= N"`). It changes that segment's text (adds or removes " + 0": the
# same segment, other rules text, so every segment is recomputed), starts PORTRAITD
# (build-bench/bin/portraitd) on FOLDER/portrait.toml, and prints the daemon's figure, the wall
# time and the daemon's CPU time from the end of the start's re-arm to the end of the pass.
# Run it three times: the first pass after other rules changed (or after an upgrade) is a whole
# one, and the first segments-only pass after the segments name other metrics or fields (or
# after an upgrade) reads every profile whole and makes its digest (docs/DECISIONS.md 180).
set -euo pipefail
folder=${1:?usage: segments_pass.sh FOLDER [PORTRAITD]}
daemon=$(realpath "${2:-build-bench/bin/portraitd}")
cd "$folder"
segments=rules/segments.toml
if grep -qE '^when = "metrics\.orders >= [0-9]+ \+ 0"$' "$segments"; then
  sed -i -E 's/^(when = "metrics\.orders >= [0-9]+) \+ 0"$/\1"/' "$segments"
elif grep -qE '^when = "metrics\.orders >= [0-9]+"$' "$segments"; then
  sed -i -E 's/^(when = "metrics\.orders >= [0-9]+)"$/\1 + 0"/' "$segments"
else
  echo "no segment with when = \"metrics.orders >= N\" in $folder/$segments" >&2
  exit 2
fi
log=$(mktemp)
"$daemon" --config portrait.toml >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
wait_for() {
  until grep -q "$1" "$log"; do
    kill -0 $pid 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.1
  done
}
wait_for "timers re-armed"
cpu0=$(cpu) t0=$(date +%s.%N)
wait_for "profiles re-evaluated"
cpu1=$(cpu) t1=$(date +%s.%N)
grep "profiles re-evaluated" "$log" | sed 's/.*in force//'
awk -v t0="$t0" -v t1="$t1" -v c0="$cpu0" -v c1="$cpu1" -v hz="$(getconf CLK_TCK)" \
  -v load="$(cut -d' ' -f1-3 /proc/loadavg)" \
  'BEGIN { printf "wall %.2f s, daemon CPU %.2f s, load %s\n", t1 - t0, (c1 - c0) / hz, load }'
