// Tests of attesters/tpm2: the AK template, the ESAPI attester against swtpm, fork safety.
//
// Three groups, registered differently (see tests/integration/swtpm.cmake):
//  * visible [tpm2-attester] cases need no TPM: discovered as ordinary unit tests;
//  * [.tpm2-offline] cases talk to a TCTI where no TPM runs: run with a ctest TIMEOUT, so a
//    hang fails the test instead of blocking the suite;
//  * [.swtpm] cases need a running swtpm: run with the ctest fixture tpm2_attester_swtpm,
//    which passes the TCTI string in the file named by $EXATTEST_TEST_TCTI_FILE.
// Hidden cases are never discovered by the generic unit-test loop.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "attesters/tpm2/ak_template.h"
#include "attesters/tpm2/attester.h"
#include "attesters/tpm2/evidence.h"
#include "attesters/tpm2/pcr_selection.h"
#include "attesters/tpm2/policy.h"
#include "attesters/tpm2/tpm_structs.h"
#include "attesters/tpm2/verifier.h"
#include "eventlog_builder.h"
#include "test_support.h"

namespace {

using exattest::Bytes;
using exattest::ByteView;
using exattest::Verdict;
using exattest::Reason;
using exattest::view;
using namespace exattest::tpm2;
namespace fs = std::filesystem;

PcrSelection sel(const std::string& spec) {
  auto s = parse_pcr_selection(spec);
  REQUIRE(s.ok());
  return s.value();
}

Tpm2Config config_for(const std::string& tcti, const std::string& pcrs = "sha256:0,1,2,3,4,5,6,7",
                      AkAlgorithm alg = AkAlgorithm::kEccP256) {
  Tpm2Config c;
  c.tcti = tcti;
  c.pcrs = sel(pcrs);
  c.ak_alg = alg;
  return c;
}

// The swtpm fixture's TCTI string (tests/integration/swtpm_fixture.cmake.inc).
std::string fixture_tcti() {
  const char* file = std::getenv("EXATTEST_TEST_TCTI_FILE");
  INFO("run through ctest (fixture tpm2_attester_swtpm), or set EXATTEST_TEST_TCTI_FILE");
  REQUIRE(file != nullptr);
  std::ifstream f(file);
  std::string tcti;
  std::getline(f, tcti);
  REQUIRE(tcti.rfind("swtpm:host=127.0.0.1,port=", 0) == 0);
  return tcti;
}

// The fixture's state directory (for scripts/swtpm.sh extend): where the tcti file is.
std::string fixture_dir() {
  const char* file = std::getenv("EXATTEST_TEST_TCTI_FILE");
  REQUIRE(file != nullptr);
  return fs::path(file).parent_path().string();
}

Bytes sha256(const Bytes& in) {
  Bytes out(32);
  SHA256(in.data(), in.size(), out.data());
  return out;
}

Bytes pattern(size_t n, uint8_t seed) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(seed + i * 7);
  return b;
}

// Policy pinning this attester's AK and the current values of `pcrs` (sha256 bank).
Policy policy_now(Tpm2Attester& a, const std::vector<uint32_t>& pcrs) {
  auto ak = a.ak_public();
  REQUIRE(ak.ok());
  Policy p;
  p.trusted_aks.push_back(exattest::test::from_hex(ak->spki_sha256.substr(7)));
  PcrSelection s;
  s.banks.push_back(PcrBank{kAlgSha256, pcrs});
  auto values = a.read_pcrs(s);
  REQUIRE(values.ok());
  for (size_t i = 0; i < pcrs.size(); ++i) p.pcrs[pcrs[i]] = values.value()[i];
  return p;
}

void write_bytes(const fs::path& p, const Bytes& b) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  REQUIRE(f.good());
}

// A loopback TCP port nobody listens on right now (bound, then released).
int unused_port() {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(s >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  REQUIRE(bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  socklen_t len = sizeof(addr);
  REQUIRE(getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  close(s);
  return ntohs(addr.sin_port);
}

// Checks a quote with OpenSSL alone (independently of the verifier): the AK's signature
// over the TPMS_ATTEST bytes, and extraData == binding.
// PROTOCOL.md §6.1: a connection served alone has qualifyingData = SHA-256(0x00 || binding).
Bytes lone_root(const Bytes& binding) {
  Bytes in{0x00};
  in.insert(in.end(), binding.begin(), binding.end());
  return sha256(in);
}

void check_with_openssl(const EvidenceParts& parts, const Bytes& binding) {
  auto pub = parse_public(view(parts.ak_public));
  REQUIRE(pub.ok());
  auto pkey = public_to_pkey(pub.value());
  REQUIRE(pkey.ok());
  auto sig = parse_signature(view(parts.signature));
  REQUIRE(sig.ok());
  REQUIRE(sig->hash_alg == kAlgSha256);
  exattest::UniquePtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  REQUIRE(EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey.value().get()) == 1);
  CHECK(EVP_DigestVerify(ctx.get(), sig->der_or_raw.data(), sig->der_or_raw.size(),
                         parts.attest.data(), parts.attest.size()) == 1);
  auto attest = parse_quote_attest(view(parts.attest));
  REQUIRE(attest.ok());
  CHECK(attest->extra_data == lone_root(binding));
  REQUIRE(parts.tree.has_value());
  CHECK(*parts.tree == exattest::tpm2::TreePosition{0, 1, {}});
}

// ---------------------------------------------------------------------------------------
// No TPM needed.

TEST_CASE("ECC AK template marshals to exactly the PROTOCOL.md §6 template", "[tpm2-attester]") {
  // type ECC | nameAlg SHA-256 | attributes 0x00050472 | authPolicy empty | symmetric NULL |
  // scheme ECDSA, SHA-256 | curve NIST P-256 | kdf NULL | unique.x empty | unique.y empty
  CHECK(exattest::test::to_hex(ak_template_bytes(AkAlgorithm::kEccP256)) ==
        "0023"
        "000b"
        "00050472"
        "0000"
        "0010"
        "0018"
        "000b"
        "0003"
        "0010"
        "0000"
        "0000");
  TPM2B_PUBLIC t = ak_template(AkAlgorithm::kEccP256);
  CHECK(t.publicArea.objectAttributes ==
        (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
         TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED |
         TPMA_OBJECT_SIGN_ENCRYPT));
}

TEST_CASE("RSA-2048 AK template: RSASSA-SHA256 restricted signing key", "[tpm2-attester]") {
  // type RSA | nameAlg | attributes | authPolicy | symmetric NULL | RSASSA, SHA-256 |
  // keyBits 2048 | exponent 0 (= 65537) | unique.rsa empty
  CHECK(exattest::test::to_hex(ak_template_bytes(AkAlgorithm::kRsa2048)) ==
        "0001"
        "000b"
        "00050472"
        "0000"
        "0010"
        "0014"
        "000b"
        "0800"
        "00000000"
        "0000");
}

TEST_CASE("AK algorithm names", "[tpm2-attester]") {
  CHECK(ak_algorithm_from_name("ecc256").value() == AkAlgorithm::kEccP256);
  CHECK(ak_algorithm_from_name("rsa2048").value() == AkAlgorithm::kRsa2048);
  auto bad = ak_algorithm_from_name("ecc384");
  CHECK(bad.reason() == Reason::kPolicyError);
  CHECK(bad.error().detail.find("ecc384") != std::string::npos);
  CHECK(ak_algorithm_name(AkAlgorithm::kRsa2048) == "rsa2048");
}

TEST_CASE("binding outside 1..64 bytes is refused before any TPM I/O", "[tpm2-attester]") {
  // tcti points nowhere: the size check must come first, so the detail names the binding.
  Tpm2Attester a(config_for("swtpm:host=127.0.0.1,port=1"));
  for (size_t n : {size_t{0}, size_t{65}}) {
    auto r = a.quote(Bytes(n, 0xab));
    REQUIRE(r.reason() == Reason::kAttesterUnavailable);
    CHECK(r.error().detail.find("binding is " + std::to_string(n) + " bytes") != std::string::npos);
  }
}

// ---------------------------------------------------------------------------------------
// No TPM running: must fail fast (ctest TIMEOUT bounds a hang).

TEST_CASE("TPM not running gives attester_unavailable naming the TCTI and the fix",
          "[.tpm2-offline]") {
  const std::string tcti = "swtpm:host=127.0.0.1,port=" + std::to_string(unused_port());
  Tpm2Attester a(config_for(tcti));
  auto ev = a.evidence(pattern(48, 1));
  REQUIRE(ev.reason() == Reason::kAttesterUnavailable);
  INFO(ev.error().detail);
  CHECK(ev.error().detail.find("no TPM at tcti=" + tcti) != std::string::npos);
  CHECK(ev.error().detail.find("EXATTEST_TCTI") != std::string::npos);
  // Every entry point fails the same way, and a second try does too (no cached state).
  CHECK(a.ak_public().reason() == Reason::kAttesterUnavailable);
  CHECK(a.read_pcrs(sel("sha256:0")).reason() == Reason::kAttesterUnavailable);
  CHECK(a.quote(pattern(32, 2)).reason() == Reason::kAttesterUnavailable);
}

TEST_CASE("an unknown TCTI name gives attester_unavailable naming it", "[.tpm2-offline]") {
  Tpm2Attester a(config_for("nosuchtcti:foo=bar"));
  auto r = a.quote(pattern(32, 3));
  REQUIRE(r.reason() == Reason::kAttesterUnavailable);
  CHECK(r.error().detail.find("tcti=nosuchtcti:foo=bar") != std::string::npos);
}

// ---------------------------------------------------------------------------------------
// Against swtpm (fixture tpm2_attester_swtpm).

TEST_CASE("ECC quote -> appraisal round trip on swtpm", "[.swtpm]") {
  Tpm2Attester a(config_for(fixture_tcti()));
  const Bytes binding = pattern(32, 0x10);
  Policy policy = policy_now(a, {0, 1, 2, 3, 4, 5, 6, 7});

  auto cmw = a.evidence(binding);
  REQUIRE(cmw.ok());
  auto parts = unwrap_cmw(view(cmw.value()));
  REQUIRE(parts.ok());
  CHECK(parts->pcr_values.size() == 8);
  // Key 3 is the TPMT_PUBLIC of the §6 AK: the template plus the TPM's unique point.
  auto pub = parse_public(view(parts->ak_public));
  REQUIRE(pub.ok());
  CHECK(pub->type == kAlgEcc);
  CHECK(pub->attributes == kAkAttributes);
  CHECK(pub->curve == kEccNistP256);
  CHECK(pub->ecc_x.size() == 32);
  check_with_openssl(parts.value(), binding);

  Tpm2Appraiser appraiser(policy);
  auto v = appraiser.appraise(view(cmw.value()), view(binding));
  INFO(v.detail);
  CHECK(v.accepted);
  CHECK(v.reason == Reason::kNone);
  CHECK(v.ak == a.ak_public()->spki_sha256);

  // The same Evidence under another binding is a binding_mismatch.
  auto other = appraiser.appraise(view(cmw.value()), view(pattern(32, 0x11)));
  CHECK(other.reason == Reason::kBindingMismatch);
}

TEST_CASE("RSA-2048 quote -> appraisal round trip on swtpm", "[.swtpm]") {
  Tpm2Attester a(config_for(fixture_tcti(), "sha256:0,7", AkAlgorithm::kRsa2048));
  const Bytes binding = pattern(48, 0x20);
  Policy policy = policy_now(a, {0, 7});
  auto parts = a.quote(binding);
  REQUIRE(parts.ok());
  auto pub = parse_public(view(parts->ak_public));
  REQUIRE(pub.ok());
  CHECK(pub->type == kAlgRsa);
  CHECK(pub->rsa_n.size() == 256);
  check_with_openssl(parts.value(), binding);
  auto v = verify_evidence(parts.value(), view(binding), policy);
  INFO(v.detail);
  CHECK(v.accepted);
  // The ECC and RSA AKs are different keys.
  Tpm2Attester ecc(config_for(fixture_tcti()));
  CHECK(ecc.ak_public()->spki_sha256 != a.ak_public()->spki_sha256);
}

TEST_CASE("an event log (key 6) is judged after the quote: replay, then secure_boot",
          "[.swtpm]") {
  Tpm2Attester a(config_for(fixture_tcti(), "sha256:0,7"));
  const Bytes binding = pattern(32, 0x30);
  Policy policy = policy_now(a, {0, 7});
  auto parts = a.quote(binding);
  REQUIRE(parts.ok());
  REQUIRE(verify_evidence(parts.value(), view(binding), policy).accepted);

  // A boot whose PCR 0 and 7 events are not what this TPM holds.
  parts->event_log = exattest::test::EventLogBuilder::uefi_boot(1).bytes();
  auto v = verify_evidence(parts.value(), view(binding), policy);
  CHECK(v.reason == Reason::kPcrMismatch);
  CHECK(v.detail.find("the event log does not replay to the quoted PCR sha256:0:") == 0);

  // A log that extends nothing (Spec ID header only) explains nothing about Secure Boot.
  parts->event_log = exattest::test::EventLogBuilder({exattest::test::EventLogBuilder::kSha256})
                         .bytes();
  CHECK(verify_evidence(parts.value(), view(binding), policy).accepted);
  policy.secure_boot_required = true;
  v = verify_evidence(parts.value(), view(binding), policy);
  CHECK(v.reason == Reason::kPolicyViolation);
  CHECK(v.detail.find("no EV_EFI_VARIABLE_DRIVER_CONFIG event of SecureBoot") !=
        std::string::npos);
  parts->event_log.reset();
  v = verify_evidence(parts.value(), view(binding), policy);
  CHECK(v.reason == Reason::kPolicyViolation);
  CHECK(v.detail.find("the peer sent no event log") != std::string::npos);
}

TEST_CASE("the AK is the same across two separate ESYS contexts", "[.swtpm]") {
  Tpm2Attester a(config_for(fixture_tcti()));
  Tpm2Attester b(config_for(fixture_tcti()));
  auto ak_a = a.ak_public();
  auto ak_b = b.ak_public();
  REQUIRE(ak_a.ok());
  REQUIRE(ak_b.ok());
  CHECK(ak_a->spki_sha256 == ak_b->spki_sha256);
  CHECK(ak_a->spki_sha256.size() == 7 + 64);
  CHECK(ak_a->spki_der == ak_b->spki_der);
  CHECK(ak_a->spki_pem.rfind("-----BEGIN PUBLIC KEY-----\n", 0) == 0);
  // SPKI hash is SHA-256 of the DER; Name = 000b || SHA-256(TPMT_PUBLIC).
  CHECK(ak_a->spki_sha256 == "sha256:" + exattest::test::to_hex(sha256(ak_a->spki_der)));
  Bytes name = {0x00, 0x0b};
  Bytes h = sha256(ak_a->tpmt_public);
  name.insert(name.end(), h.begin(), h.end());
  CHECK(ak_a->name == name);
  // The AK in a quote is that AK, byte for byte.
  auto q = b.quote(pattern(32, 0x30));
  REQUIRE(q.ok());
  CHECK(q->ak_public == ak_a->tpmt_public);
}

TEST_CASE("a 48-byte (SHA-384) binding: the quote's extraData is its 32-byte leaf hash",
          "[.swtpm]") {
  Tpm2Attester a(config_for(fixture_tcti()));
  const Bytes binding = pattern(48, 0x40);
  auto parts = a.quote(binding);
  REQUIRE(parts.ok());
  auto attest = parse_quote_attest(view(parts->attest));
  REQUIRE(attest.ok());
  // PROTOCOL.md §6: "qualifyingData is the 32-byte root of §6.1, never the raw binding".
  CHECK(attest->extra_data.size() == 32);
  CHECK(attest->extra_data == lone_root(binding));
  CHECK(attest->magic == kTpmGeneratedValue);
  CHECK(attest->type == kStAttestQuote);
  REQUIRE(parts->tree.has_value());
  CHECK(*parts->tree == exattest::tpm2::TreePosition{0, 1, {}});
  // A 64-byte leaf works the same way (still 32 bytes of qualifyingData).
  auto max = a.quote(pattern(64, 0x41));
  REQUIRE(max.ok());
  CHECK(parse_quote_attest(view(max->attest))->extra_data == lone_root(pattern(64, 0x41)));
}

TEST_CASE("quote_batch: one TPM2_Quote serves every binding, each only its own", "[.swtpm]") {
  Tpm2Attester a(config_for(fixture_tcti(), "sha256:0,7"));
  Policy policy = policy_now(a, {0, 7});
  Tpm2Appraiser appraiser(policy);
  for (size_t n : {size_t{2}, size_t{7}, size_t{4096}}) {
    INFO("n = " << n);
    std::vector<Bytes> bindings;
    for (size_t i = 0; i < n; ++i) {
      Bytes b = pattern(i % 2 ? 48 : 32, static_cast<uint8_t>(i));
      b[0] = static_cast<uint8_t>(i >> 8);
      b[1] = static_cast<uint8_t>(i);
      bindings.push_back(std::move(b));
    }
    std::vector<ByteView> views(bindings.begin(), bindings.end());
    const uint64_t quotes_before = a.counters().quote;
    auto records = a.evidence_batch(views);
    REQUIRE(records.ok());
    CHECK(a.counters().quote - quotes_before == 1);
    REQUIRE(records->size() == n);
    Bytes first_attest;
    for (size_t i : {size_t{0}, size_t{1}, n / 2, n - 2, n - 1}) {
      INFO("leaf " << i);
      auto parts = unwrap_cmw(view((*records)[i]));
      REQUIRE(parts.ok());
      REQUIRE(parts->tree.has_value());
      CHECK(parts->tree->leaf_index == i);
      CHECK(parts->tree->tree_size == n);
      if (first_attest.empty()) first_attest = parts->attest;
      CHECK(parts->attest == first_attest);  // the same quote for all
      Verdict v = appraiser.appraise(view((*records)[i]), view(bindings[i]));
      INFO(v.detail);
      CHECK(v.accepted);
      // Another connection's binding with this record: binding_mismatch.
      CHECK(appraiser.appraise(view((*records)[i]), view(bindings[(i + 1) % n])).reason ==
            Reason::kBindingMismatch);
    }
  }
  // 4097 bindings are refused before any TPM command.
  std::vector<Bytes> many(4097, pattern(32, 1));
  std::vector<ByteView> views(many.begin(), many.end());
  const uint64_t quotes_before = a.counters().quote;
  CHECK(a.quote_batch(views).reason() == Reason::kAttesterUnavailable);
  CHECK(a.quote_batch({}).reason() == Reason::kAttesterUnavailable);
  CHECK(a.counters().quote == quotes_before);
}

TEST_CASE("all 24 sha256 PCRs plus a sha1 bank: several PCR_Read calls, selection order",
          "[.swtpm]") {
  // TPM2_PCR_Read returns at most 8 digests per call; 24 + 2 need four calls.
  Tpm2Attester a(config_for(fixture_tcti(), "sha256:0-23+sha1:3,16"));
  auto parts = a.quote(pattern(32, 0x50));
  REQUIRE(parts.ok());
  REQUIRE(parts->pcr_values.size() == 26);
  CHECK(parts->pcr_values[0].size() == 32);
  CHECK(parts->pcr_values[25].size() == 20);
  // Values in selection order equal read_pcrs' (bank, then index).
  auto values = a.read_pcrs(sel("sha256:0-23+sha1:3,16"));
  REQUIRE(values.ok());
  CHECK(values.value() == parts->pcr_values);
  // pcrDigest = SHA-256 of the concatenation, as the attester checked before returning.
  Bytes concat;
  for (const Bytes& v : parts->pcr_values) concat.insert(concat.end(), v.begin(), v.end());
  CHECK(parse_quote_attest(view(parts->attest))->pcr_digest == sha256(concat));
}

TEST_CASE("tpm2_pcrextend on a selected PCR: read_pcrs sees it, appraisal says pcr_mismatch",
          "[.swtpm]") {
  Tpm2Attester a(config_for(fixture_tcti(), "sha256:0,16"));
  Policy before = policy_now(a, {0, 16});
  const Bytes binding = pattern(32, 0x60);
  {
    auto cmw = a.evidence(binding);
    REQUIRE(cmw.ok());
    CHECK(Tpm2Appraiser(before).appraise(view(cmw.value()), view(binding)).accepted);
  }
  const std::string cmd = std::string(EXATTEST_SOURCE_DIR) + "/scripts/swtpm.sh extend " +
                          fixture_dir() + " 16 >/dev/null";
  REQUIRE(std::system(cmd.c_str()) == 0);
  // PCR 16 = SHA-256(old || SHA-256("exattest")), the script's default digest.
  Bytes expect = before.pcrs.at(16);
  const std::string word = "exattest";
  Bytes d = sha256(Bytes(word.begin(), word.end()));
  expect.insert(expect.end(), d.begin(), d.end());
  auto now = a.read_pcrs(sel("sha256:16"));
  REQUIRE(now.ok());
  CHECK(now.value().at(0) == sha256(expect));

  auto cmw = a.evidence(binding);
  REQUIRE(cmw.ok());
  auto v = Tpm2Appraiser(before).appraise(view(cmw.value()), view(binding));
  CHECK_FALSE(v.accepted);
  CHECK(v.reason == Reason::kPcrMismatch);
}

TEST_CASE("steady state: AK created once then context-loaded, PCRs re-read only when changed",
          "[.swtpm]") {
  Tpm2Attester a(config_for(fixture_tcti(), "sha256:0,16"));
  Policy before = policy_now(a, {0, 16});
  const Tpm2Attester::Counters start = a.counters();
  for (uint8_t i = 0; i < 5; ++i) {
    const Bytes binding = pattern(32, static_cast<uint8_t>(0x70 + i));
    auto cmw = a.evidence(binding);
    REQUIRE(cmw.ok());
    CHECK(Tpm2Appraiser(before).appraise(view(cmw.value()), view(binding)).accepted);
  }
  Tpm2Attester::Counters c = a.counters();
  CHECK(c.create_primary - start.create_primary == 1);  // the first quote; then it is loaded
  CHECK(c.context_load - start.context_load == 4);
  CHECK(c.quote - start.quote == 5);
  CHECK(c.pcr_read - start.pcr_read == 1);  // the first quote only

  // A selected PCR changes: the next quote's pcrDigest no longer matches the cached values,
  // so it reads them again and sends the new ones, exactly as signed.
  const std::string cmd = std::string(EXATTEST_SOURCE_DIR) + "/scripts/swtpm.sh extend " +
                          fixture_dir() + " 16 >/dev/null";
  REQUIRE(std::system(cmd.c_str()) == 0);
  auto now = a.read_pcrs(sel("sha256:0,16"));
  REQUIRE(now.ok());
  const Tpm2Attester::Counters mid = a.counters();
  const Bytes binding = pattern(32, 0x7f);
  auto parts = a.quote(binding);
  REQUIRE(parts.ok());
  CHECK(parts->pcr_values == now.value());
  CHECK(a.counters().pcr_read - mid.pcr_read == 1);
  CHECK(a.counters().create_primary == mid.create_primary);
  auto v = Tpm2Appraiser(before).appraise(view(a.evidence(binding).value()), view(binding));
  CHECK(v.reason == Reason::kPcrMismatch);
  CHECK(a.counters().pcr_read - mid.pcr_read == 1);  // still current: no further read
}

TEST_CASE("tpm2_checkquote accepts a quote made by the attester", "[.swtpm]") {
  Tpm2Attester a(config_for(fixture_tcti(), "sha256:0,1,2,3,7"));
  const Bytes binding = pattern(48, 0x70);
  auto parts = a.quote(binding);
  REQUIRE(parts.ok());
  auto ak = a.ak_public();
  REQUIRE(ak.ok());
  const fs::path dir = fs::path(EXATTEST_BINARY_DIR) / "tmp" / "tpm2_attester_checkquote";
  fs::create_directories(dir);
  write_bytes(dir / "ak.pem", Bytes(ak->spki_pem.begin(), ak->spki_pem.end()));
  write_bytes(dir / "quote.msg", parts->attest);
  write_bytes(dir / "quote.sig", parts->signature);
  Bytes pcrs;
  for (const Bytes& v : parts->pcr_values) pcrs.insert(pcrs.end(), v.begin(), v.end());
  write_bytes(dir / "pcrs.bin", pcrs);
  const std::string base = "tpm2_checkquote -u " + (dir / "ak.pem").string() + " -m " +
                           (dir / "quote.msg").string() + " -s " + (dir / "quote.sig").string() +
                           " -g sha256 -l sha256:0,1,2,3,7 -f ";
  // tpm2_checkquote checks the quote itself: its qualifying data is the binding-tree root.
  const std::string good = base + (dir / "pcrs.bin").string() + " -q " +
                           exattest::test::to_hex(lone_root(binding)) + " >/dev/null 2>&1";
  CHECK(std::system(good.c_str()) == 0);
  // And rejects it with another qualifying data or other PCR values: the check is real.
  const std::string bad_q = base + (dir / "pcrs.bin").string() + " -q " +
                            exattest::test::to_hex(binding) + " >/dev/null 2>&1";
  CHECK(std::system(bad_q.c_str()) != 0);
  pcrs[0] ^= 1;
  write_bytes(dir / "pcrs-bad.bin", pcrs);
  const std::string bad_p = base + (dir / "pcrs-bad.bin").string() + " -q " +
                            exattest::test::to_hex(lone_root(binding)) + " >/dev/null 2>&1";
  CHECK(std::system(bad_p.c_str()) != 0);
}

TEST_CASE("a sha512 bank: 64-byte values, pcrDigest still uses the signature's SHA-256",
          "[.swtpm]") {
  // swtpm 0.7 without swtpm_setup allocates sha1, sha256, sha384 and sha512.
  Tpm2Attester a(config_for(fixture_tcti(), "sha512:0,16"));
  auto parts = a.quote(pattern(32, 0x80));
  REQUIRE(parts.ok());
  REQUIRE(parts->pcr_values.size() == 2);
  CHECK(parts->pcr_values[0].size() == 64);
  Bytes concat = parts->pcr_values[0];
  concat.insert(concat.end(), parts->pcr_values[1].begin(), parts->pcr_values[1].end());
  CHECK(parse_quote_attest(view(parts->attest))->pcr_digest == sha256(concat));
}

TEST_CASE("fork: 4 children quote on their own ESYS contexts", "[.swtpm]") {
  Tpm2Attester a(config_for(fixture_tcti()));
  CHECK(a.context_pid() == 0);              // lazy: nothing opened yet
  auto first = a.quote(pattern(32, 0x90));  // the parent opens its context first
  REQUIRE(first.ok());
  const pid_t parent = getpid();
  REQUIRE(a.context_pid() == parent);
  std::vector<pid_t> kids;
  for (int i = 0; i < 4; ++i) {
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      // Child: no Catch2 assertions here; the exit code tells the parent what happened.
      // The inherited context is the parent's; the child must not use it.
      if (a.context_pid() != parent) _exit(2);
      const Bytes binding = pattern(48, static_cast<uint8_t>(0xa0 + i));
      auto q = a.quote(binding);
      if (!q.ok()) _exit(10 + static_cast<int>(q.reason()));
      if (a.context_pid() != getpid()) _exit(4);  // opened its own
      auto attest = parse_quote_attest(view(q->attest));
      if (!attest.ok() || attest->extra_data != lone_root(binding)) _exit(3);
      _exit(0);
    }
    kids.push_back(pid);
  }
  for (pid_t pid : kids) {
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  // The parent's own context still works after the children used theirs.
  auto again = a.quote(pattern(32, 0x91));
  REQUIRE(again.ok());
  CHECK(a.context_pid() == parent);
}

}  // namespace
