# shellcheck shell=bash
# Helpers for the curl/nginx integration tests: unmodified /usr/sbin/nginx and curl with the
# provider (OPENSSL_CONF) and the shim (LD_PRELOAD), a per-test swtpm, free loopback ports.
# Builds on ../e2e/lib.sh (test dir $T, free_port, make_pki, make_policy, write_cnf,
# start_swtpm, start_server, cleanup of every background job by process group).
# Sourced by cases.sh; expects EXATTEST_SOURCE_DIR and EXATTEST_BINARY_DIR.

# Nothing inherited from the caller may change what a test means.
unset OPENSSL_CONF LD_PRELOAD OPENSSL_MODULES
while IFS='=' read -r name _; do
  case "$name" in EXATTEST_SOURCE_DIR | EXATTEST_BINARY_DIR | EXATTEST_ASAN_PRELOAD | \
    EXATTEST_CURL_BUILD_DIR) ;;
    EXATTEST_*) unset "$name" ;; esac
done < <(env)

. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../e2e/lib.sh"

# Sanitizer build: Debian's curl deadlocks at start-up under any ASan runtime, so curl (only
# curl) runs with the uninstrumented provider and shim of EXATTEST_CURL_BUILD_DIR
# (tests/CMakeLists.txt); nginx and openssl run the instrumented ones after the ASan runtime.
CURL_BUILD=${EXATTEST_CURL_BUILD_DIR:-}
CURL_SHIM=$SHIM_SO
if [ -n "$CURL_BUILD" ]; then
  CURL_SHIM=$CURL_BUILD/lib/libexattest-shim.so
  [ -f "$CURL_SHIM" ] && [ -f "$CURL_BUILD/lib/ossl-modules/exattest.so" ] ||
    fail "sanitizer build: curl needs the uninstrumented build in $CURL_BUILD; run scripts/build.sh"
fi
NGINX=${EXATTEST_NGINX:-/usr/sbin/nginx}
CURL=${EXATTEST_CURL:-curl}
command -v "$NGINX" >/dev/null || fail "$NGINX not found; run scripts/install-deps.sh"
command -v "$CURL" >/dev/null || fail "curl not found; run scripts/install-deps.sh"
[ -f "$MODULE" ] || fail "no provider module at $MODULE; build first"
[ -f "$SHIM_SO" ] || fail "no shim at $SHIM_SO; build first"

# On failure, show the nginx logs too (e2e's cleanup only shows $T/*.out|log|jsonl).
NGINX_PREFIXES=()
nginx_cleanup() {
  local rc=$?
  set +e
  if [ $rc -ne 0 ]; then
    for p in "${NGINX_PREFIXES[@]:-}"; do
      for f in "$p"/error.log "$p"/access.log; do
        [ -n "$p" ] && [ -f "$f" ] || continue
        echo "---- $f" >&2
        tail -n 30 "$f" >&2
      done
    done
  fi
  (exit $rc)
  cleanup
}
trap nginx_cleanup EXIT

# The access log says, per request, which connection and worker served it, how TLS went
# and whether the session was resumed ("r") or not (".").
NGINX_LOG_FORMAT='$connection $connection_requests $pid $ssl_protocol $ssl_session_reused $server_protocol $status $request_uri'

# ssl_server PORT [directive...]: one `server` block on 127.0.0.1:PORT with the test PKI and
# $T/www as root. Each extra argument is one directive, without its ';'.
ssl_server() {
  local port=$1
  shift
  echo "  server {"
  echo "    listen 127.0.0.1:$port ssl http2;"
  echo "    ssl_certificate $PKI/server.pem;"
  echo "    ssl_certificate_key $PKI/server.key;"
  echo "    ssl_protocols TLSv1.2 TLSv1.3;"
  echo "    root $T/www;"
  local d
  for d in "$@"; do echo "    $d;"; done
  echo "  }"
}

# start_nginx NAME CNF SERVER_BLOCKS: nginx (2 workers, daemon off, as a background job so
# its master and workers are one process group that cleanup stops) with prefix
# $T/nginx-NAME, its own config, pid file, error and access logs. CNF = "" for no
# OPENSSL_CONF (plain nginx). Sets NGX_<NAME> to the prefix and NGXPID_<NAME> to the master.
#
# `user root;`: tests run as root in CI, and nginx's workers would otherwise run as nobody,
# unable to enter the 0700 mktemp directory that holds certificates, the policy and the
# audit log. (As non-root, nginx ignores the directive with a warning.)
start_nginx() {
  local name=$1 cnf=$2 servers=$3 p=$T/nginx-$1
  mkdir -p "$p"
  NGINX_PREFIXES+=("$p")
  cat >"$p/nginx.conf" <<EOF
user root;
worker_processes 2;
daemon off;
pid $p/nginx.pid;
error_log $p/error.log info;
# nginx clears its workers' environment: keep what the provider and the shim need.
env OPENSSL_CONF;
env LD_PRELOAD;
events { worker_connections 256; }
http {
  default_type application/octet-stream;
  log_format exattest '$NGINX_LOG_FORMAT';
  access_log $p/access.log exattest;
  client_body_temp_path $p/body;
  proxy_temp_path $p/proxy;
  fastcgi_temp_path $p/fastcgi;
  uwsgi_temp_path $p/uwsgi;
  scgi_temp_path $p/scgi;
  keepalive_timeout 30s;
$servers
}
EOF
  if [ -n "$cnf" ]; then
    (OPENSSL_CONF=$cnf LD_PRELOAD=$SHIM exec "$NGINX" -p "$p" -e "$p/error.log" \
      -c "$p/nginx.conf") >"$T/$name.nginx.out" 2>&1 </dev/null &
  else
    ("$NGINX" -p "$p" -e "$p/error.log" -c "$p/nginx.conf") \
      >"$T/$name.nginx.out" 2>&1 </dev/null &
  fi
  local pid=$!
  PIDS+=("$pid")
  # The master binds its sockets before it writes the pid file; then wait for both workers.
  for _ in $(seq 1 100); do
    if [ "$(cat "$p/nginx.pid" 2>/dev/null)" = "$pid" ] &&
        [ "$(grep -c 'start worker process [0-9]' "$p/error.log" 2>/dev/null)" -ge 2 ]; then
      printf -v "NGX_$name" '%s' "$p"
      printf -v "NGXPID_$name" '%s' "$pid"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { cat "$T/$name.nginx.out" "$p/error.log" >&2; fail "nginx $name exited"; }
    sleep 0.1
  done
  fail "nginx $name did not start within 10 s"
}

# worker_pids MASTER: the pids of the master's current children, one per line.
worker_pids() {
  ps -o pid= --ppid "$1" | tr -d ' '
}

# run_curl NAME CNF [curl args...]: curl bounded to 60 s; stderr in $T/NAME.err.log, exit
# status in RC_NAME. CNF = "" runs it with no OPENSSL_CONF and no shim (a plain client).
# Output goes where the caller's -o options say (default: $T/NAME.body).
run_curl() {
  local name=$1 cnf=$2 rc=0
  shift 2
  if [ -n "$cnf" ]; then
    if [ -n "$CURL_BUILD" ]; then  # the same configuration, uninstrumented module
      sed "s|^module = $MODULE\$|module = $CURL_BUILD/lib/ossl-modules/exattest.so|" "$cnf" \
        >"$cnf.curl"
      cnf=$cnf.curl
    fi
    OPENSSL_CONF=$cnf LD_PRELOAD=$CURL_SHIM timeout 60 "$CURL" -sS --cacert "$PKI/ca.pem" "$@" \
      >"$T/$name.body" 2>"$T/$name.err.log" </dev/null || rc=$?
  else
    timeout 60 "$CURL" -sS --cacert "$PKI/ca.pem" "$@" \
      >"$T/$name.body" 2>"$T/$name.err.log" </dev/null || rc=$?
  fi
  printf -v "RC_$name" '%s' "$rc"
  [ "$rc" != 124 ] || fail "curl $name hung (killed after 60 s)"
}

# count FILE PATTERN: lines of FILE containing PATTERN (0 when FILE does not exist).
count() {
  [ -f "$1" ] || { echo 0; return; }
  grep -cF -- "$2" "$1" || true
}

# wait_count FILE PATTERN N: until FILE has N lines with PATTERN (bounded: 10 s); a server
# writes its audit line after the client may already have exited.
wait_count() {
  for _ in $(seq 1 100); do
    [ "$(count "$1" "$2")" -ge "$3" ] && return 0
    sleep 0.1
  done
  return 0
}

expect_count() {  # expect_count FILE PATTERN N WHAT
  local n
  n=$(count "$1" "$2")
  [ "$n" = "$3" ] || fail "$4: expected $3 lines with '$2' in $(basename "$1"), got $n"
}
