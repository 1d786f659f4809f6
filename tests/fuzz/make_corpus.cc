// Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/) from real
// messages made by the project's own encoders and a real TLS 1.3 pair.
// Usage: fuzz_make_corpus CORPUS_DIR   (scripts/fuzz.sh --seed runs it; files are committed)
#include <openssl/ec.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "attesters/tpm2/binding_tree.h"
#include "attesters/tpm2/evidence.h"
#include "attesters/tpm2/policy.h"
#include "attesters/tpm2/tpm_structs.h"
#include "cmw/cmw.h"
#include "eventlog_builder.h"
#include "ea/ea.h"
#include "fuzz_support.h"
#include "hooks.h"
#include "inband/frame.h"
#include "wire/wire.h"

using namespace exattest;
namespace fs = std::filesystem;

namespace {

fs::path g_root;

void put(const std::string& target, const std::string& name, ByteView data) {
  fs::create_directories(g_root / target);
  std::ofstream f(g_root / target / name, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  FUZZ_CHECK(f.good());
}
void put(const std::string& target, const std::string& name, const std::string& s) {
  put(target, name, ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}
Bytes cat(std::initializer_list<ByteView> parts) {
  Bytes out;
  for (ByteView p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}
template <class T>
T must(Result<T> r) {
  FUZZ_CHECK(r.ok());
  return std::move(r).value();
}
Bytes frame(inband::FrameType t, ByteView body) { return must(inband::encode_frame(t, body)); }

void ea_request_seeds() {
  Bytes ctx32(32, 0x11), ctx0;
  auto sig = ea::supported_schemes();
  put("ea_request", "cr13_cmw", view(must(ea::encode_request(13, view(ctx32), sig, true))));
  put("ea_request", "ccr17_cmw", view(must(ea::encode_request(17, view(ctx32), sig, true))));
  put("ea_request", "ccr17_nocmw", view(must(ea::encode_request(17, view(ctx32), {0x0403}, false))));
  put("ea_request", "cr13_emptyctx_status",
      view(must(ea::encode_request(13, view(ctx0), sig, true, ea::kDefaultCmwExtension,
                                   {{ea::kExtStatusRequest, Bytes{1, 0, 0, 0, 0}}}))));
}

void ea_authenticator_seeds() {
  auto pair = fuzz::TlsPair::make();
  ea::Connection client(pair->client.get()), server(pair->server.get());
  Bytes req = must(client.create_request(true));
  FUZZ_CHECK(server.parse_request(view(req)).ok());
  Bytes rec = cmw::encode_evidence_record(cmw::kTpm2QuoteMediaType, view(Bytes{0xa0}));
  Bytes auth = must(server.create_authenticator(view(req), pair->server_cert.get(), nullptr,
                                                pair->server_key.get(), view(rec)));
  put("ea_authenticator", "raw_valid", view(cat({view(Bytes{0}), view(auth)})));
  put("ea_authenticator", "mutate_none", view(Bytes{1}));
  put("ea_authenticator", "mutate_cv", view(Bytes{1, 0x01, 0x80, 0x01}));
  put("ea_authenticator", "mutate_truncate", view(Bytes{1, 0x00, 0x30, 0x00}));
  put("ea_authenticator", "refusal_none", view(Bytes{2}));
  put("ea_authenticator", "refusal_flip", view(Bytes{2, 0x00, 0x05, 0x40}));
  put("ea_authenticator", "cmw_record", view(cat({view(Bytes{3}), view(rec)})));
  ea::Connection client2(pair->client.get()), server2(pair->server.get());
  Bytes req2 = must(client2.create_request(true));
  FUZZ_CHECK(server2.parse_request(view(req2)).ok());
  Bytes refusal = must(server2.create_empty_authenticator(view(req2)));
  put("ea_authenticator", "raw_refusal", view(cat({view(Bytes{0}), view(refusal)})));
}

void inband_seeds() {
  using inband::FrameType;
  Bytes ctx(32, 0x22);
  Bytes req17 = must(ea::encode_request(17, view(ctx), ea::supported_schemes(), true));
  Bytes req13 = must(ea::encode_request(13, view(ctx), ea::supported_schemes(), true));
  Bytes ok = frame(FrameType::kResult, view(inband::encode_result({true, Reason::kNone, "ok"})));
  Bytes rej = frame(FrameType::kResult,
                    view(inband::encode_result({false, Reason::kPcrMismatch, "PCR 7 differs"})));
  Bytes empty_req = frame(FrameType::kRequest, {});
  Bytes evidence = cat({view(Bytes{'A', 'E'}), view(Bytes(48, 0xbb))});
  // cfg bits: 1 server, 2..4 request (0 off, 1 optional, 2 require), 8 attest tpm2.
  // Server attesting (request off) to a client that asks, then accepts / rejects.
  Bytes s_att = cat({view(frame(FrameType::kRequest, view(req17))), view(ok)});
  put("inband", "server_attests_accepted", view(cat({view(Bytes{1 | 8, 0}), view(s_att)})));
  put("inband", "server_attests_rejected",
      view(cat({view(Bytes{1 | 8, 0}), view(frame(FrameType::kRequest, view(req17))),
                view(rej)})));
  // Client requiring, server answers with evidence / refusal / garbage.
  put("inband", "client_requires_evidence",
      view(cat({view(Bytes{4, 0}), view(empty_req),
                view(frame(FrameType::kAuthenticator, view(evidence)))})));
  put("inband", "client_requires_refusal",
      view(cat({view(Bytes{4, 3}), view(empty_req),
                view(frame(FrameType::kAuthenticator, view(Bytes{'R'})))})));
  put("inband", "client_optional_refusal",
      view(cat({view(Bytes{2, 0}), view(empty_req),
                view(frame(FrameType::kAuthenticator, view(Bytes{'R'})))})));
  // Mutual: both request and both attest.
  put("inband", "mutual_client",
      view(cat({view(Bytes{4 | 8, 0}), view(frame(FrameType::kRequest, view(req13))),
                view(frame(FrameType::kAuthenticator, view(evidence))), view(ok)})));
  put("inband", "mutual_server",
      view(cat({view(Bytes{1 | 4 | 8, 7}), view(frame(FrameType::kRequest, view(req17))), view(ok),
                view(frame(FrameType::kAuthenticator, view(evidence)))})));
  // Limits and order: an oversized AUTHENTICATOR header, an unknown type, RESULT first.
  put("inband", "oversized_header", view(cat({view(Bytes{4, 0}), view(empty_req),
                                              view(Bytes{2, 0x10, 0x00, 0x01})})));
  put("inband", "unknown_type", view(Bytes{0, 0, 9, 0, 0, 0}));
  put("inband", "result_first", view(cat({view(Bytes{0, 0}), view(rej)})));
  put("inband", "eof_mid_frame", view(Bytes{4, 0, 1, 0, 0, 40, 13, 0}));
}

void tls_flags_seeds() {
  put("tls_flags", "bits_64_65", view(hooks::encode_flags({64, 65})));
  put("tls_flags", "bit_64", view(hooks::encode_flags({64})));
  put("tls_flags", "bit_65", view(hooks::encode_flags({65})));
  put("tls_flags", "bits_0_9", view(Bytes{2, 0x01, 0x02}));
}

cmw::Cmw record(std::string type, Bytes value, std::optional<uint32_t> ind) {
  return cmw::Record{std::move(type), std::move(value), ind};
}

void cmw_seeds() {
  Bytes ev = tpm2::encode_evidence(
      {Bytes{1, 2}, Bytes{3}, Bytes{4}, {Bytes(32, 0)}, {}, {}, tpm2::TreePosition{}});
  put("cmw_cbor", "evidence_record", view(cmw::encode_evidence_record(cmw::kTpm2QuoteMediaType,
                                                                       view(ev))));
  cmw::Cmw cf = cmw::Record{uint16_t{30001}, Bytes{0xa1, 0x01, 0x02}, std::nullopt};
  put("cmw_cbor", "cf_record", view(must(cmw::encode_cbor(cf))));
  cmw::Cmw tag = cmw::TagCmw{*cmw::tn_from_cf(30001), Bytes{0xa0}};
  put("cmw_cbor", "tag_cmw", view(must(cmw::encode_cbor(tag))));
  cmw::Collection c;
  c.ctype = "tag:example.com,2024:composite";
  c.items.emplace_back(cmw::Label{std::string("tpm")},
                       record("application/eat+cwt", Bytes{0xd2, 0x84}, cmw::kIndEvidence));
  c.items.emplace_back(cmw::Label{int64_t{7}}, tag);
  put("cmw_cbor", "collection", view(must(cmw::encode_cbor(cmw::Cmw{c}))));
  cmw::Collection j;
  j.items.emplace_back(cmw::Label{std::string("a")},
                       record("application/vnd.x+json", Bytes{'{', '}'}, std::nullopt));
  j.items.emplace_back(cmw::Label{std::string("b")},
                       record("text/plain; charset=utf-8", Bytes{'h', 'i'}, 12));
  cmw::Cmw jc{j};
  put("cmw_cbor", "json_able_collection", view(must(cmw::encode_cbor(jc))));
  put("cmw_json", "collection", must(cmw::encode_json(jc)));
  put("cmw_json", "record", must(cmw::encode_json(record("application/eat-ucs+json",
                                                         Bytes{'{', '}'}, cmw::kIndEvidence))));
  put("cmw_json", "record_noind",
      must(cmw::encode_json(record("application/vnd.exattest.tpm2-quote+cbor", ev, std::nullopt))));
  cmw::Collection nested;
  nested.ctype = "1.2.3.4";
  nested.items.emplace_back(cmw::Label{std::string("inner")}, jc);
  put("cmw_json", "nested", must(cmw::encode_json(cmw::Cmw{nested})));
}

// TPM 2.0 Part 2 marshaling, big-endian, for the tpm_structs / tpm_evidence seeds.
void tpm2b(wire::Writer& w, ByteView b) {
  w.prefixed_u16([&](wire::Writer& x) { x.bytes(b); });
}

Bytes quote_attest(ByteView extra) {
  wire::Writer w;
  w.u32(tpm2::kTpmGeneratedValue);
  w.u16(tpm2::kStAttestQuote);
  tpm2b(w, view(cat({view(Bytes{0x00, 0x0b}), view(Bytes(32, 0x33))})));  // qualifiedSigner
  tpm2b(w, extra);
  w.u64(123456);  // clock
  w.u32(1);       // resetCount
  w.u32(0);       // restartCount
  w.u8(1);        // safe
  w.u64(0x2020);  // firmwareVersion
  w.u32(1);       // TPML_PCR_SELECTION.count
  w.u16(0x000b);  // sha256
  w.u8(3);
  w.bytes(view(Bytes{0xff, 0, 0}));  // PCRs 0..7
  tpm2b(w, view(Bytes(32, 0x44)));   // pcrDigest
  FUZZ_CHECK(w.ok());
  return w.take();
}

Bytes ecdsa_signature() {
  wire::Writer w;
  w.u16(tpm2::kAlgEcdsa);
  w.u16(0x000b);
  tpm2b(w, view(Bytes(32, 0x55)));
  tpm2b(w, view(Bytes(32, 0x66)));
  return w.take();
}

Bytes rsa_signature(uint16_t alg) {
  wire::Writer w;
  w.u16(alg);
  w.u16(0x000b);
  tpm2b(w, view(Bytes(256, 0x77)));
  return w.take();
}

Bytes ecc_public() {
  UniquePtr<EVP_PKEY> k(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  FUZZ_CHECK(k);
  uint8_t pt[65];
  size_t n = 0;
  FUZZ_CHECK(EVP_PKEY_get_octet_string_param(k.get(), "encoded-pub-key", pt, sizeof(pt), &n) == 1 &&
             n == 65);
  wire::Writer w;
  w.u16(tpm2::kAlgEcc);
  w.u16(0x000b);
  w.u32(0x00050472);
  tpm2b(w, {});
  w.u16(tpm2::kAlgNull);  // symmetric
  w.u16(tpm2::kAlgEcdsa);
  w.u16(0x000b);
  w.u16(tpm2::kEccNistP256);
  w.u16(tpm2::kAlgNull);  // kdf
  tpm2b(w, ByteView(pt + 1, 32));
  tpm2b(w, ByteView(pt + 33, 32));
  return w.take();
}

Bytes rsa_public() {
  UniquePtr<EVP_PKEY> k(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)));
  FUZZ_CHECK(k);
  BIGNUM* n = nullptr;
  FUZZ_CHECK(EVP_PKEY_get_bn_param(k.get(), "n", &n) == 1);
  Bytes nb(256);
  FUZZ_CHECK(BN_bn2binpad(n, nb.data(), 256) == 256);
  BN_free(n);
  wire::Writer w;
  w.u16(tpm2::kAlgRsa);
  w.u16(0x000b);
  w.u32(0x00050472);
  tpm2b(w, {});
  w.u16(tpm2::kAlgNull);
  w.u16(tpm2::kAlgRsassa);
  w.u16(0x000b);
  w.u16(2048);
  w.u32(0);
  tpm2b(w, view(nb));
  return w.take();
}

void tpm_seeds() {
  Bytes attest = quote_attest(view(Bytes(48, 0x99)));
  Bytes sig = ecdsa_signature();
  Bytes pub = ecc_public();
  put("tpm_structs", "quote_attest", view(attest));
  put("tpm_structs", "sig_ecdsa", view(sig));
  put("tpm_structs", "sig_rsassa", view(rsa_signature(tpm2::kAlgRsassa)));
  put("tpm_structs", "sig_rsapss", view(rsa_signature(tpm2::kAlgRsapss)));
  put("tpm_structs", "public_ecc", view(pub));
  Bytes rsa = rsa_public();
  put("tpm_structs", "public_rsa", view(rsa));
  FUZZ_CHECK(tpm2::parse_quote_attest(view(attest)).ok());
  FUZZ_CHECK(tpm2::parse_signature(view(sig)).ok());
  FUZZ_CHECK(tpm2::parse_public(view(pub)).ok() && tpm2::parse_public(view(rsa)).ok());

  // PROTOCOL.md §6.1: key 7 is required; a lone connection is [0, 1, []].
  tpm2::EvidenceParts p{attest, sig, pub, {Bytes(32, 0), Bytes(32, 1)}, {}, {},
                        tpm2::TreePosition{}};
  Bytes ev = tpm2::encode_evidence(p);
  put("tpm_evidence", "evidence_min", view(ev));
  p.ak_certs = {Bytes{0x30, 0x03, 0x02, 0x01, 0x01}};
  p.event_log = Bytes{0, 0, 0, 0};
  put("tpm_evidence", "evidence_full", view(tpm2::encode_evidence(p)));
  put("tpm_evidence", "cmw_record", view(tpm2::wrap_cmw(view(ev))));
  // Leaves 4 and 2 of a tree of 5 (paths of 1 and 3 elements), and the version-1 form.
  std::vector<Bytes> leaves;
  for (uint8_t i = 0; i < 5; ++i) leaves.emplace_back(48, i);
  std::vector<ByteView> views(leaves.begin(), leaves.end());
  auto tree = must(tpm2::build_binding_tree(views));
  p.ak_certs.clear();
  p.event_log.reset();
  p.tree = tree.positions[4];
  put("tpm_evidence", "evidence_tree5_leaf4", view(tpm2::encode_evidence(p)));
  p.tree = tree.positions[2];
  put("tpm_evidence", "evidence_tree5_leaf2", view(tpm2::encode_evidence(p)));
  p.tree.reset();
  put("tpm_evidence", "evidence_v1_no_key7", view(tpm2::encode_evidence(p)));
}

void policy_seeds() {
  tpm2::Policy p;
  p.trusted_aks = {Bytes(32, 0xab)};
  p.pcrs = {{0, Bytes(32, 0)}, {7, Bytes(32, 0x07)}};
  put("policy", "full", tpm2::policy_to_json(p).dump(2));
  put("policy", "minimal",
      std::string(R"({"version":1,"trusted_aks":["sha256:)") + std::string(64, 'a') +
          R"("],"pcrs":"any"})");
  // Refused: a policy must judge the boot explicitly (issue #11 item 10).
  put("policy", "no_pcrs",
      std::string(R"({"version":1,"trusted_aks":["sha256:)") + std::string(64, 'a') + "\"]}");
  put("policy", "sha384_clock",
      std::string(R"({"version":1,"trusted_aks":["sha256:)") + std::string(64, '0') +
          R"("],"pcr_bank":"sha384","pcrs":{"23":")" + std::string(96, 'f') +
          R"("},"ak_primary":false,"require_clock_safe":true})");
  put("policy", "ak_ca_relative", std::string(R"({"version":1,"ak_ca":"ca.pem","pcrs":"any"})"));
}

// Synthetic event logs (tests/unit/eventlog_builder.h): the shared vectors are real logs and
// are read in place, never copied here.
void eventlog_seeds() {
  using B = test::EventLogBuilder;
  put("eventlog", "uefi_sb_on", view(B::uefi_boot(1).bytes()));
  put("eventlog", "uefi_sb_off_sha384", view(B::uefi_boot(0, 2, {B::kSha256, B::kSha384}).bytes()));
  B legacy({B::kSha1}, false);
  legacy.event(0, 0x8, B::utf16("1.0")).event(7, 0x80000001, B::variable("SecureBoot", {1}));
  put("eventlog", "sha1_legacy", view(legacy.bytes()));
  B loc({B::kSha256});
  Bytes l = B::text(std::string("StartupLocality") + '\0');
  l.push_back(3);
  loc.event_with(0, 0x3, {{B::kSha256, Bytes(32, 0)}}, l).event(0, 0x80000010, B::text("hcrtm"));
  put("eventlog", "startup_locality", view(loc.bytes()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  g_root = argv[1];
  ea_request_seeds();
  ea_authenticator_seeds();
  inband_seeds();
  tls_flags_seeds();
  cmw_seeds();
  tpm_seeds();
  policy_seeds();
  eventlog_seeds();
  std::printf("seed corpora written under %s\n", g_root.c_str());
  return 0;
}
