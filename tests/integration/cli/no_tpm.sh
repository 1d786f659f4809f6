#!/usr/bin/env bash
# No TPM listening: ak, quote and policy create fail fast with exit 2, attester_unavailable and
# the TCTI in the message (ctest TIMEOUT guards against a hang).
source "$(dirname "$0")/lib.sh"
PORT=$(free_port)
TCTI="swtpm:host=127.0.0.1,port=$PORT"

check() {  # WHAT ARGS...
  local what=$1
  shift
  local start=$SECONDS
  run "$EXATTEST" "$@"
  expect_rc 2 "$what without a TPM"
  grep -q "attester_unavailable" "$WORK/err" || fail "$what: no attester_unavailable in stderr"
  grep -qF "$TCTI" "$WORK/err" || fail "$what: the TCTI is not named in stderr"
  [ "$(wc -l <"$WORK/err")" = 1 ] || fail "$what: expected a one-line error"
  [ ! -s "$WORK/out" ] || fail "$what: printed to stdout"
  [ $((SECONDS - start)) -le 10 ] || fail "$what took $((SECONDS - start)) s"
}
check "ak" ak --tcti "$TCTI"
check "quote" quote --tcti "$TCTI" --nonce 0011 -o "$WORK/q.cbor"
[ ! -e "$WORK/q.cbor" ] || fail "quote wrote a CMW without a TPM"
check "policy create" policy create --tcti "$TCTI" -o "$WORK/p.json"
[ ! -e "$WORK/p.json" ] || fail "policy create wrote a policy without a TPM"
# The same TCTI through EXATTEST_TCTI.
EXATTEST_TCTI=$TCTI check "ak (EXATTEST_TCTI)" ak
echo "PASS"
