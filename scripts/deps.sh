#!/usr/bin/env bash
# Installs the Debian bookworm packages portrait builds, tests and runs with, when missing.
# Needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang
  libsqlcipher-dev sqlcipher libsodium-dev
  libboost-dev libboost-system-dev libssl-dev
  libspdlog-dev libfmt-dev libtomlplusplus-dev nlohmann-json3-dev libsimdjson-dev libexpected-dev
  libcli11-dev libhowardhinnant-date-dev libphonenumber-dev tzdata
  libnlopt-dev
  # the PostgreSQL store (store/postgres/) and the server its tests start (initdb, postgres)
  libpq-dev postgresql
  libgtest-dev libgmock-dev
  python3 python3-nacl python3-jsonschema curl openssl
  libsystemd-dev
  # the web console: Chart.js is compiled into portraitd; the browser test drives headless
  # chromium through chromedriver, with a CJK font for the Chinese names
  libjs-chart.js chromium chromium-driver python3-selenium fonts-noto-cjk
  # the Debian package (scripts/package.sh): CPack's shlibdeps needs file; then checks
  ccache file help2man lintian man-db adduser systemd
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
