#!/usr/bin/env bash
# Fault tests (issue #6): misbehaving peers, a TPM that dies mid-burst, a policy file that
# disappears. Real openssl s_server/s_client/curl with provider + shim, a hand-written evil
# peer (evil_peer.cc: plain OpenSSL, speaks §2/§5 by hand), swtpm. Usage: cases.sh CASE
# Expects EXATTEST_SOURCE_DIR, EXATTEST_BINARY_DIR, EVIL_PEER (path of evil_peer), and in
# sanitizer builds EXATTEST_ASAN_PRELOAD (the ASan runtime, preloaded before the shim).
here=$(cd "$(dirname "$0")" && pwd)
. "$EXATTEST_SOURCE_DIR/tests/integration/e2e/lib.sh"
: "${EVIL_PEER:?}"
# (In a sanitizer build, lib.sh's SHIM already starts with the ASan runtime.)

HTTP_GET='GET / HTTP/1.0\r\n\r\n'
PCRS=sha256:0,1,2,3,4,5,6,7

# A dummy policy (no TPM needed): trusts an AK nobody has.
dummy_policy() {
  printf '{"version":1,"trusted_aks":["sha256:%s"],"pcrs":"any"}\n' "$(printf '0%.0s' $(seq 64))" >"$1"
}

# The attesting s_server -www on a fresh swtpm; sets PORT.
attesting_server() {
  start_swtpm srv
  make_pki
  make_policy "$T/policy.json" "$TCTI_srv"
  write_cnf "$T/server.cnf" request=off attest=tpm2 "tcti=$TCTI_srv" "pcrs=$PCRS" \
    "log=$T/server.jsonl"
  write_cnf "$T/client.cnf" request=require attest=none "policy=$T/policy.json" \
    "log=$T/client.jsonl"
  PORT=$(free_port)
  start_server srv "$T/server.cnf" "$PORT" -www
}

# A well-behaved client right after a fault: the server must still serve and attest.
expect_server_serves() {  # expect_server_serves LABEL
  kill -0 "$PID_srv" 2>/dev/null || fail "s_server died after $1"
  run_client "ok_$1" "$T/client.cnf" "$PORT" "$HTTP_GET" -ign_eof
  local rc_var="RC_ok_$1"
  [ "${!rc_var}" = 0 ] || fail "after $1 the next client exited ${!rc_var}"
  grep -qF "HTTP/1.0 200 ok" "$T/ok_$1.out" || fail "after $1 the next client was not served"
}

# Evil CLIENT against the attesting server, at every step of §5 (and mid-frame). The server
# serves exactly 16 connections (8 evil, 8 good) and then exits by itself, so that in the
# sanitizer suite LeakSanitizer checks at its exit that every failed exchange freed its state.
case_evil_client() {
  start_swtpm srv
  make_pki
  make_policy "$T/policy.json" "$TCTI_srv"
  write_cnf "$T/server.cnf" request=off attest=tpm2 "tcti=$TCTI_srv" "pcrs=$PCRS" \
    "log=$T/server.jsonl"
  write_cnf "$T/client.cnf" request=require attest=none "policy=$T/policy.json" \
    "log=$T/client.jsonl"
  PORT=$(free_port)
  OPENSSL_CONF=$T/server.cnf LD_PRELOAD=$SHIM timeout 120 openssl s_server \
    -accept "127.0.0.1:$PORT" -cert "$PKI/server.pem" -key "$PKI/server.key" -www \
    -naccept 16 </dev/null >"$T/srv.out" 2>&1 &
  PID_srv=$!
  PIDS+=("$PID_srv")
  wait_for_accept "$T/srv.out" "$PID_srv"
  local stop n before
  for stop in handshake mid_request after_request mid_auth after_auth mid_result oversize silent; do
    before=$(grep -c '"reason":"protocol_error"' "$T/server.jsonl" 2>/dev/null || true)
    timeout 20 "$EVIL_PEER" client "$PORT" "$stop" >"$T/evil-$stop.out" 2>&1 ||
      fail "evil client ($stop) failed: $(cat "$T/evil-$stop.out")"
    expect_server_serves "$stop"
    # The failed exchange was logged as protocol_error before the good client's success.
    n=$(grep -c '"reason":"protocol_error"' "$T/server.jsonl" 2>/dev/null || true)
    [ "$n" -gt "${before:-0}" ] || fail "server logged no protocol_error for evil client $stop"
    echo "ok: evil client $stop -> server protocol_error, next client attested"
  done
  # PROTOCOL.md §5: a length over the limit is judged from the 4-byte header.
  expect_in "$T/server.jsonl" "exceeds the limit of 16384"
  [ "$(grep -c '"outcome":"accepted"' "$T/client.jsonl")" -ge 8 ] ||
    fail "expected 8 accepted attestations for the good clients"
  local src=0
  wait "$PID_srv" || src=$?
  [ "$src" = 0 ] || { cat "$T/srv.out" >&2; fail "s_server exited $src after its 16 connections"; }
  pass "server survived an evil client at every step; every failure was protocol_error"
}

# Evil SERVER against s_client (provider + shim, request = require).
case_evil_server() {
  make_pki
  dummy_policy "$T/policy.json"
  write_cnf "$T/client.cnf" request=require attest=none "policy=$T/policy.json" \
    "log=$T/client.jsonl"
  local stop port rc rc_var
  for stop in handshake after_request mid_auth oversize; do
    port=$(free_port)
    "$EVIL_PEER" server "$port" "$stop" "$PKI/server.pem" "$PKI/server.key" \
      >"$T/evil-$stop.out" 2>&1 </dev/null &
    PIDS+=($!)
    for _ in $(seq 1 50); do grep -q listening "$T/evil-$stop.out" 2>/dev/null && break; sleep 0.1; done
    run_client "cli_$stop" "$T/client.cnf" "$port" "$HTTP_GET" -ign_eof
    rc_var="RC_cli_$stop"
    [ "${!rc_var}" != 0 ] || fail "s_client exited 0 against evil server $stop"
    grep -qF "HTTP/1.0 200 ok" "$T/cli_$stop.out" && fail "client served data after evil server $stop"
    expect_in "$T/cli_$stop.out" "attestation exchange protocol error"
    echo "ok: evil server $stop -> s_client failed with protocol_error"
  done
  expect_in "$T/client.jsonl" "exceeds the limit of 1048576"
  # Silent server (never sends its REQUEST): curl's own --max-time applies.
  port=$(free_port)
  "$EVIL_PEER" server "$port" silent "$PKI/server.pem" "$PKI/server.key" \
    >"$T/evil-silent.out" 2>&1 </dev/null &
  PIDS+=($!)
  for _ in $(seq 1 50); do grep -q listening "$T/evil-silent.out" 2>/dev/null && break; sleep 0.1; done
  rc=0
  if [ -z "${EXATTEST_ASAN_PRELOAD:-}" ]; then
    OPENSSL_CONF=$T/client.cnf LD_PRELOAD=$SHIM timeout 20 curl -sS --max-time 3 \
      --cacert "$PKI/ca.pem" "https://127.0.0.1:$port/" >"$T/curl-silent.out" 2>&1 || rc=$?
    [ "$rc" = 28 ] || fail "curl against a silent server: exit $rc, expected 28 (--max-time)"
    pass "s_client failed closed against an evil server at every step; curl timed out (28)"
  else
    # Debian's curl deadlocks in setlocale() at startup with gcc's libasan preloaded (even
    # `curl --version`), so the sanitizer suite uses s_client, which has no timeout of its
    # own: it must still be waiting (not crashed) when `timeout 4` stops it.
    printf '%b' "$HTTP_GET" | OPENSSL_CONF=$T/client.cnf LD_PRELOAD=$SHIM timeout 4 openssl \
      s_client -connect "127.0.0.1:$port" -CAfile "$PKI/ca.pem" -ign_eof \
      >"$T/cli-silent.out" 2>&1 || rc=$?
    [ "$rc" = 124 ] || fail "s_client against a silent server: exit $rc, expected 124 (timeout)"
    pass "s_client failed closed against an evil server at every step; waited on a silent one"
  fi
}

# Issue #11 item 5: a connection that ends during the exchange blames nobody (the cause may be
# a local timeout or the application as well as the peer) and names the system error when
# there is one: a FIN after the server's REQUEST (no errno), then a TCP RST (ECONNRESET).
case_evil_server_close() {
  make_pki
  dummy_policy "$T/policy.json"
  write_cnf "$T/client.cnf" request=require attest=none "policy=$T/policy.json" \
    "log=$T/client.jsonl"
  local stop port rc_var text
  local ended="the connection ended or timed out during the attestation exchange"
  for stop in close_after_reading_request reset_after_reading_request; do
    port=$(free_port)
    "$EVIL_PEER" server "$port" "$stop" "$PKI/server.pem" "$PKI/server.key" \
      >"$T/evil-$stop.out" 2>&1 </dev/null &
    PIDS+=($!)
    for _ in $(seq 1 50); do grep -q listening "$T/evil-$stop.out" 2>/dev/null && break; sleep 0.1; done
    : >"$T/client.jsonl"
    run_client "cli_$stop" "$T/client.cnf" "$port" "$HTTP_GET" -ign_eof
    rc_var="RC_cli_$stop"
    [ "${!rc_var}" != 0 ] || fail "s_client exited 0 against evil server $stop"
    expect_in "$T/evil-$stop.out" "read the client's REQUEST"
    if [ "$stop" = close_after_reading_request ]; then
      text="$ended\""  # the detail ends there: no errno for a plain close
    else
      text="$ended (errno $(python3 -c 'import errno; print(errno.ECONNRESET)'): Connection reset by peer)"
    fi
    expect_in "$T/cli_$stop.out" "attestation exchange protocol error"
    expect_in "$T/cli_$stop.out" "${text%\"}"
    expect_in "$T/client.jsonl" '"reason":"protocol_error"'
    expect_in "$T/client.jsonl" "$text"
    expect_not_in "$T/cli_$stop.out" "peer closed"
    echo "ok: evil server $stop -> $text"
  done
  pass "a connection ending mid-exchange: the new text, with errno for the reset"
}

# swtpm killed (SIGKILL) during a burst of connections, then restarted on the same ports with
# the same state: failures are no_evidence / attester_unavailable, the server stays up and
# recovers by itself.
case_swtpm_burst() {
  attesting_server
  local tcti_port=${TCTI_srv##*port=} i rc ok=0 bad=0
  run_client warm "$T/client.cnf" "$PORT" "$HTTP_GET" -ign_eof
  [ "$RC_warm" = 0 ] || fail "the first connection should attest"
  for i in 1 2 3 4 5 6; do
    if [ "$i" = 3 ]; then
      kill -KILL "$(tr -dc '0-9' <"$DIR_srv/swtpm.pid")"
      echo "killed swtpm before connection $i"
    fi
    run_client "burst$i" "$T/client.cnf" "$PORT" "$HTTP_GET" -ign_eof
    rc_var=RC_burst$i
    if [ "${!rc_var}" = 0 ]; then ok=$((ok + 1)); else
      bad=$((bad + 1))
      expect_in "$T/burst$i.out" "peer sent no attestation evidence"
    fi
  done
  [ "$ok" = 2 ] && [ "$bad" = 4 ] || fail "expected 2 attested then 4 refused, got $ok/$bad"
  kill -0 "$PID_srv" 2>/dev/null || fail "s_server died when swtpm was killed"
  sleep 0.3
  expect_in "$T/server.jsonl" '"reason":"attester_unavailable"'
  swtpm socket --tpm2 --server "type=tcp,bindaddr=127.0.0.1,port=$tcti_port" \
    --ctrl "type=tcp,bindaddr=127.0.0.1,port=$((tcti_port + 1))" \
    --tpmstate "dir=$DIR_srv/state" --flags not-need-init,startup-clear \
    --pid "file=$DIR_srv/swtpm.pid" --daemon
  sleep 0.3
  run_client again "$T/client.cnf" "$PORT" "$HTTP_GET" -ign_eof
  [ "$RC_again" = 0 ] || fail "attestation did not recover after swtpm came back"
  expect_in "$T/again.out" "HTTP/1.0 200 ok"
  pass "swtpm killed mid-burst: 4 x no_evidence / attester_unavailable, server up, recovered"
}

# The policy file of a REQUIRING server deleted, then corrupted, while it runs. PROTOCOL.md
# §9: "read once per process": the running server keeps the policy it loaded; a new process
# gets policy_error naming the file.
case_policy_changes() {
  start_swtpm cli
  make_pki
  make_policy "$T/policy.json" "$TCTI_cli"
  write_cnf "$T/server.cnf" request=require attest=none "policy=$T/policy.json" \
    "log=$T/server.jsonl"
  write_cnf "$T/client.cnf" request=off attest=tpm2 "tcti=$TCTI_cli" "pcrs=$PCRS" \
    "log=$T/client.jsonl"
  local port; port=$(free_port)
  start_server srv "$T/server.cnf" "$port" -www -CAfile "$PKI/ca.pem"
  local cargs=(-ign_eof -cert "$PKI/client.pem" -key "$PKI/client.key")
  run_client c1 "$T/client.cnf" "$port" "$HTTP_GET" "${cargs[@]}"
  [ "$RC_c1" = 0 ] || fail "first attested connection failed"
  rm "$T/policy.json"
  run_client c2 "$T/client.cnf" "$port" "$HTTP_GET" "${cargs[@]}"
  [ "$RC_c2" = 0 ] || fail "the running server should keep its loaded policy after deletion"
  printf '{"version": 1, "trusted_aks": [' >"$T/policy.json"  # corrupted (truncated)
  run_client c3 "$T/client.cnf" "$port" "$HTTP_GET" "${cargs[@]}"
  [ "$RC_c3" = 0 ] || fail "the running server should keep its loaded policy after corruption"
  kill -0 "$PID_srv" 2>/dev/null || fail "s_server died"
  # A new server process reads the corrupted file: policy_error naming it.
  local port2; port2=$(free_port)
  start_server srv2 "$T/server.cnf" "$port2" -www -CAfile "$PKI/ca.pem"
  run_client c4 "$T/client.cnf" "$port2" "$HTTP_GET" "${cargs[@]}"
  [ "$RC_c4" != 0 ] || fail "a new process with a corrupted policy must fail the connection"
  expect_in "$T/c4.out" "attestation policy unreadable or invalid"
  sleep 0.3
  expect_in "$T/server.jsonl" '"reason":"policy_error"'
  expect_in "$T/server.jsonl" "$T/policy.json"
  # And with the file gone altogether.
  rm "$T/policy.json"
  local port3; port3=$(free_port)
  start_server srv3 "$T/server.cnf" "$port3" -www -CAfile "$PKI/ca.pem"
  run_client c5 "$T/client.cnf" "$port3" "$HTTP_GET" "${cargs[@]}"
  [ "$RC_c5" != 0 ] || fail "a new process without its policy file must fail the connection"
  expect_in "$T/c5.out" "attestation policy unreadable or invalid"
  kill -0 "$PID_srv2" 2>/dev/null && kill -0 "$PID_srv3" 2>/dev/null ||
    fail "a server without a usable policy must not crash"
  pass "policy deleted/corrupted: running server kept it; new processes: policy_error naming the file"
}

c=${1:?usage: cases.sh CASE}
"case_$c"
