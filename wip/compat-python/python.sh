#!/usr/bin/env bash
# Python 3 (/usr/bin/python3, whose ssl module links the system libssl), unmodified, with the
# provider and the shim: an asyncio server (SSLObject over MemoryBIO) that attests and
# requires its clients' attestation, the asyncio client, and urllib against an attesting
# openssl s_server -WWW. The programs are in py_peer.py.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

PY=${EXATTEST_PYTHON:-/usr/bin/python3}
PEER=$here/py_peer.py
[ -x "$PY" ] || fail "$PY not found; run scripts/install-deps.sh"

# py NAME CNF ARGS...: py_peer.py with the provider and the shim (CNF = "": neither), bounded
# to 60 s; stderr in $T/NAME.err.log, exit status in RC_NAME.
py() {
  local name=$1 cnf=$2 rc=0
  shift 2
  if [ -n "$cnf" ]; then
    OPENSSL_CONF=$cnf LD_PRELOAD=$SHIM timeout 60 "$PY" "$PEER" "$@" \
      >"$T/$name.stdout.log" 2>"$T/$name.err.log" </dev/null || rc=$?
  else
    timeout 60 "$PY" "$PEER" "$@" >"$T/$name.stdout.log" 2>"$T/$name.err.log" </dev/null || rc=$?
  fi
  printf -v "RC_$name" '%s' "$rc"
  [ "$rc" != 124 ] || fail "python $name hung (killed after 60 s)"
}

compat_setup
cert=("$PKI/client.pem" "$PKI/client.key")

# --- asyncio server: attests, requires the client's attestation (mutual), echoes 1 MiB.
PS=$(free_port)
(OPENSSL_CONF=$T/srv-require.cnf LD_PRELOAD=$SHIM exec "$PY" "$PEER" aserver "$PS" \
  "$PKI/ca.pem" "$PKI/server.pem" "$PKI/server.key" $MIB "$T/run/aserver.log") \
  >"$T/aserver.stdout.log" 2>"$T/aserver.err.log" </dev/null &
PIDS+=($!)
wait_port "$PS" "python asyncio server" $!
conns() { count "$T/run/aserver.log" "conn received"; }

py ok "$T/cli-mutual.cnf" aclient "$PS" "$PKI/ca.pem" "${cert[@]}" "$T/up.bin" "$T/ok.got"
[ "$RC_ok" = 0 ] || fail "asyncio client: exited $RC_ok ($(cat "$T/ok.err.log"))"
same "$T/ok.got" "$T/up.bin" "asyncio client -> asyncio server -> back"
expect_line "$T/run/aserver.log" "conn received $MIB" 1 "the server received 1 MiB"
expect_line "$T/run/srv.jsonl" '"event":"appraisal","outcome":"accepted"' 1 "server appraised client"
expect_line "$T/run/cli.jsonl" '"event":"appraisal","outcome":"accepted"' 1 "client appraised server"
pass "python asyncio client and server: mutual attestation, 1 MiB up and back byte-exact"

# The server's PCR 0 differs from the client's policy: the client refuses it. asyncio closes
# the transport as soon as do_handshake() raises, before the client's RESULT(rejected) has
# left its MemoryBIO, so the attesting server sees the connection end mid-exchange
# (protocol_error) instead of the client's pcr_mismatch.
py stale "$T/cli-stale.cnf" aclient "$PS" "$PKI/ca.pem" "${cert[@]}" "$T/up.bin" "$T/stale.got"
[ "$RC_stale" = 1 ] || fail "stale policy: asyncio client should exit 1, got $RC_stale"
expect_in "$T/stale.err.log" "PCR values differ from the policy"
empty_or_missing "$T/stale.got" "stale policy"
expect_line "$T/run/cli-stale.jsonl" '"event":"appraisal","outcome":"rejected","reason":"pcr_mismatch"' 1 \
  "the client's verdict"
expect_line "$T/run/srv.jsonl" '"reason":"protocol_error"' 1 \
  "the attesting server sees the asyncio client's close, not its RESULT"
expect_count "$T/run/srv.jsonl" '"reason":"pcr_mismatch"' 0 "the server never hears the reason"
[ "$(conns)" = 1 ] || fail "stale policy: the server application saw a connection"
pass "python asyncio client refuses a server with a changed PCR (the server logs protocol_error)"

# A plain client (no shim, no provider) with a valid certificate: the server refuses it and
# its application never sees the connection.
py plain "" aclient "$PS" "$PKI/ca.pem" "${cert[@]}" "$T/up.bin" "$T/plain.got"
empty_or_missing "$T/plain.got" "plain client"
expect_line "$T/run/srv.jsonl" '"reason":"not_negotiated"' 1 "the server refused the plain client"
[ "$(conns)" = 1 ] || fail "plain client: the server application saw a connection"
pass "python asyncio server refuses a plain client under request = require (exit $RC_plain)"

# The client's PCR 0 changes after the server enrolled it: the server refuses it.
extend_client_pcr
py badcli "$T/cli-mutual.cnf" aclient "$PS" "$PKI/ca.pem" "${cert[@]}" "$T/up.bin" "$T/badcli.got"
[ "$RC_badcli" = 1 ] || fail "changed client PCR: asyncio client should exit 1, got $RC_badcli"
empty_or_missing "$T/badcli.got" "changed client PCR"
expect_line "$T/run/srv.jsonl" '"event":"appraisal","outcome":"rejected","reason":"pcr_mismatch"' 1 \
  "the server's verdict"
[ "$(conns)" = 1 ] || fail "changed client PCR: the server application saw a connection"
pass "python asyncio server refuses a client with a changed PCR (pcr_mismatch, no byte)"

# --- urllib and the asyncio client against openssl s_server (attesting / plain).
SP=$(free_port)
PP=$(free_port)
cd "$T/www"  # s_server -WWW serves the files of its working directory
start_server www "$T/srv-attest.cnf" "$SP" -WWW
NO_SHIM=1 start_server plainwww "$T/srv-attest.cnf" "$PP" -WWW

py uok "$T/cli-require.cnf" urllib "https://localhost:$SP/down.bin" "$PKI/ca.pem" "$T/uok.got"
[ "$RC_uok" = 0 ] || fail "urllib: exited $RC_uok ($(cat "$T/uok.err.log"))"
same "$T/uok.got" "$T/www/down.bin" "urllib GET"
pass "python urllib: attested s_server, 1 MiB byte-exact"

py ustale "$T/cli-stale.cnf" urllib "https://localhost:$SP/down.bin" "$PKI/ca.pem" "$T/ustale.got"
[ "$RC_ustale" = 1 ] || fail "urllib stale policy: should exit 1, got $RC_ustale"
expect_in "$T/ustale.err.log" "PCR values differ from the policy"
empty_or_missing "$T/ustale.got" "urllib stale policy"
pass "python urllib refuses a server with a changed PCR"

py uplain "$T/cli-require.cnf" urllib "https://localhost:$PP/down.bin" "$PKI/ca.pem" "$T/uplain.got"
[ "$RC_uplain" = 1 ] || fail "urllib plain server: should exit 1, got $RC_uplain"
expect_in "$T/uplain.err.log" "peer did not negotiate attestation"
empty_or_missing "$T/uplain.got" "urllib plain server"
pass "python urllib refuses a plain server under request = require"

py aplain "$T/cli-require.cnf" aclient "$PP" "$PKI/ca.pem" "${cert[@]}" "$T/up.bin" "$T/aplain.got"
[ "$RC_aplain" = 1 ] || fail "asyncio client, plain server: should exit 1, got $RC_aplain"
expect_in "$T/aplain.err.log" "peer did not negotiate attestation"
empty_or_missing "$T/aplain.got" "asyncio client, plain server"
pass "python asyncio client refuses a plain server under request = require"
compat_done python
