#!/usr/bin/env bash
# Configures and builds exattest into ./build (or $EXATTEST_BUILD_DIR).
# Extra arguments go to cmake's configure step (e.g. -DEXATTEST_SANITIZE=ON).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${EXATTEST_BUILD_DIR:-build}
args=()
# CI treats warnings as errors; local builds do too unless EXATTEST_WERROR=0.
if [ "${EXATTEST_WERROR:-1}" = 1 ]; then args+=(-DEXATTEST_WERROR=ON); fi
cmake -S . -B "$build" "${args[@]}" "$@"
cmake --build "$build" -j"$(nproc)"
