#!/usr/bin/env bash
# package.sh [--install]: builds the Debian package portrait_VERSION_ARCH.deb in build-pkg/ with
# CPack (packaging/CMakeLists.txt): a Release build of portraitd and portraitctl only, with
# Debian's hardening flags (dpkg-buildflags), clang and ccache; then runs lintian on it and fails
# on any error or warning that packaging/lintian-overrides does not explain.
#
# --install (CI passes it; needs root or sudo) also installs the package on this machine and
# checks it as an operator would meet it: the binaries run from /usr/bin, the `portrait` user and
# /var/lib/portrait (0700) exist, `systemd-analyze verify` accepts the installed unit and
# `systemd-analyze security --offline=true` scores it, the installed config passes `rules check`,
# and the README's first steps (portraitctl init, portraitd) work as the portrait user on a
# scratch copy of the config with the notify protocol watched. Then it purges the package again
# (a purge never deletes a non-empty /var/lib/portrait).
set -euo pipefail
cd "$(dirname "$0")/.."
install=0
[ "${1:-}" = --install ] && install=1

scripts/deps.sh
start=$(date +%s)
# Debian's flags for packages (stack protector, FORTIFY_SOURCE, format checks, relro and
# bindnow), less -g: the binaries are stripped anyway.
eval "$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --export=sh)"
cxxflags="$CPPFLAGS ${CXXFLAGS//-g /}"
# ccache hits across clones in different folders: paths under this one are hashed as relative.
export CCACHE_BASEDIR=$PWD
CXX=clang++ cmake -S . -B build-pkg -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE=-DNDEBUG \
  -DCMAKE_CXX_FLAGS="$cxxflags" -DCMAKE_EXE_LINKER_FLAGS="$LDFLAGS" \
  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DPORTRAIT_PACKAGE=ON -DPORTRAIT_TESTS=OFF \
  -DPORTRAIT_BENCH=OFF -DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON >/dev/null
cmake --build build-pkg -j"$(nproc)" --target portraitd portraitctl package_docs
rm -f build-pkg/portrait_*.deb
(cd build-pkg && cpack -G DEB >/dev/null)
deb=$(ls build-pkg/portrait_*.deb)
echo "== built $deb in $(( $(date +%s) - start ))s"
dpkg-deb --field "$deb"
dpkg-deb --contents "$deb" | awk '{print $1, $2, $6}'

echo "== lintian"
# Errors and warnings fail the build unless an override explains them: the package ships
# packaging/lintian-overrides (as /usr/share/lintian/overrides/portrait), and each override there
# has its reason in the comment above it. Every tag, overridden or not, is printed.
if ! awk '/^#/ {reason = 1; next} /^[[:space:]]*$/ {reason = 0; next}
          !reason {print "override without a reason: " $0; bad = 1} END {exit bad}' \
    packaging/lintian-overrides; then
  exit 1
fi
# (Overridden tags print as "O:"; lintian's own --fail-on counts them when they are shown.)
lintian_out=$(lintian --fail-on none --display-info --show-overrides "$deb" 2>&1)
echo "$lintian_out"
if grep -qE '^[EW]: ' <<<"$lintian_out"; then
  echo "package.sh: lintian reports errors or warnings that no override explains" >&2
  exit 1
fi

[ "$install" = 1 ] || exit 0
scripts/package_check.sh "$deb"
