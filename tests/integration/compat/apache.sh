#!/usr/bin/env bash
# Apache httpd 2.4 (mpm_event, mod_ssl), unmodified, with the provider and the shim.
#   apache.sh server  Apache serves HTTPS and requires the client's attestation (mutual):
#                     curl as the client.
#   apache.sh proxy   Apache's mod_proxy (SSLProxyEngine) is the client of an attesting
#                     openssl s_server -WWW and requires its attestation.
# One Apache instance per mode, as nobody (Apache refuses to serve as root), its own config,
# pid file and logs in the test directory, on a free loopback port. `Timeout 10`: without the
# shim's flush of the write BIO after each exchange frame, mod_ssl's frames wait in Apache's
# output filters and every attested connection stalls until that timeout, then fails.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

APACHE=${EXATTEST_APACHE:-/usr/sbin/apache2}
MODS=/usr/lib/apache2/modules
[ -x "$APACHE" ] || fail "$APACHE not found; run scripts/install-deps.sh"

# start_apache NAME CNF BODY: Apache in the foreground (a background job, so cleanup stops
# its process group) with the modules it needs and BODY appended to its config.
start_apache() {
  local name=$1 cnf=$2 body=$3 a=$T/run/apache-$1
  mkdir -p "$a"
  chown nobody:nogroup "$a"
  cat >"$a/httpd.conf" <<EOF
ServerRoot "$a"
ServerName localhost
PidFile $a/httpd.pid
DefaultRuntimeDir $a
ErrorLog $a/error.log
LogLevel info
Timeout 10
LoadModule mpm_event_module $MODS/mod_mpm_event.so
LoadModule authz_core_module $MODS/mod_authz_core.so
LoadModule reflector_module $MODS/mod_reflector.so
LoadModule proxy_module $MODS/mod_proxy.so
LoadModule proxy_http_module $MODS/mod_proxy_http.so
LoadModule ssl_module $MODS/mod_ssl.so
StartServers 1
ServerLimit 1
ThreadsPerChild 8
MaxRequestWorkers 8
MinSpareThreads 1
MaxSpareThreads 8
LogFormat "%h \"%r\" %>s %I %O" compat
CustomLog $a/access.log compat
<Directory />
  Require all granted
</Directory>
$body
EOF
  chmod 644 "$a/httpd.conf"
  (OPENSSL_CONF=$cnf LD_PRELOAD=$SHIM exec setpriv --reuid=nobody --regid=nogroup \
    --clear-groups -- "$APACHE" -f "$a/httpd.conf" -DFOREGROUND) >"$T/$name.apache.out" 2>&1 \
    </dev/null &
  local pid=$!
  PIDS+=("$pid")
  printf -v "APACHE_$name" '%s' "$a"
  wait_port "$4" "apache $name" "$pid"
}

# The access log's request lines ("GET /x HTTP/1.1"): what reached HTTP processing.
requests() { count "$1/access.log" "\"$2 "; }

mode_server() {
  compat_setup
  local port; port=$(free_port)
  start_apache srv "$T/srv-require.cnf" "Listen 127.0.0.1:$port
<VirtualHost 127.0.0.1:$port>
  DocumentRoot $T/www
  SSLEngine on
  SSLProtocol TLSv1.3
  SSLCertificateFile $PKI/server.pem
  SSLCertificateKeyFile $PKI/server.key
  SSLCACertificateFile $PKI/ca.pem
  SSLVerifyClient require
  <Location /echo>
    SetHandler reflector
  </Location>
</VirtualHost>" "$port"
  local A=$APACHE_srv url=https://127.0.0.1:$port
  local cert=(--cert "$PKI/client.pem" --key "$PKI/client.key")

  # Attested both ways: 1 MiB down (a file), 1 MiB up and back (mod_reflector echoes it).
  local t0=$SECONDS
  run_curl down "$T/cli-mutual.cnf" "${cert[@]}" -o "$T/down.got" "$url/down.bin"
  [ "$RC_down" = 0 ] || fail "attested GET: curl exited $RC_down ($(cat "$T/down.err.log"))"
  same "$T/down.got" "$T/www/down.bin" "attested GET"
  run_curl up "$T/cli-mutual.cnf" "${cert[@]}" -o "$T/up.got" --data-binary "@$T/up.bin" \
    -H 'Content-Type: application/octet-stream' "$url/echo"
  [ "$RC_up" = 0 ] || fail "attested POST: curl exited $RC_up ($(cat "$T/up.err.log"))"
  same "$T/up.got" "$T/up.bin" "attested POST echoed"
  expect_line "$T/run/srv.jsonl" '"event":"appraisal","outcome":"accepted"' 2 "Apache appraised curl"
  expect_line "$T/run/cli.jsonl" '"event":"appraisal","outcome":"accepted"' 2 "curl appraised Apache"
  expect_count "$A/access.log" '"POST /echo HTTP/1.1" 200' 1 "the echo request"
  [ $((SECONDS - t0)) -lt 10 ] || echo "note: two attested requests took $((SECONDS - t0)) s"
  pass "Apache server: attested both ways, 1 MiB down and 1 MiB up byte-exact"

  # Apache's PCR 0 differs from what the client enrolled: curl refuses, no byte of the page.
  run_curl stale "$T/cli-stale.cnf" "${cert[@]}" -o "$T/stale.got" "$url/down.bin"
  [ "$RC_stale" = 35 ] || fail "stale policy: curl should exit 35, got $RC_stale"
  expect_in "$T/stale.err.log" "exattest::PCR values differ from the policy"
  empty_or_missing "$T/stale.got" "stale policy"
  expect_line "$T/run/cli-stale.jsonl" '"reason":"pcr_mismatch"' 1 "curl's verdict"
  pass "Apache server with a changed PCR: curl rejects it with pcr_mismatch, no byte"

  # A plain client (no shim, no provider) with a valid certificate: refused under require,
  # before any request reaches Apache's handlers.
  local before; before=$(requests "$A" GET)
  run_curl plain "" "${cert[@]}" -o "$T/plain.got" "$url/down.bin"
  [ "$RC_plain" != 0 ] || fail "plain client: curl should fail"
  empty_or_missing "$T/plain.got" "plain client"
  expect_line "$T/run/srv.jsonl" '"reason":"not_negotiated"' 1 "Apache refused the plain client"
  [ "$(requests "$A" GET)" = "$before" ] || fail "plain client: a request reached Apache"
  pass "plain client refused by Apache under request = require (not_negotiated, no request)"

  # The client's PCR 0 changes after Apache enrolled it: Apache refuses, the echo handler
  # never sees the body.
  extend_client_pcr
  before=$(requests "$A" POST)
  run_curl badcli "$T/cli-mutual.cnf" "${cert[@]}" -o "$T/badcli.got" \
    --data-binary "@$T/up.bin" "$url/echo"
  [ "$RC_badcli" != 0 ] || fail "client with a changed PCR: curl should fail"
  empty_or_missing "$T/badcli.got" "client with a changed PCR"
  expect_line "$T/run/srv.jsonl" '"event":"appraisal","outcome":"rejected","reason":"pcr_mismatch"' 1 "Apache's verdict"
  [ "$(requests "$A" POST)" = "$before" ] || fail "changed PCR: the POST reached Apache"
  pass "client with a changed PCR refused by Apache with pcr_mismatch, no request"
  compat_done "apache (server)"
}

mode_proxy() {
  compat_setup
  local sport pport plainport; sport=$(free_port); pport=$(free_port); plainport=$(free_port)
  cd "$T/www"  # s_server -WWW serves the files of its working directory
  start_server backend "$T/srv-attest.cnf" "$sport" -WWW
  NO_SHIM=1 start_server plainbackend "$T/srv-attest.cnf" "$plainport" -WWW
  local body="  SSLProxyEngine on
  SSLProxyProtocol TLSv1.3
  SSLProxyVerify require
  SSLProxyCACertificateFile $PKI/ca.pem
  SSLProxyCheckPeerName on
  ProxyPass /b/ https://localhost:$sport/"
  start_apache good "$T/cli-require.cnf" "Listen 127.0.0.1:$pport
<VirtualHost 127.0.0.1:$pport>
$body
  ProxyPass /p/ https://localhost:$plainport/
</VirtualHost>" "$pport"
  local t0=$SECONDS
  run_curl down "" -o "$T/down.got" "http://127.0.0.1:$pport/b/down.bin"
  [ "$RC_down" = 0 ] || fail "proxied GET: curl exited $RC_down"
  same "$T/down.got" "$T/www/down.bin" "proxied GET through an attested backend connection"
  expect_line "$T/run/cli.jsonl" '"event":"appraisal","outcome":"accepted"' 1 "Apache appraised s_server"
  expect_count "$APACHE_good/access.log" '"GET /b/down.bin HTTP/1.1" 200' 1 "the proxied GET"
  [ $((SECONDS - t0)) -lt 10 ] || echo "note: the proxied request took $((SECONDS - t0)) s"
  pass "Apache mod_proxy: attested backend connection, 1 MiB byte-exact"

  # The backend's PCR 0 differs from the policy (a second Apache with the old policy).
  local p2; p2=$(free_port)
  start_apache stale "$T/cli-stale.cnf" "Listen 127.0.0.1:$p2
<VirtualHost 127.0.0.1:$p2>
$body
</VirtualHost>" "$p2"
  run_curl stale "" -o "$T/stale.got" -w '%{http_code}' "http://127.0.0.1:$p2/b/down.bin"
  [ "$(tail -c 3 "$T/stale.body")" = 500 ] || fail "stale policy: expected 500, got $(cat "$T/stale.body")"
  expect_in "$T/stale.got" "Error during SSL Handshake with remote server"
  ! cmp -s "$T/stale.got" "$T/www/down.bin" || fail "stale policy: the backend's file arrived"
  expect_line "$T/run/cli-stale.jsonl" '"reason":"pcr_mismatch"' 1 "Apache's verdict on s_server"
  expect_in "$APACHE_stale/error.log" "PCR values differ from the policy"
  pass "Apache mod_proxy: backend with a changed PCR refused (500, pcr_mismatch)"

  # A plain backend (no exattest), behind the first Apache: refused under require.
  run_curl plain "" -o "$T/plain.got" -w '%{http_code}' "http://127.0.0.1:$pport/p/down.bin"
  [ "$(tail -c 3 "$T/plain.body")" = 500 ] || fail "plain backend: expected 500, got $(cat "$T/plain.body")"
  expect_in "$T/plain.got" "Error during SSL Handshake with remote server"
  ! cmp -s "$T/plain.got" "$T/www/down.bin" || fail "plain backend: the file arrived"
  expect_in "$APACHE_good/error.log" "peer did not negotiate attestation"
  pass "Apache mod_proxy: plain backend refused under request = require (500, not_negotiated)"
  compat_done "apache (mod_proxy client)"
}

case "${1:-}" in
  server) mode_server ;;
  proxy) mode_proxy ;;
  *) fail "usage: apache.sh server|proxy" ;;
esac
