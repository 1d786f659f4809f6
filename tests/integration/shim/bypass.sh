#!/bin/bash
# Issue #11 item 3: a program whose own SSL functions shadow the shim's wrappers is refused
# under request = require, warned about otherwise, and an ordinary program is left alone.
#
# usage: bypass.sh <LD_PRELOAD value> <bypass_prog> <scratch parent dir>
set -u
preload=$1
prog=$2
mkdir -p "$3"
dir=$(mktemp -d "$3/shim_bypass.XXXXXX")
trap 'rm -rf "$dir"' EXIT
fail() {
  echo "FAIL: $*"
  for f in out err; do [ -f "$dir/$f" ] && { echo "--- $f"; cat "$dir/$f"; }; done
  exit 1
}
run() {  # run ENV...: the program under the shim with those variables; sets rc
  env -u EXATTEST_REQUEST -u EXATTEST_ALLOW_BYPASS "$@" LD_PRELOAD="$preload" \
    "$prog" >"$dir/out" 2>"$dir/err"
  rc=$?
}
: >"$dir/empty.cnf"
printf 'openssl_conf = openssl_init\n[openssl_init]\nproviders = provider_sect\n[provider_sect]\nexattest = exattest_sect\n[exattest_sect]\nmodule = /nonexistent/exattest.so\nrequest = require\n' >"$dir/require.cnf"

# 1. require from the environment: refused before main, naming the program and the symbol.
run OPENSSL_CONF="$dir/empty.cnf" EXATTEST_REQUEST=require
[ $rc = 1 ] || fail "require: exit $rc, expected 1"
grep -q '^ran$' "$dir/out" && fail "require: main ran"
grep -q "exattest: refusing to run $prog: its SSL_do_handshake resolves to $prog" "$dir/err" ||
  fail "require: no refusal line naming the program and SSL_do_handshake"
grep -q 'EXATTEST_ALLOW_BYPASS=1' "$dir/err" || fail "require: the line does not name the override"

# 2. require from OPENSSL_CONF's exattest section (the provider is never loaded here).
run OPENSSL_CONF="$dir/require.cnf"
[ $rc = 1 ] || fail "require.cnf: exit $rc, expected 1"
grep -q "request = require (\[exattest_sect\] of $dir/require.cnf)" "$dir/err" ||
  fail "require.cnf: the line does not name the config file"

# 3. the documented override: runs, with a warning that says nothing is attested.
run OPENSSL_CONF="$dir/require.cnf" EXATTEST_ALLOW_BYPASS=1
[ $rc = 0 ] || fail "override: exit $rc"
grep -q '^ran$' "$dir/out" || fail "override: main did not run"
grep -q 'its connections are NOT attested although request = require' "$dir/err" ||
  fail "override: no warning"

# 4. optional: runs, one warning line.
run OPENSSL_CONF="$dir/empty.cnf" EXATTEST_REQUEST=optional
[ $rc = 0 ] || fail "optional: exit $rc"
[ "$(grep -c '^exattest: warning: ' "$dir/err")" = 1 ] || fail "optional: not exactly one warning"
grep -q 'request = optional' "$dir/err" || fail "optional: warning does not name request"

# 5. an ordinary dynamically linked program under require: no line at all.
env EXATTEST_REQUEST=require OPENSSL_CONF="$dir/empty.cnf" LD_PRELOAD="$preload" \
  openssl version >"$dir/out" 2>"$dir/err" || fail "openssl version failed"
grep -q 'exattest' "$dir/err" && fail "openssl version: unexpected exattest line"
echo "PASS: shim bypass detection"
