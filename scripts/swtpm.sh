#!/usr/bin/env bash
# Starts and stops a throw-away swtpm (TPM 2.0 simulator) on free loopback ports, for tests
# and the demo. Never hangs: every wait is bounded; needs no stdin.
#
#   scripts/swtpm.sh start DIR        fresh TPM with state in DIR/state (wiped first); writes
#                                     DIR/swtpm.pid, DIR/swtpm.log and DIR/tcti, prints the
#                                     TCTI string, e.g. swtpm:host=127.0.0.1,port=40122
#   scripts/swtpm.sh stop DIR         kills exactly the swtpm whose pid is in DIR/swtpm.pid
#   scripts/swtpm.sh tcti DIR         prints DIR/tcti
#   scripts/swtpm.sh extend DIR PCR [SHA256HEX]
#                                     extends sha256 PCR (default digest: SHA-256("exattest"))
#
# The server port P is even and the control port is P+1: the tpm2-tss swtpm TCTI talks to
# port+1 for power/locality control. Ports are picked at random in 20000..59998 and simply
# tried: swtpm exits at once with "Address already in use" when either is taken, and the
# script then tries another pair (at most 20 times). A fresh, unmanufactured TPM is enough
# for exattest (the AK is an endorsement primary from a fixed template, PROTOCOL.md §6) and
# starts in milliseconds; swtpm_setup is not needed.
set -euo pipefail

die() { echo "swtpm.sh: $*" >&2; exit 1; }

usage() {
  sed -n '2,12p' "$0" >&2
  exit 2
}

# True when PID is a running swtpm process (guards against a recycled pid). A zombie counts
# as exited: the daemon is reparented, and its new parent may reap it only later.
is_our_swtpm() {
  local pid=$1 state
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
    [ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" = swtpm ] || return 1
  state=$(sed -e 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)
  [ -n "$state" ] && [ "$state" != Z ]
}

cmd_stop() {
  local dir=$1 pid
  [ -f "$dir/swtpm.pid" ] || { echo "swtpm.sh: no $dir/swtpm.pid; nothing to stop" >&2; return 0; }
  pid=$(tr -dc '0-9' <"$dir/swtpm.pid")
  if is_our_swtpm "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do  # up to 5 s
      is_our_swtpm "$pid" || break
      sleep 0.1
    done
    if is_our_swtpm "$pid"; then
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.1
    fi
  fi
  rm -f "$dir/swtpm.pid"
  echo "swtpm.sh: stopped ${pid:-?}"
}

cmd_start() {
  local dir=$1
  command -v swtpm >/dev/null || die "swtpm not found; run scripts/install-deps.sh"
  command -v tpm2_getcap >/dev/null || die "tpm2_getcap not found; run scripts/install-deps.sh"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  # A previous run of this fixture that was not stopped: stop it, then start fresh.
  if [ -f "$dir/swtpm.pid" ]; then cmd_stop "$dir" >/dev/null; fi
  rm -rf "$dir/state" "$dir/tcti"
  mkdir -p "$dir/state"
  : >"$dir/swtpm.log"

  local port started=0
  for _ in $(seq 1 20); do
    port=$(( (RANDOM * 32768 + RANDOM) % 20000 * 2 + 20000 ))
    rm -f "$dir/swtpm.pid"
    if swtpm socket --tpm2 \
        --server "type=tcp,bindaddr=127.0.0.1,port=$port" \
        --ctrl "type=tcp,bindaddr=127.0.0.1,port=$((port + 1))" \
        --tpmstate "dir=$dir/state" \
        --flags not-need-init,startup-clear \
        --log "file=$dir/swtpm.log" \
        --pid "file=$dir/swtpm.pid" \
        --daemon </dev/null >>"$dir/swtpm.log" 2>&1; then
      started=1
      break
    fi
    # Port taken (by anything): try another pair.
  done
  [ "$started" = 1 ] || die "could not start swtpm after 20 port attempts; see $dir/swtpm.log"

  local tcti="swtpm:host=127.0.0.1,port=$port" pid=""
  for _ in $(seq 1 50); do  # pid file and first answer: up to ~5 s
    [ -s "$dir/swtpm.pid" ] && pid=$(tr -dc '0-9' <"$dir/swtpm.pid")
    if [ -n "$pid" ] &&
        TSS2_LOG=all+NONE timeout 5 tpm2_getcap -T "$tcti" properties-fixed \
          </dev/null >/dev/null 2>&1; then
      printf '%s\n' "$tcti" >"$dir/tcti"
      printf '%s\n' "$tcti"
      return 0
    fi
    sleep 0.1
  done
  [ -n "$pid" ] && is_our_swtpm "$pid" && kill -KILL "$pid" 2>/dev/null
  die "swtpm on port $port did not answer within 5 s; see $dir/swtpm.log"
}

cmd_extend() {
  local dir=$1 pcr=$2 digest=${3:-}
  [ -f "$dir/tcti" ] || die "no $dir/tcti; run: $0 start $dir"
  if ! [[ "$pcr" =~ ^[0-9]+$ ]] || [ "$pcr" -gt 23 ]; then die "PCR must be 0..23, got '$pcr'"; fi
  if [ -z "$digest" ]; then
    digest=$(printf 'exattest' | openssl dgst -sha256 -r | cut -d' ' -f1)
  fi
  [[ "$digest" =~ ^[0-9a-fA-F]{64}$ ]] || die "digest must be 64 hex characters"
  TSS2_LOG=${TSS2_LOG:-all+NONE} timeout 10 \
    tpm2_pcrextend -T "$(cat "$dir/tcti")" "$pcr:sha256=$digest" </dev/null
}

[ $# -ge 2 ] || usage
case "$1" in
  start) [ $# -eq 2 ] || usage; cmd_start "$2" ;;
  stop) [ $# -eq 2 ] || usage; cmd_stop "$2" ;;
  tcti) [ $# -eq 2 ] || usage; cat "$2/tcti" ;;
  extend) if [ $# -lt 3 ] || [ $# -gt 4 ]; then usage; fi; cmd_extend "$2" "$3" "${4:-}" ;;
  *) usage ;;
esac
