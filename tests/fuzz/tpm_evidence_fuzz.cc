// Fuzz target: the PROTOCOL.md §6 evidence map and its CMW record (attesters/tpm2
// decode_evidence, unwrap_cmw), key 7 included (§6.1). Invariants: rejections are
// decode_error; accepted parts re-encode (encode_evidence) to a map that decodes to the same
// parts; without unknown keys the re-encoding is byte-identical (deterministic encoding is
// required on input); an accepted key 7 is within §6.1's limits and its path yields a root;
// the lenient decoder (key 7 optional) accepts whatever the strict one accepts, identically.
#include "attesters/tpm2/binding_tree.h"
#include "attesters/tpm2/evidence.h"
#include "fuzz_support.h"

using namespace exattest;

namespace {

bool same(const tpm2::EvidenceParts& a, const tpm2::EvidenceParts& b) {
  return a.attest == b.attest && a.signature == b.signature && a.ak_public == b.ak_public &&
         a.pcr_values == b.pcr_values && a.ak_certs == b.ak_certs && a.event_log == b.event_log &&
         a.tree == b.tree;
}

void check_parts(const tpm2::EvidenceParts& p) {
  FUZZ_CHECK(!p.pcr_values.empty());
  FUZZ_CHECK(p.tree.has_value());
  FUZZ_CHECK(tpm2::check_tree_position(*p.tree).ok());
  auto root = tpm2::root_from_path(view(p.attest), *p.tree);
  FUZZ_CHECK(root.has_value() && root->size() == tpm2::kTreeHashSize);
  Bytes enc = tpm2::encode_evidence(p);
  auto again = tpm2::decode_evidence(view(enc));
  FUZZ_CHECK(again.ok() && same(*again, p));
  FUZZ_CHECK(tpm2::encode_evidence(*again) == enc);
  Bytes rec = tpm2::wrap_cmw(view(enc));
  auto un = tpm2::unwrap_cmw(view(rec));
  FUZZ_CHECK(un.ok() && same(*un, p));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteView in(data, size);
  auto p = tpm2::decode_evidence(in);
  if (!p.ok()) {
    FUZZ_CHECK(p.reason() == Reason::kDecodeError);
  } else {
    check_parts(*p);
    // Only the known keys 1..7 and no unknown ones: the encoder reproduces the input.
    Bytes enc = tpm2::encode_evidence(*p);
    if (enc.size() == size) FUZZ_CHECK(enc == Bytes(data, data + size));
  }
  auto lenient = tpm2::decode_evidence(in, tpm2::TreeKey::kOptional);
  if (!lenient.ok()) {
    FUZZ_CHECK(lenient.reason() == Reason::kDecodeError && !p.ok());
  } else if (p.ok()) {
    FUZZ_CHECK(same(*lenient, *p));
  } else {
    FUZZ_CHECK(!lenient->tree.has_value());  // only a missing key 7 separates the two
  }
  auto u = tpm2::unwrap_cmw(in);
  if (!u.ok()) {
    FUZZ_CHECK(u.reason() == Reason::kDecodeError);
  } else {
    check_parts(*u);
  }
  return 0;
}
