# Shared helpers for the end-to-end tests: real swtpm, openssl s_server/s_client, the
# provider module and the shim, each test in its own directory on free loopback ports.
# Sourced by the test scripts; expects EXATTEST_SOURCE_DIR and EXATTEST_BINARY_DIR.
# Debian's python3 (scripts/install-deps.sh installs it) rather than a version manager's
# shim in PATH, which costs seconds per call on a loaded machine (cli_vectors makes ~60).
if [ -x /usr/bin/python3 ]; then python3() { /usr/bin/python3 "$@"; }; fi
set -euo pipefail
# Job control: every background job is its own process group, so cleanup can stop a
# server together with the helpers feeding its stdin (kill -- -PGID).
set -m

: "${EXATTEST_SOURCE_DIR:?}" "${EXATTEST_BINARY_DIR:?}"
MODULE=$EXATTEST_BINARY_DIR/lib/ossl-modules/exattest.so
SHIM_SO=$EXATTEST_BINARY_DIR/lib/libexattest-shim.so
# Sanitizer build (tests/CMakeLists.txt): the ASan runtime goes first in LD_PRELOAD of every
# uninstrumented program that loads the provider or the shim. ASAN_PRE is that prefix
# (empty in a normal build); SHIM is what to put in LD_PRELOAD to preload the shim.
ASAN_PRE=${EXATTEST_ASAN_PRELOAD:-}
SHIM=${ASAN_PRE:+$ASAN_PRE:}$SHIM_SO
EXATTEST=$EXATTEST_BINARY_DIR/bin/exattest
SWTPM_SH=$EXATTEST_SOURCE_DIR/scripts/swtpm.sh
export TSS2_LOG=${TSS2_LOG:-all+NONE}

T=$(mktemp -d "${TMPDIR:-/tmp}/exattest-e2e.XXXXXX")
PIDS=()
SWTPM_DIRS=()

# Sanitizer build: every instrumented process writes its reports to $T/san.<pid> (servers'
# stderr is not always kept), and cleanup fails the test on any of them once the processes
# have exited: an ASan or UBSan error anywhere, or a leak with one of our frames (a source
# file of this tree, or an exattest object); nginx and openssl leave some allocations of
# their own at exit, which are not ours to judge.
# Slow (DWARF) unwinding at malloc: nginx and libcrypto have no frame pointers, and a leak
# allocated by our code through OPENSSL_malloc must still show its exattest frames.
if [ -n "$ASAN_PRE" ]; then
  export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}:fast_unwind_on_malloc=0:log_path=$T/san"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}:log_path=$T/san"
fi
sanitizer_findings() {
  local f bad=0
  for f in "$T"/san.*; do
    [ -f "$f" ] || continue
    if grep -qE 'ERROR: AddressSanitizer|runtime error:' "$f" ||
      awk -v RS= -v src="$EXATTEST_SOURCE_DIR/" \
        '/leak of/ && (/exattest/ || index($0, src)) { found = 1 } END { exit !found }' "$f"; then
      echo "---- sanitizer report $f" >&2
      cat "$f" >&2
      bad=1
    fi
  done
  return $bad
}

cleanup() {
  local rc=$?
  for p in "${PIDS[@]:-}"; do
    [ -n "$p" ] && kill -- "-$p" 2>/dev/null || true
  done
  if [ -n "$ASAN_PRE" ]; then
    # Let them exit (LeakSanitizer runs at exit), bounded: 10 s.
    for p in "${PIDS[@]:-}"; do
      for _ in $(seq 1 100); do
        [ -n "$p" ] && kill -0 -- "-$p" 2>/dev/null || break
        sleep 0.1
      done
    done
    sanitizer_findings || rc=1
  fi
  for d in "${SWTPM_DIRS[@]:-}"; do
    [ -n "$d" ] && "$SWTPM_SH" stop "$d" >/dev/null 2>&1 || true
  done
  if [ $rc -ne 0 ]; then
    echo "---- test directory $T (kept for inspection)" >&2
    for f in "$T"/*.out "$T"/*.log "$T"/*.jsonl; do
      [ -f "$f" ] || continue
      echo "---- $f" >&2
      tail -n 40 "$f" >&2
    done
  else
    rm -rf "$T"
  fi
  exit $rc
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "PASS: $*"; }

free_port() {
  python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

# start_swtpm NAME -> sets TCTI_<NAME> and DIR_<NAME>
start_swtpm() {
  local name=$1 dir=$T/swtpm-$1
  SWTPM_DIRS+=("$dir")
  "$SWTPM_SH" start "$dir" >/dev/null
  printf -v "TCTI_$name" '%s' "$(cat "$dir/tcti")"
  printf -v "DIR_$name" '%s' "$dir"
}

# make_pki: CA, server cert (CN=localhost, SAN 127.0.0.1), client cert; EC P-256.
make_pki() {
  local d=$T/pki
  mkdir -p "$d"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=exattest test CA" -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
  for who in server client; do
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -subj "/CN=localhost" -keyout "$d/$who.key" -out "$d/$who.csr" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >"$d/$who.ext"
    openssl x509 -req -in "$d/$who.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
      -CAcreateserial -days 2 -extfile "$d/$who.ext" -out "$d/$who.pem" 2>/dev/null
  done
  # A second CA nobody trusts, for untrusted-certificate cases.
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=other CA" -keyout "$d/other-ca.key" -out "$d/other-ca.pem" 2>/dev/null
  PKI=$d
}

# make_policy FILE TCTI [PCRS]: enrol the TPM behind TCTI.
make_policy() {
  "$EXATTEST" policy create --tcti "$2" --pcrs "${3:-sha256:0,1,2,3,4,5,6,7}" -o "$1" >/dev/null
}

# write_cnf FILE key=value...: an openssl.cnf loading default + exattest with those keys.
write_cnf() {
  local f=$1
  shift
  {
    echo "openssl_conf = openssl_init"
    echo "[openssl_init]"
    echo "providers = provider_sect"
    echo "[provider_sect]"
    echo "default = default_sect"
    echo "exattest = exattest_sect"
    echo "[default_sect]"
    echo "activate = 1"
    echo "[exattest_sect]"
    echo "module = $MODULE"
    echo "activate = 1"
    for kv in "$@"; do echo "${kv%%=*} = ${kv#*=}"; done
  } >"$f"
}

# wait_for_accept LOGFILE PID: until s_server printed ACCEPT (bounded: 10 s).
wait_for_accept() {
  for _ in $(seq 1 100); do
    grep -q ACCEPT "$1" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || { cat "$1" >&2; fail "s_server exited early"; }
    sleep 0.1
  done
  fail "s_server did not start listening within 10 s"
}

# start_server NAME CNF PORT [s_server args...]: s_server with the shim (unless NO_SHIM=1).
# Its stdin is a FIFO-less `sleep` so it stays up; output in $T/NAME.out.
start_server() {
  local name=$1 cnf=$2 port=$3
  shift 3
  local pre=$SHIM
  [ "${NO_SHIM:-0}" = 1 ] && pre=$ASAN_PRE
  (sleep 60 | OPENSSL_CONF=$cnf LD_PRELOAD=$pre exec openssl s_server -accept "127.0.0.1:$port" \
      -cert "$PKI/server.pem" -key "$PKI/server.key" "$@") >"$T/$name.out" 2>&1 </dev/null &
  local pid=$!
  PIDS+=("$pid")
  wait_for_accept "$T/$name.out" "$pid"
  printf -v "PID_$name" '%s' "$pid"
}

# run_client NAME CNF PORT INPUT [s_client args...]: s_client with the shim (unless
# NO_SHIM=1), bounded to 20 s; output in $T/NAME.out; exit status in RC_NAME.
run_client() {
  local name=$1 cnf=$2 port=$3 input=$4
  shift 4
  local pre=$SHIM rc=0
  [ "${NO_SHIM:-0}" = 1 ] && pre=$ASAN_PRE
  printf '%b' "$input" | OPENSSL_CONF=$cnf LD_PRELOAD=$pre timeout 20 openssl s_client \
      -connect "127.0.0.1:$port" -servername localhost -CAfile "$PKI/ca.pem" "$@" \
      >"$T/$name.out" 2>&1 || rc=$?
  printf -v "RC_$name" '%s' "$rc"
  [ "$rc" != 124 ] || fail "s_client $name hung (killed after 20 s)"
}

expect_in() {  # expect_in FILE TEXT
  grep -qF -- "$2" "$1" || fail "expected '$2' in $(basename "$1")"
}
expect_not_in() {
  ! grep -qF -- "$2" "$1" || fail "did not expect '$2' in $(basename "$1")"
}
