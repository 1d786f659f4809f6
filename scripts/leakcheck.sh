#!/usr/bin/env bash
# Leak check: openssl s_server -www attesting (provider + shim, swtpm) runs under valgrind
# while curl, requiring attestation, makes N connections (default 200); then the server
# exits and valgrind's leak summary is printed with the records that mention exattest code.
#   scripts/leakcheck.sh [CONNECTIONS]
# Exit status 1 when valgrind attributes a definite or indirect leak to exattest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export EXATTEST_SOURCE_DIR=$root
export EXATTEST_BINARY_DIR=${EXATTEST_BUILD_DIR:-$root/build}
N=${1:-200}
command -v valgrind >/dev/null || { echo "leakcheck: valgrind not installed" >&2; exit 2; }
. "$root/tests/integration/nginx/lib.sh"

start_swtpm srv
make_pki
make_policy "$T/policy.json" "$TCTI_srv"
write_cnf "$T/server.cnf" request=off attest=tpm2 "tcti=$TCTI_srv" \
  "pcrs=sha256:0,1,2,3,4,5,6,7" "log=$T/server.jsonl"
write_cnf "$T/client.cnf" request=require attest=none "policy=$T/policy.json"
PORT=$(free_port)
(sleep 600 | OPENSSL_CONF=$T/server.cnf LD_PRELOAD="$SHIM" exec valgrind --leak-check=full \
   --show-leak-kinds=definite,indirect --num-callers=30 --log-file="$T/valgrind.log" \
   openssl s_server -accept "127.0.0.1:$PORT" -cert "$PKI/server.pem" \
   -key "$PKI/server.key" -www -naccept "$N") >"$T/srv.out" 2>&1 </dev/null &
srv=$!
PIDS+=("$srv")
wait_for_accept "$T/srv.out" "$srv"
: >"$T/urls.cfg"
for _ in $(seq 1 "$N"); do
  printf 'url = "https://127.0.0.1:%s/"\noutput = "/dev/null"\n' "$PORT" >>"$T/urls.cfg"
done
OPENSSL_CONF=$T/client.cnf LD_PRELOAD=$SHIM "$CURL" -sS --cacert "$PKI/ca.pem" --http1.1 \
  -H 'Connection: close' -K "$T/urls.cfg" -w '%{http_code}\n' >"$T/codes" 2>"$T/curl.err" || true
ok=$(grep -c '^200$' "$T/codes" || true)
# s_server exits after N connections; valgrind then writes its summary.
for _ in $(seq 1 600); do kill -0 "$srv" 2>/dev/null || break; sleep 0.1; done
echo "leakcheck: $ok of $N attested connections answered 200"
sed -n '/LEAK SUMMARY/,/suppressed/p' "$T/valgrind.log"
# Loss records (definite/indirect) whose stack names exattest's sources or objects.
ours=$(awk '/lost in loss record/ {rec=1} rec && /(provider|attesters|shim|tools)\/[a-z_]+\/?[a-z_]*\.(cc|h)|exattest\.so|libexattest-shim/ {n++; rec=0} /^==[0-9]+== $/ {rec=0} END {print n+0}' "$T/valgrind.log")
echo "leakcheck: definite/indirect loss records in exattest code: $ours"
[ "$ok" = "$N" ] && [ "$ours" = 0 ] || { grep -B2 -A30 "definitely lost in\|indirectly lost in" "$T/valgrind.log" | head -80; exit 1; }
