#!/usr/bin/env bash
# Soak: N attested connections (default 10,000) through Debian's nginx (2 workers, tickets
# off) from concurrent curl clients that require attestation, with the server's TPM on swtpm.
# Reports failed connections, nginx worker RSS and open descriptors after the first 10 % and
# at the end, and swtpm's transient objects (which must stay at 0 between quotes).
#   scripts/soak.sh [CONNECTIONS] [PARALLEL]      (defaults 10000, 16)
# Needs a build (scripts/build.sh). Everything runs on free loopback ports and is stopped.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export EXATTEST_SOURCE_DIR=$root
export EXATTEST_BINARY_DIR=${EXATTEST_BUILD_DIR:-$root/build}
TOTAL=${1:-10000}
PAR=${2:-16}
BATCH=$((TOTAL / 10))
[ "$BATCH" -ge 1 ] || { echo "soak: need at least 10 connections" >&2; exit 2; }

. "$root/tests/integration/nginx/lib.sh"
PCRS=sha256:0,1,2,3,4,5,6,7

start_swtpm srv
make_pki
make_policy "$T/policy.json" "$TCTI_srv"
write_cnf "$T/server.cnf" request=off attest=tpm2 "tcti=$TCTI_srv" "pcrs=$PCRS" \
  "log=$T/server.jsonl"
write_cnf "$T/client.cnf" request=require attest=none "policy=$T/policy.json" \
  "log=$T/client.jsonl"
mkdir -p "$T/www"
printf 'soak\n' >"$T/www/index.html"
PORT=$(free_port)
start_nginx soak "$T/server.cnf" "$(ssl_server "$PORT" "ssl_session_tickets off")"

# One curl process per batch: PAR transfers at a time, each on a new connection.
: >"$T/urls.cfg"
for _ in $(seq 1 "$BATCH"); do
  printf 'url = "https://127.0.0.1:%s/index.html"\noutput = "/dev/null"\n' "$PORT" >>"$T/urls.cfg"
done

workers() { worker_pids "$NGXPID_soak"; }
measure() {  # measure LABEL
  local pid rss fds
  for pid in $(workers); do
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
    fds=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 | wc -l)
    printf '  %-10s worker %-7s RSS %6s KiB  fds %4s\n' "$1" "$pid" "$rss" "$fds"
  done
  local transient
  transient=$(tpm2_getcap -T "$TCTI_srv" handles-transient 2>/dev/null | grep -c 0x || true)
  printf '  %-10s swtpm transient objects: %s\n' "$1" "$transient"
}

fails=0
start=$(date +%s.%N)
for b in $(seq 1 10); do
  rc=0
  OPENSSL_CONF=$T/client.cnf LD_PRELOAD=$SHIM "$CURL" -sS --cacert "$PKI/ca.pem" --http1.1 \
    -H 'Connection: close' -Z --parallel-max "$PAR" -K "$T/urls.cfg" \
    -w '%{http_code}\n' >"$T/codes.$b" 2>"$T/curl.$b.err" </dev/null || rc=$?
  ok=$(grep -c '^200$' "$T/codes.$b" || true)
  fails=$((fails + BATCH - ok))
  [ "$b" = 1 ] && measure "$((BATCH))"
done
end=$(date +%s.%N)
measure "$TOTAL"
wait_count "$T/server.jsonl" '"outcome":"accepted"' "$TOTAL"
srv=$(count "$T/server.jsonl" '"outcome":"accepted"')
cli=$(count "$T/client.jsonl" '"outcome":"accepted"')
conns=$(awk '{print $3 "-" $1}' "$NGX_soak/access.log" | sort -u | wc -l)
printf 'soak: %s transfers, %s failed; %s connections in nginx access log; %s server and %s client attestations accepted; %.1f s (%.0f connections/s)\n' \
  "$TOTAL" "$fails" "$conns" "$srv" "$cli" "$(awk "BEGIN {print $end - $start}")" \
  "$(awk "BEGIN {print $TOTAL / ($end - $start)}")"
[ "$fails" = 0 ] && [ "$srv" = "$TOTAL" ] && [ "$cli" = "$TOTAL" ] || exit 1
