#!/bin/bash
# `openssl list -providers -verbose` shows exattest active, for an inactive and an active
# configuration (no I/O at init: the policy file need not exist).
# usage: list_active.sh MODULE TMPDIR
. "$(dirname "$0")/lib.sh"
module=$1
scratch "$2"
for variant in inactive active; do
  if [ $variant = inactive ]; then
    write_conf "$WORK/$variant.cnf" "$module" "request = off" "attest = none"
  else
    write_conf "$WORK/$variant.cnf" "$module" "request = require" "attest = tpm2" \
      "policy = $WORK/absent-policy.json" "tcti = swtpm:host=127.0.0.1,port=1" \
      "pcrs = sha256:0,7" "log = stderr" "tls_flags_ext = 0x003e" "binder_length = 48"
  fi
  OPENSSL_CONF=$WORK/$variant.cnf openssl list -providers -verbose > "$WORK/out" 2> "$WORK/err" \
    || fail "$variant: openssl list failed: $(cat "$WORK/err")"
  block=$(exattest_block "$WORK/out")
  [ -n "$block" ] || fail "$variant: exattest not listed: $(cat "$WORK/out" "$WORK/err")"
  grep -qx '    name: exattest' <<< "$block" || fail "$variant: no name: $block"
  grep -qx '    status: active' <<< "$block" || fail "$variant: not active: $block"
  grep -qx '    version: [0-9.]*' <<< "$block" || fail "$variant: no version: $block"
  grep -q '    build info: exattest ' <<< "$block" || fail "$variant: no build info: $block"
  [ ! -s "$WORK/err" ] || fail "$variant: unexpected stderr: $(cat "$WORK/err")"
done
echo "PASS: exattest listed active"
