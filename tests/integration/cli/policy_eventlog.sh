#!/usr/bin/env bash
# `exattest policy create --from-eventlog LOG`: a Secure Boot rule policy instead of PCR
# hashes, only from a log that shows Secure Boot on (shared event-log vectors, whose Secure
# Boot state eventlog/INDEX.md and facts.json give). Skipped (77) without the vectors.
#   SCRIPT EXATTEST WORK VECTORS_DIR
source "$(dirname "$0")/lib.sh"
VEC=${1:?vectors dir}/eventlog
if [ ! -f "$VEC/INDEX.md" ]; then
  echo "SKIP: no event-log vectors at $VEC"
  exit 77
fi
TCTI=$(fixture_tcti)
run "$EXATTEST" ak --tcti "$TCTI"
expect_rc 0 "ak"
AK=$(tail -1 "$WORK/out")

# moklisttrusted: SecureBoot = 1 with PK, KEK, db and dbx measured.
run "$EXATTEST" policy create --tcti "$TCTI" --from-eventlog "$VEC/event-moklisttrusted.bin" -o -
expect_rc 0 "policy create --from-eventlog (Secure Boot on)"
expect_json secure_boot required "rule policy"
expect_json pcrs any "rule policy"
expect_json trusted_aks "[\"$AK\"]" "rule policy"
cp "$WORK/out" "$WORK/rule.json"
# The written file is one the appraiser loads (exattest verify would use it as is).
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert set(d) >= {"version","trusted_aks","pcrs","secure_boot"}' \
  "$WORK/rule.json" || fail "rule policy lacks a field"

# bootorder: SecureBoot = 0. uefiaction: no SecureBoot event at all.
run "$EXATTEST" policy create --tcti "$TCTI" --from-eventlog "$VEC/event-bootorder.bin" -o "$WORK/x"
expect_rc 1 "policy create --from-eventlog (Secure Boot off)"
grep -q "Secure Boot is disabled (SecureBoot = 0)" "$WORK/err" || fail "no 'disabled' message: $(cat "$WORK/err")"
[ ! -e "$WORK/x" ] || fail "a policy was written for a machine with Secure Boot off"
run "$EXATTEST" policy create --tcti "$TCTI" --from-eventlog "$VEC/event-uefiaction.bin" -o "$WORK/x"
expect_rc 1 "policy create --from-eventlog (not measured)"
grep -q "Secure Boot is not measured" "$WORK/err" || fail "no 'not measured' message: $(cat "$WORK/err")"

# A truncated log: exit 1 naming the parse failure; --pcrs with --from-eventlog: usage.
head -c 100 "$VEC/event-moklisttrusted.bin" >"$WORK/short.bin"
run "$EXATTEST" policy create --tcti "$TCTI" --from-eventlog "$WORK/short.bin" -o "$WORK/x"
expect_rc 1 "policy create --from-eventlog (truncated log)"
grep -q "short.bin: event log: " "$WORK/err" || fail "no parse detail: $(cat "$WORK/err")"
run "$EXATTEST" policy create --tcti "$TCTI" --pcrs sha256:0 --from-eventlog "$VEC/event-moklisttrusted.bin" -o -
expect_rc 2 "--pcrs with --from-eventlog"
echo "PASS"
