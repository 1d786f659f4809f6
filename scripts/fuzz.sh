#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang into build-fuzz/ and runs each for a
# fixed time. Fails on any crash, failed invariant, leak, timeout or out-of-memory.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]   run every (or the named) target SECONDS each
#                                           (default 60)
#   scripts/fuzz.sh --seed                  rewrite the committed seed corpora
#                                           (tests/fuzz/corpus/<target>/) from real messages
#
# Seeds: tests/fuzz/corpus/<target>/ (committed) plus, when present, the shared vectors in
# ../shared/vectors (read only; never copied into the repository). New inputs libFuzzer finds
# go to build-fuzz/fuzz-corpus/<target>/ (kept between runs), crash reproducers to
# build-fuzz/fuzz-artifacts/. Prints executions per target and the corpus sizes.
# Environment: EXATTEST_FUZZ_BUILD_DIR (default build-fuzz), FUZZ_JOBS (build -j, default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build=${EXATTEST_FUZZ_BUILD_DIR:-build-fuzz}
all_targets=(ea_request ea_authenticator inband tls_flags cmw_cbor cmw_json tpm_evidence
             tpm_structs policy eventlog)

configure_and_build() {
  CC=clang CXX=clang++ cmake -S . -B "$build" -DEXATTEST_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j"${FUZZ_JOBS:-2}" --target "$@" >/dev/null
}

if [ "${1:-}" = "--seed" ]; then
  configure_and_build fuzz_make_corpus
  "$build/bin/fuzz/fuzz_make_corpus" "$root/tests/fuzz/corpus"
  exit 0
fi

secs=60
if [[ "${1:-}" =~ ^[0-9]+$ ]]; then
  secs=$1
  shift
fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")

echo "fuzz: building ${targets[*]} with clang into $build"
configure_and_build "${targets[@]/#/fuzz_}"

# Extra, read-only seed directories per target from ../shared/vectors.
vectors=$root/../shared/vectors
vector_dirs() {
  [ -d "$vectors" ] || return 0
  case $1 in
    cmw_cbor) echo "$vectors/cmw $vectors/tpm" ;;
    cmw_json) echo "$vectors/cmw $vectors/tpm" ;;
    tpm_evidence | tpm_structs) echo "$vectors/tpm" ;;
    eventlog) echo "$vectors/eventlog" ;;
  esac
}

mkdir -p "$build/fuzz-artifacts" "$build/fuzz-logs"
failed=()
printf '%-18s %12s %10s %12s %s\n' target executions exec/s corpus_files corpus_bytes >"$build/fuzz-logs/summary"
for t in "${targets[@]}"; do
  work=$build/fuzz-corpus/$t
  mkdir -p "$work"
  log=$build/fuzz-logs/$t.log
  # shellcheck disable=SC2046
  set +e
  "$build/bin/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -malloc_limit_mb=256 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$build/fuzz-artifacts/$t-" \
    "$work" "$root/tests/fuzz/corpus/$t" $(vector_dirs "$t") >"$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  files=$(find "$work" -type f | wc -l)
  bytes=$(find "$work" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')
  printf '%-18s %12s %10s %12s %s\n' "$t" "${execs:-?}" "${speed:-?}" "$files" "$bytes" \
    >>"$build/fuzz-logs/summary"
  if [ $rc -ne 0 ]; then
    failed+=("$t")
    echo "fuzz: $t FAILED (exit $rc); log $log:" >&2
    grep -E "ERROR|FUZZ_CHECK|SUMMARY|Test unit written|out-of-memory|timeout|leak" "$log" \
      | head -20 >&2 || tail -30 "$log" >&2
  else
    echo "fuzz: $t ok (${execs:-?} executions in ${secs}s)"
  fi
done
cat "$build/fuzz-logs/summary"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]} (reproducers in $build/fuzz-artifacts/)" >&2
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran ${secs}s each without a finding"
