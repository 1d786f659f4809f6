#!/usr/bin/env bash
# `exattest ak`: PEM SPKI + sha256:<64 hex>, identical on two runs (the AK is a primary from a
# fixed template, PROTOCOL.md §6), and the hash is SHA-256 of the PEM's DER SPKI.
source "$(dirname "$0")/lib.sh"
TCTI=$(fixture_tcti)

run "$EXATTEST" ak --tcti "$TCTI"
expect_rc 0 "ak (first run)"
cp "$WORK/out" "$WORK/ak1"
run "$EXATTEST" ak --tcti "$TCTI"
expect_rc 0 "ak (second run)"
cmp -s "$WORK/ak1" "$WORK/out" || fail "ak printed different output on two runs"

[ "$(head -1 "$WORK/out")" = "-----BEGIN PUBLIC KEY-----" ] || fail "no PEM header"
grep -qx -- "-----END PUBLIC KEY-----" "$WORK/out" || fail "no PEM footer"
hash=$(tail -1 "$WORK/out")
[[ "$hash" =~ ^sha256:[0-9a-f]{64}$ ]] || fail "last line is not sha256:<64 hex>: '$hash'"

# Independent check with openssl: SHA-256 over the DER SubjectPublicKeyInfo (§9 trusted_aks).
sed -n '/BEGIN PUBLIC KEY/,/END PUBLIC KEY/p' "$WORK/out" >"$WORK/ak.pem"
openssl pkey -pubin -in "$WORK/ak.pem" -outform DER -out "$WORK/ak.der" ||
  fail "openssl cannot read the PEM"
want="sha256:$(openssl dgst -sha256 -r "$WORK/ak.der" | cut -d' ' -f1)"
[ "$hash" = "$want" ] || fail "printed $hash, but SHA-256 of the SPKI is $want"
# PROTOCOL.md §6 default AK: ECC NIST P-256.
openssl pkey -pubin -in "$WORK/ak.pem" -noout -text | grep -q "NIST CURVE: P-256" ||
  fail "the AK is not a P-256 key"

# The TCTI also comes from EXATTEST_TCTI.
EXATTEST_TCTI=$TCTI run "$EXATTEST" ak
expect_rc 0 "ak with EXATTEST_TCTI"
[ "$(tail -1 "$WORK/out")" = "$hash" ] || fail "EXATTEST_TCTI gave another AK"
echo "PASS"
