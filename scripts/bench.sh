#!/usr/bin/env bash
# Builds exattest (Release) and runs every benchmark of docs/performance.md: EA CPU, connection
# setup (in-process pair and curl -> nginx), nginx throughput, process start-up, TPM quote and
# verify latency (direct and behind a 50 ms-per-command proxy). Prints one table, writes a JSON
# file and prints its path as the LAST line.
#
#   scripts/bench.sh [--quick]
#
# --quick: fewer repetitions (finishes in well under 5 minutes on a built tree). Everything
# runs on loopback with a throw-away swtpm and nginx instances on free ports, all stopped at
# exit. Environment: EXATTEST_BENCH_BUILD_DIR (default build-bench), EXATTEST_BENCH_OUT (the
# JSON file; default <build dir>/bench-results/bench-<time>.json).
set -euo pipefail
set -m  # each background job its own process group: cleanup stops exactly what we started

cd "$(dirname "$0")/.."
SRC=$(pwd)
QUICK=0
case "${1:-}" in
  --quick) QUICK=1 ;;
  "") ;;
  *) sed -n '2,13p' "$0" >&2; exit 2 ;;
esac
START=$(date +%s)

if [ "$QUICK" = 1 ]; then
  EA_REPS=5 EA_ITERS=40
  TPM_QUOTES=100 TPM_VERIFIES=100 HW_QUOTES=5
  CONN_ROUNDS=4 CONN_N=50 HW_CONN_N=5
  CURL_RUNS=100 START_RUNS=200
  LOAD_REPS=2 LOAD_SECS=5 HW_LOAD_SECS=4
else
  EA_REPS=9 EA_ITERS=200
  TPM_QUOTES=500 TPM_VERIFIES=200 HW_QUOTES=20
  CONN_ROUNDS=5 CONN_N=100 HW_CONN_N=20
  CURL_RUNS=300 START_RUNS=1000
  LOAD_REPS=3 LOAD_SECS=10 HW_LOAD_SECS=10
fi
CONCURRENCY=8
HW_DELAY_MS=50

log() { echo "bench: $*" >&2; }
die() { echo "bench: FAILED: $*" >&2; exit 1; }

# ---- build (Release; -O2 as Debian builds its packages) -------------------------------------
BUILD=${EXATTEST_BENCH_BUILD_DIR:-build-bench}
log "building ($BUILD, Release)"
mkdir -p "$BUILD"
if ! { cmake -S . -B "$BUILD" -DEXATTEST_WERROR=ON -DCMAKE_BUILD_TYPE=Release \
         "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -DNDEBUG" "-DCMAKE_C_FLAGS_RELEASE=-O2 -DNDEBUG" &&
       cmake --build "$BUILD" -j"$(nproc)" --target exattest_provider exattest-shim exattest \
         exattest_bench; } >"$BUILD/bench-build.log" 2>&1; then
  tail -n 30 "$BUILD/bench-build.log" >&2
  die "build failed; see $BUILD/bench-build.log"
fi
BUILD=$(cd "$BUILD" && pwd)
B=$BUILD/bench
MODULE=$BUILD/lib/ossl-modules/exattest.so
SHIM=$BUILD/lib/libexattest-shim.so
EXATTEST=$BUILD/bin/exattest
for f in "$MODULE" "$SHIM" "$EXATTEST" "$B/ea_cpu_bench"; do [ -e "$f" ] || die "missing $f"; done

# Nothing of the caller's exattest setup leaks into the baselines.
unset LD_PRELOAD OPENSSL_CONF
for v in $(compgen -e); do case $v in EXATTEST_*) unset "$v" ;; esac; done
export TSS2_LOG=all+NONE

W=$(mktemp -d "${TMPDIR:-/tmp}/exattest-bench.XXXXXX")
PIDS=()
cleanup() {
  local rc=$?
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -TERM -- "-$p" 2>/dev/null || true; done
  [ -f "$W/tpm/swtpm.pid" ] && "$SRC/scripts/swtpm.sh" stop "$W/tpm" >/dev/null 2>&1 || true
  if [ $rc -ne 0 ]; then
    log "work directory kept: $W"
    for f in "$W"/*.err "$W"/nginx-*/error.log; do
      [ -s "$f" ] && { echo "---- $f" >&2; tail -n 20 "$f" >&2; }
    done
  else
    rm -rf "$W"
  fi
  exit $rc
}
trap cleanup EXIT

# ---- fixtures: swtpm, PKI, policy, configurations -------------------------------------------
log "starting swtpm"
TCTI=$("$SRC/scripts/swtpm.sh" start "$W/tpm")
"$EXATTEST" policy create --tcti "$TCTI" --pcrs sha256:0,1,2,3,4,5,6,7 -o "$W/policy.json" \
  >/dev/null 2>"$W/policy.err" || die "exattest policy create"

PKI=$W/pki
mkdir -p "$PKI"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=exattest bench CA" -keyout "$PKI/ca.key" -out "$PKI/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
  -keyout "$PKI/server.key" -out "$PKI/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >"$PKI/server.ext"
openssl x509 -req -in "$PKI/server.csr" -CA "$PKI/ca.pem" -CAkey "$PKI/ca.key" \
  -CAcreateserial -days 2 -extfile "$PKI/server.ext" -out "$PKI/server.pem" 2>/dev/null

# write_cnf FILE key=value...: PROTOCOL.md §8 layout, default + exattest providers.
write_cnf() {
  local f=$1
  shift
  {
    printf 'openssl_conf = openssl_init\n[openssl_init]\nproviders = provider_sect\n'
    printf '[provider_sect]\ndefault = default_sect\nexattest = exattest_sect\n'
    printf '[default_sect]\nactivate = 1\n[exattest_sect]\nmodule = %s\nactivate = 1\n' "$MODULE"
    for kv in "$@"; do printf '%s = %s\n' "${kv%%=*}" "${kv#*=}"; done
  } >"$f"
}
write_cnf "$W/server.cnf" request=off attest=tpm2 "tcti=$TCTI" pcrs=sha256:0,1,2,3,4,5,6,7
write_cnf "$W/client.cnf" request=require attest=none "policy=$W/policy.json"

# The "hardware TPM" stand-in: every TPM command 50 ms, one at a time.
python3 "$SRC/tests/bench/tpm_delay_proxy.py" "${TCTI##*port=}" "$HW_DELAY_MS" "$W/hw.tcti" \
  2>"$W/proxy.err" &
PIDS+=($!)
for _ in $(seq 1 50); do [ -s "$W/hw.tcti" ] && break; sleep 0.1; done
[ -s "$W/hw.tcti" ] || die "the TPM delay proxy did not start"
HW_TCTI=$(cat "$W/hw.tcti")
write_cnf "$W/server-hw.cnf" request=off attest=tpm2 "tcti=$HW_TCTI" pcrs=sha256:0,1,2,3,4,5,6,7

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# curl_cmd PORT: the curl command line (no exattest settings of its own).
curl_cmd() {
  echo curl -sS --fail -o /dev/null --tlsv1.3 --cacert "$PKI/ca.pem" \
    --resolve "localhost:$1:127.0.0.1" "https://localhost:$1/"
}

# start_nginx NAME PORT [VAR=value...]: 2 workers, no tickets, no session cache, a fixed
# 200 response; VAR=value are set for the master (LD_PRELOAD, OPENSSL_CONF).
start_nginx() {
  local name=$1 port=$2 d=$W/nginx-$1
  shift 2
  mkdir -p "$d/tmp"
  cat >"$d/nginx.conf" <<EOF
worker_processes 2;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $d/tmp/body;
  proxy_temp_path $d/tmp/proxy;
  fastcgi_temp_path $d/tmp/fastcgi;
  uwsgi_temp_path $d/tmp/uwsgi;
  scgi_temp_path $d/tmp/scgi;
  server {
    listen 127.0.0.1:$port ssl;
    ssl_certificate $PKI/server.pem;
    ssl_certificate_key $PKI/server.key;
    ssl_protocols TLSv1.3;
    ssl_session_tickets off;
    ssl_session_cache off;
    keepalive_timeout 0;
    location / { return 200 "ok\n"; }
  }
}
EOF
  env "$@" nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log" </dev/null >"$d/out" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 100); do
    # shellcheck disable=SC2046
    $(curl_cmd "$port") 2>/dev/null && return 0
    sleep 0.1
  done
  die "nginx $name did not answer on port $port"
}

# ---- 1. EA CPU ---------------------------------------------------------------------------------
log "1/5 EA CPU vs handshake CPU (reps $EA_REPS x $EA_ITERS)"
"$B/ea_cpu_bench" --tcti "$TCTI" --reps "$EA_REPS" --iters "$EA_ITERS" >"$W/ea.json" 2>"$W/ea.err" ||
  die "ea_cpu_bench"

# ---- 5. TPM latency (early: the TPM is otherwise idle) ----------------------------------------
log "5/5 TPM quote/verify latency (direct: $TPM_QUOTES quotes; ${HW_DELAY_MS} ms/command: $HW_QUOTES)"
"$B/tpm_bench" --tcti "$TCTI" --quotes "$TPM_QUOTES" --verifies "$TPM_VERIFIES" --label swtpm \
  >"$W/tpm.json" 2>"$W/tpm.err" || die "tpm_bench"
"$B/tpm_bench" --tcti "$HW_TCTI" --quotes "$HW_QUOTES" --verifies 0 --label hw50 \
  >"$W/tpm_hw.json" 2>"$W/tpm_hw.err" || die "tpm_bench (delayed)"

# ---- 2a. in-process pair: plain and attested rounds, interleaved ------------------------------
log "2/5 connection setup, in-process pair ($CONN_ROUNDS rounds x $CONN_N each)"
CONN_ARGS=(--cert "$PKI/server.pem" --key "$PKI/server.key" --cafile "$PKI/ca.pem" --n "$CONN_N")
for r in $(seq 1 "$CONN_ROUNDS"); do
  "$B/conn_bench" "${CONN_ARGS[@]}" --label plain >"$W/conn_plain_$r.json" 2>"$W/conn.err" ||
    die "conn_bench plain"
  LD_PRELOAD=$SHIM "$B/conn_bench" "${CONN_ARGS[@]}" --label attested \
    --server-conf "$W/server.cnf" --client-conf "$W/client.cnf" \
    >"$W/conn_att_$r.json" 2>"$W/conn.err" || die "conn_bench attested"
done
LD_PRELOAD=$SHIM "$B/conn_bench" --cert "$PKI/server.pem" --key "$PKI/server.key" \
  --cafile "$PKI/ca.pem" --n "$HW_CONN_N" --warmup 1 --label attested_hw50 \
  --server-conf "$W/server-hw.cnf" --client-conf "$W/client.cnf" \
  >"$W/conn_hw.json" 2>"$W/conn.err" || die "conn_bench attested (delayed TPM)"

# ---- 2b/3. nginx: plain, attested, attested behind the delayed TPM ----------------------------
log "2/5 curl -> nginx ($CURL_RUNS runs each)"
P_PLAIN=$(free_port)
start_nginx plain "$P_PLAIN"
P_ATT=$(free_port)
start_nginx attested "$P_ATT" "LD_PRELOAD=$SHIM" "OPENSSL_CONF=$W/server.cnf"
P_HW=$(free_port)
start_nginx hw50 "$P_HW" "LD_PRELOAD=$SHIM" "OPENSSL_CONF=$W/server-hw.cnf"
# Each attested curl must really be attested: a run without the server's Evidence fails
# (request = require), so spawn_timer aborts instead of timing a plain connection.
# shellcheck disable=SC2046
"$B/spawn_timer" --runs "$CURL_RUNS" --blocks 5 -- $(curl_cmd "$P_PLAIN") ::: \
  "LD_PRELOAD=$SHIM" "OPENSSL_CONF=$W/client.cnf" $(curl_cmd "$P_ATT") \
  >"$W/curl.json" 2>"$W/curl.err" || die "curl timing"

log "3/5 throughput: $CONCURRENCY concurrent new connections, ${LOAD_SECS}s x $LOAD_REPS each"
for r in $(seq 1 "$LOAD_REPS"); do
  "$B/load_client" --port "$P_PLAIN" --cafile "$PKI/ca.pem" --concurrency "$CONCURRENCY" \
    --seconds "$LOAD_SECS" --label plain >"$W/load_plain_$r.json" 2>"$W/load.err" ||
    die "load plain: $(cat "$W/load_plain_$r.json")"
  LD_PRELOAD=$SHIM OPENSSL_CONF=$W/client.cnf "$B/load_client" --port "$P_ATT" \
    --cafile "$PKI/ca.pem" --concurrency "$CONCURRENCY" --seconds "$LOAD_SECS" \
    --label attested >"$W/load_att_$r.json" 2>"$W/load.err" ||
    die "load attested: $(cat "$W/load_att_$r.json")"
done
LD_PRELOAD=$SHIM OPENSSL_CONF=$W/client.cnf "$B/load_client" --port "$P_HW" \
  --cafile "$PKI/ca.pem" --concurrency "$CONCURRENCY" --seconds "$HW_LOAD_SECS" \
  --label attested_hw50 >"$W/load_hw.json" 2>"$W/load.err" ||
  die "load attested (delayed TPM): $(cat "$W/load_hw.json")"

# ---- 4. process start-up ----------------------------------------------------------------------
log "4/5 process start-up ($START_RUNS runs each)"
"$B/spawn_timer" --runs "$START_RUNS" --blocks 5 -- "$B/startup_probe" ::: \
  "LD_PRELOAD=$SHIM" "OPENSSL_CONF=$W/client.cnf" "$B/startup_probe" \
  >"$W/startup.json" 2>"$W/startup.err" || die "start-up timing"

# ---- summary ----------------------------------------------------------------------------------
OUT=${EXATTEST_BENCH_OUT:-$BUILD/bench-results/bench-$(date +%Y%m%d-%H%M%S).json}
mkdir -p "$(dirname "$OUT")"
ELAPSED=$(( $(date +%s) - START ))
python3 - "$W" "$OUT" "$QUICK" "$ELAPSED" "$CONN_ROUNDS" "$LOAD_REPS" "$HW_DELAY_MS" <<'PY'
import json, os, platform, statistics, sys, time

w, out, quick, elapsed = sys.argv[1], sys.argv[2], sys.argv[3] == "1", int(sys.argv[4])
rounds, load_reps, hw_delay = int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7])
def load(name):
    with open(os.path.join(w, name)) as f:
        return json.load(f)
def mmm(xs):
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs)}

ea = load("ea.json")
default = next(c for c in ea["configs"]
               if c["leaf"] == "P-256" and c["suite"] == "TLS_AES_256_GCM_SHA384")
conn_plain = [load(f"conn_plain_{r}.json") for r in range(1, rounds + 1)]
conn_att = [load(f"conn_att_{r}.json") for r in range(1, rounds + 1)]
conn_ratio = [a["setup_ms"]["median"] / p["setup_ms"]["median"] for p, a in zip(conn_plain, conn_att)]
conn_diff = [a["setup_ms"]["median"] - p["setup_ms"]["median"] for p, a in zip(conn_plain, conn_att)]
all_plain = [x for c in conn_plain for x in c["samples_ms"]]
all_att = [x for c in conn_att for x in c["samples_ms"]]
conn_hw = load("conn_hw.json")
curl = load("curl.json")
load_plain = [load(f"load_plain_{r}.json") for r in range(1, load_reps + 1)]
load_att = [load(f"load_att_{r}.json") for r in range(1, load_reps + 1)]
load_hw = load("load_hw.json")
load_ratio = [a["rps"] / p["rps"] for p, a in zip(load_plain, load_att)]
startup = load("startup.json")
tpm, tpm_hw = load("tpm.json"), load("tpm_hw.json")

res = {
    "ea_cpu_ratio": {k: default["ratio"][k] for k in ("median", "min", "max")},
    "ea_exchange_cpu_ratio": {k: default["exchange_ratio"][k] for k in ("median", "min", "max")},
    "curl_time_ratio": {k: curl["block_ratio"][k] for k in ("median", "min", "max")},
    "nginx_throughput_ratio": mmm(load_ratio),
    "startup_ratio": {k: startup["block_ratio"][k] for k in ("median", "min", "max")},
    "conn_setup_ratio": mmm(conn_ratio),
    "conn_setup_extra_ms": mmm(conn_diff),
    "startup_extra_ms": {k: startup["block_diff_ms"][k] for k in ("median", "min", "max")},
    "tpm_quote_ms": {k: tpm["quote_ms"][k] for k in ("median", "min", "max")},
    "tpm_verify_ms": {k: tpm["verify_ms"][k] for k in ("median", "min", "max")},
    "definitions": {
        "ea_cpu_ratio": "CPU(RFC 9261 build + validate of one authenticator with a real TPM CMW) / "
                        "CPU(TLS 1.3 handshake), client+server, P-256 leaf, TLS_AES_256_GCM_SHA384; "
                        "range over repetitions",
        "ea_exchange_cpu_ratio": "CPU(whole in-band exchange without TPM/appraisal: EA + frames + "
                                 "bindings + RESULT) / CPU(TLS 1.3 handshake), same configuration",
        "curl_time_ratio": "wall(curl attested) / wall(curl plain) against nginx; range over 5 blocks",
        "nginx_throughput_ratio": "requests/s attested / plain, new connection per request; range over repetitions",
        "startup_ratio": "wall(OPENSSL_init_ssl + SSL_CTX_new process) with / without exattest; range over 5 blocks",
        "conn_setup_extra_ms": "issue #4: attested minus plain connection setup, in-process pair, per round",
    },
    "raw": {
        "ea_cpu": ea,
        "conn_setup": {"plain_ms": {**mmm(all_plain), "n": len(all_plain)},
                       "attested_ms": {**mmm(all_att), "n": len(all_att)},
                       "rounds_plain": [c["setup_ms"] for c in conn_plain],
                       "rounds_attested": [c["setup_ms"] for c in conn_att],
                       "attested_hw50_ms": conn_hw["setup_ms"]},
        "curl": curl,
        "nginx_load": {"plain": load_plain, "attested": load_att, "attested_hw50": load_hw},
        "startup": startup,
        "tpm": {"swtpm": tpm, "hw50": tpm_hw, "delay_ms_per_command": hw_delay},
    },
    "meta": {"quick": quick, "wall_seconds": elapsed, "host": platform.node(),
             "cpus": os.cpu_count(), "loadavg": os.getloadavg(),
             "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
}
with open(out, "w") as f:
    json.dump(res, f, indent=1)

def f3(x): return f"{x:.3g}"
rows = []
def row(name, r, target, ok):
    rows.append((name, f3(r["median"]), f"{f3(r['min'])}..{f3(r['max'])}", target,
                 "-" if ok is None else ("met" if ok else "MISSED")))
row("1 EA CPU / handshake CPU (P-256, SHA-384)", res["ea_cpu_ratio"], "<= 0.10",
    res["ea_cpu_ratio"]["median"] <= 0.10)
for c in ea["configs"]:
    row(f"  EA/handshake {c['leaf']} {c['suite'][-6:]} "
        f"({c['ea_cpu_ms']['median']:.3f}/{c['handshake_cpu_ms']['median']:.3f} ms)",
        c["ratio"], "", None)
row(f"  whole exchange w/o TPM / handshake (P-256 SHA384, "
    f"{default['exchange_cpu_ms']['median']:.3f} ms)", res["ea_exchange_cpu_ratio"], "", None)
row("2 setup attested/plain, in-process pair", res["conn_setup_ratio"], "", None)
row(f"  issue #4 extra setup ms (plain {statistics.median(all_plain):.2f} ms, "
    f"n={len(all_plain)})", res["conn_setup_extra_ms"], "", None)
row(f"  setup ms, TPM {hw_delay:.0f} ms/command (n={conn_hw['setup_ms']['n']})",
    conn_hw["setup_ms"], "", None)
row(f"2 curl->nginx time attested/plain (plain {curl['a_ms']['median']:.1f} ms)",
    res["curl_time_ratio"], "<= 1.15", res["curl_time_ratio"]["median"] <= 1.15)
row(f"3 nginx req/s attested/plain (plain {statistics.median(l['rps'] for l in load_plain):.0f}/s)",
    res["nginx_throughput_ratio"], ">= 0.70", res["nginx_throughput_ratio"]["median"] >= 0.70)
rows.append((f"  req/s attested, TPM {hw_delay:.0f} ms/command", f"{load_hw['rps']:.1f}", "", "", "-"))
row(f"4 start-up with/without exattest (without {startup['a_ms']['median']:.2f} ms)",
    res["startup_ratio"], "<= 1.10", res["startup_ratio"]["median"] <= 1.10)
row("  start-up extra ms", res["startup_extra_ms"], "<= 0.5",
    res["startup_extra_ms"]["median"] <= 0.5)
row(f"5 TPM quote ms, swtpm (n={tpm['quote_ms']['n']})", tpm["quote_ms"], "", None)
row(f"  TPM verify ms (n={tpm['verify_ms']['n']})", tpm["verify_ms"], "", None)
row(f"  TPM quote ms, {hw_delay:.0f} ms/command (n={tpm_hw['quote_ms']['n']})",
    tpm_hw["quote_ms"], "", None)
hdr = ("benchmark", "median", "range", "target", "")
wd = [max(len(str(r[i])) for r in rows + [hdr]) for i in range(5)]
line = lambda r: "  ".join(str(r[i]).ljust(wd[i]) for i in range(5)).rstrip()
print(line(hdr))
print("  ".join("-" * x for x in wd))
for r in rows:
    print(line(r))
print(f"({'quick' if quick else 'full'} run, {elapsed} s, load average "
      f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs)")
PY
echo "$OUT"
