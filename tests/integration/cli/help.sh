#!/usr/bin/env bash
# --help on the command and each subcommand: exit 0, usage line, every option listed;
# usage errors: exit 2 with one line naming the fix.
source "$(dirname "$0")/lib.sh"

run "$EXATTEST" --help
expect_rc 0 "exattest --help"
for c in ak quote verify cmw inspect policy doctor; do
  grep -q "^  $c " "$WORK/out" || fail "exattest --help does not list '$c'"
done

check_help() {  # SUBCOMMAND OPTION...
  local cmd=$1
  shift
  run "$EXATTEST" "$cmd" --help
  expect_rc 0 "exattest $cmd --help"
  grep -q "^usage: exattest $cmd" "$WORK/out" || fail "$cmd --help has no usage line"
  grep -q "^exit codes:" "$WORK/out" || fail "$cmd --help lists no exit codes"
  for opt in "$@" --help; do
    grep -qE -- "^  (-[a-z], )?$opt( |$)" "$WORK/out" || fail "$cmd --help does not list $opt"
  done
}
check_help ak --tcti --ak-alg
check_help quote --nonce --tcti --pcrs --ak-alg --out --raw-out
check_help verify --cmw --quote --signature --ak --pcr-values --nonce --policy --media-type
check_help cmw
check_help inspect --raw-out
check_help policy --tcti --pcrs --ak-alg --out
check_help doctor --tcti
# -h is --help too.
run "$EXATTEST" verify -h
expect_rc 0 "verify -h"

# Usage errors: exit 2, exactly one line on stderr, naming the command and the help.
check_usage() {  # WHAT EXPECTED_TEXT ARGS...
  local what=$1 text=$2
  shift 2
  run "$EXATTEST" "$@"
  expect_rc 2 "$what"
  [ "$(wc -l <"$WORK/err")" = 1 ] || fail "$what: expected one line on stderr"
  grep -qF -- "$text" "$WORK/err" || fail "$what: stderr does not say '$text'"
  [ ! -s "$WORK/out" ] || fail "$what: printed to stdout"
}
check_usage "no command" "missing command (see 'exattest --help')"
check_usage "unknown command" "unknown command 'frobnicate'" frobnicate
check_usage "unknown option" "unknown option '--bogus' (see 'exattest verify --help')" \
  verify --bogus
check_usage "verify without nonce" "missing --nonce HEX" verify --cmw x --policy y
check_usage "verify bad nonce" "--nonce is not hex: 'xyz'" verify --cmw x --nonce xyz --policy y
check_usage "verify cmw without policy" "--cmw needs --policy FILE" verify --cmw x --nonce ""
check_usage "verify raw without ak" "raw mode needs --ak FILE" \
  verify --quote a --signature b --nonce ""
check_usage "option value missing" "option --nonce needs a value (HEX)" quote --nonce
check_usage "option twice" "option --nonce given twice" quote --nonce 01 --nonce 02 -o x
check_usage "quote without nonce" "missing --nonce HEX" quote -o x
check_usage "quote empty nonce" "--nonce must be 1..64 bytes, got 0" quote --nonce "" -o x
check_usage "quote bad pcrs" "bad PCR selection from --pcrs" quote --nonce 01 --pcrs sha999:1 -o x
check_usage "cmw without file" "missing FILE" cmw
check_usage "cmw two files" "unexpected argument 'b'" cmw a b
check_usage "policy without action" "missing create" policy -o x
check_usage "policy bad action" "unknown policy action 'delete'" policy delete -o x
check_usage "policy without -o" "missing -o FILE" policy create
check_usage "policy two banks" "--pcrs must name exactly one bank" \
  policy create --pcrs sha256:0+sha1:0 -o x
# Unreadable input is an I/O error: exit 2 naming the file.
run "$EXATTEST" cmw "$WORK/does-not-exist"
expect_rc 2 "cmw on a missing file"
grep -qF "cannot open $WORK/does-not-exist" "$WORK/err" || fail "missing file not named"
echo "PASS"
