#!/usr/bin/env bash
# End-to-end cases with unmodified `openssl s_server` / `s_client`, the provider (via
# OPENSSL_CONF), the shim (via LD_PRELOAD) and a real swtpm. Usage: cases.sh CASE
# Each case asserts the outcome the user sees: exit status, data, and the reason text.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

HTTP_GET='GET / HTTP/1.0\r\n\r\n'
PCRS=sha256:0,1,2,3,4,5,6,7

# The common set-up: one swtpm (the server's), PKI, a policy enrolling it, and configs.
setup_server_attesting() {
  start_swtpm srv
  make_pki
  make_policy "$T/policy.json" "$TCTI_srv"
  write_cnf "$T/server.cnf" request=off attest=tpm2 "tcti=$TCTI_srv" "pcrs=$PCRS" \
    "log=$T/server.jsonl" "$@"
  write_cnf "$T/client.cnf" request=require attest=none "policy=$T/policy.json" \
    "log=$T/client.jsonl"
}

case_www() {
  setup_server_attesting
  local port; port=$(free_port)
  start_server srv "$T/server.cnf" "$port" -www
  run_client cli "$T/client.cnf" "$port" "$HTTP_GET" -ign_eof
  [ "$RC_cli" = 0 ] || fail "s_client exited $RC_cli"
  expect_in "$T/cli.out" "HTTP/1.0 200 ok"
  expect_in "$T/client.jsonl" '"outcome":"accepted"'
  expect_in "$T/server.jsonl" '"outcome":"accepted"'
  pass "attested s_server -www answered an s_client that required attestation"
}

case_echo() {
  setup_server_attesting
  local port; port=$(free_port)
  ( (sleep 3; echo "hello-from-server"; sleep 4) | OPENSSL_CONF=$T/server.cnf LD_PRELOAD=$SHIM \
      exec openssl s_server -accept "127.0.0.1:$port" -cert "$PKI/server.pem" \
      -key "$PKI/server.key" -naccept 1 ) >"$T/srv.out" 2>&1 </dev/null &
  PIDS+=($!)
  wait_for_accept "$T/srv.out" $!
  (echo "hello-from-client"; sleep 5) | OPENSSL_CONF=$T/client.cnf LD_PRELOAD=$SHIM timeout 20 \
      openssl s_client -connect "127.0.0.1:$port" -CAfile "$PKI/ca.pem" >"$T/cli.out" 2>&1 || true
  sleep 0.5
  expect_in "$T/cli.out" "hello-from-server"
  expect_in "$T/srv.out" "hello-from-client"
  expect_in "$T/client.jsonl" '"outcome":"accepted"'
  pass "application data flowed both ways after attestation"
}

case_reconnect() {
  setup_server_attesting
  local port; port=$(free_port)
  start_server srv "$T/server.cnf" "$port" -www
  run_client cli "$T/client.cnf" "$port" "$HTTP_GET" -reconnect -ign_eof
  [ "$RC_cli" = 0 ] || fail "s_client -reconnect exited $RC_cli"
  local n; n=$(grep -c '"outcome":"accepted"' "$T/client.jsonl" || true)
  [ "$n" = 6 ] || fail "expected 6 attested connections (1 + 5 reconnects), got $n"
  expect_not_in "$T/cli.out" "Reused, TLSv1.3"
  pass "every one of 6 s_client -reconnect connections attested; none resumed"
}

case_mutual() {
  start_swtpm srv
  start_swtpm cli
  make_pki
  make_policy "$T/policy-srv.json" "$TCTI_srv"
  make_policy "$T/policy-cli.json" "$TCTI_cli"
  write_cnf "$T/server.cnf" request=require attest=tpm2 "tcti=$TCTI_srv" "pcrs=$PCRS" \
    "policy=$T/policy-cli.json" "log=$T/server.jsonl"
  write_cnf "$T/client.cnf" request=require attest=tpm2 "tcti=$TCTI_cli" "pcrs=$PCRS" \
    "policy=$T/policy-srv.json" "log=$T/client.jsonl"
  local port; port=$(free_port)
  start_server srv "$T/server.cnf" "$port" -www -CAfile "$PKI/ca.pem"
  run_client cli "$T/client.cnf" "$port" "$HTTP_GET" -ign_eof -cert "$PKI/client.pem" \
    -key "$PKI/client.key"
  [ "$RC_cli" = 0 ] || fail "s_client exited $RC_cli"
  expect_in "$T/cli.out" "HTTP/1.0 200 ok"
  expect_in "$T/client.jsonl" '"outcome":"accepted"'
  expect_in "$T/server.jsonl" '"outcome":"accepted"'
  pass "mutual attestation: both requested, both attested"
}

# A rejected client: exit non-zero, no page, the reason text in its output.
expect_rejected() {  # expect_rejected TEXT
  [ "$RC_cli" != 0 ] || fail "s_client should have failed"
  expect_not_in "$T/cli.out" "HTTP/1.0 200 ok"
  expect_in "$T/cli.out" "exattest"
  expect_in "$T/cli.out" "$1"
}

case_pcr_mismatch() {
  setup_server_attesting
  "$SWTPM_SH" extend "$DIR_srv" 7 >/dev/null
  local port; port=$(free_port)
  start_server srv "$T/server.cnf" "$port" -www
  run_client cli "$T/client.cnf" "$port" "$HTTP_GET" -ign_eof
  expect_rejected "PCR values differ from the policy"
  expect_in "$T/client.jsonl" '"reason":"pcr_mismatch"'
  sleep 0.3
  expect_in "$T/server.jsonl" '"reason":"pcr_mismatch"'
  pass "PCR 7 extended after enrolment: rejected with pcr_mismatch on both sides"
}

case_untrusted_ak() {
  setup_server_attesting
  start_swtpm other
  make_policy "$T/policy.json" "$TCTI_other"   # the client trusts another TPM's AK
  local port; port=$(free_port)
  start_server srv "$T/server.cnf" "$port" -www
  run_client cli "$T/client.cnf" "$port" "$HTTP_GET" -ign_eof
  expect_rejected "attestation key not trusted by policy"
  pass "unenrolled AK rejected with untrusted_ak"
}

case_attest_none() {
  setup_server_attesting
  write_cnf "$T/server.cnf" request=off attest=none "log=$T/server.jsonl"
  local port; port=$(free_port)
  start_server srv "$T/server.cnf" "$port" -www
  run_client cli "$T/client.cnf" "$port" "$HTTP_GET" -ign_eof
  expect_rejected "peer sent no attestation evidence"
  # optional: the refusal is logged and the connection goes on.
  write_cnf "$T/client-opt.cnf" request=optional attest=none "policy=$T/policy.json" \
    "log=$T/client-opt.jsonl"
  run_client cli "$T/client-opt.cnf" "$port" "$HTTP_GET" -ign_eof
  [ "$RC_cli" = 0 ] || fail "optional client exited $RC_cli"
  expect_in "$T/cli.out" "HTTP/1.0 200 ok"
  expect_in "$T/client-opt.jsonl" '"reason":"no_evidence"'
  pass "attest = none: require fails with no_evidence, optional proceeds and logs it"
}

case_no_shim() {
  setup_server_attesting
  local port; port=$(free_port)
  # Provider on both sides, shim on neither: plain TLS, no hang.
  NO_SHIM=1 start_server srv "$T/server.cnf" "$port" -www
  NO_SHIM=1 run_client cli "$T/client.cnf" "$port" "$HTTP_GET" -ign_eof
  [ "$RC_cli" = 0 ] || fail "plain s_client exited $RC_cli"
  expect_in "$T/cli.out" "HTTP/1.0 200 ok"
  # Shim only on the client, provider on both: the server does not advertise -> the
  # requiring client fails with not_negotiated (never a silent plain connection).
  run_client cli2 "$T/client.cnf" "$port" "$HTTP_GET" -ign_eof
  RC_cli=$RC_cli2; cp "$T/cli2.out" "$T/cli.out"
  expect_rejected "peer did not negotiate attestation"
  # Shim only on the server: the client does not offer; plain TLS.
  local port2; port2=$(free_port)
  start_server srv2 "$T/server.cnf" "$port2" -www
  NO_SHIM=1 run_client cli3 "$T/client.cnf" "$port2" "$HTTP_GET" -ign_eof
  [ "$RC_cli3" = 0 ] || fail "client without shim against attesting server exited $RC_cli3"
  expect_in "$T/cli3.out" "HTTP/1.0 200 ok"
  pass "provider without shim is plain TLS; a requiring client fails with not_negotiated"
}

case_shim_without_provider() {
  make_pki
  local port; port=$(free_port)
  printf 'openssl_conf = openssl_init\n[openssl_init]\n' >"$T/empty.cnf"
  NO_SHIM=1 start_server srv "$T/empty.cnf" "$port" -www
  run_client cli "$T/empty.cnf" "$port" "$HTTP_GET" -ign_eof
  [ "$RC_cli" != 0 ] || fail "shim without provider must fail the handshake"
  expect_in "$T/cli.out" "OPENSSL_CONF"
  pass "shim preloaded without the provider fails with a message naming OPENSSL_CONF"
}

case_tls12() {
  setup_server_attesting
  local port; port=$(free_port)
  start_server srv "$T/server.cnf" "$port" -www -tls1_2
  run_client cli "$T/client.cnf" "$port" "$HTTP_GET" -ign_eof
  expect_rejected "peer did not negotiate attestation"
  # Issue #11 item 6: the error queue itself names the version (nginx 1.22 without
  # ssl_protocols TLSv1.3 otherwise shows only "peer did not negotiate attestation").
  expect_in "$T/cli.out" "the connection negotiated TLSv1.2; attestation needs TLS 1.3"
  pass "TLS 1.2 peer against request = require: not_negotiated"
}

case_tickets() {
  setup_server_attesting
  local port; port=$(free_port)
  start_server srv "$T/server.cnf" "$port" -www
  run_client cli "$T/client.cnf" "$port" "$HTTP_GET" -ign_eof -msg
  [ "$RC_cli" = 0 ] || fail "s_client exited $RC_cli"
  local n; n=$(grep -c "NewSessionTicket" "$T/cli.out" || true)
  [ "$n" = 0 ] || fail "attested connection carried $n NewSessionTicket messages"
  # Issue #11 item 1: a process that offers attestation sends no ticket on ANY connection,
  # not even to a client that does not opt in (its ticket would carry 0-RTT data past the
  # exchange): docs/protocol-notes.md "Tickets, resumption and early data".
  write_cnf "$T/client-off.cnf" request=off attest=none
  run_client plain "$T/client-off.cnf" "$port" "$HTTP_GET" -ign_eof -msg -sess_out "$T/s.pem"
  [ "$RC_plain" = 0 ] || fail "plain s_client exited $RC_plain"
  n=$(grep -c "NewSessionTicket" "$T/plain.out" || true)
  [ "$n" = 0 ] || fail "a plain connection to an attesting server carried $n tickets"
  [ ! -s "$T/s.pem" ] || fail "s_client -sess_out got a session to resume"
  # Contrast: a server whose configuration neither requests nor offers sends tickets.
  write_cnf "$T/server-off.cnf" request=off attest=none
  local port2; port2=$(free_port)
  start_server off "$T/server-off.cnf" "$port2" -www
  run_client plain2 "$T/client-off.cnf" "$port2" "$HTTP_GET" -ign_eof -msg
  n=$(grep -c "NewSessionTicket" "$T/plain2.out" || true)
  [ "$n" -gt 0 ] || fail "a server that does not attest should still send tickets"
  pass "0 NewSessionTicket from an attesting server, attested or plain ($n from one that is off)"
}

# ---- Issue #11 items 1 and 2: no 0-RTT in a process that attests -------------------------
# docs/protocol-notes.md "Tickets, resumption and early data". The early data is a line the
# server would print on its stdout.
EARLY_MARKER=EARLY-DATA-NEVER-SEEN

# A session that allows early data, made by a server and a client without exattest
# (s_server -early_data: max_early_data 16384), for -psk_session on either side: an external
# PSK that a plain peer accepts with its early data.
make_psk_session() {  # make_psk_session FILE
  printf 'openssl_conf = openssl_init\n[openssl_init]\n' >"$T/empty.cnf"
  local port; port=$(free_port)
  NO_SHIM=1 start_server psksrc "$T/empty.cnf" "$port" -early_data
  # stdin stays open a moment: the tickets come after the handshake.
  (sleep 1; echo x) | OPENSSL_CONF=$T/empty.cnf timeout 20 openssl s_client \
    -connect "127.0.0.1:$port" -servername localhost -CAfile "$PKI/ca.pem" -sess_out "$1" \
    >"$T/psksrc-cli.out" 2>&1 || true
  kill -- "-$PID_psksrc" 2>/dev/null || true
  openssl sess_id -in "$1" -noout -text 2>/dev/null | grep -q "Max Early Data: 16384" ||
    fail "could not make a session allowing early data"
  printf '%s\n' "$EARLY_MARKER" >"$T/early.txt"
}

dummy_policy() {  # a policy nobody meets: no client in these cases attests
  printf '{"version":1,"trusted_aks":["sha256:%s"],"pcrs":"any"}\n' \
    "$(printf '0%.0s' $(seq 64))" >"$1"
}

# Item 1: a server with request = require and s_server -early_data; plain clients (neither
# provider nor shim) try 0-RTT with a ticket from that server and with an external PSK the
# server application also configured (-psk_session).
case_early_data_server() {
  make_pki
  dummy_policy "$T/policy.json"
  make_psk_session "$T/psk.pem"
  write_cnf "$T/server.cnf" request=require attest=none "policy=$T/policy.json" \
    "log=$T/server.jsonl"
  local port; port=$(free_port)
  start_server srv "$T/server.cnf" "$port" -early_data -psk_session "$T/psk.pem"
  local conns=0
  # A ticket: none is issued, so there is no session to resume. (s_client's exit status says
  # nothing here: it exits 0 at the end of its stdin; the audit log has the verdict.)
  NO_SHIM=1 run_client plain "$T/empty.cnf" "$port" 'x\n' -sess_out "$T/s.pem"
  conns=$((conns + 1))
  if [ -s "$T/s.pem" ]; then
    # (The old code issued two tickets here; resume with them all the same.)
    NO_SHIM=1 run_client resumed "$T/empty.cnf" "$port" 'x\n' -sess_in "$T/s.pem" \
      -early_data "$T/early.txt"
    conns=$((conns + 1))
  fi
  # An external PSK the application configured: not used.
  NO_SHIM=1 run_client psk "$T/empty.cnf" "$port" 'x\n' -psk_session "$T/psk.pem" \
    -early_data "$T/early.txt"
  conns=$((conns + 1))
  sleep 0.5
  # s_server writes early data to its stdout unbuffered (its own notes are buffered and lost
  # when the handshake then fails).
  expect_not_in "$T/srv.out" "$EARLY_MARKER"
  local n
  n=$(grep -c '"reason":"not_negotiated"' "$T/server.jsonl" || true)
  [ "$n" = "$conns" ] || fail "expected $conns not_negotiated audit lines, got $n"
  [ ! -s "$T/s.pem" ] || fail "the requiring server gave a plain client a ticket"
  pass "request = require: no ticket, no PSK, no early data read from $conns plain clients"
}

# Item 2: a requiring client with an external PSK (s_client -psk_session -early_data)
# against a plain s_server -early_data that has the same PSK: it offers neither the PSK nor
# early data, and fails with not_negotiated having sent nothing.
case_early_data_client() {
  make_pki
  dummy_policy "$T/policy.json"
  make_psk_session "$T/psk.pem"
  write_cnf "$T/client.cnf" request=require attest=none "policy=$T/policy.json" \
    "log=$T/client.jsonl"
  local port; port=$(free_port)
  NO_SHIM=1 start_server srv "$T/empty.cnf" "$port" -early_data -psk_session "$T/psk.pem"
  run_client cli "$T/client.cnf" "$port" 'x\n' -psk_session "$T/psk.pem" \
    -early_data "$T/early.txt"
  [ "$RC_cli" != 0 ] || fail "s_client should have failed"
  expect_in "$T/cli.out" "peer did not negotiate attestation"
  expect_in "$T/client.jsonl" '"reason":"not_negotiated"'
  sleep 0.5
  expect_not_in "$T/srv.out" "$EARLY_MARKER"
  expect_not_in "$T/srv.out" "Early data received"
  expect_in "$T/srv.out" "No early data received"
  pass "request = require client: no PSK, no early data reached a plain server"
}

case_swtpm_down() {
  setup_server_attesting
  local port; port=$(free_port)
  start_server srv "$T/server.cnf" "$port" -www
  local tcti_port=${TCTI_srv##*port=}
  "$SWTPM_SH" stop "$DIR_srv" >/dev/null
  run_client cli "$T/client.cnf" "$port" "$HTTP_GET" -ign_eof
  expect_rejected "peer sent no attestation evidence"
  sleep 0.3
  expect_in "$T/server.jsonl" '"reason":"attester_unavailable"'
  # swtpm comes back on the same ports with the same state: the server recovers by itself.
  swtpm socket --tpm2 --server "type=tcp,bindaddr=127.0.0.1,port=$tcti_port" \
    --ctrl "type=tcp,bindaddr=127.0.0.1,port=$((tcti_port + 1))" \
    --tpmstate "dir=$DIR_srv/state" --flags not-need-init,startup-clear \
    --pid "file=$DIR_srv/swtpm.pid" --daemon
  sleep 0.3
  run_client cli2 "$T/client.cnf" "$port" "$HTTP_GET" -ign_eof
  [ "$RC_cli2" = 0 ] || fail "after swtpm came back the next connection should attest"
  expect_in "$T/cli2.out" "HTTP/1.0 200 ok"
  pass "swtpm down: no_evidence / attester_unavailable; recovered when it came back"
}

# ---- Every PROTOCOL.md §8 key takes effect -------------------------------------------

# Runs one client against the attesting server set up by setup_server_attesting, with
# extra client keys; leaves the result in RC_cli / cli.out.
client_with() {
  write_cnf "$T/client-k.cnf" request=require attest=none "policy=$T/policy.json" \
    "log=$T/client.jsonl" "$@"
  run_client cli "$T/client-k.cnf" "$PORT" "$HTTP_GET" -ign_eof
}

server_with() {
  write_cnf "$T/server.cnf" request=off attest=tpm2 "tcti=$TCTI_srv" "pcrs=$PCRS" \
    "log=$T/server.jsonl" "$@"
  [ -n "${PID_srv:-}" ] && kill -- "-$PID_srv" 2>/dev/null || true
  PORT=$(free_port)
  start_server srv "$T/server.cnf" "$PORT" -www
}

case_key_tcti() {
  setup_server_attesting
  # A tcti with nothing behind it: the server refuses, the client sees no_evidence.
  server_with "tcti=swtpm:host=127.0.0.1,port=$(free_port)"
  client_with
  expect_rejected "peer sent no attestation evidence"
  sleep 0.3
  expect_in "$T/server.jsonl" '"reason":"attester_unavailable"'
  # EXATTEST_TCTI overrides the file for one process.
  kill -- "-$PID_srv" 2>/dev/null || true
  PORT=$(free_port)
  EXATTEST_TCTI=$TCTI_srv start_server srv "$T/server.cnf" "$PORT" -www
  client_with
  [ "$RC_cli" = 0 ] || fail "with EXATTEST_TCTI the server should attest (rc $RC_cli)"
  pass "tcti selects the TPM; EXATTEST_TCTI overrides it"
}

case_key_pcrs() {
  setup_server_attesting
  server_with "pcrs=sha256:0"
  client_with
  expect_rejected "PCR values differ from the policy"
  expect_in "$T/client.jsonl" '"reason":"pcr_mismatch"'
  pass "pcrs: a quote over PCR 0 only fails a policy that lists 0-7"
}

case_key_policy() {
  setup_server_attesting
  server_with
  rm -f "$T/policy.json"
  client_with
  expect_rejected "attestation policy unreadable or invalid"
  expect_in "$T/cli.out" "policy.json"
  echo '{"version": 2}' >"$T/policy.json"
  client_with
  expect_rejected "attestation policy unreadable or invalid"
  expect_in "$T/cli.out" "version"
  pass "policy: a missing or invalid file fails with policy_error naming it"
}

case_key_log() {
  setup_server_attesting
  server_with
  client_with log=stderr
  [ "$RC_cli" = 0 ] || fail "s_client exited $RC_cli"
  expect_in "$T/cli.out" '"outcome":"accepted"'
  [ ! -s "$T/client.jsonl" ] || fail "log=stderr must not write the file"
  client_with
  expect_in "$T/client.jsonl" '"outcome":"accepted"'
  expect_in "$T/client.jsonl" '"ak":"sha256:'
  pass "log: stderr or a file, one JSON line per outcome"
}

case_key_request() {
  setup_server_attesting
  server_with
  client_with request=off
  [ "$RC_cli" = 0 ] || fail "request=off client exited $RC_cli"
  expect_in "$T/cli.out" "HTTP/1.0 200 ok"
  [ ! -s "$T/client.jsonl" ] || fail "request=off must not attest"
  pass "request = off: plain HTTPS, nothing attested"
}

case_key_codepoints() {
  setup_server_attesting
  server_with
  client_with tls_flags_ext=63
  expect_rejected "peer did not negotiate attestation"
  client_with flag_cmw=66 flag_inband=67
  expect_rejected "peer did not negotiate attestation"
  client_with binder_label=Other
  expect_rejected "evidence is not bound to this connection"
  client_with binder_length=48
  expect_rejected "evidence is not bound to this connection"
  client_with media_type=application/vnd.other+cbor
  expect_rejected "malformed attestation message"
  client_with cmw_ext=0xff02
  expect_rejected "peer sent no attestation evidence"
  # The same non-default code points on both sides interoperate.
  server_with tls_flags_ext=63 flag_cmw=66 flag_inband=67 cmw_ext=0xff02 \
    binder_label=Other binder_length=48
  client_with tls_flags_ext=63 flag_cmw=66 flag_inband=67 cmw_ext=0xff02 \
    binder_label=Other binder_length=48
  [ "$RC_cli" = 0 ] || fail "matching code points should attest (rc $RC_cli)"
  expect_in "$T/cli.out" "HTTP/1.0 200 ok"
  pass "code points: each mismatch fails with its reason; matching ones interoperate"
}

c=${1:?usage: cases.sh CASE}
"case_$c"
