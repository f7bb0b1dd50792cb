#!/usr/bin/env bash
# Prints how long `portraitctl key rotate` takes over N imported customers (a figure, never a
# test). Usage: scripts/rotation_bench.sh BIN_DIR [N...]   e.g. scripts/rotation_bench.sh build/bin 10000 100000
# Each N gets a fresh data directory under ${TMPDIR:-/tmp}: init, portraitd, `portraitctl import
# profiles` of N generated customers (name, email, phone, city), portraitd stopped, then the
# rotation timed by the CLI itself (its --json "seconds").
set -euo pipefail
bin=$(cd "$1" && pwd); shift
src=$(cd "$(dirname "$0")/.." && pwd)
for n in "${@:-10000}"; do
  dir=$(mktemp -d "${TMPDIR:-/tmp}/rotation-bench.XXXXXX")
  cp "$src/examples/portrait.toml" "$dir/" && cp -r "$src/examples/rules" "$dir/"
  "$bin/portraitctl" init --config "$dir/portrait.toml" >/dev/null
  python3 - "$n" > "$dir/customers.csv" <<'PY'
import sys
print("id,name,email,phone,city")
for i in range(int(sys.argv[1])):
    print("b%d,Customer %d,b%d@example.com,+86138%08d,Suzhou" % (i, i, i, i))
PY
  "$bin/portraitd" --config "$dir/portrait.toml" --listen 127.0.0.1:0 > "$dir/daemon.log" 2>&1 &
  pid=$!
  until grep -q "listening on" "$dir/daemon.log"; do sleep 0.1; done
  url=$(grep -o "http://127.0.0.1:[0-9]*" "$dir/daemon.log" | head -1)
  "$bin/portraitctl" import profiles "$dir/customers.csv" --config "$dir/portrait.toml" \
    --url "$url" >/dev/null 2>&1
  kill "$pid" && wait "$pid" || true
  size=$(du -sh "$dir/var" | cut -f1)
  seconds=$("$bin/portraitctl" key rotate --json --config "$dir/portrait.toml" |
            python3 -c 'import json,sys; r=json.load(sys.stdin); print("%.2f s, %d data keys" % (r["seconds"], r["data_keys"]))')
  echo "N=$n (data directory $size): key rotate took $seconds"
  rm -rf "$dir"
done
