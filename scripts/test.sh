#!/usr/bin/env bash
# The test command: installs dependencies, builds, and runs every test under ctest, in three
# stages; .ci/run runs it without arguments (all three).
#
#   scripts/test.sh               all stages: the normal suite, the sanitizer suite, the fuzz runs
#   scripts/test.sh --normal      the normal suite only (unit, integration, fault tests, memory
#                                 bounds, fuzz-corpus replays) in build/ — the quick loop
#   scripts/test.sh --sanitize    the sanitizer suite only: everything built with ASan + UBSan
#                                 (gcc) into build-sanitize/ and the same ctest suite run there;
#                                 openssl and nginx get the ASan runtime preloaded before the
#                                 shim; curl, which deadlocks under any ASan runtime, uses the
#                                 uninstrumented provider and shim of build/ (built first)
#   scripts/test.sh --fuzz [SECS] the fuzz runs only: scripts/fuzz.sh SECS per target (default
#                                 EXATTEST_FUZZ_SECONDS, 20) with clang into build-fuzz/
#
# Each stage prints its wall time; a failing stage does not stop the next ones, but fails the
# command. Sanitizer options: ASan/UBSan abort on the first error; LeakSanitizer is on with no
# suppression. Integration scripts collect every instrumented process's reports and fail on
# any ASan/UBSan error and on any leak with one of our frames (tests/integration/e2e/lib.sh);
# nginx's and openssl's own allocations left at exit are not ours to judge.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-}
normal=1 sanitize=1 fuzz=1
fuzz_secs=${EXATTEST_FUZZ_SECONDS:-20}
case $mode in
  "" | --all) ;;
  --normal) sanitize=0 fuzz=0 ;;
  --sanitize) normal=0 fuzz=0 ;;
  --fuzz) normal=0 sanitize=0; fuzz_secs=${2:-$fuzz_secs} ;;
  *) sed -n '2,21p' "$0" >&2; exit 2 ;;
esac

stage() {  # stage NAME COMMAND...: runs it and prints its wall time
  local name=$1 start rc=0
  shift
  start=$(date +%s)
  echo "==== $name"
  "$@" || rc=$?
  echo "==== $name: $(( $(date +%s) - start )) s (exit $rc)"
  return $rc
}

run_suite() {  # run_suite BUILD_DIR [cmake args...]
  local build=$1
  shift
  EXATTEST_BUILD_DIR=$build scripts/build.sh "$@"
  (cd "$build" && ctest --output-on-failure -j"$(nproc)" --timeout 300)
}

sanitize_suite() (  # a subshell: its exports stay out of the other stages
  local normal_build=${EXATTEST_BUILD_DIR:-build}
  # halt_on_error / abort: a finding fails the test that triggered it.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=0}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  # The integration scripts preload the ASan runtime into openssl and nginx themselves
  # (tests/CMakeLists.txt). curl cannot run under any ASan runtime (Debian's curl deadlocks
  # in setlocale at start-up), so it uses the uninstrumented provider and shim of the
  # normal build, made here if it is not there yet.
  case $normal_build in /*) ;; *) normal_build=$PWD/$normal_build ;; esac
  [ $normal = 1 ] || EXATTEST_BUILD_DIR=$normal_build scripts/build.sh
  run_suite build-sanitize -DEXATTEST_SANITIZE=ON \
    "-DEXATTEST_UNINSTRUMENTED_BUILD_DIR=$normal_build"
)

scripts/install-deps.sh
rc=0
if [ $normal = 1 ]; then stage "normal suite (build/)" run_suite "${EXATTEST_BUILD_DIR:-build}" || rc=1; fi
if [ $sanitize = 1 ]; then stage "sanitizer suite (build-sanitize/)" sanitize_suite || rc=1; fi
if [ $fuzz = 1 ]; then stage "fuzz (${fuzz_secs}s per target)" scripts/fuzz.sh "$fuzz_secs" || rc=1; fi
exit $rc
