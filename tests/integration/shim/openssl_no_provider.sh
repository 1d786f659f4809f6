#!/bin/bash
# The shim preloaded WITHOUT the provider (ARCHITECTURE.md "Why two loadable pieces"): the real
# openssl s_server and s_client both fail the handshake with the error that names
# OPENSSL_CONF, and neither hangs.
#
# usage: openssl_no_provider.sh <LD_PRELOAD value> <accept|www> <scratch parent dir>
#   accept: s_server drives the handshake with SSL_accept
#   www:    s_server -www reads through a BIO_f_ssl BIO
set -u
preload=$1
mode=$2
mkdir -p "$3"
dir=$(mktemp -d "$3/shim_openssl.XXXXXX")
server_pid=""
cleanup() {
  exec 3>&- 2>/dev/null
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill "$server_pid"; fi
  rm -rf "$dir"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for f in srv.out srv.err cli.out cli.err; do
    [ -f "$dir/$f" ] && { echo "--- $f"; cat "$dir/$f"; }
  done
  exit 1
}

# A config that loads no exattest provider (an empty file is a valid openssl.cnf).
: > "$dir/empty.cnf"
export OPENSSL_CONF=$dir/empty.cnf
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
  -days 1 -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null || fail "openssl req"

extra=()
[ "$mode" = www ] && extra=(-www)
# s_server quits on EOF of its stdin: give it a FIFO that this script holds open.
mkfifo "$dir/stdin"
exec 3<>"$dir/stdin"
LD_PRELOAD=$preload timeout 30 openssl s_server -accept 127.0.0.1:0 -naccept 1 \
  -cert "$dir/cert.pem" -key "$dir/key.pem" "${extra[@]}" \
  <"$dir/stdin" >"$dir/srv.out" 2>"$dir/srv.err" &
server_pid=$!

port=""
for _ in $(seq 1 100); do
  port=$(sed -n 's/^ACCEPT .*:\([0-9][0-9]*\)$/\1/p' "$dir/srv.out")
  [ -n "$port" ] && break
  kill -0 "$server_pid" 2>/dev/null || fail "s_server exited before listening"
  sleep 0.1
done
[ -n "$port" ] || fail "s_server did not print its port"

LD_PRELOAD=$preload timeout 20 openssl s_client -connect "127.0.0.1:$port" \
  </dev/null >"$dir/cli.out" 2>"$dir/cli.err"
client_rc=$?
[ "$client_rc" -ne 124 ] || fail "s_client hung"
[ "$client_rc" -ne 0 ] || fail "s_client succeeded without a provider"
grep -q "exattest provider not loaded" "$dir/cli.err" || fail "s_client: no shim error"
grep -q "set OPENSSL_CONF to a config that loads exattest.so" "$dir/cli.err" ||
  fail "s_client: the error does not name OPENSSL_CONF"
grep -q "Cipher is (NONE)" "$dir/cli.out" || fail "s_client: a handshake completed"

# The server logs its failure for the one connection, then exits (-naccept 1).
for _ in $(seq 1 100); do
  grep -q "set OPENSSL_CONF" "$dir/srv.err" && break
  sleep 0.1
done
grep -q "exattest provider not loaded" "$dir/srv.err" || fail "s_server: no shim error"
grep -q "set OPENSSL_CONF to a config that loads exattest.so" "$dir/srv.err" ||
  fail "s_server: the error does not name OPENSSL_CONF"
echo "PASS ($mode): both sides failed with the OPENSSL_CONF message"
