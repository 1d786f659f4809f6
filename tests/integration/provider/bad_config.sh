#!/bin/bash
# A bad provider section keeps exattest from loading, with a message naming the key.
# usage: bad_config.sh MODULE TMPDIR
. "$(dirname "$0")/lib.sh"
module=$1
scratch "$2"

# expect_rejected NAME EXPECTED_TEXT [conf lines...]  (env from the caller's environment)
expect_rejected() {
  local name=$1 expected=$2
  shift 2
  write_conf "$WORK/$name.cnf" "$module" "$@"
  OPENSSL_CONF=$WORK/$name.cnf openssl list -providers -verbose > "$WORK/out" 2> "$WORK/err" \
    || true
  [ -z "$(exattest_block "$WORK/out")" ] || fail "$name: exattest loaded despite the bad config"
  grep -qF "exattest: provider not loaded: " "$WORK/err" || fail "$name: no message: $(cat "$WORK/err")"
  grep -qF -- "$expected" "$WORK/err" || fail "$name: message lacks '$expected': $(cat "$WORK/err")"
  grep -qF "[exattest_sect] of $WORK/$name.cnf" "$WORK/err" \
    || fail "$name: message does not say where: $(cat "$WORK/err")"
  echo "ok: $name: $(cat "$WORK/err")"
}

expect_rejected unknown_key 'unknown key `colour`' "request = off" "colour = blue"
expect_rejected bad_value 'key `request` = "always"' "request = always" "policy = /p.json"
expect_rejected missing_policy 'key `policy` is required' "request = optional"
expect_rejected bad_pcrs 'key `pcrs`' "attest = tpm2" "pcrs = sha256:0,24"
EXATTEST_ATTEST=maybe expect_rejected bad_env 'EXATTEST_ATTEST' "attest = none"
# A key whose value names a section would reach OpenSSL as "tcti.x" parameters.
expect_rejected nested 'key `tcti`' "tcti = nested_sect" "[nested_sect]" "x = 1"
echo "PASS: bad configurations rejected, naming the key"
