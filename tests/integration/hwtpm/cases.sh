#!/usr/bin/env bash
# A TPM that behaves like hardware (issue #12): swtpm behind tests/bench/tpm_delay_proxy.py,
# which makes every command take 50 ms, serialises all processes' commands on one upstream
# connection (one TPM device), and in --sha256-only mode refuses TPM2_Quote qualifyingData
# over 34 bytes (sizeof(TPMT_HA) of a TPM whose largest hash is SHA-256) with TPM_RC_SIZE, as
# such TPMs do. Real processes: swtpm, the proxy, tpm2-tools, openssl s_server/s_client, nginx
# and curl with the provider and the shim. Usage: cases.sh CASE
# shellcheck disable=SC2154
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../nginx/lib.sh"

PROXY=$EXATTEST_SOURCE_DIR/tests/bench/tpm_delay_proxy.py
PCRS=sha256:0,1,2,3,4,5,6,7
HTTP_GET='GET / HTTP/1.0\r\n\r\n'

# start_proxy NAME UPSTREAM_TCTI [proxy options...]: the proxy in front of that swtpm, 50 ms per
# command; sets TCTI_<NAME> to the proxy's TCTI; quote count in $T/NAME.quotes, stderr in
# $T/NAME.log.
start_proxy() {
  local name=$1 up=$2
  shift 2
  (exec /usr/bin/python3 "$PROXY" "${up##*port=}" "${PROXY_DELAY_MS:-50}" "$T/$name.tcti" \
    --quote-count "$T/$name.quotes" "$@") >"$T/$name.log" 2>&1 </dev/null &
  PIDS+=($!)
  for _ in $(seq 1 100); do
    [ -s "$T/$name.tcti" ] && break
    sleep 0.1
  done
  [ -s "$T/$name.tcti" ] || fail "the TPM delay proxy did not start"
  printf -v "TCTI_$name" '%s' "$(cat "$T/$name.tcti")"
}

quotes() { cat "$T/$1.quotes"; }

# swtpm has no resource manager: tpm2-tools leaves transient objects and sessions loaded.
flush() {
  tpm2_flushcontext -T "$1" -t >/dev/null 2>&1 || true
  tpm2_flushcontext -T "$1" -s >/dev/null 2>&1 || true
}

# ---- the proxy itself -----------------------------------------------------------------

case_proxy_sha256_only() {
  start_swtpm srv
  start_proxy hw "$TCTI_srv" --sha256-only
  local P=$TCTI_hw
  cd "$T"
  flush "$P"
  tpm2_createek -T "$P" -c ek.ctx -G ecc -u ek.pub >/dev/null || fail "tpm2_createek"
  flush "$P"
  tpm2_createak -T "$P" -C ek.ctx -c ak.ctx -G ecc -g sha256 -s ecdsa -u ak.pub >/dev/null ||
    fail "tpm2_createak"
  flush "$P"
  [ "$(quotes hw)" = 0 ] || fail "quote count should start at 0"
  # 48 bytes (a SHA-384 binding used raw): TPM_RC_SIZE on parameter 1, never forwarded.
  local rc=0
  tpm2_quote -T "$P" -c ak.ctx -l sha256:0 -q "$(openssl rand -hex 48)" -m q.msg -s q.sig \
    >"$T/q48.out" 2>&1 || rc=$?
  [ "$rc" != 0 ] || fail "a 48-byte qualifyingData quote should fail on a SHA-256-only TPM"
  expect_in "$T/q48.out" "Esys_Quote(0x1D5)"
  expect_in "$T/q48.out" "structure is the wrong size"
  expect_in "$T/hw.log" "TPM2_Quote with 48-byte qualifyingData refused"
  [ "$(quotes hw)" = 0 ] || fail "a refused quote must not reach the TPM"
  flush "$P"
  # 35 bytes: refused too; 34 (the largest TPMT_HA) and 32 (a binding-tree root) go through.
  rc=0
  tpm2_quote -T "$P" -c ak.ctx -l sha256:0 -q "$(openssl rand -hex 35)" -m q.msg -s q.sig \
    >"$T/q35.out" 2>&1 || rc=$?
  [ "$rc" != 0 ] && grep -qF "0x1D5" "$T/q35.out" || fail "35 bytes should be TPM_RC_SIZE"
  [ "$(quotes hw)" = 0 ] || fail "a refused quote must not reach the TPM"
  flush "$P"
  for n in 34 32; do
    tpm2_quote -T "$P" -c ak.ctx -l sha256:0 -q "$(openssl rand -hex $n)" -m q.msg -s q.sig \
      >"$T/q$n.out" 2>&1 || { cat "$T/q$n.out" >&2; fail "a $n-byte quote should succeed"; }
    flush "$P"
  done
  # (tpm2_quote may issue TPM2_Quote more than once; each success reached the TPM.)
  [ "$(quotes hw)" -ge 2 ] || fail "expected the 2 quotes forwarded, counted $(quotes hw)"
  [ "$(grep -c 'qualifyingData refused' "$T/hw.log")" = 2 ] || fail "expected 2 refusals"
  # Several processes at once share the one upstream connection (the proxy deadlocked when it
  # opened one per client: swtpm serves one connection at a time).
  local i pids=()
  for i in 1 2 3 4; do
    (for _ in $(seq 1 8); do tpm2_getrandom -T "$P" 8 >/dev/null || exit 1; done) &
    pids+=($!)
  done
  for i in "${pids[@]}"; do
    # bounded: a deadlock shows as a hang, cut by this timeout
    timeout 60 tail --pid="$i" -f /dev/null || fail "concurrent TPM clients hung"
    wait "$i" || fail "a concurrent TPM client failed"
  done
  pass "SHA-256-only proxy: 35/48-byte qualifyingData -> TPM_RC_SIZE (0x1D5), 32/34 quoted; 4 concurrent clients served"
}

# ---- attested connections through a SHA-256-only, 50 ms TPM --------------------------

setup_hw() {
  start_swtpm srv
  start_proxy hw "$TCTI_srv" --sha256-only "$@"
  make_pki
  make_policy "$T/policy.json" "$TCTI_srv"
  write_cnf "$T/server.cnf" request=off attest=tpm2 "tcti=$TCTI_hw" "pcrs=$PCRS" \
    "log=$T/server.jsonl" ${SERVER_KEYS:-}
  write_cnf "$T/client.cnf" request=require attest=none "policy=$T/policy.json" \
    "log=$T/client.jsonl"
}

# e2e_suite SUITE: s_server -www and s_client, both restricted to SUITE.
e2e_suite() {
  local suite=$1 port
  port=$(free_port)
  start_server "srv_$suite" "$T/server.cnf" "$port" -www -ciphersuites "$suite"
  run_client "cli_$suite" "$T/client.cnf" "$port" "$HTTP_GET" -ign_eof -ciphersuites "$suite"
  local rc_var="RC_cli_$suite"
  [ "${!rc_var}" = 0 ] || fail "s_client ($suite) exited ${!rc_var}"
  expect_in "$T/cli_$suite.out" "HTTP/1.0 200 ok"
  expect_in "$T/cli_$suite.out" "Cipher is $suite"
}

case_e2e_sha256_only() {
  setup_hw
  e2e_suite TLS_AES_128_GCM_SHA256
  e2e_suite TLS_AES_256_GCM_SHA384
  wait_count "$T/server.jsonl" '"outcome":"accepted"' 2
  expect_count "$T/client.jsonl" '"outcome":"accepted"' 2 "client verdicts"
  expect_count "$T/server.jsonl" '"outcome":"accepted"' 2 "server audit lines"
  expect_not_in "$T/hw.log" "refused"
  [ "$(quotes hw)" = 2 ] || fail "expected 2 quotes through the proxy, counted $(quotes hw)"
  pass "SHA-256-only 50 ms TPM: attested with TLS_AES_128_GCM_SHA256 and TLS_AES_256_GCM_SHA384 (32-byte root)"
}

case_nginx_sha256_only() {
  setup_hw
  mkdir -p "$T/www"
  printf 'exattest hw tpm page\n' >"$T/www/index.html"
  local p128 p256
  p128=$(free_port)
  p256=$(free_port)
  start_nginx main "$T/server.cnf" "$(ssl_server "$p128" \
    'ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256')
$(ssl_server "$p256" 'ssl_conf_command Ciphersuites TLS_AES_256_GCM_SHA384')"
  run_curl a128 "$T/client.cnf" -w '%{http_code}\n' -o "$T/a128.html" \
    "https://127.0.0.1:$p128/index.html"
  [ "$RC_a128" = 0 ] || fail "curl (TLS_AES_128_GCM_SHA256) exited $RC_a128"
  run_curl a256 "$T/client.cnf" -w '%{http_code}\n' -o "$T/a256.html" \
    "https://127.0.0.1:$p256/index.html"
  [ "$RC_a256" = 0 ] || fail "curl (TLS_AES_256_GCM_SHA384) exited $RC_a256"
  cmp -s "$T/a128.html" "$T/www/index.html" && cmp -s "$T/a256.html" "$T/www/index.html" ||
    fail "a page differs from the file served"
  # Which suite each server block negotiated, from a plain (unattested) handshake.
  echo | timeout 20 openssl s_client -connect "127.0.0.1:$p256" -CAfile "$PKI/ca.pem" \
    >"$T/suite256.out" 2>&1 || true
  expect_in "$T/suite256.out" "TLS_AES_256_GCM_SHA384"
  wait_count "$T/server.jsonl" '"outcome":"accepted"' 2
  expect_count "$T/client.jsonl" '"outcome":"accepted"' 2 "client verdicts"
  expect_count "$T/server.jsonl" '"outcome":"accepted"' 2 "server audit lines"
  expect_not_in "$T/hw.log" "refused"
  pass "nginx on a SHA-256-only 50 ms TPM: attested with both TLS 1.3 AES suites"
}

c=${1:?usage: cases.sh CASE}
"case_$c"
