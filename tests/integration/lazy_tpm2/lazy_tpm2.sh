#!/usr/bin/env bash
# Issue #7: exattest.so loads tpm2-tss only when a quote is first needed, through
# exattest-tpm2.so (provider/tpm2_loader.cc), and libcbor only when Evidence is first decoded
# (provider/cbor_loader.cc). Usage: lazy_tpm2.sh CASE
#   needed:  exattest.so NEEDs no tpm2-tss library, no libcbor, no libm and no shared
#            libstdc++; exattest-tpm2.so NEEDs libtss2-esys and exports only its entry point.
#   lazy:    an attesting s_server maps neither exattest-tpm2.so, libtss2-esys nor libcbor
#            before its first connection and maps them after it (libcbor through
#            exattest-tpm2.so); the attest = none client that required and accepted its
#            Evidence never loads any libtss2 library, and loads libcbor by dlopen, not as
#            a dependency (LD_DEBUG=files).
#   missing: exattest.so without exattest-tpm2.so beside it: the server reports
#            attester_unavailable naming the missing path; the requiring client is refused.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../e2e/lib.sh"

TPM2_MODULE=$(dirname "$MODULE")/exattest-tpm2.so
HTTP_GET='GET / HTTP/1.0\r\n\r\n'
PCRS=sha256:0,1,2,3,4,5,6,7

needed_of() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }

# The openssl process of server NAME (start_server's pid is the pipeline's subshell).
server_pid() {
  local leader=$1 pid
  for _ in $(seq 1 50); do
    pid=$(pgrep -P "$leader" -x openssl || true)
    [ -n "$pid" ] && { echo "$pid"; return 0; }
    sleep 0.1
  done
  fail "no openssl child under $leader"
}

case_needed() {
  [ -f "$TPM2_MODULE" ] || fail "$TPM2_MODULE was not built with exattest.so"
  needed_of "$MODULE" >"$T/module.needed"
  needed_of "$TPM2_MODULE" >"$T/tpm2.needed"
  expect_in "$T/module.needed" "libcrypto.so"  # the parse worked
  expect_not_in "$T/module.needed" "libtss2"
  expect_not_in "$T/module.needed" "libcbor"
  expect_not_in "$T/module.needed" "libm.so"
  expect_in "$T/tpm2.needed" "libtss2-esys.so"
  expect_in "$T/tpm2.needed" "libtss2-tctildr.so"
  # Sanitizer builds link libstdc++ shared on purpose (provider/module.cmake: the runtimes
  # must see every new/delete), so only the normal build has the private copy.
  if [ -z "$ASAN_PRE" ]; then
    expect_not_in "$T/module.needed" "libstdc++"
    expect_not_in "$T/tpm2.needed" "libstdc++"
  fi
  nm -D --defined-only "$TPM2_MODULE" | awk '{print $NF}' >"$T/tpm2.exports"
  [ "$(cat "$T/tpm2.exports")" = exattest_tpm2_module_ops ] ||
    fail "exattest-tpm2.so exports more than its entry point: $(tr '\n' ' ' <"$T/tpm2.exports")"
  pass "exattest.so needs no tpm2-tss; exattest-tpm2.so does and exports one symbol"
}

case_lazy() {
  start_swtpm srv
  make_pki
  make_policy "$T/policy.json" "$TCTI_srv"
  write_cnf "$T/server.cnf" request=off attest=tpm2 "tcti=$TCTI_srv" "pcrs=$PCRS" \
    "log=$T/server.jsonl"
  write_cnf "$T/client.cnf" request=require attest=none "policy=$T/policy.json" \
    "log=$T/client.jsonl"
  local port; port=$(free_port)
  start_server srv "$T/server.cnf" "$port" -www
  local pid; pid=$(server_pid "$PID_srv")
  cp "/proc/$pid/maps" "$T/server-before.maps"
  expect_in "$T/server-before.maps" "/exattest.so"
  expect_not_in "$T/server-before.maps" "exattest-tpm2.so"
  expect_not_in "$T/server-before.maps" "libtss2-esys"
  expect_not_in "$T/server-before.maps" "libcbor"

  mkdir -p "$T/ld"
  LD_DEBUG=files LD_DEBUG_OUTPUT=$T/ld/client run_client cli "$T/client.cnf" "$port" \
    "$HTTP_GET" -ign_eof
  [ "$RC_cli" = 0 ] || fail "s_client exited $RC_cli"
  expect_in "$T/cli.out" "HTTP/1.0 200 ok"
  expect_in "$T/client.jsonl" '"outcome":"accepted"'
  cat "$T"/ld/client.* >"$T/client-ld.log"
  expect_in "$T/client-ld.log" "exattest.so"  # LD_DEBUG saw the provider being loaded
  expect_not_in "$T/client-ld.log" "libtss2"
  expect_not_in "$T/client-ld.log" "exattest-tpm2.so"
  # By dlopen (from exattest.so; in a sanitizer build ASan's dlopen interceptor is named as
  # the loader), never as a dependency.
  grep -qE 'file=libcbor\.so[^ ]* .*dynamically loaded by ' "$T/client-ld.log" ||
    fail "the client did not load libcbor by dlopen"
  ! grep -qE 'file=libcbor\.so[^ ]* .*needed by ' "$T/client-ld.log" ||
    fail "libcbor was loaded as a dependency"

  cp "/proc/$pid/maps" "$T/server-after.maps"
  expect_in "$T/server-after.maps" "/exattest-tpm2.so"
  expect_in "$T/server-after.maps" "libtss2-esys"
  expect_in "$T/server.jsonl" '"outcome":"accepted"'
  pass "tpm2-tss loaded by the server on its first quote only; never by the client; libcbor on the first decode"
}

case_missing() {
  start_swtpm srv
  make_pki
  make_policy "$T/policy.json" "$TCTI_srv"
  mkdir -p "$T/lonely"
  cp "$MODULE" "$T/lonely/exattest.so"
  MODULE=$T/lonely/exattest.so write_cnf "$T/server.cnf" request=off attest=tpm2 \
    "tcti=$TCTI_srv" "pcrs=$PCRS" "log=$T/server.jsonl"
  write_cnf "$T/client.cnf" request=require attest=none "policy=$T/policy.json" \
    "log=$T/client.jsonl"
  local port; port=$(free_port)
  start_server srv "$T/server.cnf" "$port" -www
  run_client cli "$T/client.cnf" "$port" "$HTTP_GET" -ign_eof
  [ "$RC_cli" != 0 ] || fail "s_client should have been refused"
  expect_not_in "$T/cli.out" "HTTP/1.0 200 ok"
  expect_in "$T/cli.out" "peer sent no attestation evidence"
  sleep 0.3
  expect_in "$T/server.jsonl" '"reason":"attester_unavailable"'
  expect_in "$T/server.jsonl" "$T/lonely/exattest-tpm2.so"
  pass "missing exattest-tpm2.so: attester_unavailable naming the path; client refused"
}

c=${1:?usage: lazy_tpm2.sh needed|lazy|missing}
"case_$c"
