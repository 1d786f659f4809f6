#!/usr/bin/env bash
# exattest verifies a quote made by tpm2-tools (tpm2_createek + tpm2_createak + tpm2_quote):
# accepted with the AK as TPM2B_PUBLIC or PEM when the policy does not ask for ak_primary;
# the AK is a child of the EK, not a primary, so ak_primary = true rejects it: untrusted_ak.
source "$(dirname "$0")/lib.sh"
TCTI=$(fixture_tcti)
export TPM2TOOLS_TCTI=$TCTI
cd "$WORK"

# swtpm has no resource manager: flush tpm2-tools' transient objects between steps.
flush() { tpm2_flushcontext -t >/dev/null 2>&1 || true; tpm2_flushcontext -s >/dev/null 2>&1 || true; }
flush
tpm2_createek -c ek.ctx -G ecc -u ek.pub >/dev/null || fail "tpm2_createek"
flush
tpm2_createak -C ek.ctx -c ak.ctx -G ecc -g sha256 -s ecdsa -u ak.pub -n ak.name >/dev/null ||
  fail "tpm2_createak"
flush
tpm2_readpublic -c ak.ctx -f pem -o ak.pem >/dev/null || fail "tpm2_readpublic -f pem"
flush
NONCE=$(rand_hex 20)
tpm2_quote -c ak.ctx -l sha256:0,1,7 -q "$NONCE" -m quote.msg -s quote.sig -o pcrs.bin \
  -F values -g sha256 >/dev/null || fail "tpm2_quote"
flush

run "$EXATTEST" verify --quote quote.msg --signature quote.sig --ak ak.pub \
  --pcr-values pcrs.bin --nonce "$NONCE"
expect_rc 0 "verify tpm2_quote output, AK as TPM2B_PUBLIC"
expect_json accepted true "TPM2B_PUBLIC AK"
expect_json ak_format tpm2b_public "TPM2B_PUBLIC AK"
expect_json pcr_digest_checked true "TPM2B_PUBLIC AK"
AK=$(json ak)
[[ "$AK" =~ ^sha256:[0-9a-f]{64}$ ]] || fail "verdict ak is '$AK'"
[ "$(json pcrs | python3 -c 'import json,sys; print(sorted(json.load(sys.stdin)))')" = \
  "['sha256:0', 'sha256:1', 'sha256:7']" ] || fail "verdict pcrs: $(json pcrs)"

run "$EXATTEST" verify --quote quote.msg --signature quote.sig --ak ak.pem \
  --pcr-values pcrs.bin --nonce "$NONCE"
expect_rc 0 "verify tpm2_quote output, AK as PEM"
expect_json ak_format pem "PEM AK"
expect_json ak "$AK" "PEM AK"

# Wrong nonce and a tampered PCR value.
run "$EXATTEST" verify --quote quote.msg --signature quote.sig --ak ak.pub \
  --pcr-values pcrs.bin --nonce "$(rand_hex 20)"
expect_rc 1 "wrong nonce"
expect_json reason binding_mismatch "wrong nonce"
python3 -c '
d = bytearray(open("pcrs.bin", "rb").read()); d[40] ^= 1
open("pcrs-bad.bin", "wb").write(d)'
run "$EXATTEST" verify --quote quote.msg --signature quote.sig --ak ak.pub \
  --pcr-values pcrs-bad.bin --nonce "$NONCE"
expect_rc 1 "tampered PCR value"
expect_json reason pcr_mismatch "tampered PCR value"

# Policies pinning this AK: ak_primary false accepts; ak_primary true (the §9 default)
# rejects, because qualifiedSigner is not the endorsement-primary name of this key.
for primary in false true; do
  printf '{"version": 1, "trusted_aks": ["%s"], "pcrs": "any", "ak_primary": %s}\n' "$AK" "$primary" \
    >"policy-$primary.json"
done
run "$EXATTEST" verify --quote quote.msg --signature quote.sig --ak ak.pub \
  --pcr-values pcrs.bin --nonce "$NONCE" --policy policy-false.json
expect_rc 0 "policy with ak_primary false"
run "$EXATTEST" verify --quote quote.msg --signature quote.sig --ak ak.pub \
  --pcr-values pcrs.bin --nonce "$NONCE" --policy policy-true.json
expect_rc 1 "policy with ak_primary true, TPM2B_PUBLIC AK"
expect_json reason untrusted_ak "ak_primary true"
# A PEM carries no TPMT_PUBLIC, so ak_primary cannot be checked: also untrusted_ak.
run "$EXATTEST" verify --quote quote.msg --signature quote.sig --ak ak.pem \
  --pcr-values pcrs.bin --nonce "$NONCE" --policy policy-true.json
expect_rc 1 "policy with ak_primary true, PEM AK"
expect_json reason untrusted_ak "ak_primary true, PEM"
echo "PASS"
