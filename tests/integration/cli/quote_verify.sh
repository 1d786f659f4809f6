#!/usr/bin/env bash
# quote -> verify --cmw with a policy from `policy create`: accepted; wrong nonce:
# binding_mismatch; after extending PCR 7, the OLD policy rejects a new quote: pcr_mismatch.
source "$(dirname "$0")/lib.sh"
TCTI=$(fixture_tcti)
cd "$WORK"

run "$EXATTEST" policy create --tcti "$TCTI" --pcrs sha256:0-7 -o policy.json
expect_rc 0 "policy create"
AK=$("$EXATTEST" ak --tcti "$TCTI" | tail -1)
python3 - "$AK" <<'PY' || fail "policy.json is not the expected §9 policy"
import json, sys
p = json.load(open("policy.json"))
assert p["version"] == 1, p
assert p["trusted_aks"] == [sys.argv[1]], p
assert p["pcr_bank"] == "sha256", p
assert sorted(p["pcrs"], key=int) == [str(i) for i in range(8)], p
assert all(len(v) == 64 for v in p["pcrs"].values()), p
assert p["ak_primary"] is True, p
PY

NONCE=$(rand_hex 32)
run "$EXATTEST" quote --tcti "$TCTI" --pcrs sha256:0-7 --nonce "$NONCE" -o q1.cbor
expect_rc 0 "quote"
# PROTOCOL.md §6 record: [media type, bstr evidence, 4]; the nonce is the lone leaf of a
# binding tree (§6.1): qualifyingData = SHA-256(0x00 || nonce), key 7 = [0, 1, []].
ROOT=$(python3 -c 'import hashlib, sys; print(hashlib.sha256(b"\0" + bytes.fromhex(sys.argv[1])).hexdigest())' "$NONCE")
run "$EXATTEST" inspect q1.cbor
expect_rc 0 "inspect q1.cbor"
expect_json cmw.type application/vnd.exattest.tpm2-quote+cbor "inspect"
expect_json cmw.ind evidence "inspect"
expect_json cmw.evidence.attest.extraData "$ROOT" "inspect"
expect_json cmw.evidence.binding_tree.tree_size 1 "inspect"
expect_json cmw.evidence.binding_tree.leaf_index 0 "inspect"
expect_json cmw.evidence.attest.magic 0xff544347 "inspect"

run "$EXATTEST" verify --cmw q1.cbor --nonce "$NONCE" --policy policy.json
expect_rc 0 "verify (fresh quote, enrolment policy)"
expect_json accepted true "verify"
expect_json reason none "verify"
expect_json ak "$AK" "verify"
expect_json mode cmw "verify"
[ "$(json pcrs)" = "$(python3 -c '
import json
p = json.load(open("policy.json"))
print(json.dumps({"sha256:" + k: v for k, v in p["pcrs"].items()}, sort_keys=True))')" ] ||
  fail "verdict pcrs differ from the policy's values"

# The nonce must match: another nonce is binding_mismatch (PROTOCOL.md §6 step 2).
run "$EXATTEST" verify --cmw q1.cbor --nonce "$(rand_hex 32)" --policy policy.json
expect_rc 1 "verify with a wrong nonce"
expect_json accepted false "wrong nonce"
expect_json reason binding_mismatch "wrong nonce"

# A policy that trusts another AK: untrusted_ak.
python3 -c '
import json
p = json.load(open("policy.json")); p["trusted_aks"] = ["sha256:" + "ab" * 32]
json.dump(p, open("other-ak.json", "w"))'
run "$EXATTEST" verify --cmw q1.cbor --nonce "$NONCE" --policy other-ak.json
expect_rc 1 "verify with another trusted AK"
expect_json reason untrusted_ak "another AK"

# An invalid policy is a policy_error verdict (exit 1); a missing one an I/O error (exit 2).
echo '{"version": 1, "trusted_aks": [], "bogus": 1}' >bad-policy.json
run "$EXATTEST" verify --cmw q1.cbor --nonce "$NONCE" --policy bad-policy.json
expect_rc 1 "verify with an invalid policy"
expect_json reason policy_error "invalid policy"
run "$EXATTEST" verify --cmw q1.cbor --nonce "$NONCE" --policy missing.json
expect_rc 2 "verify with a missing policy"

# Measured boot changed: PCR 7 extended. A new quote no longer matches the enrolment policy.
tpm2_pcrextend -T "$TCTI" "7:sha256=$(rand_hex 32)" >/dev/null 2>&1 || fail "tpm2_pcrextend"
NONCE2=$(rand_hex 32)
run "$EXATTEST" quote --tcti "$TCTI" --pcrs sha256:0-7 --nonce "$NONCE2" -o q2.cbor
expect_rc 0 "quote after extend"
run "$EXATTEST" verify --cmw q2.cbor --nonce "$NONCE2" --policy policy.json
expect_rc 1 "verify after PCR 7 was extended"
expect_json accepted false "after extend"
expect_json reason pcr_mismatch "after extend"
grep -q 'sha256:7' <<<"$(json detail)" || fail "pcr_mismatch detail does not name PCR 7"
# ... and a policy created now accepts it again.
run "$EXATTEST" policy create --tcti "$TCTI" --pcrs sha256:0-7 -o policy2.json
expect_rc 0 "policy create after extend"
run "$EXATTEST" verify --cmw q2.cbor --nonce "$NONCE2" --policy policy2.json
expect_rc 0 "verify with the new policy"
expect_json accepted true "new policy"
echo "PASS"
