#!/usr/bin/env bash
# The shared vectors through the CLI (/work/shared/vectors = ../shared/vectors beside the
# checkout). Skipped (exit 77) when they are absent, as in a user's fresh clone.
#   SCRIPT EXATTEST WORK VECTORS_DIR
source "$(dirname "$0")/lib.sh"
VEC=${1:?vectors dir}
if [ ! -f "$VEC/cmw/INDEX.md" ] || [ ! -f "$VEC/tpm/INDEX.md" ]; then
  echo "SKIP: no vectors at $VEC"
  exit 77
fi

# cmw/INDEX.md "Valid: must decode": every CBOR, JSON and X.509 file (the .diag files are
# their sources, not inputs).
n=0
for f in "$VEC"/cmw/veraison-testdata/*.cbor "$VEC"/cmw/veraison-testdata/*.json \
         "$VEC"/cmw/veraison-testdata/*.der "$VEC"/cmw/draft-examples/*.cbor \
         "$VEC"/cmw/draft-examples/*.json; do
  run "$EXATTEST" cmw "$f"
  expect_rc 0 "exattest cmw $(basename "$f")"
  expect_json valid true "$(basename "$f")"
  n=$((n + 1))
done
[ "$n" -ge 18 ] || fail "only $n valid CMW vectors found"

# Spot checks of the decoded structure (values from cmw/INDEX.md).
run "$EXATTEST" cmw "$VEC/cmw/draft-examples/cmw-example-1.cbor"
expect_json cmw.kind record "cmw-example-1"
expect_json cmw.content_format 64999 "cmw-example-1"
expect_json cmw.value 2347da55 "cmw-example-1"
run "$EXATTEST" cmw "$VEC/cmw/draft-examples/cmw-example-1.json"
expect_json format json "cmw-example-1.json"
expect_json cmw.value 2347da55 "cmw-example-1.json"
run "$EXATTEST" cmw "$VEC/cmw/veraison-testdata/x509-cert+cbor-cmw.der"
expect_json format x509 "x509-cert+cbor-cmw"
expect_json cmw.kind collection "x509-cert+cbor-cmw"

# cmw/INDEX.md "Invalid: must be rejected": exit 1 with decode_error.
reject() {  # NAME FILE
  run "$EXATTEST" cmw "$2"
  expect_rc 1 "exattest cmw on must-reject input $1"
  expect_json valid false "$1"
  expect_json reason decode_error "$1"
}
i=0
while read -r hex; do
  i=$((i + 1))
  python3 -c 'import sys; open(sys.argv[2], "wb").write(bytes.fromhex(sys.argv[1]))' \
    "$hex" "$WORK/bad$i.cbor"
  reject "CBOR $hex" "$WORK/bad$i.cbor"
done <<'HEX'
80
81192710
841903e844deadbeef01f4
82fb408f41d70a3d70a444deadbeef
821a0001000044deadbeef
8219fffffb3ff3333333333333
da63740101
da6374010101
00
a100
8319753141ff00
a0
d84141ff
8219753141ff00ff
HEX
: >"$WORK/empty.cbor"
reject "empty buffer" "$WORK/empty.cbor"
i=0
while IFS= read -r js; do
  i=$((i + 1))
  printf '%s' "$js" >"$WORK/bad$i.json"
  reject "JSON $js" "$WORK/bad$i.json"
done <<'JSON'
[]
[10000]
["3q2-7w"]
[10000,"3q2-7w",1,"EXTRA"]
[10000.23,"3q2-7w"]
[{"type":10000},"3q2-7w"]
[10000, 1.2]
[10000,"3q2-7w=="]
[10000,"3q2-7w","Evidence"]
[10000, "3q2-7w"
{ "a": { "__cmwc_t": "1.2.3.4" } }
{"__cmwc_t": "", "a": ["application/vnd.a", "YQ"]}
{"__cmwc_t": "a/b/c", "a": ["application/vnd.a", "YQ"]}
{"__cmwc_t": ".2.3.4", "a": ["application/vnd.a", "YQ"]}
{"__cmwc_t": "1.2 3.4", "a": ["application/vnd.a", "YQ"]}
{"": ["application/vnd.a", "YQ"]}
{"   ": ["application/vnd.a", "YQ"]}
[30001,"3q2-7w"]
JSON

# tpm/INDEX.md raw/: enacttrust is valid with an empty nonce; parsec-kat is a certify
# structure (type 0x8017), so a quote verifier rejects it although its signature is good.
T=$VEC/tpm/raw
run "$EXATTEST" verify --quote "$T/enacttrust.attest" --signature "$T/enacttrust.sig" \
  --ak "$T/enacttrust-ak.pem" --nonce ""
expect_rc 0 "verify enacttrust with an empty nonce"
expect_json accepted true "enacttrust"
expect_json reason none "enacttrust"
run "$EXATTEST" verify --quote "$T/enacttrust.attest" --signature "$T/enacttrust.sig" \
  --ak "$T/enacttrust-ak.pem" --nonce 00
expect_rc 1 "verify enacttrust with a non-empty nonce"
expect_json reason binding_mismatch "enacttrust, non-empty nonce"
run "$EXATTEST" verify --quote "$T/parsec-kat.attest" --signature "$T/parsec-kat.sig" \
  --ak "$T/parsec-ak.pem" --nonce deadbeefdeadbeef
expect_rc 1 "verify parsec-kat (certify, not a quote)"
expect_json accepted false "parsec-kat"
expect_json reason decode_error "parsec-kat"
run "$EXATTEST" verify --quote "$T/parsec-pat.attest" --signature "$T/parsec-pat.sig" \
  --ak "$T/parsec-ak.pem" --nonce deadbeefdeadbeef
expect_rc 0 "verify parsec-pat"
# The parsec-pat signature does not verify with another key: bad_signature.
run "$EXATTEST" verify --quote "$T/parsec-pat.attest" --signature "$T/parsec-pat.sig" \
  --ak "$T/enacttrust-ak.pem" --nonce deadbeefdeadbeef
expect_rc 1 "verify parsec-pat with the enacttrust key"
expect_json reason bad_signature "parsec-pat, wrong key"

# inspect decodes the TPMS_ATTEST fields (tpm/INDEX.md: parsec-pat extraData deadbeefdeadbeef,
# selection sha256 {0,1,2}, pcrDigest = SHA-256(96 zero bytes)).
run "$EXATTEST" inspect "$T/parsec-pat.attest"
expect_rc 0 "inspect parsec-pat.attest"
expect_json attest.type "0x8018 (TPM_ST_ATTEST_QUOTE)" "inspect parsec-pat"
expect_json attest.extraData deadbeefdeadbeef "inspect parsec-pat"
expect_json attest.pcrSelect '[{"hash": "sha256", "pcrs": [0, 1, 2]}]' "inspect parsec-pat"
expect_json attest.pcrDigest "$(head -c 96 /dev/zero | openssl dgst -sha256 -r | cut -d' ' -f1)" \
  "inspect parsec-pat"

# proto-swtpm ecc-primary-ek: a version-1 CMW with the older media type (tpm/INDEX.md). Since
# PROTOCOL.md v2 its Evidence lacks key 7 and is decode_error even with that type given
# (§6.1); under the §6 type it is decode_error as before.
P=$VEC/tpm/proto-swtpm/ecc-primary-ek
NONCE=$(od -An -tx1 -v "$P/nonce.bin" | tr -d ' \n')
AKH="sha256:$(openssl pkey -pubin -in "$P/ak.pem" -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)"
printf '{"version": 1, "trusted_aks": ["%s"], "pcrs": "any"}\n' "$AKH" >"$WORK/proto-policy.json"
run "$EXATTEST" verify --cmw "$P/cmw.cbor" --nonce "$NONCE" --policy "$WORK/proto-policy.json" \
  --media-type application/vnd.example.tpm2-quote+cbor
expect_rc 1 "verify proto-swtpm cmw.cbor (legacy media type, version 1)"
expect_json reason decode_error "proto-swtpm, version 1"
grep -q 'key 7' <<<"$(json detail)" || fail "version-1 rejection does not name key 7"
run "$EXATTEST" verify --cmw "$P/cmw.cbor" --nonce "$NONCE" --policy "$WORK/proto-policy.json"
expect_rc 1 "verify proto-swtpm cmw.cbor under the §6 media type"
expect_json reason decode_error "proto-swtpm, §6 media type"
run "$EXATTEST" inspect "$P/evidence.cbor"
expect_rc 0 "inspect proto-swtpm evidence.cbor"
expect_json format evidence "inspect evidence map"
expect_json evidence.attest.extraData "$NONCE" "inspect evidence map"
expect_json evidence.binding_tree null "inspect version-1 evidence map"

# eventlog/INDEX.md: `inspect` decodes every log to the event count, Secure Boot state and
# final PCR values of its facts.json (tpm2_eventlog's own decoding, an independent producer).
n=0
for f in "$VEC"/eventlog/*.bin; do
  [ -f "$f.facts.json" ] || continue
  run "$EXATTEST" inspect "$f"
  expect_rc 0 "inspect $(basename "$f")"
  expect_json format tcg_event_log "inspect $(basename "$f")"
  python3 - "$WORK/out" "$f.facts.json" <<'PY' || fail "inspect $(basename "$f") disagrees with facts.json"
import json, sys
out = json.load(open(sys.argv[1]))["event_log"]
facts = json.load(open(sys.argv[2]))
assert len(out["events"]) == facts["event_count_including_header"], "event count"
sb = facts["secure_boot"]
want = None if sb in (None, "empty") else sb
assert out["secure_boot"]["value"] == want, ("secure boot", out["secure_boot"], sb)
replay = {}
for bank, pcrs in facts["final_pcrs_all"].items():
    for index, value in pcrs.items():
        replay[f"{bank}:{index}"] = value.lower()
assert out["replay"] == replay, "replayed PCRs"
PY
  n=$((n + 1))
done
[ "$n" -ge 8 ] || fail "only $n event-log vectors found"
echo "PASS"
