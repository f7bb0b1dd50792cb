#!/usr/bin/env bash
# package_check.sh DEB: installs the portrait package DEB on this machine (root, or sudo) and
# checks it as an operator meets it, then purges it again (scripts/package.sh --install runs it):
#  - portraitd and portraitctl run from /usr/bin; the `portrait` user and /var/lib/portrait
#    (0700, owned by it) exist; the man pages are installed;
#  - `systemd-analyze verify` accepts the installed unit and `systemd-analyze security
#    --offline=true` scores it (fails above 2.0: a sandbox setting lost is a regression);
#  - /etc/portrait holds the example rules unchanged and the example config with only its three
#    paths changed, and it passes `portraitctl rules check`;
#  - the README's first steps work as the portrait user: `portraitctl init` (on a scratch copy of
#    the installed config, so no real /var/lib/portrait is ever touched), portraitd serving,
#    reloading on SIGHUP and stopping cleanly on SIGTERM.
# Works without systemd as PID 1: systemd-analyze reads unit files offline.
set -euo pipefail
deb=$1
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
fail() { echo "package_check.sh: $*" >&2; exit 1; }
# As the portrait user, exec'd directly (runuser would stand between: a signal to it is not a
# signal to the daemon).
as_portrait() { setpriv --reuid=portrait --regid=portrait --clear-groups -- "$@"; }

scratch=""
daemon=""
cleanup() {
  [ -n "$daemon" ] && kill -TERM "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
  [ -n "$scratch" ] && $sudo rm -rf "$scratch"
  $sudo dpkg --purge portrait >/dev/null 2>&1 || true
}
trap cleanup EXIT

echo "== dpkg -i $deb"
if dpkg-query -W -f='${Status}' portrait 2>/dev/null | grep -q 'ok installed'; then
  $sudo dpkg --purge portrait >/dev/null
fi
$sudo dpkg -i "$deb"
for program in portraitd portraitctl; do
  [ "$(command -v "$program")" = "/usr/bin/$program" ] || fail "$program is not /usr/bin/$program"
  "/usr/bin/$program" --help >/dev/null || fail "$program --help failed"
  man -w "$program" >/dev/null || fail "no man page for $program"
done
/usr/bin/portraitd --help | head -3
getent passwd portrait >/dev/null || fail "no portrait user"
[ "$(stat -c '%U:%G %a' /var/lib/portrait)" = "portrait:portrait 700" ] ||
  fail "/var/lib/portrait is $(stat -c '%U:%G %a' /var/lib/portrait), not portrait:portrait 700"

unit=/lib/systemd/system/portraitd.service
echo "== systemd-analyze verify $unit"
systemd-analyze verify "$unit" || fail "systemd-analyze verify rejects $unit"
echo "== systemd-analyze security --offline=true $unit"
security=$(systemd-analyze security --offline=true --threshold=20 "$unit" 2>&1) ||
  { echo "$security"; fail "the unit's exposure is above 2.0"; }
grep -E '✗|Overall exposure' <<<"$security"

echo "== /etc/portrait: the examples, the config's three paths moved to /var/lib/portrait"
for rule in examples/rules/*.toml; do
  cmp "$rule" "/etc/portrait/rules/$(basename "$rule")" || fail "/etc/portrait/rules differs from $rule"
done
changed=$(diff <(tail -n +4 /etc/portrait/portrait.toml) examples/portrait.toml | grep -c '^<' || true)
[ "$changed" = 3 ] || { diff <(tail -n +4 /etc/portrait/portrait.toml) examples/portrait.toml;
  fail "/etc/portrait/portrait.toml differs from examples/portrait.toml in $changed lines, not 3"; }
echo "== portraitctl rules check --config /etc/portrait/portrait.toml"
as_portrait portraitctl rules check --config /etc/portrait/portrait.toml

echo "== first steps as the portrait user (a scratch copy of /etc/portrait)"
scratch=$(mktemp -d)
cp -r /etc/portrait/. "$scratch/"
sed -i "s|/var/lib/portrait|$scratch/var|g" "$scratch/portrait.toml"
chown -R portrait:portrait "$scratch"
as_portrait portraitctl init --config "$scratch/portrait.toml"
[ "$(stat -c '%U %a' "$scratch/var/master.key")" = "portrait 600" ] ||
  fail "the key file is $(stat -c '%U %a' "$scratch/var/master.key"), not portrait 600"
setpriv --reuid=portrait --regid=portrait --clear-groups -- \
  portraitd --config "$scratch/portrait.toml" --listen 127.0.0.1:0 >"$scratch/daemon.log" 2>&1 &
daemon=$!
wait_for() {
  for _ in $(seq 200); do
    grep -q "$1" "$scratch/daemon.log" && return 0
    kill -0 "$daemon" 2>/dev/null || { cat "$scratch/daemon.log"; fail "portraitd exited"; }
    sleep 0.1
  done
  cat "$scratch/daemon.log"
  fail "no '$1' in portraitd's log"
}
wait_for "listening on"
# libsodium's guarded memory, locked (the unit's LimitMEMLOCK must cover it).
echo "portraitd locks $(sed -n 's/^VmLck:[[:space:]]*//p' "/proc/$daemon/status") of memory" \
  "(RLIMIT_MEMLOCK here: $(ulimit -l) kB)"
address=$(sed -n 's/.*listening on http:\/\/\([0-9.:]*\).*/\1/p' "$scratch/daemon.log" | head -1)
curl -fsS "http://$address/healthz" >/dev/null || fail "portraitd does not answer on $address"
kill -HUP "$daemon"
wait_for "config and rules reloaded"
kill -TERM "$daemon"
wait "$daemon" || fail "portraitd exited with $? on SIGTERM"
daemon=""
echo "init, serve, reload and stop as the portrait user: ok"
