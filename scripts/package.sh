#!/usr/bin/env bash
# Builds exattest (reusing ./build, or $EXATTEST_BUILD_DIR, through scripts/build.sh) and
# makes the Debian binary package with CPack: OUTDIR/exattest_<version>_<arch>.deb
# (OUTDIR defaults to <build>/pkg). Runs lintian on it when lintian is installed.
# The last line printed is the path of the .deb.
# Usage: scripts/package.sh [OUTDIR]   (extra cmake configure arguments: $EXATTEST_CMAKE_ARGS)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${EXATTEST_BUILD_DIR:-build}
outdir=${1:-$build/pkg}
# shellcheck disable=SC2086
EXATTEST_BUILD_DIR=$build scripts/build.sh ${EXATTEST_CMAKE_ARGS:-} >&2
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
cpack -G DEB --config "$build/CPackConfig.cmake" -B "$outdir" >&2
rm -rf "$outdir/_CPack_Packages"
debs=("$outdir"/exattest_*.deb)
if [ "${#debs[@]}" -ne 1 ] || [ ! -f "${debs[0]}" ]; then
  echo "package.sh: expected exactly one exattest_*.deb in $outdir, found: ${debs[*]}" >&2
  exit 1
fi
deb=${debs[0]}
if command -v lintian >/dev/null; then
  # Findings are reported, not fatal: docs/packaging.md lists the tags that remain and why.
  lintian --info "$deb" >&2 || echo "package.sh: lintian reported findings (above)" >&2
fi
echo "$deb"
