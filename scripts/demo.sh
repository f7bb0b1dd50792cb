#!/usr/bin/env bash
# Installs what is missing, builds portrait, creates a demo data directory in demo/ (fresh master
# key, the example config, generated sample customers) and runs portraitd in the foreground.
# Ctrl-C stops it; run again to reuse the same demo data (delete demo/ to start afresh).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPORTRAIT_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)"

if [ ! -d demo/var ]; then
  mkdir -p demo
  cp examples/portrait.toml demo/portrait.toml
  build/bin/portraitctl init --config demo/portrait.toml
  build/bin/portrait-sample --config demo/portrait.toml --customers 300 --seed 1
fi

echo
echo "portrait demo: data in demo/var (encrypted), config demo/portrait.toml"
echo "the daemon below has the encrypted store open; its HTTP API on $(sed -n 's/^listen = "\(.*\)".*/\1/p' demo/portrait.toml) is not built yet"
echo
exec build/bin/portraitd --config demo/portrait.toml
