// Unit tests for attesters/tpm2: structure parsers, evidence codec, PROTOCOL.md §6 appraisal
// against the shared TPM vectors (see vectors/tpm/INDEX.md) and synthetic quotes.
// The shared vectors are version-1 Evidence (no key 7, the raw nonce as qualifyingData): their
// quotes are checked with verify_quote and the nonce as the expected qualifyingData, while
// appraising them as Evidence is decode_error since PROTOCOL.md v2 (§6.1).
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include <cstring>
#include <filesystem>
#include <string>

#include "attesters/tpm2/binding_tree.h"
#include "attesters/tpm2/evidence.h"
#include "attesters/tpm2/pcr_selection.h"
#include "attesters/tpm2/policy.h"
#include "attesters/tpm2/tpm_structs.h"
#include "attesters/tpm2/verifier.h"
#include "cmw/cbor_util.h"
#include "cmw/cmw.h"
#include "common/ossl_ptr.h"
#include "test_support.h"
#include "wire/wire.h"

using exattest::Bytes;
using exattest::ByteView;
using exattest::Reason;
using exattest::UniquePtr;
using exattest::Verdict;
using exattest::view;
using exattest::test::from_hex;
using exattest::test::read_file;
using exattest::test::to_hex;
namespace tpm2 = exattest::tpm2;
namespace fs = std::filesystem;

namespace {

fs::path tpm_dir() { return fs::path(EXATTEST_VECTORS_DIR) / "tpm"; }

Bytes file(const std::string& rel) { return read_file(tpm_dir() / rel); }

UniquePtr<EVP_PKEY> pem_key(const std::string& rel) {
  UniquePtr<BIO> bio(BIO_new_file((tpm_dir() / rel).c_str(), "r"));
  REQUIRE(bio);
  UniquePtr<EVP_PKEY> key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  REQUIRE(key);
  return key;
}

Bytes spki_hash(EVP_PKEY* key) {
  auto h = tpm2::spki_sha256(key);
  REQUIRE(h.ok());
  return *h;
}

std::vector<Bytes> split(const Bytes& b, size_t n) {
  REQUIRE(b.size() % n == 0);
  std::vector<Bytes> out;
  for (size_t i = 0; i < b.size(); i += n) out.emplace_back(b.begin() + i, b.begin() + i + n);
  return out;
}

tpm2::Policy pinned_policy(EVP_PKEY* ak, bool ak_primary = true) {
  tpm2::Policy p;
  p.trusted_aks.push_back(spki_hash(ak));
  p.ak_primary = ak_primary;
  return p;
}

// One proto-swtpm vector (ecc-primary-ek or rsa-primary-ek), mutable for negative cases.
// Version-1 Evidence: decoded with key 7 optional, its quote verified against nonce.bin.
struct SwtpmVector {
  std::string dir;
  tpm2::EvidenceParts evidence;
  Bytes nonce;
  UniquePtr<EVP_PKEY> ak;
  tpm2::Policy policy;

  explicit SwtpmVector(const std::string& name) : dir("proto-swtpm/" + name + "/") {
    auto decoded =
        tpm2::decode_evidence(view(file(dir + "evidence.cbor")), tpm2::TreeKey::kOptional);
    REQUIRE(decoded.ok());
    evidence = std::move(decoded.value());
    nonce = file(dir + "nonce.bin");
    ak = pem_key(dir + "ak.pem");
    policy = pinned_policy(ak.get());
  }
  // The quote through the evidence map's encoding (so mutations pass the codec), with the
  // nonce as the expected qualifyingData.
  Verdict run_quote() const {
    auto decoded =
        tpm2::decode_evidence(view(tpm2::encode_evidence(evidence)), tpm2::TreeKey::kOptional);
    if (!decoded.ok()) return Verdict{false, decoded.reason(), decoded.error().detail, {}, {}};
    return tpm2::verify_quote(tpm2::quote_parts(*decoded), view(nonce), policy);
  }
};

// Offsets inside the ecc-primary-ek TPMS_ATTEST (qualifiedSigner and extraData are 34/32).
constexpr size_t kQualifiedSignerAt = 6 + 2;       // after magic, type, TPM2B size
constexpr size_t kFirmwareAt = 6 + 36 + 34 + 17;   // after clockInfo

Bytes qualified_name(uint32_t hierarchy, const Bytes& tpmt_public) {
  auto pub = tpm2::parse_public(view(tpmt_public));
  REQUIRE(pub.ok());
  auto name = tpm2::public_name(*pub);
  REQUIRE(name.ok());
  Bytes in = {static_cast<uint8_t>(hierarchy >> 24), static_cast<uint8_t>(hierarchy >> 16),
              static_cast<uint8_t>(hierarchy >> 8), static_cast<uint8_t>(hierarchy)};
  in.insert(in.end(), name->begin(), name->end());
  auto h = tpm2::tpm_hash(tpm2::kAlgSha256, view(in));
  REQUIRE(h.ok());
  Bytes qn = {0x00, 0x0b};
  qn.insert(qn.end(), h->begin(), h->end());
  return qn;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// proto-swtpm: valid vectors.

TEST_CASE("proto-swtpm ecc-primary-ek quote verifies with nonce.bin", "[tpm2]") {
  EXATTEST_REQUIRE_VECTORS("tpm/INDEX.md");
  SwtpmVector v("ecc-primary-ek");
  Bytes cmw = file(v.dir + "cmw.cbor");
  Verdict verdict = v.run_quote();
  INFO(verdict.detail);
  CHECK(verdict.accepted);
  CHECK(verdict.reason == Reason::kNone);
  CHECK(verdict.ak == "sha256:" + to_hex(spki_hash(v.ak.get())));
  REQUIRE(verdict.pcrs.size() == 8);
  auto values = split(file(v.dir + "pcrs.values"), 32);
  for (int i = 0; i < 8; ++i) {
    CHECK(verdict.pcrs.at("sha256:" + std::to_string(i)) == to_hex(values[i]));
  }
  // The evidence map inside is exactly evidence.cbor and the record re-encodes identically.
  Bytes evidence = file(v.dir + "evidence.cbor");
  CHECK(tpm2::encode_evidence(v.evidence) == evidence);
  CHECK(tpm2::wrap_cmw(view(evidence), tpm2::kLegacyEvidenceMediaType) == cmw);
  CHECK(v.evidence.attest == file(v.dir + "quote.msg"));
  CHECK(v.evidence.signature == file(v.dir + "quote.sig"));
  CHECK(v.evidence.ak_public == file(v.dir + "ak.tpmt"));
  CHECK(v.evidence.pcr_values == values);
  CHECK(v.evidence.ak_certs.empty());
  CHECK_FALSE(v.evidence.event_log.has_value());
}

TEST_CASE("proto-swtpm rsa-primary-ek quote verifies with nonce.bin", "[tpm2]") {
  EXATTEST_REQUIRE_VECTORS("tpm/INDEX.md");
  SwtpmVector v("rsa-primary-ek");
  Verdict verdict = v.run_quote();
  INFO(verdict.detail);
  CHECK(verdict.accepted);
  CHECK(verdict.ak == "sha256:" + to_hex(spki_hash(v.ak.get())));
  CHECK(verdict.pcrs.size() == 8);
  auto sig = tpm2::parse_signature(view(v.evidence.signature));
  REQUIRE(sig.ok());
  CHECK(sig->sig_alg == tpm2::kAlgRsassa);
  CHECK(sig->hash_alg == tpm2::kAlgSha256);
  CHECK(sig->der_or_raw.size() == 256);
}

TEST_CASE("proto-swtpm version-1 CMW records are decode_error as Evidence (no key 7)", "[tpm2]") {
  EXATTEST_REQUIRE_VECTORS("tpm/INDEX.md");
  for (const char* name : {"ecc-primary-ek", "rsa-primary-ek"}) {
    INFO(name);
    SwtpmVector v(name);
    tpm2::Tpm2Appraiser appraiser(v.policy, std::string(tpm2::kLegacyEvidenceMediaType));
    Verdict verdict = appraiser.appraise(view(file(v.dir + "cmw.cbor")), view(v.nonce));
    CHECK_FALSE(verdict.accepted);
    CHECK(verdict.reason == Reason::kDecodeError);
    CHECK_THAT(verdict.detail, Catch::Contains("required key 7"));
    // The strict map decoder and verify_evidence agree.
    CHECK(tpm2::decode_evidence(view(file(v.dir + "evidence.cbor"))).reason() ==
          Reason::kDecodeError);
    Verdict direct = tpm2::verify_evidence(v.evidence, view(v.nonce), v.policy);
    CHECK(direct.reason == Reason::kDecodeError);
    CHECK_THAT(direct.detail, Catch::Contains("version-1"));
    // With a key 7 for a tree of one added, the map decodes, but the quote's qualifyingData
    // is the raw 32-byte nonce, not SHA-256(0x00 || nonce): binding_mismatch.
    v.evidence.tree = tpm2::TreePosition{};
    Bytes v2 = tpm2::wrap_cmw(view(tpm2::encode_evidence(v.evidence)),
                              tpm2::kLegacyEvidenceMediaType);
    Verdict relabelled = appraiser.appraise(view(v2), view(v.nonce));
    CHECK(relabelled.reason == Reason::kBindingMismatch);
    CHECK_THAT(relabelled.detail, Catch::Contains("binding-tree root"));
  }
}

TEST_CASE("proto-swtpm AK files agree: ak.pub is TPM2B of ak.tpmt, key equals ak.pem", "[tpm2]") {
  EXATTEST_REQUIRE_VECTORS("tpm/INDEX.md");
  for (const char* name : {"ecc-primary-ek", "rsa-primary-ek"}) {
    INFO(name);
    std::string dir = std::string("proto-swtpm/") + name + "/";
    auto from_tpm2b = tpm2::parse_tpm2b_public(view(file(dir + "ak.pub")));
    auto from_tpmt = tpm2::parse_public(view(file(dir + "ak.tpmt")));
    REQUIRE(from_tpm2b.ok());
    REQUIRE(from_tpmt.ok());
    CHECK(from_tpm2b->marshaled == from_tpmt->marshaled);
    // These vectors predate noDA in the PROTOCOL.md §6 template (0x00050472): they were made
    // with fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth | restricted | sign.
    CHECK(from_tpmt->attributes == 0x00050072u);
    CHECK(from_tpmt->name_alg == tpm2::kAlgSha256);
    CHECK(from_tpmt->auth_policy.empty());
    auto key = tpm2::public_to_pkey(*from_tpmt);
    REQUIRE(key.ok());
    auto pem = pem_key(dir + "ak.pem");
    CHECK(EVP_PKEY_eq(key->get(), pem.get()) == 1);
  }
  auto ecc = tpm2::parse_public(view(file("proto-swtpm/ecc-primary-ek/ak.tpmt")));
  REQUIRE(ecc.ok());
  CHECK(ecc->type == tpm2::kAlgEcc);
  CHECK(ecc->curve == tpm2::kEccNistP256);
  CHECK(ecc->scheme == tpm2::kAlgEcdsa);
  CHECK(ecc->scheme_hash == tpm2::kAlgSha256);
  auto rsa = tpm2::parse_public(view(file("proto-swtpm/rsa-primary-ek/ak.tpmt")));
  REQUIRE(rsa.ok());
  CHECK(rsa->type == tpm2::kAlgRsa);
  CHECK(rsa->rsa_key_bits == 2048);
  CHECK(rsa->rsa_exponent == 0);  // default 65537
  CHECK(rsa->scheme == tpm2::kAlgRsassa);
}

TEST_CASE("ecc-primary-ek qualifiedSigner is the endorsement-hierarchy qualified name", "[tpm2]") {
  EXATTEST_REQUIRE_VECTORS("tpm/INDEX.md");
  SwtpmVector v("ecc-primary-ek");
  auto attest = tpm2::parse_quote_attest(view(v.evidence.attest));
  REQUIRE(attest.ok());
  // QN = nameAlg || H(0x4000000b || Name(AK)), worked out by hand from ak.tpmt.
  CHECK(to_hex(attest->qualified_signer) ==
        "000b2319cca252b9cff48d879a7c02d68ebbdd5e06c4ca7d1f067f6638e276eaeb84");
  CHECK(attest->qualified_signer == qualified_name(tpm2::kRhEndorsement, v.evidence.ak_public));
  CHECK(attest->extra_data == v.nonce);
  CHECK(attest->clock_info.safe == 1);
  CHECK(attest->firmware_version == 0x2019102300163636ull);
  REQUIRE(attest->pcr_select.size() == 1);
  CHECK(attest->pcr_select[0].hash == tpm2::kAlgSha256);
  CHECK(attest->pcr_select[0].indices() == std::vector<uint32_t>{0, 1, 2, 3, 4, 5, 6, 7});
}

TEST_CASE("ecc-primary-ek with matching reference PCRs and require_clock_safe is accepted",
          "[tpm2]") {
  EXATTEST_REQUIRE_VECTORS("tpm/INDEX.md");
  SwtpmVector v("ecc-primary-ek");
  for (uint32_t i = 0; i < 8; ++i) v.policy.pcrs[i] = v.evidence.pcr_values[i];
  v.policy.require_clock_safe = true;
  Verdict verdict = v.run_quote();
  INFO(verdict.detail);
  CHECK(verdict.accepted);
}

// ---------------------------------------------------------------------------------------------
// The 14 mutations of ecc-primary-ek (INDEX.md), each with its PROTOCOL.md §6 step's reason.

TEST_CASE("mutation: wrong nonce is binding_mismatch", "[tpm2]") {
  EXATTEST_REQUIRE_VECTORS("tpm/INDEX.md");
  SwtpmVector v("ecc-primary-ek");
  v.nonce[31] ^= 0x01;
  Verdict verdict = v.run_quote();
  CHECK_FALSE(verdict.accepted);
  CHECK(verdict.reason == Reason::kBindingMismatch);
}

TEST_CASE("mutation: short nonce (prefix of the binding) is binding_mismatch", "[tpm2]") {
  EXATTEST_REQUIRE_VECTORS("tpm/INDEX.md");
  SwtpmVector v("ecc-primary-ek");
  v.nonce.resize(31);
  CHECK(v.run_quote().reason == Reason::kBindingMismatch);
  v.nonce.clear();
  CHECK(v.run_quote().reason == Reason::kBindingMismatch);
  // A longer expected binding whose prefix matches is rejected too (length-checked compare).
  SwtpmVector w("ecc-primary-ek");
  w.nonce.push_back(0);
  CHECK(w.run_quote().reason == Reason::kBindingMismatch);
}

TEST_CASE("mutation: magic flip is decode_error", "[tpm2]") {
  EXATTEST_REQUIRE_VECTORS("tpm/INDEX.md");
  SwtpmVector v("ecc-primary-ek");
  v.evidence.attest[0] ^= 0x01;
  Verdict verdict = v.run_quote();
  CHECK(verdict.reason == Reason::kDecodeError);
  CHECK_THAT(verdict.detail, Catch::Contains("magic"));
}

TEST_CASE("mutation: type flip is decode_error (not a quote)", "[tpm2]") {
  EXATTEST_REQUIRE_VECTORS("tpm/INDEX.md");
  SwtpmVector v("ecc-primary-ek");
  v.evidence.attest[5] ^= 0x01;  // 0x8018 -> 0x8019
  Verdict verdict = v.run_quote();
  CHECK(verdict.reason == Reason::kDecodeError);
  CHECK_THAT(verdict.detail, Catch::Contains("not a quote"));
}

TEST_CASE("mutation: body byte flip is bad_signature", "[tpm2]") {
  EXATTEST_REQUIRE_VECTORS("tpm/INDEX.md");
  SwtpmVector v("ecc-primary-ek");
  v.evidence.attest[kFirmwareAt] ^= 0x01;  // firmwareVersion: parses, but not what was signed
  auto attest = tpm2::parse_quote_attest(view(v.evidence.attest));
  REQUIRE(attest.ok());
  CHECK(attest->firmware_version == 0x2119102300163636ull);
  CHECK(v.run_quote().reason == Reason::kBadSignature);
}

TEST_CASE("mutation: trailing byte after TPMS_ATTEST is decode_error", "[tpm2]") {
  EXATTEST_REQUIRE_VECTORS("tpm/INDEX.md");
  SwtpmVector v("ecc-primary-ek");
  v.evidence.attest.push_back(0x00);
  Verdict verdict = v.run_quote();
  CHECK(verdict.reason == Reason::kDecodeError);
  CHECK_THAT(verdict.detail, Catch::Contains("trailing"));
  // And after TPMT_SIGNATURE and TPMT_PUBLIC.
  SwtpmVector s("ecc-primary-ek");
  s.evidence.signature.push_back(0x00);
  CHECK(s.run_quote().reason == Reason::kDecodeError);
  SwtpmVector p("ecc-primary-ek");
  p.evidence.ak_public.push_back(0x00);
  CHECK(p.run_quote().reason == Reason::kDecodeError);
}

TEST_CASE("mutation: bad signature is bad_signature", "[tpm2]") {
  EXATTEST_REQUIRE_VECTORS("tpm/INDEX.md");
  SwtpmVector v("ecc-primary-ek");
  v.evidence.signature[10] ^= 0x01;  // inside r
  CHECK(v.run_quote().reason == Reason::kBadSignature);
  SwtpmVector r("rsa-primary-ek");
  r.evidence.signature[100] ^= 0x01;
  CHECK(r.run_quote().reason == Reason::kBadSignature);
}

TEST_CASE("mutation: bad PCR value is pcr_mismatch", "[tpm2]") {
  EXATTEST_REQUIRE_VECTORS("tpm/INDEX.md");
  SwtpmVector v("ecc-primary-ek");
  v.evidence.pcr_values[3][0] ^= 0x01;
  Verdict verdict = v.run_quote();
  CHECK(verdict.reason == Reason::kPcrMismatch);
  CHECK_THAT(verdict.detail, Catch::Contains("pcrDigest"));
  // A value of the wrong length.
  SwtpmVector w("ecc-primary-ek");
  w.evidence.pcr_values[0].pop_back();
  CHECK(w.run_quote().reason == Reason::kPcrMismatch);
  // The values hash right but differ from the policy's reference value.
  SwtpmVector r("ecc-primary-ek");
  r.policy.pcrs[7] = Bytes(32, 0x11);
  Verdict ref = r.run_quote();
  CHECK(ref.reason == Reason::kPcrMismatch);
  CHECK_THAT(ref.detail, Catch::Contains("sha256:7"));
}

TEST_CASE("mutation: missing PCR values is pcr_mismatch", "[tpm2]") {
  EXATTEST_REQUIRE_VECTORS("tpm/INDEX.md");
  SwtpmVector v("ecc-primary-ek");
  v.evidence.pcr_values.pop_back();
  CHECK(v.run_quote().reason == Reason::kPcrMismatch);
  // Key 4 absent altogether is a malformed map.
  SwtpmVector none("ecc-primary-ek");
  none.evidence.pcr_values.clear();
  Bytes map = tpm2::encode_evidence(none.evidence);  // emits 4 => [] (empty array)
  auto decoded = tpm2::decode_evidence(view(map), tpm2::TreeKey::kOptional);
  CHECK(decoded.reason() == Reason::kDecodeError);
}

TEST_CASE("mutation: policy PCR outside the quote's selection is pcr_mismatch", "[tpm2]") {
  EXATTEST_REQUIRE_VECTORS("tpm/INDEX.md");
  SwtpmVector v("ecc-primary-ek");
  v.policy.pcrs[8] = Bytes(32, 0);
  Verdict verdict = v.run_quote();
  CHECK(verdict.reason == Reason::kPcrMismatch);
  CHECK_THAT(verdict.detail, Catch::Contains("sha256:8"));
  // Same index, other bank: the quote has no sha1 bank.
  SwtpmVector b("ecc-primary-ek");
  b.policy.pcr_bank = tpm2::kAlgSha1;
  b.policy.pcrs[0] = Bytes(20, 0);
  CHECK(b.run_quote().reason == Reason::kPcrMismatch);
}

TEST_CASE("mutation: qualifiedSigner of another hierarchy is untrusted_ak", "[tpm2]") {
  EXATTEST_REQUIRE_VECTORS("tpm/INDEX.md");
  SwtpmVector v("ecc-primary-ek");
  Bytes owner_qn = qualified_name(0x40000001 /* TPM_RH_OWNER */, v.evidence.ak_public);
  REQUIRE(owner_qn.size() == 34);
  std::copy(owner_qn.begin(), owner_qn.end(), v.evidence.attest.begin() + kQualifiedSignerAt);
  Verdict verdict = v.run_quote();
  // Step 3 comes before step 4: the (now broken) signature is never reached.
  CHECK(verdict.reason == Reason::kUntrustedAk);
  CHECK_THAT(verdict.detail, Catch::Contains("qualifiedSigner"));
  // Without ak_primary the hierarchy is not judged and the broken signature is.
  v.policy.ak_primary = false;
  CHECK(v.run_quote().reason == Reason::kBadSignature);
}

TEST_CASE("mutation: another AK is untrusted_ak", "[tpm2]") {
  EXATTEST_REQUIRE_VECTORS("tpm/INDEX.md");
  SwtpmVector v("ecc-primary-ek");
  SwtpmVector other("rsa-primary-ek");
  v.evidence.ak_public = other.evidence.ak_public;
  Verdict verdict = v.run_quote();
  CHECK(verdict.reason == Reason::kUntrustedAk);
  CHECK(verdict.ak == "sha256:" + to_hex(spki_hash(other.ak.get())));
  // Trusting both AKs does not help: the quote was signed as another key's qualified name.
  v.policy.trusted_aks.push_back(spki_hash(other.ak.get()));
  CHECK(v.run_quote().reason == Reason::kUntrustedAk);
  // And without ak_primary the RSA key cannot check an ECDSA signature.
  v.policy.ak_primary = false;
  CHECK(v.run_quote().reason == Reason::kBadSignature);
}

TEST_CASE("mutation: restricted bit cleared in the AK public area is untrusted_ak", "[tpm2]") {
  EXATTEST_REQUIRE_VECTORS("tpm/INDEX.md");
  SwtpmVector v("ecc-primary-ek");
  // objectAttributes at offset 4 (after type, nameAlg): 0x00050472 -> 0x00040472.
  REQUIRE(v.evidence.ak_public[5] == 0x05);
  v.evidence.ak_public[5] = 0x04;
  Verdict verdict = v.run_quote();
  // The SPKI is unchanged (still pinned), but the Name no longer matches the signed one.
  CHECK(verdict.ak == "sha256:" + to_hex(spki_hash(v.ak.get())));
  CHECK(verdict.reason == Reason::kUntrustedAk);
}

TEST_CASE("mutation: bad CMW type is decode_error", "[tpm2]") {
  EXATTEST_REQUIRE_VECTORS("tpm/INDEX.md");
  SwtpmVector v("ecc-primary-ek");
  // The vector's record with a key 7 added, so that a well-formed record gets past decoding
  // (to binding_mismatch: its quote is a version-1 one) and each mutation below is what
  // makes it decode_error.
  v.evidence.tree = tpm2::TreePosition{};
  Bytes cmw = tpm2::wrap_cmw(view(tpm2::encode_evidence(v.evidence)),
                             tpm2::kLegacyEvidenceMediaType);
  REQUIRE(cmw.size() > 6);
  tpm2::Tpm2Appraiser legacy_ok(v.policy, std::string(tpm2::kLegacyEvidenceMediaType));
  REQUIRE(legacy_ok.appraise(view(cmw), view(v.nonce)).reason == Reason::kBindingMismatch);
  // The record says the legacy type; an appraiser expecting PROTOCOL.md §6's type refuses it.
  tpm2::Tpm2Appraiser strict(v.policy);
  Verdict verdict = strict.appraise(view(cmw), view(v.nonce));
  CHECK(verdict.reason == Reason::kDecodeError);
  // One byte of the type string changed.
  Bytes changed = cmw;
  changed[5] ^= 0x20;  // "application" -> "apPlication"
  tpm2::Tpm2Appraiser legacy(v.policy, std::string(tpm2::kLegacyEvidenceMediaType));
  CHECK(legacy.appraise(view(changed), view(v.nonce)).reason == Reason::kDecodeError);
  // Indicator other than 4.
  Bytes ind = cmw;
  REQUIRE(ind.back() == 0x04);
  ind.back() = 0x02;
  CHECK(legacy.appraise(view(ind), view(v.nonce)).reason == Reason::kDecodeError);
  // Trailing byte after the record.
  Bytes trailing = cmw;
  trailing.push_back(0x00);
  CHECK(legacy.appraise(view(trailing), view(v.nonce)).reason == Reason::kDecodeError);
}

// ---------------------------------------------------------------------------------------------
// Strict evidence map decoding (PROTOCOL.md §6).

TEST_CASE("evidence map: encode/decode round trip with optional keys 5 and 6", "[tpm2]") {
  tpm2::EvidenceParts parts;
  parts.attest = {1, 2};
  parts.signature = {3};
  parts.ak_public = {4, 5, 6};
  parts.pcr_values = {{7}, {8, 9}};
  parts.ak_certs = {{0x30, 0x00}, {0x30, 0x01}};
  parts.event_log = Bytes{0xee};
  parts.tree = tpm2::TreePosition{1, 2, {Bytes(32, 0xcc)}};
  Bytes enc = tpm2::encode_evidence(parts);
  CHECK(enc == from_hex("a7 01 42 0102 02 41 03 03 43 040506 04 82 41 07 42 0809"
                        "05 82 42 3000 42 3001 06 41 ee 07 83 01 02 81 5820" +
                        std::string(64, 'c')));
  auto dec = tpm2::decode_evidence(view(enc));
  REQUIRE(dec.ok());
  CHECK(dec->attest == parts.attest);
  CHECK(dec->signature == parts.signature);
  CHECK(dec->ak_public == parts.ak_public);
  CHECK(dec->pcr_values == parts.pcr_values);
  CHECK(dec->ak_certs == parts.ak_certs);
  REQUIRE(dec->event_log.has_value());
  CHECK(*dec->event_log == Bytes{0xee});
  CHECK(dec->tree == parts.tree);
}

TEST_CASE("evidence map: strict decoding rejects non-deterministic and malformed maps",
          "[tpm2]") {
  auto reason = [](const std::string& hex) {
    return tpm2::decode_evidence(view(from_hex(hex))).reason();
  };
  // Key 7 of a tree of one, required since PROTOCOL.md v2 (§6.1); its own cases are in
  // binding_tree_test.cc.
  const std::string k7 = " 07 83 00 01 80";
  // Valid minimal map.
  CHECK(reason("a5 01 41 01 02 41 02 03 41 03 04 81 41 04" + k7) == Reason::kNone);
  // Unknown integer keys (positive and negative) are skipped.
  CHECK(reason("a6 01 41 01 02 41 02 03 41 03 04 81 41 04" + k7 + " 08 a1 01 02") ==
        Reason::kNone);
  CHECK(reason("a6 01 41 01 02 41 02 03 41 03 04 81 41 04" + k7 + " 20 80") == Reason::kNone);
  // Keys out of order.
  CHECK(reason("a5 02 41 02 01 41 01 03 41 03 04 81 41 04" + k7) == Reason::kDecodeError);
  CHECK(reason("a5 01 41 01 02 41 02 03 41 03" + k7 + " 04 81 41 04") == Reason::kDecodeError);
  // Duplicate key.
  CHECK(reason("a6 01 41 01 01 41 01 02 41 02 03 41 03 04 81 41 04" + k7) ==
        Reason::kDecodeError);
  // Text key.
  CHECK(reason("a6 01 41 01 02 41 02 03 41 03 04 81 41 04" + k7 + " 61 78 00") ==
        Reason::kDecodeError);
  // Non-shortest integer head for a key.
  CHECK(reason("a5 18 01 41 01 02 41 02 03 41 03 04 81 41 04" + k7) == Reason::kDecodeError);
  // Indefinite-length map.
  CHECK(reason("bf 01 41 01 02 41 02 03 41 03 04 81 41 04" + k7 + " ff") ==
        Reason::kDecodeError);
  // Trailing byte.
  CHECK(reason("a5 01 41 01 02 41 02 03 41 03 04 81 41 04" + k7 + " 00") ==
        Reason::kDecodeError);
  // Missing key 3; missing key 7 (version-1 Evidence).
  CHECK(reason("a4 01 41 01 02 41 02 04 81 41 04" + k7) == Reason::kDecodeError);
  CHECK(reason("a4 01 41 01 02 41 02 03 41 03 04 81 41 04") == Reason::kDecodeError);
  // Key 1 as text, key 4 empty, key 4 not bstr items, key 6 not bstr.
  CHECK(reason("a5 01 61 01 02 41 02 03 41 03 04 81 41 04" + k7) == Reason::kDecodeError);
  CHECK(reason("a5 01 41 01 02 41 02 03 41 03 04 80" + k7) == Reason::kDecodeError);
  CHECK(reason("a5 01 41 01 02 41 02 03 41 03 04 81 01" + k7) == Reason::kDecodeError);
  CHECK(reason("a6 01 41 01 02 41 02 03 41 03 04 81 41 04 06 01" + k7) == Reason::kDecodeError);
  // Not a map; truncated; a length head larger than the input.
  CHECK(reason("84 01 02 03 04") == Reason::kDecodeError);
  CHECK(reason("a5 01 41") == Reason::kDecodeError);
  CHECK(reason("a5 01 5a ff ff ff ff") == Reason::kDecodeError);
  CHECK(reason("") == Reason::kDecodeError);
}

// ---------------------------------------------------------------------------------------------
// Structure parsers: exactness.

TEST_CASE("TPMT_SIGNATURE: ECDSA r/s become DER, other algorithms are decode_error", "[tpm2]") {
  auto ecdsa = tpm2::parse_signature(view(from_hex("0018 000b 0001 05 0002 0080")));
  REQUIRE(ecdsa.ok());
  CHECK(ecdsa->der_or_raw == from_hex("3007 020105 0202 0080"));
  CHECK(tpm2::parse_signature(view(from_hex("0016 000c 0002 abcd")))->sig_alg ==
        tpm2::kAlgRsapss);
  CHECK(tpm2::parse_signature(view(from_hex("0010 000b"))).reason() == Reason::kDecodeError);
  CHECK(tpm2::parse_signature(view(from_hex("001c 000b 0001 05 0001 05"))).reason() ==
        Reason::kDecodeError);                                                    // ECSCHNORR
  CHECK(tpm2::parse_signature(view(from_hex("0018 0099 0001 05 0001 05"))).reason() ==
        Reason::kDecodeError);                                                    // hash
  CHECK(tpm2::parse_signature(view(from_hex("0018 000b 0001 05 0002 00"))).reason() ==
        Reason::kDecodeError);                                                    // truncated
  CHECK(tpm2::parse_signature(view(from_hex("0018 000b 0000 0001 05"))).reason() ==
        Reason::kDecodeError);                                                    // empty r
  CHECK(tpm2::parse_signature(view(from_hex("0014 000b 0002 abcd 00"))).reason() ==
        Reason::kDecodeError);                                                    // trailing
}

TEST_CASE("TPMS_ATTEST: every truncation of a valid quote is decode_error", "[tpm2]") {
  EXATTEST_REQUIRE_VECTORS("tpm/INDEX.md");
  Bytes attest = file("proto-swtpm/ecc-primary-ek/quote.msg");
  REQUIRE(tpm2::parse_quote_attest(view(attest)).ok());
  for (size_t n = 0; n < attest.size(); ++n) {
    INFO(n);
    CHECK(tpm2::parse_quote_attest(ByteView(attest.data(), n)).reason() == Reason::kDecodeError);
  }
  Bytes bad_safe = attest;
  bad_safe[6 + 36 + 34 + 16] = 0x02;  // clockInfo.safe: TPMI_YES_NO
  CHECK(tpm2::parse_quote_attest(view(bad_safe)).reason() == Reason::kDecodeError);
  Bytes tpml = attest;
  tpml[6 + 36 + 34 + 17 + 8 + 3] = 17;  // TPML_PCR_SELECTION.count > 16
  CHECK(tpm2::parse_quote_attest(view(tpml)).reason() == Reason::kDecodeError);
}

TEST_CASE("TPMT_PUBLIC: every truncation is decode_error, off-curve points too", "[tpm2]") {
  EXATTEST_REQUIRE_VECTORS("tpm/INDEX.md");
  for (const char* name : {"ecc-primary-ek", "rsa-primary-ek"}) {
    Bytes pub = file(std::string("proto-swtpm/") + name + "/ak.tpmt");
    for (size_t n = 0; n < pub.size(); ++n) {
      INFO(name << " " << n);
      CHECK(tpm2::parse_public(ByteView(pub.data(), n)).reason() == Reason::kDecodeError);
    }
  }
  Bytes ecc = file("proto-swtpm/ecc-primary-ek/ak.tpmt");
  ecc.back() ^= 0x01;  // y changed: the point leaves the curve
  auto parsed = tpm2::parse_public(view(ecc));
  REQUIRE(parsed.ok());
  CHECK(tpm2::public_to_pkey(*parsed).reason() == Reason::kDecodeError);
  // KEYEDHASH objects are not AKs.
  CHECK(tpm2::parse_public(view(from_hex("0008 000b 00040072 0000 0010 0000"))).reason() ==
        Reason::kDecodeError);
  // TPM2B_PUBLIC whose size does not cover the input exactly.
  Bytes tpm2b = file("proto-swtpm/ecc-primary-ek/ak.pub");
  tpm2b.push_back(0);
  CHECK(tpm2::parse_tpm2b_public(view(tpm2b)).reason() == Reason::kDecodeError);
}

// ---------------------------------------------------------------------------------------------
// raw/ and veraison vectors.

TEST_CASE("raw/enacttrust: valid with an empty nonce, binding_mismatch otherwise", "[tpm2]") {
  EXATTEST_REQUIRE_VECTORS("tpm/INDEX.md");
  Bytes attest = file("raw/enacttrust.attest");
  Bytes sig = file("raw/enacttrust.sig");
  auto ak = pem_key("raw/enacttrust-ak.pem");
  tpm2::QuoteParts parts;
  parts.attest = view(attest);
  parts.signature = view(sig);
  parts.ak_key = ak.get();
  tpm2::Policy policy = pinned_policy(ak.get(), /*ak_primary=*/false);
  Verdict ok = tpm2::verify_quote(parts, {}, policy);
  INFO(ok.detail);
  CHECK(ok.accepted);
  CHECK(ok.pcrs.empty());  // no PCR values came with the raw quote
  CHECK(tpm2::verify_quote(parts, view(from_hex("00")), policy).reason ==
        Reason::kBindingMismatch);
  CHECK(tpm2::verify_quote(parts, view(Bytes(32, 0xaa)), policy).reason ==
        Reason::kBindingMismatch);
  // ak_primary cannot be checked without a TPMT_PUBLIC: fail closed.
  policy.ak_primary = true;
  CHECK(tpm2::verify_quote(parts, {}, policy).reason == Reason::kUntrustedAk);
  // A policy listing PCRs needs PCR values.
  policy.ak_primary = false;
  policy.pcrs[1] = Bytes(32, 0);
  CHECK(tpm2::verify_quote(parts, {}, policy).reason == Reason::kPcrMismatch);
  // Not pinned.
  tpm2::Policy other;
  other.trusted_aks.push_back(Bytes(32, 0));
  other.ak_primary = false;
  CHECK(tpm2::verify_quote(parts, {}, other).reason == Reason::kUntrustedAk);

  auto q = tpm2::parse_quote_attest(view(attest));
  REQUIRE(q.ok());
  CHECK(q->extra_data.empty());
  CHECK(q->qualified_signer.empty());
  CHECK(q->firmware_version == 7);
  REQUIRE(q->pcr_select.size() == 1);
  CHECK(q->pcr_select[0].indices() == std::vector<uint32_t>{1, 2, 3, 4});
  CHECK(to_hex(q->pcr_digest) ==
        "87428fc522803d31065e7bce3cf03fe475096631e5e07bbd7a0fde60c4cf25c7");
}

TEST_CASE("veraison enacttrust basic.token holds exactly raw/enacttrust.*", "[tpm2]") {
  EXATTEST_REQUIRE_VECTORS("tpm/INDEX.md");
  Bytes token = file("veraison-tpm-enacttrust/basic.token");
  exattest::wire::Reader r(view(token));
  ByteView node_id, attest;
  REQUIRE(r.bytes(16, node_id));
  REQUIRE(r.prefixed_u16(attest));
  Bytes sig(r.rest().begin(), r.rest().end());
  CHECK(Bytes(attest.begin(), attest.end()) == file("raw/enacttrust.attest"));
  CHECK(sig == file("raw/enacttrust.sig"));
  auto ak = pem_key("veraison-tpm-enacttrust/basic.pem.pub");
  tpm2::QuoteParts parts;
  parts.attest = attest;
  parts.signature = view(sig);
  parts.ak_key = ak.get();
  CHECK(tpm2::verify_quote(parts, {}, pinned_policy(ak.get(), false)).accepted);
}

TEST_CASE("raw/parsec-pat: valid with nonce deadbeefdeadbeef and 3 zero PCRs", "[tpm2]") {
  EXATTEST_REQUIRE_VECTORS("tpm/INDEX.md");
  Bytes attest = file("raw/parsec-pat.attest");
  Bytes sig = file("raw/parsec-pat.sig");
  auto ak = pem_key("raw/parsec-ak.pem");
  Bytes nonce = from_hex("deadbeefdeadbeef");
  tpm2::QuoteParts parts;
  parts.attest = view(attest);
  parts.signature = view(sig);
  parts.ak_key = ak.get();
  parts.pcr_values = std::vector<Bytes>(3, Bytes(32, 0));
  tpm2::Policy policy = pinned_policy(ak.get(), false);
  policy.pcrs[0] = Bytes(32, 0);
  policy.pcrs[2] = Bytes(32, 0);
  Verdict ok = tpm2::verify_quote(parts, view(nonce), policy);
  INFO(ok.detail);
  CHECK(ok.accepted);
  CHECK(ok.pcrs == std::map<std::string, std::string>{{"sha256:0", std::string(64, '0')},
                                                      {"sha256:1", std::string(64, '0')},
                                                      {"sha256:2", std::string(64, '0')}});
  CHECK(tpm2::verify_quote(parts, view(from_hex("deadbeef")), policy).reason ==
        Reason::kBindingMismatch);
  (*parts.pcr_values)[1][31] = 1;
  CHECK(tpm2::verify_quote(parts, view(nonce), policy).reason == Reason::kPcrMismatch);
  // Its clockInfo.safe is 1, so require_clock_safe holds.
  parts.pcr_values = std::vector<Bytes>(3, Bytes(32, 0));
  policy.require_clock_safe = true;
  CHECK(tpm2::verify_quote(parts, view(nonce), policy).accepted);
}

TEST_CASE("raw/parsec-kat: a correctly signed certify structure is decode_error (not a quote)",
          "[tpm2]") {
  EXATTEST_REQUIRE_VECTORS("tpm/INDEX.md");
  Bytes attest = file("raw/parsec-kat.attest");
  Bytes sig = file("raw/parsec-kat.sig");
  auto ak = pem_key("raw/parsec-ak.pem");
  tpm2::QuoteParts parts;
  parts.attest = view(attest);
  parts.signature = view(sig);
  parts.ak_key = ak.get();
  Verdict verdict =
      tpm2::verify_quote(parts, view(from_hex("deadbeefdeadbeef")), pinned_policy(ak.get(), false));
  CHECK(verdict.reason == Reason::kDecodeError);
  CHECK_THAT(verdict.detail, Catch::Contains("0x8017 (certify) is not a quote"));
}

TEST_CASE("veraison parsec-tpm evidence.cbor: pat is the raw quote, kat.pubArea parses",
          "[tpm2]") {
  EXATTEST_REQUIRE_VECTORS("tpm/INDEX.md");
  Bytes cbor = file("veraison-parsec-tpm/evidence.cbor");
  auto item = exattest::cbor_load_bounded(view(cbor), exattest::CborLimits{});
  REQUIRE(item.ok());
  auto get = [](const cbor_item_t* map, const std::string& key) -> const cbor_item_t* {
    REQUIRE(cbor_isa_map(map));
    cbor_pair* pairs = cbor_map_handle(map);
    for (size_t i = 0; i < cbor_map_size(map); ++i) {
      const cbor_item_t* k = pairs[i].key;
      if (cbor_isa_string(k) &&
          std::string(reinterpret_cast<const char*>(cbor_string_handle(k)),
                      cbor_string_length(k)) == key) {
        return pairs[i].value;
      }
    }
    FAIL("missing key " << key);
    return nullptr;
  };
  auto bytes = [](const cbor_item_t* b) {
    REQUIRE(cbor_isa_bytestring(b));
    return Bytes(cbor_bytestring_handle(b), cbor_bytestring_handle(b) + cbor_bytestring_length(b));
  };
  const cbor_item_t* pat = get(item->get(), "pat");
  const cbor_item_t* kat = get(item->get(), "kat");
  Bytes pat_attest = bytes(get(pat, "attestInfo"));
  Bytes pat_sig = bytes(get(pat, "sig"));
  CHECK(pat_attest == file("raw/parsec-pat.attest"));
  CHECK(pat_sig == file("raw/parsec-pat.sig"));
  auto ak = pem_key("raw/parsec-ak.pem");
  tpm2::QuoteParts parts;
  parts.attest = view(pat_attest);
  parts.signature = view(pat_sig);
  parts.ak_key = ak.get();
  parts.pcr_values = std::vector<Bytes>(3, Bytes(32, 0));
  CHECK(tpm2::verify_quote(parts, view(from_hex("deadbeefdeadbeef")),
                           pinned_policy(ak.get(), false))
            .accepted);
  auto pub = tpm2::parse_public(view(bytes(get(kat, "pubArea"))));
  REQUIRE(pub.ok());
  CHECK(pub->type == tpm2::kAlgEcc);
  CHECK(tpm2::public_to_pkey(*pub).ok());
}

TEST_CASE("tpm2-tools-quote: ak.tss.pub parses, its Name is ak.name, its key is ak.pem",
          "[tpm2]") {
  EXATTEST_REQUIRE_VECTORS("tpm/INDEX.md");
  const std::string dir = "proto-swtpm/tpm2-tools-quote/";
  auto pub = tpm2::parse_tpm2b_public(view(file(dir + "ak.tss.pub")));
  REQUIRE(pub.ok());
  auto name = tpm2::public_name(*pub);
  REQUIRE(name.ok());
  CHECK(*name == file(dir + "ak.name"));
  auto key = tpm2::public_to_pkey(*pub);
  REQUIRE(key.ok());
  auto pem = pem_key(dir + "ak.pem");
  CHECK(EVP_PKEY_eq(key->get(), pem.get()) == 1);
  CHECK((pub->attributes & (tpm2::kAttrRestricted | tpm2::kAttrSign | tpm2::kAttrFixedTpm)) ==
        (tpm2::kAttrRestricted | tpm2::kAttrSign | tpm2::kAttrFixedTpm));
}

TEST_CASE("tpm2-tools-quote: quote and quote2 verify as a child AK, fail ak_primary", "[tpm2]") {
  EXATTEST_REQUIRE_VECTORS("tpm/INDEX.md");
  const std::string dir = "proto-swtpm/tpm2-tools-quote/";
  auto nonce_hex = file(dir + "nonce.hex");
  Bytes nonce;
  REQUIRE(exattest::from_hex(
      std::string_view(reinterpret_cast<const char*>(nonce_hex.data()), 64), nonce));
  Bytes tss = file(dir + "ak.tss.pub");
  Bytes tpmt(tss.begin() + 2, tss.end());
  auto pem = pem_key(dir + "ak.pem");
  auto values = split(file(dir + "pcrs2.values"), 32);
  for (const char* q : {"quote", "quote2"}) {
    INFO(q);
    Bytes attest = file(dir + q + ".msg");
    Bytes sig = file(dir + q + ".sig");
    tpm2::QuoteParts parts;
    parts.attest = view(attest);
    parts.signature = view(sig);
    parts.ak_public = view(tpmt);
    parts.ak_key = pem.get();
    parts.pcr_values = values;
    tpm2::Policy policy = pinned_policy(pem.get(), /*ak_primary=*/false);
    policy.pcrs[7] = values[7];
    Verdict ok = tpm2::verify_quote(parts, view(nonce), policy);
    INFO(ok.detail);
    CHECK(ok.accepted);
    CHECK(ok.pcrs.at("sha256:7") == to_hex(values[7]));
    // "The endorsement-primary check must fail, because this AK is not a primary."
    policy.ak_primary = true;
    Verdict primary = tpm2::verify_quote(parts, view(nonce), policy);
    CHECK(primary.reason == Reason::kUntrustedAk);
    CHECK_THAT(primary.detail, Catch::Contains("qualifiedSigner"));
  }
}

// ---------------------------------------------------------------------------------------------
// Synthetic quotes signed by software keys: AK CA chains, attributes, clock, RSA-PSS.

namespace {

UniquePtr<EVP_PKEY> gen_key(const char* type) {
  UniquePtr<EVP_PKEY> k(std::string(type) == "EC" ? EVP_EC_gen("P-256")
                                                  : EVP_RSA_gen(2048));
  REQUIRE(k);
  return k;
}

Bytes ecc_tpmt_public(EVP_PKEY* key, uint32_t attributes) {
  Bytes point(65);
  size_t len = 0;
  REQUIRE(EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                          point.size(), &len) == 1);
  REQUIRE(len == 65);
  exattest::wire::Writer w;
  w.u16(0x0023);
  w.u16(0x000b);
  w.u32(attributes);
  w.u16(0);                             // authPolicy
  w.u16(0x0010);                        // symmetric NULL
  w.u16(0x0018);                        // ECDSA
  w.u16(0x000b);                        //   SHA-256
  w.u16(0x0003);                        // NIST P-256
  w.u16(0x0010);                        // kdf NULL
  w.u16(32);
  w.bytes(ByteView(point.data() + 1, 32));
  w.u16(32);
  w.bytes(ByteView(point.data() + 33, 32));
  return w.take();
}

Bytes rsa_tpmt_public(EVP_PKEY* key, uint32_t attributes) {
  BIGNUM* n = nullptr;
  REQUIRE(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n) == 1);
  UniquePtr<BIGNUM> owned(n);
  Bytes modulus(static_cast<size_t>(BN_num_bytes(n)));
  BN_bn2bin(n, modulus.data());
  exattest::wire::Writer w;
  w.u16(0x0001);
  w.u16(0x000b);
  w.u32(attributes);
  w.u16(0);
  w.u16(0x0010);
  w.u16(0x0016);  // RSAPSS
  w.u16(0x000b);
  w.u16(2048);
  w.u32(0);       // default exponent
  w.u16(static_cast<uint16_t>(modulus.size()));
  w.bytes(view(modulus));
  return w.take();
}

Bytes quote_attest(const Bytes& qualified_signer, const Bytes& extra_data, uint8_t safe,
                   const std::vector<Bytes>& pcrs) {
  Bytes concat;
  for (const auto& p : pcrs) concat.insert(concat.end(), p.begin(), p.end());
  auto digest = tpm2::tpm_hash(tpm2::kAlgSha256, view(concat));
  REQUIRE(digest.ok());
  exattest::wire::Writer w;
  w.u32(tpm2::kTpmGeneratedValue);
  w.u16(tpm2::kStAttestQuote);
  w.prefixed_u16([&](exattest::wire::Writer& b) { b.bytes(qualified_signer); });
  w.prefixed_u16([&](exattest::wire::Writer& b) { b.bytes(extra_data); });
  w.u64(12345);
  w.u32(1);
  w.u32(0);
  w.u8(safe);
  w.u64(0x0102030405060708ull);
  w.u32(1);
  w.u16(tpm2::kAlgSha256);
  w.u8(3);
  w.u8(0x03);  // PCRs 0 and 1
  w.u8(0);
  w.u8(0);
  w.prefixed_u16([&](exattest::wire::Writer& b) { b.bytes(*digest); });
  REQUIRE(w.ok());
  return w.take();
}

Bytes sign_tpmt(EVP_PKEY* key, const Bytes& attest) {
  UniquePtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  REQUIRE(EVP_DigestSignInit(ctx.get(), &pctx, EVP_sha256(), nullptr, key) == 1);
  bool rsa = EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA;
  if (rsa) {
    REQUIRE(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1);
    REQUIRE(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1);
  }
  size_t len = 0;
  REQUIRE(EVP_DigestSign(ctx.get(), nullptr, &len, attest.data(), attest.size()) == 1);
  Bytes sig(len);
  REQUIRE(EVP_DigestSign(ctx.get(), sig.data(), &len, attest.data(), attest.size()) == 1);
  sig.resize(len);
  exattest::wire::Writer w;
  if (rsa) {
    w.u16(tpm2::kAlgRsapss);
    w.u16(tpm2::kAlgSha256);
    w.prefixed_u16([&](exattest::wire::Writer& b) { b.bytes(sig); });
    return w.take();
  }
  const uint8_t* p = sig.data();
  UniquePtr<ECDSA_SIG> es(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size())));
  REQUIRE(es);
  auto bn = [](const BIGNUM* b) {
    Bytes out(static_cast<size_t>(BN_num_bytes(b)));
    BN_bn2bin(b, out.data());
    return out;
  };
  Bytes r = bn(ECDSA_SIG_get0_r(es.get()));
  Bytes s = bn(ECDSA_SIG_get0_s(es.get()));
  w.u16(tpm2::kAlgEcdsa);
  w.u16(tpm2::kAlgSha256);
  w.prefixed_u16([&](exattest::wire::Writer& b) { b.bytes(r); });
  w.prefixed_u16([&](exattest::wire::Writer& b) { b.bytes(s); });
  return w.take();
}

// A certificate with exactly the given extensions (NID, OpenSSL config value).
Bytes make_cert_with(EVP_PKEY* subject_key, const char* cn, EVP_PKEY* issuer_key, X509* issuer,
                     const std::vector<std::pair<int, std::string>>& exts) {
  UniquePtr<X509> x(X509_new());
  REQUIRE(x);
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 7);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 3600);
  X509_set_pubkey(x.get(), subject_key);
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const uint8_t*>(cn), -1,
                             -1, 0);
  X509_set_issuer_name(x.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, issuer ? issuer : x.get(), x.get(), nullptr, nullptr, 0);
  for (const auto& [nid, value] : exts) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str());
    REQUIRE(ext);
    X509_add_ext(x.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  REQUIRE(X509_sign(x.get(), issuer_key, EVP_sha256()) > 0);
  int len = i2d_X509(x.get(), nullptr);
  Bytes der(static_cast<size_t>(len));
  uint8_t* p = der.data();
  i2d_X509(x.get(), &p);
  return der;
}

// A CA certificate, or (ca = false) an AK certificate in the TCG profile: CA:FALSE and
// extendedKeyUsage tcg-kp-AIKCertificate (2.23.133.8.3).
Bytes make_cert(EVP_PKEY* subject_key, const char* cn, EVP_PKEY* issuer_key, X509* issuer,
                bool ca) {
  if (ca) {
    return make_cert_with(subject_key, cn, issuer_key, issuer,
                          {{NID_basic_constraints, "critical,CA:TRUE"}});
  }
  return make_cert_with(subject_key, cn, issuer_key, issuer,
                        {{NID_basic_constraints, "CA:FALSE"},
                         {NID_key_usage, "critical,digitalSignature"},
                         {NID_ext_key_usage, "2.23.133.8.3"}});
}

UniquePtr<X509> parse_cert(const Bytes& der) {
  const uint8_t* p = der.data();
  return UniquePtr<X509>(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
}

constexpr uint32_t kDefaultAkAttributes = 0x00050472;

// SHA-256(0x00 || d), computed here (not with attesters/tpm2/binding_tree).
Bytes lone_root(const Bytes& binding) {
  Bytes in{0x00};
  in.insert(in.end(), binding.begin(), binding.end());
  auto h = tpm2::tpm_hash(tpm2::kAlgSha256, view(in));
  REQUIRE(h.ok());
  return *h;
}

// A quote signed by a software AK. By default the Evidence of a lone connection: key 7 =
// [0, 1, []] and qualifyingData = SHA-256(0x00 || binding) (PROTOCOL.md §6.1).
struct Synthetic {
  UniquePtr<EVP_PKEY> key;
  tpm2::EvidenceParts ev;
  Bytes binding = Bytes(48, 0x5a);  // SHA-384 connection: a 48-byte binding
  Bytes qualifying_data;            // the quote's extraData
  uint8_t safe;
  explicit Synthetic(const char* type, uint32_t attributes = kDefaultAkAttributes,
                     uint8_t safe_bit = 1)
      : key(gen_key(type)), safe(safe_bit) {
    ev.ak_public = std::string(type) == "EC" ? ecc_tpmt_public(key.get(), attributes)
                                             : rsa_tpmt_public(key.get(), attributes);
    ev.pcr_values = {Bytes(32, 0x01), Bytes(32, 0x02)};
    ev.tree = tpm2::TreePosition{0, 1, {}};
    quote_over(lone_root(binding));
  }
  // Quotes (signs) again with this extraData.
  void quote_over(const Bytes& extra) {
    qualifying_data = extra;
    ev.attest = quote_attest(qualified_name(tpm2::kRhEndorsement, ev.ak_public), extra, safe,
                             ev.pcr_values);
    ev.signature = sign_tpmt(key.get(), ev.attest);
  }
};

}  // namespace

TEST_CASE("synthetic ECC and RSA-PSS quotes verify, with a 48-byte binding", "[tpm2]") {
  for (const char* type : {"EC", "RSA"}) {
    INFO(type);
    Synthetic s(type);
    tpm2::Policy policy = pinned_policy(s.key.get());
    policy.pcrs[1] = Bytes(32, 0x02);
    policy.require_clock_safe = true;
    Verdict v = tpm2::verify_evidence(s.ev, view(s.binding), policy);
    INFO(v.detail);
    CHECK(v.accepted);
    CHECK(v.pcrs == std::map<std::string, std::string>{
                        {"sha256:0", "0101010101010101010101010101010101010101010101010101010101010101"},
                        {"sha256:1", "0202020202020202020202020202020202020202020202020202020202020202"}});
    // Through a CMW with the PROTOCOL.md §6 media type.
    tpm2::Tpm2Appraiser appraiser(policy);
    Bytes cmw = tpm2::wrap_cmw(view(tpm2::encode_evidence(s.ev)));
    CHECK(appraiser.appraise(view(cmw), view(s.binding)).accepted);
  }
}

TEST_CASE("one appraiser over many AKs: every verdict equals a fresh appraisal's (AK cache)",
          "[tpm2]") {
  Synthetic good("EC");
  tpm2::Policy policy = pinned_policy(good.key.get());
  tpm2::Tpm2Appraiser appraiser(policy);
  auto appraise = [&](const tpm2::EvidenceParts& ev, ByteView binding) {
    Verdict cached = appraiser.appraise(view(tpm2::wrap_cmw(view(tpm2::encode_evidence(ev)))),
                                        binding);
    Verdict fresh = tpm2::verify_evidence(ev, binding, policy);
    CHECK(cached.accepted == fresh.accepted);
    CHECK(cached.reason == fresh.reason);
    CHECK(cached.ak == fresh.ak);
    return cached;
  };
  CHECK(appraise(good.ev, view(good.binding)).accepted);
  CHECK(appraise(good.ev, view(good.binding)).accepted);  // now from the cache
  // The same AK with restricted cleared in key 3: other bytes, so derived afresh; the SPKI is
  // still pinned but the signed Name is not this public area's.
  tpm2::EvidenceParts altered = good.ev;
  REQUIRE(altered.ak_public[5] == 0x05);
  altered.ak_public[5] = 0x04;
  CHECK(appraise(altered, view(good.binding)).reason == Reason::kUntrustedAk);
  // More AKs than the cache holds, none pinned.
  for (int i = 0; i < 10; ++i) {
    Synthetic other(i % 2 ? "EC" : "RSA");
    CHECK(appraise(other.ev, view(other.binding)).reason == Reason::kUntrustedAk);
  }
  Verdict again = appraise(good.ev, view(good.binding));
  CHECK(again.accepted);
  CHECK(again.ak == "sha256:" + to_hex(spki_hash(good.key.get())));
  // A wrong binding with a cached AK is still binding_mismatch.
  CHECK(appraise(good.ev, view(Bytes(48, 0x00))).reason == Reason::kBindingMismatch);
}

TEST_CASE("synthetic: clockInfo.safe = 0 is policy_violation only when required", "[tpm2]") {
  Synthetic s("EC", kDefaultAkAttributes, /*safe=*/0);
  tpm2::Policy policy = pinned_policy(s.key.get());
  CHECK(tpm2::verify_evidence(s.ev, view(s.binding), policy).accepted);
  policy.require_clock_safe = true;
  Verdict v = tpm2::verify_evidence(s.ev, view(s.binding), policy);
  CHECK(v.reason == Reason::kPolicyViolation);
  CHECK_THAT(v.detail, Catch::Contains("require_clock_safe"));
}

TEST_CASE("synthetic: a signed primary without restricted/sign/fixedTPM is untrusted_ak",
          "[tpm2]") {
  for (uint32_t missing : {tpm2::kAttrRestricted, tpm2::kAttrFixedTpm, tpm2::kAttrSign}) {
    INFO(missing);
    Synthetic s("EC", kDefaultAkAttributes & ~missing);
    tpm2::Policy policy = pinned_policy(s.key.get());
    Verdict v = tpm2::verify_evidence(s.ev, view(s.binding), policy);
    CHECK(v.reason == Reason::kUntrustedAk);
    CHECK_THAT(v.detail, Catch::Contains("attributes"));
  }
}

TEST_CASE("synthetic: AK trusted through ak_ca and evidence key 5", "[tpm2]") {
  Synthetic s("EC");
  auto ca_key = gen_key("EC");
  Bytes ca_der = make_cert(ca_key.get(), "AK CA", ca_key.get(), nullptr, true);
  auto ca = parse_cert(ca_der);
  REQUIRE(ca);
  auto inter_key = gen_key("EC");
  Bytes inter_der = make_cert(inter_key.get(), "AK intermediate", ca_key.get(), ca.get(), true);
  auto inter = parse_cert(inter_der);
  REQUIRE(inter);
  Bytes leaf_der = make_cert(s.key.get(), "AK", inter_key.get(), inter.get(), false);

  tpm2::Policy policy;
  policy.ak_ca_path = "ak-ca.pem";
  policy.ak_ca_certs = {ca_der};

  s.ev.ak_certs = {leaf_der, inter_der};
  Verdict ok = tpm2::verify_evidence(s.ev, view(s.binding), policy);
  INFO(ok.detail);
  CHECK(ok.accepted);
  // Through the CBOR map (key 5) as well.
  auto round = tpm2::decode_evidence(view(tpm2::encode_evidence(s.ev)));
  REQUIRE(round.ok());
  CHECK(round->ak_certs == s.ev.ak_certs);
  CHECK(tpm2::verify_evidence(*round, view(s.binding), policy).accepted);

  // No key 5.
  tpm2::EvidenceParts no_certs = s.ev;
  no_certs.ak_certs.clear();
  CHECK(tpm2::verify_evidence(no_certs, view(s.binding), policy).reason == Reason::kUntrustedAk);
  // Missing intermediate.
  tpm2::EvidenceParts no_inter = s.ev;
  no_inter.ak_certs = {leaf_der};
  CHECK(tpm2::verify_evidence(no_inter, view(s.binding), policy).reason == Reason::kUntrustedAk);
  // A valid chain certifying another key.
  auto other = gen_key("EC");
  tpm2::EvidenceParts wrong_key = s.ev;
  wrong_key.ak_certs = {make_cert(other.get(), "AK", inter_key.get(), inter.get(), false),
                        inter_der};
  Verdict wk = tpm2::verify_evidence(wrong_key, view(s.binding), policy);
  CHECK(wk.reason == Reason::kUntrustedAk);
  CHECK_THAT(wk.detail, Catch::Contains("another key"));
  // A chain to a CA the policy does not trust.
  auto rogue_key = gen_key("EC");
  Bytes rogue_der = make_cert(rogue_key.get(), "AK CA", rogue_key.get(), nullptr, true);
  auto rogue = parse_cert(rogue_der);
  tpm2::EvidenceParts rogue_chain = s.ev;
  rogue_chain.ak_certs = {make_cert(s.key.get(), "AK", rogue_key.get(), rogue.get(), false)};
  CHECK(tpm2::verify_evidence(rogue_chain, view(s.binding), policy).reason ==
        Reason::kUntrustedAk);
  // Garbage in key 5.
  tpm2::EvidenceParts garbage = s.ev;
  garbage.ak_certs = {Bytes{0x30, 0x03, 0x02, 0x01}};
  CHECK(tpm2::verify_evidence(garbage, view(s.binding), policy).reason == Reason::kUntrustedAk);
}

TEST_CASE("ak_ca: only a certificate in the TCG AK profile vouches for an AK (issue #11 item 11)",
          "[tpm2]") {
  // A software key certified by the AK CA for another purpose signs a forged quote.
  Synthetic s("EC");
  auto ca_key = gen_key("EC");
  Bytes ca_der = make_cert(ca_key.get(), "AK CA", ca_key.get(), nullptr, true);
  auto ca = parse_cert(ca_der);
  REQUIRE(ca);
  tpm2::Policy policy;
  policy.ak_ca_path = "ak-ca.pem";
  policy.ak_ca_certs = {ca_der};
  auto verdict = [&](std::vector<std::pair<int, std::string>> exts) {
    tpm2::EvidenceParts ev = s.ev;
    ev.ak_certs = {make_cert_with(s.key.get(), "AK", ca_key.get(), ca.get(), exts)};
    return tpm2::verify_evidence(ev, view(s.binding), policy);
  };
  const std::pair<int, std::string> ee{NID_basic_constraints, "CA:FALSE"};
  const std::pair<int, std::string> tcg{NID_ext_key_usage, "2.23.133.8.3"};

  // The profile itself: accepted, also without keyUsage.
  CHECK(verdict({ee, tcg}).accepted);
  CHECK(verdict({tcg}).accepted);

  struct Case {
    const char* what;
    std::vector<std::pair<int, std::string>> exts;
    const char* detail;
  };
  const std::vector<Case> refused = {
      {"serverAuth only", {ee, {NID_ext_key_usage, "serverAuth"}}, "extendedKeyUsage lacks 2.23.133.8.3"},
      {"codeSigning only", {ee, {NID_ext_key_usage, "codeSigning"}}, "extendedKeyUsage lacks 2.23.133.8.3"},
      {"anyExtendedKeyUsage", {ee, {NID_ext_key_usage, "anyExtendedKeyUsage"}}, "extendedKeyUsage lacks"},
      {"CA:TRUE with the EKU", {{NID_basic_constraints, "critical,CA:TRUE"}, tcg}, "CA:TRUE"},
      {"CA:TRUE without EKU", {{NID_basic_constraints, "critical,CA:TRUE"}}, "CA:TRUE"},
      {"no extensions", {}, "no extendedKeyUsage"},
      {"CA:FALSE, no EKU", {ee}, "no extendedKeyUsage"},
      {"keyUsage without digitalSignature",
       {ee, {NID_key_usage, "keyEncipherment"}, tcg},
       "keyUsage does not allow digitalSignature"},
  };
  for (const auto& c : refused) {
    INFO(c.what);
    Verdict v = verdict(c.exts);
    CHECK_FALSE(v.accepted);
    CHECK(v.reason == Reason::kUntrustedAk);
    CHECK_THAT(v.detail, Catch::Contains(c.detail));
  }
  // The CA's own certificate presented as the AK's (the CA key signs the quote).
  Synthetic as_ca("EC");
  tpm2::Policy self = policy;
  Bytes self_der = make_cert(as_ca.key.get(), "AK CA", as_ca.key.get(), nullptr, true);
  self.ak_ca_certs = {self_der};
  as_ca.ev.ak_certs = {self_der};
  Verdict sv = tpm2::verify_evidence(as_ca.ev, view(as_ca.binding), self);
  CHECK(sv.reason == Reason::kUntrustedAk);
  CHECK_THAT(sv.detail, Catch::Contains("CA:TRUE"));

  // "ak_eku" names another OID: that one is required instead of the TCG one.
  policy.ak_eku = "1.3.6.1.4.1.99999.1";
  CHECK(verdict({ee, {NID_ext_key_usage, "1.3.6.1.4.1.99999.1"}}).accepted);
  Verdict other = verdict({ee, tcg});
  CHECK(other.reason == Reason::kUntrustedAk);
  CHECK_THAT(other.detail, Catch::Contains("lacks 1.3.6.1.4.1.99999.1 (policy ak_eku)"));
  // A pinned AK needs no certificate at all.
  tpm2::Policy pinned = pinned_policy(s.key.get());
  tpm2::EvidenceParts bare = s.ev;
  bare.ak_certs.clear();
  CHECK(tpm2::verify_evidence(bare, view(s.binding), pinned).accepted);
}

TEST_CASE("QuoteParts: TPMT_PUBLIC and a different AK key together are untrusted_ak", "[tpm2]") {
  Synthetic s("EC");
  auto other = gen_key("EC");
  tpm2::QuoteParts parts;
  parts.attest = view(s.ev.attest);
  parts.signature = view(s.ev.signature);
  parts.ak_public = view(s.ev.ak_public);
  parts.ak_key = other.get();
  parts.pcr_values = s.ev.pcr_values;
  tpm2::Policy policy = pinned_policy(s.key.get());
  CHECK(tpm2::verify_quote(parts, view(s.qualifying_data), policy).reason == Reason::kUntrustedAk);
  parts.ak_key = s.key.get();
  CHECK(tpm2::verify_quote(parts, view(s.qualifying_data), policy).accepted);
  parts.ak_key = nullptr;
  parts.ak_public.reset();
  CHECK(tpm2::verify_quote(parts, view(s.qualifying_data), policy).reason == Reason::kDecodeError);
}

TEST_CASE("synthetic: a lone connection's quote carries SHA-256(0x00 || binding)", "[tpm2]") {
  Synthetic s("EC");
  auto attest = tpm2::parse_quote_attest(view(s.ev.attest));
  REQUIRE(attest.ok());
  CHECK(attest->extra_data.size() == 32);
  CHECK(attest->extra_data == lone_root(s.binding));
  tpm2::Policy policy = pinned_policy(s.key.get());
  CHECK(tpm2::verify_evidence(s.ev, view(s.binding), policy).accepted);
  // The raw binding as qualifyingData (the version-1 form) with key 7 [0, 1, []]: 48 bytes of
  // extraData are no 32-byte root.
  s.quote_over(s.binding);
  Verdict v1 = tpm2::verify_evidence(s.ev, view(s.binding), policy);
  CHECK(v1.reason == Reason::kBindingMismatch);
  CHECK_THAT(v1.detail, Catch::Contains("48 bytes, not a 32-byte binding-tree root"));
  s.quote_over(Bytes{});
  CHECK(tpm2::verify_evidence(s.ev, view(s.binding), policy).reason == Reason::kBindingMismatch);
  // A 32-byte root of something else.
  s.quote_over(lone_root(Bytes(48, 0x5b)));
  Verdict other = tpm2::verify_evidence(s.ev, view(s.binding), policy);
  CHECK(other.reason == Reason::kBindingMismatch);
  CHECK_THAT(other.detail, Catch::Contains("not the binding-tree root"));
}

TEST_CASE("synthetic: one quote over a tree of 5 serves each connection, and only it",
          "[tpm2]") {
  Synthetic s("EC");
  std::vector<Bytes> bindings;
  for (uint8_t i = 0; i < 5; ++i) bindings.push_back(Bytes(i % 2 ? 32 : 48, 0x40 + i));
  std::vector<ByteView> views(bindings.begin(), bindings.end());
  auto tree = tpm2::build_binding_tree(views);
  REQUIRE(tree.ok());
  s.quote_over(tree->root);
  tpm2::Policy policy = pinned_policy(s.key.get());
  tpm2::Tpm2Appraiser appraiser(policy);
  for (size_t i = 0; i < 5; ++i) {
    INFO("leaf " << i);
    tpm2::EvidenceParts ev = s.ev;
    ev.tree = tree->positions[i];
    Verdict ok = tpm2::verify_evidence(ev, view(bindings[i]), policy);
    INFO(ok.detail);
    CHECK(ok.accepted);
    Bytes cmw = tpm2::wrap_cmw(view(tpm2::encode_evidence(ev)));
    CHECK(appraiser.appraise(view(cmw), view(bindings[i])).accepted);
    // A swapped leaf: this Evidence presented for another connection's binding.
    size_t j = (i + 1) % 5;
    CHECK(tpm2::verify_evidence(ev, view(bindings[j]), policy).reason ==
          Reason::kBindingMismatch);
    CHECK(appraiser.appraise(view(cmw), view(bindings[j])).reason == Reason::kBindingMismatch);
    // Another leaf's key 7 with this binding.
    tpm2::EvidenceParts other = s.ev;
    other.tree = tree->positions[j];
    CHECK(tpm2::verify_evidence(other, view(bindings[i]), policy).reason ==
          Reason::kBindingMismatch);
    // A path element changed: the root differs.
    if (!ev.tree->path.empty()) {
      tpm2::EvidenceParts bent = ev;
      bent.tree->path.back()[0] ^= 0x01;
      CHECK(tpm2::verify_evidence(bent, view(bindings[i]), policy).reason ==
            Reason::kBindingMismatch);
    }
  }
}

TEST_CASE("synthetic: key 7 absent or out of limits is decode_error before any step", "[tpm2]") {
  Synthetic s("EC");
  tpm2::Policy policy = pinned_policy(s.key.get());
  tpm2::EvidenceParts none = s.ev;
  none.tree.reset();
  Verdict v = tpm2::verify_evidence(none, view(s.binding), policy);
  CHECK(v.reason == Reason::kDecodeError);
  CHECK_THAT(v.detail, Catch::Contains("required key 7"));
  for (const tpm2::TreePosition& bad :
       {tpm2::TreePosition{0, 0, {}}, tpm2::TreePosition{0, 4097, {}},
        tpm2::TreePosition{1, 1, {}}, tpm2::TreePosition{0, 2, {}},
        tpm2::TreePosition{0, 1, {Bytes(32, 0)}}, tpm2::TreePosition{0, 2, {Bytes(31, 0)}}}) {
    tpm2::EvidenceParts ev = s.ev;
    ev.tree = bad;
    // A broken TPMS_ATTEST too: key 7 is judged first (it is part of decoding).
    ev.attest[0] ^= 0xff;
    Verdict r = tpm2::verify_evidence(ev, view(s.binding), policy);
    CHECK(r.reason == Reason::kDecodeError);
    CHECK_THAT(r.detail, Catch::Contains("key 7"));
  }
}
