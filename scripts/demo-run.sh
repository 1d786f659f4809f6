#!/usr/bin/env bash
# The demo itself (scripts/demo.sh runs it after installing and building): a throw-away
# swtpm, enrolment, a throw-away CA, Debian's nginx attesting with the TPM, and Debian's curl
# requiring that attestation; then the same with openssl s_server/s_client; then PCR 7 is
# extended and the same curl is refused with the reason. Everything it starts runs on free
# loopback ports and is stopped on exit. Needs no stdin; works from any directory.
#   EXATTEST_BUILD_DIR  build tree to use (default: build, relative to the checkout)
set -euo pipefail
set -m  # every background job its own process group: stopped with kill -- -PGID

root=$(cd "$(dirname "$0")/.." && pwd)
build=${EXATTEST_BUILD_DIR:-build}
case "$build" in /*) ;; *) build=$root/$build ;; esac
MODULE=$build/lib/ossl-modules/exattest.so
SHIM=$build/lib/libexattest-shim.so
EXATTEST=$build/bin/exattest
NGINX=/usr/sbin/nginx
export TSS2_LOG=${TSS2_LOG:-all+NONE}
unset OPENSSL_CONF LD_PRELOAD

say() { printf '%s\n' "$*"; }
step() { printf '\n== %s\n' "$*"; }
die() { printf 'demo: FAILED: %s\n' "$*" >&2; exit 1; }

for f in "$MODULE" "$SHIM" "$EXATTEST"; do
  [ -e "$f" ] || die "$f is missing; run scripts/build.sh first"
done
for c in "$NGINX" curl openssl swtpm python3; do
  command -v "$c" >/dev/null || die "$c not found; run scripts/install-deps.sh"
done

D=$(mktemp -d "${TMPDIR:-/tmp}/exattest-demo.XXXXXX")
JOBS=()
finish() {
  local rc=$?
  set +e
  disown -a 2>/dev/null  # no "Terminated" job reports; the groups are still killed below
  for p in "${JOBS[@]:-}"; do [ -n "$p" ] && kill -- "-$p" 2>/dev/null; done
  "$root/scripts/swtpm.sh" stop "$D/tpm" >/dev/null 2>&1
  if [ $rc -ne 0 ]; then
    say "demo: logs kept in $D (nginx/error.log, *.jsonl, *.err)" >&2
  else
    rm -rf "$D"
  fi
  exit $rc
}
trap finish EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# One provider section; the rest of the file is the usual openssl.cnf boilerplate.
write_cnf() {  # write_cnf FILE key=value...
  local f=$1 kv
  shift
  printf '%s\n' "openssl_conf = openssl_init" "[openssl_init]" "providers = provider_sect" \
    "[provider_sect]" "default = default_sect" "exattest = exattest_sect" "[default_sect]" \
    "activate = 1" "[exattest_sect]" "module = $MODULE" "activate = 1" >"$f"
  for kv in "$@"; do printf '%s = %s\n' "${kv%%=*}" "${kv#*=}" >>"$f"; done
}

# Shows the last line of a JSON-lines audit log, pretty-printed.
show_verdict() {
  tail -n 1 "$1" | python3 -c 'import json, sys; print(json.dumps(json.loads(sys.stdin.read()), indent=2))'
}

step "1. A TPM: swtpm, fresh state"
TCTI=$("$root/scripts/swtpm.sh" start "$D/tpm")
say "swtpm listening: $TCTI"

step "2. Enrolment: the relying party records the TPM's AK and its PCR values"
"$EXATTEST" policy create --tcti "$TCTI" --pcrs sha256:0,1,2,3,4,5,6,7 -o "$D/policy.json" \
  </dev/null 2>&1 | sed 's/^/  /'

step "3. A throw-away CA and a server certificate for 127.0.0.1"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
  -subj "/CN=exattest demo CA" -keyout "$D/ca.key" -out "$D/ca.pem" </dev/null 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
  -keyout "$D/server.key" -out "$D/server.csr" </dev/null 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$D/server.ext"
openssl x509 -req -in "$D/server.csr" -CA "$D/ca.pem" -CAkey "$D/ca.key" -CAcreateserial \
  -days 1 -extfile "$D/server.ext" -out "$D/server.pem" </dev/null 2>/dev/null
say "  $D/ca.pem, $D/server.pem"

write_cnf "$D/server.cnf" request=off attest=tpm2 "tcti=$TCTI" pcrs=sha256:0,1,2,3,4,5,6,7 \
  "log=$D/server.jsonl"
write_cnf "$D/client.cnf" request=require attest=none "policy=$D/policy.json" \
  "log=$D/client.jsonl"

step "4. nginx (2 workers) attesting with the TPM"
port=$(free_port)
mkdir -p "$D/nginx" "$D/www"
printf 'Hello from nginx. You only see this because its TPM quote passed your policy.\n' \
  >"$D/www/index.html"
# Running as root, nginx's workers would become `nobody` and could not read the 0700 temp
# directory; a demo on loopback simply keeps them root.
user_line=""
[ "$(id -u)" = 0 ] && user_line="user root;"
cat >"$D/nginx/nginx.conf" <<EOF
$user_line
worker_processes 2;
daemon off;
pid $D/nginx/nginx.pid;
error_log $D/nginx/error.log info;
env OPENSSL_CONF;
env LD_PRELOAD;
events { worker_connections 64; }
http {
  access_log $D/nginx/access.log;
  client_body_temp_path $D/nginx/body; proxy_temp_path $D/nginx/proxy;
  fastcgi_temp_path $D/nginx/fastcgi; uwsgi_temp_path $D/nginx/uwsgi;
  scgi_temp_path $D/nginx/scgi;
  server {
    listen 127.0.0.1:$port ssl http2;
    ssl_certificate $D/server.pem;
    ssl_certificate_key $D/server.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    root $D/www;
  }
}
EOF
(OPENSSL_CONF=$D/server.cnf LD_PRELOAD=$SHIM exec "$NGINX" -p "$D/nginx" -e "$D/nginx/error.log" \
  -c "$D/nginx/nginx.conf") >"$D/nginx.err" 2>&1 </dev/null &
ngx=$!
JOBS+=("$ngx")
for _ in $(seq 1 100); do
  [ "$(cat "$D/nginx/nginx.pid" 2>/dev/null)" = "$ngx" ] &&
    [ "$(grep -c 'start worker process [0-9]' "$D/nginx/error.log" 2>/dev/null)" -ge 2 ] && break
  kill -0 "$ngx" 2>/dev/null || { cat "$D/nginx.err" >&2; die "nginx did not start"; }
  sleep 0.1
done
say "  OPENSSL_CONF=server.cnf LD_PRELOAD=libexattest-shim.so nginx  -> https://127.0.0.1:$port/"

step "5. curl, requiring the server's attestation"
say "  \$ OPENSSL_CONF=client.cnf LD_PRELOAD=libexattest-shim.so curl --cacert ca.pem https://127.0.0.1:$port/"
rc=0
OPENSSL_CONF=$D/client.cnf LD_PRELOAD=$SHIM timeout 30 curl -sS --cacert "$D/ca.pem" \
  "https://127.0.0.1:$port/" >"$D/page.out" 2>"$D/curl1.err" </dev/null || rc=$?
[ $rc = 0 ] || { cat "$D/curl1.err" >&2; die "curl exited $rc on the attested request"; }
say "  page:"
sed 's/^/    /' "$D/page.out"
say "  curl's verdict (its audit log line):"
show_verdict "$D/client.jsonl" | sed 's/^/    /'

step "6. The same with openssl s_server -www and s_client"
sport=$(free_port)
(sleep 30 | OPENSSL_CONF=$D/server.cnf LD_PRELOAD=$SHIM exec openssl s_server \
  -accept "127.0.0.1:$sport" -cert "$D/server.pem" -key "$D/server.key" -www) \
  >"$D/s_server.err" 2>&1 </dev/null &
JOBS+=("$!")
for _ in $(seq 1 100); do grep -q ACCEPT "$D/s_server.err" 2>/dev/null && break; sleep 0.1; done
grep -q ACCEPT "$D/s_server.err" || die "s_server did not start"
write_cnf "$D/s_client.cnf" request=require attest=none "policy=$D/policy.json" \
  "log=$D/s_client.jsonl"
rc=0
printf 'GET / HTTP/1.0\r\n\r\n' | OPENSSL_CONF=$D/s_client.cnf LD_PRELOAD=$SHIM timeout 30 \
  openssl s_client -connect "127.0.0.1:$sport" -CAfile "$D/ca.pem" -ign_eof -quiet \
  >"$D/s_client.out" 2>"$D/s_client.err" || rc=$?
[ $rc = 0 ] && grep -q 'HTTP/1.0 200 ok' "$D/s_client.out" ||
  { cat "$D/s_client.err" >&2; die "s_client exited $rc"; }
say "  s_client received: $(head -n 1 "$D/s_client.out" | tr -d '\r')"
say "  s_client's verdict, as its audit log has it (one JSON line):"
tail -n 1 "$D/s_client.jsonl" | sed 's/^/    /'

step "7. The machine changes: PCR 7 is extended after enrolment (tpm2_pcrextend)"
"$root/scripts/swtpm.sh" extend "$D/tpm" 7 >/dev/null
say "  PCR 7 no longer matches the policy. The same curl again:"
rc=0
OPENSSL_CONF=$D/client.cnf LD_PRELOAD=$SHIM timeout 30 curl -sS --cacert "$D/ca.pem" \
  "https://127.0.0.1:$port/" >"$D/page2.out" 2>"$D/curl2.err" </dev/null || rc=$?
[ $rc != 0 ] || die "curl succeeded although PCR 7 changed"
[ ! -s "$D/page2.out" ] || die "curl printed a page although attestation failed"
grep -q 'PCR values differ from the policy' "$D/curl2.err" ||
  { cat "$D/curl2.err" >&2; die "curl failed without the expected reason"; }
say "  curl exit status $rc; its stderr:"
sed 's/^/    /' "$D/curl2.err"
say "  curl's verdict: $(tail -n 1 "$D/client.jsonl" | python3 -c \
  'import json,sys; v=json.loads(sys.stdin.read()); print(v["outcome"], v["reason"], "-", v["detail"])')"
sleep 0.3
say "  nginx's error log:"
grep -o 'SSL_do_handshake() failed.*exattest::[^:)]*' "$D/nginx/error.log" | tail -n 1 | sed 's/^/    /'

printf '\ndemo: shown: nginx and openssl s_server attesting with a TPM, curl and s_client accepting their Evidence, and the same curl refused with pcr_mismatch once PCR 7 changed; everything started was stopped.\n'
