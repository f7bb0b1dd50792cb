#!/usr/bin/env bash
# Installs what is missing, builds portrait, and runs portraitd in the foreground on demo data:
# on first run it creates demo/ (a fresh master key, the example config and rules) and loads 300
# generated customers (DEMO_CUSTOMERS=10000 for more) with consents and two years of orders and
# carts through the API.
# Ctrl-C stops it; run again to reuse the same demo data (delete demo/ to start afresh).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPORTRAIT_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)"

first_run=0
if [ ! -d demo/var ]; then
  mkdir -p demo
  cp examples/portrait.toml demo/portrait.toml
  rm -rf demo/rules && cp -r examples/rules demo/rules
  build/bin/portraitctl init --config demo/portrait.toml
  first_run=1
fi

# The crm webhook sink signs with this whsec_ secret (a receiver verifies with the same one).
[ -f demo/crm.secret ] || (umask 077; echo "whsec_$(head -c 32 /dev/urandom | base64)" > demo/crm.secret)
export PORTRAIT_CRM_SECRET="$(cat demo/crm.secret)"

build/bin/portraitd --config demo/portrait.toml &
daemon=$!
trap 'kill -TERM "$daemon" 2>/dev/null; wait "$daemon"' INT TERM
address=$(sed -n 's/^listen = "\([^"]*\)".*/\1/p' demo/portrait.toml)
for _ in $(seq 100); do
  curl -fs "http://$address/healthz" >/dev/null && break
  kill -0 "$daemon" 2>/dev/null || { echo "portraitd did not start (see above)" >&2; exit 1; }
  sleep 0.1
done
if [ "$first_run" = 1 ]; then
  build/bin/portrait-sample --config demo/portrait.toml --customers "${DEMO_CUSTOMERS:-300}" --seed 1
fi

cat <<MSG

portrait demo: portraitd on http://$address, data in demo/var (encrypted), config demo/portrait.toml
the web console: http://$address/console/ (sign in with the token in demo/var/admin.token)
try:
  curl -H "Authorization: Bearer \$(cat demo/var/admin.token)" -H "X-Purpose: care" http://$address/v1/profiles/cust-000001
  build/bin/portraitctl token create --config demo/portrait.toml --name crm --role marketer
  curl -H "Authorization: Bearer \$(cat demo/var/admin.token)" -H "X-Purpose: care" "http://$address/v1/tasks?limit=5"
Care tasks are delivered to demo/var/care-queue.jsonl; marketing tasks are signed webhooks to
http://127.0.0.1:8080/hooks/portrait (secret in demo/crm.secret), retried until something listens.
Ctrl-C stops the daemon.
MSG
wait "$daemon"
