#!/usr/bin/env bash
# tpm2-tools accepts a quote made by exattest: `quote --raw-out DIR` (and `inspect --raw-out`
# on the CMW) write the tpm2-tools files; tpm2_checkquote verifies them, and rejects them
# with another nonce.
source "$(dirname "$0")/lib.sh"
TCTI=$(fixture_tcti)
cd "$WORK"

NONCE=$(rand_hex 32)
# The quote's qualifyingData is the binding-tree root of the lone leaf NONCE (PROTOCOL.md §6.1).
ROOT=$(python3 -c 'import hashlib, sys; print(hashlib.sha256(b"\0" + bytes.fromhex(sys.argv[1])).hexdigest())' "$NONCE")
run "$EXATTEST" quote --tcti "$TCTI" --pcrs sha256:0,1,2,3,7 --nonce "$NONCE" -o q.cbor \
  --raw-out raw
expect_rc 0 "quote --raw-out"
for f in quote.attest quote.sig ak.pub ak.pem ak.tpmt pcrs.values pcrs.ser pcrs.sel nonce.hex; do
  [ -s "raw/$f" ] || fail "quote --raw-out did not write $f"
done
[ "$(cat raw/pcrs.sel)" = "sha256:0,1,2,3,7" ] || fail "pcrs.sel is '$(cat raw/pcrs.sel)'"
[ "$(cat raw/nonce.hex)" = "$ROOT" ] || fail "nonce.hex is not SHA-256(00 || nonce)"
[ "$(stat -c %s raw/pcrs.values)" = $((5 * 32)) ] || fail "pcrs.values is not 5 x 32 bytes"

# inspect --raw-out on the CMW writes byte-identical files.
run "$EXATTEST" inspect q.cbor --raw-out raw2
expect_rc 0 "inspect --raw-out"
for f in raw/*; do cmp -s "$f" "raw2/$(basename "$f")" || fail "inspect wrote another $f"; done

run tpm2_checkquote -u raw/ak.pem -m raw/quote.attest -s raw/quote.sig -f raw/pcrs.ser \
  -g sha256 -q "$ROOT"
expect_rc 0 "tpm2_checkquote (PEM AK) on an exattest quote"
run tpm2_checkquote -u raw/ak.pub -m raw/quote.attest -s raw/quote.sig -f raw/pcrs.ser \
  -g sha256 -q "$ROOT"
expect_rc 0 "tpm2_checkquote (TPM2B_PUBLIC AK) on an exattest quote"
# Negative control: tpm2_checkquote must notice a wrong nonce, or the test above proves nothing.
run tpm2_checkquote -u raw/ak.pem -m raw/quote.attest -s raw/quote.sig -f raw/pcrs.ser \
  -g sha256 -q "$(rand_hex 32)"
[ "$RC" != 0 ] || fail "tpm2_checkquote accepted a wrong nonce"

# exattest's raw mode agrees on the same files.
run "$EXATTEST" verify --quote raw/quote.attest --signature raw/quote.sig --ak raw/ak.pub \
  --pcr-values raw/pcrs.values --nonce "$ROOT"
expect_rc 0 "exattest verify on the raw files"
expect_json pcr_digest_checked true "raw verify"
echo "PASS"
