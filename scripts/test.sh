#!/usr/bin/env bash
# The test command: installs dependencies, builds, and runs every test under ctest.
#   scripts/test.sh               unit + integration tests
#   scripts/test.sh --sanitize    the same, built with ASan + UBSan into build-sanitize/
set -euo pipefail
cd "$(dirname "$0")/.."

cmake_args=()
if [ "${1:-}" = "--sanitize" ]; then
  export EXATTEST_BUILD_DIR=build-sanitize
  cmake_args+=(-DEXATTEST_SANITIZE=ON)
fi
build=${EXATTEST_BUILD_DIR:-build}

scripts/install-deps.sh
scripts/build.sh "${cmake_args[@]}"
cd "$build"
ctest --output-on-failure -j"$(nproc)" --timeout 300
