# shellcheck shell=bash
# Helpers for the compatibility suite (tests/integration/compat/*.sh): real Debian programs
# other than curl/nginx/openssl, unmodified, with the provider (OPENSSL_CONF) and the shim
# (LD_PRELOAD). Builds on ../nginx/lib.sh and ../e2e/lib.sh (test dir $T, free_port,
# make_pki, make_policy, write_cnf, start_swtpm, start_server, run_curl, count, wait_count,
# expect_*, cleanup of every background job by process group).
# Each program's script starts the program once and runs all its cases against it.

. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../nginx/lib.sh"

PCRS=sha256:0,1,2,3,4,5,6,7
MIB=1048576

# compat_setup: two swtpms (srv, cli), the PKI, 1 MiB of random data each way, policies and
# configurations. The server's PCR 0 is extended after a first enrolment, so
#   policy-srv.json      the server's boot state now          (accepts the server)
#   policy-srv-old.json  the state before the extension       (pcr_mismatch, a changed PCR)
#   policy-cli.json      the client's TPM (its PCR 0 is extended later by a case)
# Configurations (log lines in $T/run/<name>.jsonl):
#   srv-attest.cnf  attests, requests nothing      srv-require.cnf  attests, requires the client's
#   cli-require.cnf requires the server's          cli-mutual.cnf   requires and attests (TPM cli)
#   cli-stale.cnf   like cli-mutual, with the old policy of the server
# Everything lives under $T, world-readable (keys included: they are throw-away test keys), so
# servers that refuse to run as root (Apache, PostgreSQL) can run as nobody; $T/run is where
# they may write.
compat_setup() {
  chmod 755 "$T"
  start_swtpm srv
  start_swtpm cli
  make_pki
  chmod 644 "$PKI"/*
  chmod 755 "$PKI"
  mkdir -p "$T/www" "$T/run"
  chown nobody:nogroup "$T/run"
  head -c $MIB /dev/urandom >"$T/www/down.bin"
  head -c $MIB /dev/urandom >"$T/up.bin"
  make_policy "$T/policy-srv-old.json" "$TCTI_srv"
  "$SWTPM_SH" extend "$DIR_srv" 0 >/dev/null
  make_policy "$T/policy-srv.json" "$TCTI_srv"
  make_policy "$T/policy-cli.json" "$TCTI_cli"
  write_cnf "$T/srv-attest.cnf" request=off attest=tpm2 "tcti=$TCTI_srv" "pcrs=$PCRS" \
    "log=$T/run/srv.jsonl"
  write_cnf "$T/srv-require.cnf" request=require attest=tpm2 "tcti=$TCTI_srv" "pcrs=$PCRS" \
    "policy=$T/policy-cli.json" "log=$T/run/srv.jsonl"
  write_cnf "$T/cli-require.cnf" request=require attest=none "policy=$T/policy-srv.json" \
    "log=$T/run/cli.jsonl"
  write_cnf "$T/cli-stale.cnf" request=require attest=tpm2 "tcti=$TCTI_cli" "pcrs=$PCRS" \
    "policy=$T/policy-srv-old.json" "log=$T/run/cli-stale.jsonl"
  write_cnf "$T/cli-mutual.cnf" request=require attest=tpm2 "tcti=$TCTI_cli" "pcrs=$PCRS" \
    "policy=$T/policy-srv.json" "log=$T/run/cli.jsonl"
  chmod 644 "$T"/*.cnf "$T"/*.json "$T/up.bin" "$T/www/down.bin"
  COMPAT_T0=$SECONDS
}

# extend_client_pcr: the client's boot state changes after the server enrolled it.
extend_client_pcr() {
  "$SWTPM_SH" extend "$DIR_cli" 0 >/dev/null
}

# same FILE1 FILE2 WHAT: byte-exact, or fail naming the sizes.
same() {
  cmp -s "$1" "$2" ||
    fail "$3: $(basename "$1") ($(stat -c %s "$1" 2>/dev/null || echo missing) bytes) differs from $(basename "$2")"
}

# empty_or_missing FILE WHAT: no application byte arrived.
empty_or_missing() {
  [ ! -s "$1" ] || fail "$2: $(stat -c %s "$1") bytes arrived in $(basename "$1")"
}

# expect_line FILE PATTERN N WHAT: waits (bounded) for N lines, then requires exactly N.
expect_line() {
  wait_count "$1" "$2" "$3"
  expect_count "$1" "$2" "$3" "$4"
}

# wait_port PORT WHAT [PID]: until something accepts on 127.0.0.1:PORT (bounded: 20 s).
wait_port() {
  for _ in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    [ -z "${3:-}" ] || kill -0 "$3" 2>/dev/null || fail "$2 exited before listening on $1"
    sleep 0.1
  done
  fail "$2 did not listen on $1 within 20 s"
}

# as_nobody CMD...: runs CMD as nobody:nogroup (exec, no intermediate process).
as_nobody() {
  setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"
}

# compat_done PROGRAM: one line with the program's wall time (the suite's per-program figure).
compat_done() {
  echo "compat: $1: all cases passed, wall time $((SECONDS - COMPAT_T0)) s"
}

# On failure, also show what the programs wrote under $T/run (logs, audit lines).
compat_cleanup() {
  local rc=$?
  set +e
  if [ $rc -ne 0 ]; then
    for f in "$T"/run/*; do
      [ -f "$f" ] || continue
      echo "---- $f" >&2
      tail -n 30 "$f" >&2
    done
  fi
  (exit $rc)
  nginx_cleanup
}
trap compat_cleanup EXIT
