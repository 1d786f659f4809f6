# Helpers for the `exattest` CLI integration tests (sourced; see tests/integration/cli.cmake).
# Every script is called as: SCRIPT EXATTEST_BINARY WORK_DIR [extra args]
set -euo pipefail

EXATTEST=${1:?usage: $0 EXATTEST_BINARY WORK_DIR}
WORK=${2:?usage: $0 EXATTEST_BINARY WORK_DIR}
shift 2
rm -rf "$WORK"
mkdir -p "$WORK"
[ -x "$EXATTEST" ] || { echo "FAIL: $EXATTEST is not built" >&2; exit 1; }
export TSS2_LOG=all+NONE
# Debian's python3 (scripts/install-deps.sh installs it) rather than a version manager's
# shim in PATH, which costs seconds per call on a loaded machine (cli_vectors makes ~60).
if [ -x /usr/bin/python3 ]; then python3() { /usr/bin/python3 "$@"; }; fi

fail() {
  echo "FAIL: $*" >&2
  if [ -f "$WORK/out" ]; then echo "--- stdout:" >&2; cat "$WORK/out" >&2; fi
  if [ -f "$WORK/err" ]; then echo "--- stderr:" >&2; cat "$WORK/err" >&2; fi
  exit 1
}

# run CMD...: stdout -> $WORK/out, stderr -> $WORK/err, exit code -> $RC. Never hangs: the
# ctest TIMEOUT bounds the script, `timeout` bounds each command.
run() {
  set +e
  timeout 60 "$@" >"$WORK/out" 2>"$WORK/err" </dev/null
  RC=$?
  set -e
}

# expect_rc CODE WHAT
expect_rc() {
  [ "$RC" = "$1" ] || fail "$2: expected exit $1, got $RC"
}

# json FIELD [FILE]: prints a top-level field of a JSON document (default $WORK/out);
# booleans as true/false, null as null, strings raw, objects as compact JSON.
json() {
  python3 -c '
import json, sys
doc = json.load(open(sys.argv[2]))
v = doc
for part in sys.argv[1].split("."):
    v = v[part]
if isinstance(v, bool):
    print("true" if v else "false")
elif v is None:
    print("null")
elif isinstance(v, (dict, list)):
    print(json.dumps(v, sort_keys=True))
else:
    print(v)
' "$1" "${2:-$WORK/out}"
}

# expect_json FIELD VALUE WHAT
expect_json() {
  local got
  got=$(json "$1") || fail "$3: output is not JSON with field $1"
  [ "$got" = "$2" ] || fail "$3: $1 = '$got', expected '$2'"
}

# The swtpm fixture's TCTI (tests/integration/swtpm_fixture.cmake.inc).
fixture_tcti() {
  [ -n "${EXATTEST_TEST_TCTI_FILE:-}" ] && [ -s "$EXATTEST_TEST_TCTI_FILE" ] ||
    fail "no swtpm fixture (EXATTEST_TEST_TCTI_FILE unset or empty)"
  cat "$EXATTEST_TEST_TCTI_FILE"
}

# A loopback TCP port with nothing listening on it (bound, then released).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# 32 random bytes as hex.
rand_hex() { openssl rand -hex "${1:-32}"; }
