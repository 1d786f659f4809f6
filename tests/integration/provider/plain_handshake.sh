#!/bin/bash
# openssl s_server and s_client, both with the provider configured to attest but without the
# shim, complete a plain TLS 1.3 handshake: no tls_flags extension on the wire, no hang.
# usage: plain_handshake.sh MODULE TMPDIR
. "$(dirname "$0")/lib.sh"
module=$1
scratch "$2"
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

write_conf "$WORK/attest.cnf" "$module" "request = require" "attest = tpm2" \
  "policy = $WORK/absent-policy.json"
export OPENSSL_CONF=$WORK/attest.cnf
openssl list -providers > "$WORK/list" 2>&1
[ -n "$(exattest_block "$WORK/list")" ] || fail "provider not loaded: $(cat "$WORK/list")"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
  -days 1 -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2> "$WORK/req.err" \
  || fail "cannot make a certificate: $(cat "$WORK/req.err")"

# s_server stops serving when its stdin ends: give it a FIFO this script holds open.
mkfifo "$WORK/stdin"
exec 3<> "$WORK/stdin"
# Port 0: the kernel picks a free loopback port; s_server prints it.
LD_PRELOAD=$ASAN_PRE timeout 30 openssl s_server -accept 127.0.0.1:0 -cert "$WORK/cert.pem" -key "$WORK/key.pem" \
  -tlsextdebug -naccept 1 <&3 > "$WORK/server.out" 2>&1 &
server_pid=$!
port=
for _ in $(seq 1 100); do
  port=$(sed -n 's/^ACCEPT 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$WORK/server.out")
  [ -n "$port" ] && break
  kill -0 "$server_pid" 2>/dev/null || fail "s_server exited: $(cat "$WORK/server.out")"
  sleep 0.1
done
[ -n "$port" ] || fail "s_server did not report its port: $(cat "$WORK/server.out")"

LD_PRELOAD=$ASAN_PRE timeout 15 openssl s_client -connect "127.0.0.1:$port" -tlsextdebug -CAfile "$WORK/cert.pem" \
  < /dev/null > "$WORK/client.out" 2>&1 || fail "s_client failed: $(cat "$WORK/client.out")"
wait "$server_pid" || true
server_pid=

grep -q 'New, TLSv1.3, Cipher is ' "$WORK/client.out" \
  || fail "no TLS 1.3 handshake: $(cat "$WORK/client.out")"
grep -q 'Verify return code: 0 (ok)' "$WORK/client.out" \
  || fail "verification failed: $(cat "$WORK/client.out")"
# -tlsextdebug prints every extension received: the server saw the client's list.
grep -q 'TLS client extension "supported versions" (id=43)' "$WORK/server.out" \
  || fail "server printed no client extensions: $(cat "$WORK/server.out")"
# PROTOCOL.md §2 / ARCHITECTURE.md: without the shim the provider does not advertise.
if grep -q '(id=62)' "$WORK/server.out" "$WORK/client.out"; then
  fail "tls_flags (62) sent although no shim is loaded"
fi
echo "PASS: plain TLS 1.3 handshake with the provider and no shim"
