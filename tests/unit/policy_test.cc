// Unit tests for attesters/tpm2 policy loading (PROTOCOL.md §9) and PCR selection parsing.
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include "attesters/tpm2/pcr_selection.h"
#include "attesters/tpm2/policy.h"
#include "common/ossl_ptr.h"
#include "test_support.h"

using exattest::Bytes;
using exattest::Reason;
using exattest::UniquePtr;
namespace tpm2 = exattest::tpm2;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::string kAk = "sha256:" + std::string(64, 'a');
const std::string kZero32 = std::string(64, '0');

// A scratch directory removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "exattest-policy-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path write(const std::string& name, const std::string& text) const {
    fs::path p = path / name;
    std::ofstream f(p, std::ios::binary);
    f << text;
    REQUIRE(f.good());
    return p;
  }
};

std::string self_signed_pem() {
  UniquePtr<EVP_PKEY> key(EVP_EC_gen("P-256"));
  REQUIRE(key);
  UniquePtr<X509> x(X509_new());
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 3600);
  X509_set_pubkey(x.get(), key.get());
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x.get()), "CN", MBSTRING_ASC,
                             reinterpret_cast<const uint8_t*>("AK CA"), -1, -1, 0);
  X509_set_issuer_name(x.get(), X509_get_subject_name(x.get()));
  REQUIRE(X509_sign(x.get(), key.get(), EVP_sha256()) > 0);
  UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  REQUIRE(PEM_write_bio_X509(bio.get(), x.get()) == 1);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

// The smallest valid policy: one pinned AK, and an explicit "judge no PCR".
json base() { return json{{"version", 1}, {"trusted_aks", {kAk}}, {"pcrs", "any"}}; }

// Loads `doc` and requires a kPolicyError whose detail contains `needle`.
void expect_error(const std::string& text, const std::string& needle) {
  auto p = tpm2::load_policy_json(text);
  INFO(text);
  REQUIRE_FALSE(p.ok());
  CHECK(p.reason() == Reason::kPolicyError);
  CHECK_THAT(p.error().detail, Catch::Contains(needle));
}
void expect_error(const json& doc, const std::string& needle) { expect_error(doc.dump(), needle); }

}  // namespace

TEST_CASE("policy: minimal policy gets the §9 defaults", "[policy]") {
  auto p = tpm2::load_policy_json(base().dump());
  REQUIRE(p.ok());
  REQUIRE(p->trusted_aks.size() == 1);
  CHECK(p->trusted_aks[0] == Bytes(32, 0xaa));
  CHECK_FALSE(p->ak_ca_path.has_value());
  CHECK(p->ak_ca_certs.empty());
  CHECK(p->pcr_bank == tpm2::kAlgSha256);
  CHECK(p->pcrs.empty());
  CHECK(p->pcrs_any);
  CHECK(p->ak_primary);
  CHECK_FALSE(p->require_clock_safe);
}

TEST_CASE("policy: full policy file loads, ak_ca relative to the policy's directory",
          "[policy]") {
  TempDir dir;
  std::string pem = self_signed_pem();
  dir.write("ak-ca.pem", pem + pem);  // two certificates
  json doc = {{"version", 1},
              {"trusted_aks", {kAk, "sha256:" + std::string(64, 'B')}},
              {"ak_ca", "ak-ca.pem"},
              {"pcr_bank", "sha384"},
              {"pcrs", {{"0", std::string(96, '0')}, {"23", std::string(96, 'f')}}},
              {"ak_primary", false},
              {"require_clock_safe", true}};
  fs::path file = dir.write("policy.json", doc.dump(2));
  auto p = tpm2::load_policy_file(file);
  INFO((p.ok() ? "" : p.error().detail));
  REQUIRE(p.ok());
  CHECK(p->trusted_aks == std::vector<Bytes>{Bytes(32, 0xaa), Bytes(32, 0xbb)});
  CHECK(p->ak_ca_path == std::optional<std::string>("ak-ca.pem"));
  CHECK(p->ak_ca_certs.size() == 2);
  CHECK(p->pcr_bank == tpm2::kAlgSha384);
  REQUIRE(p->pcrs.size() == 2);
  CHECK(p->pcrs.at(0) == Bytes(48, 0x00));
  CHECK(p->pcrs.at(23) == Bytes(48, 0xff));
  CHECK_FALSE(p->ak_primary);
  CHECK(p->require_clock_safe);

  // policy_to_json writes it back; loading that gives the same policy.
  json out = tpm2::policy_to_json(*p);
  CHECK(out["version"] == 1);
  CHECK(out["trusted_aks"] == json({kAk, "sha256:" + std::string(64, 'b')}));
  CHECK(out["ak_ca"] == "ak-ca.pem");
  CHECK(out["pcr_bank"] == "sha384");
  CHECK(out["pcrs"]["23"] == std::string(96, 'f'));
  CHECK(out["ak_primary"] == false);
  CHECK(out["require_clock_safe"] == true);
  auto again = tpm2::load_policy_json(out.dump(), dir.path);
  REQUIRE(again.ok());
  CHECK(again->trusted_aks == p->trusted_aks);
  CHECK(again->ak_ca_certs == p->ak_ca_certs);
  CHECK(again->pcrs == p->pcrs);
  CHECK(again->pcr_bank == p->pcr_bank);
}

TEST_CASE("policy: ak_ca alone is a trust anchor, with the sha1 bank", "[policy]") {
  TempDir dir;
  fs::path ca = dir.write("ca.pem", self_signed_pem());
  json doc = {{"version", 1}, {"ak_ca", ca.string()}, {"pcr_bank", "sha1"},
              {"pcrs", {{"7", std::string(40, '1')}}}};
  auto p = tpm2::load_policy_json(doc.dump());
  REQUIRE(p.ok());
  CHECK(p->trusted_aks.empty());
  CHECK(p->ak_ca_certs.size() == 1);
  CHECK(p->pcrs.at(7) == Bytes(20, 0x11));
}

TEST_CASE("policy: ak_eku is a dotted OID, only with ak_ca, and round-trips", "[policy]") {
  TempDir dir;
  fs::path ca = dir.write("ca.pem", self_signed_pem());
  json doc = {{"version", 1}, {"ak_ca", ca.string()}, {"pcrs", "any"}};
  auto dflt = tpm2::load_policy_json(doc.dump());
  REQUIRE(dflt.ok());
  CHECK_FALSE(dflt->ak_eku.has_value());  // the verifier then requires tpm2::kTcgAkEku
  CHECK_FALSE(tpm2::policy_to_json(*dflt).contains("ak_eku"));
  doc["ak_eku"] = "1.3.6.1.4.1.99999.1";
  auto p = tpm2::load_policy_json(doc.dump());
  REQUIRE(p.ok());
  CHECK(p->ak_eku == std::optional<std::string>("1.3.6.1.4.1.99999.1"));
  json out = tpm2::policy_to_json(*p);
  CHECK(out["ak_eku"] == "1.3.6.1.4.1.99999.1");
  auto again = tpm2::load_policy_json(out.dump());
  REQUIRE(again.ok());
  CHECK(again->ak_eku == p->ak_eku);
  for (json v : {json(""), json("1"), json("1..2"), json("1.02"), json(".1.2"), json("1.2."),
                 json("serverAuth"), json("1.2.x"), json(7), json(json::array())}) {
    json d = doc;
    d["ak_eku"] = v;
    expect_error(d, "field \"ak_eku\" must be an OID");
  }
  json no_ca = base();
  no_ca["ak_eku"] = tpm2::kTcgAkEku;
  expect_error(no_ca, "field \"ak_eku\" is given without \"ak_ca\"");
}

TEST_CASE("policy: unreadable file and invalid JSON are policy_error", "[policy]") {
  TempDir dir;
  auto missing = tpm2::load_policy_file(dir.path / "nope.json");
  CHECK(missing.reason() == Reason::kPolicyError);
  CHECK_THAT(missing.error().detail, Catch::Contains("nope.json"));
  auto is_dir = tpm2::load_policy_file(dir.path);
  CHECK(is_dir.reason() == Reason::kPolicyError);
  fs::path bad = dir.write("bad.json", "{\"version\": 1,");
  auto invalid = tpm2::load_policy_file(bad);
  CHECK(invalid.reason() == Reason::kPolicyError);
  CHECK_THAT(invalid.error().detail, Catch::Contains("invalid JSON"));
  expect_error(std::string(""), "invalid JSON");
  expect_error(std::string("{\"version\": 1} trailing"), "invalid JSON");
  expect_error(std::string("[1]"), "JSON object");
}

TEST_CASE("policy: version must be the integer 1", "[policy]") {
  json doc = base();
  doc.erase("version");
  expect_error(doc, "\"version\"");
  for (json v : {json(2), json(0), json("1"), json(1.0), json(true), json(nullptr)}) {
    json d = base();
    d["version"] = v;
    expect_error(d, "\"version\"");
  }
}

TEST_CASE("policy: unknown and duplicate fields are policy_error naming them", "[policy]") {
  json doc = base();
  doc["trusted_ak"] = json::array();
  expect_error(doc, "unknown field \"trusted_ak\"");
  expect_error(std::string(R"({"version":1,"trusted_aks":[")" + kAk +
                           R"("],"ak_primary":true,"ak_primary":false})"),
               "\"ak_primary\" appears twice");
}

TEST_CASE("policy: trusted_aks entries must be sha256: and 64 hex digits", "[policy]") {
  for (json v : {json("sha256:" + std::string(63, 'a')), json("sha256:" + std::string(66, 'a')),
                 json("sha384:" + std::string(64, 'a')), json(std::string(64, 'a')),
                 json("sha256:" + std::string(63, 'a') + "g"), json(5)}) {
    json d = base();
    d["trusted_aks"] = {v};
    expect_error(d, "\"trusted_aks\"[0]");
  }
  json d = base();
  d["trusted_aks"] = kAk;  // not an array
  expect_error(d, "\"trusted_aks\"");
}

TEST_CASE("policy: at least one trust anchor", "[policy]") {
  expect_error(json{{"version", 1}}, "trusted_aks");
  expect_error(json{{"version", 1}, {"trusted_aks", json::array()}}, "\"ak_ca\"");
}

TEST_CASE("policy: ak_ca must be a readable PEM file holding a certificate", "[policy]") {
  TempDir dir;
  json d = base();
  d["ak_ca"] = (dir.path / "missing.pem").string();
  expect_error(d, "\"ak_ca\"");
  d["ak_ca"] = dir.write("empty.pem", "").string();
  expect_error(d, "no certificate");
  d["ak_ca"] = dir.write("junk.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
                   .string();
  expect_error(d, "malformed");
  d["ak_ca"] = "";
  expect_error(d, "\"ak_ca\"");
  d["ak_ca"] = 7;
  expect_error(d, "\"ak_ca\"");
}

TEST_CASE("policy: pcr_bank is sha256, sha384 or sha1", "[policy]") {
  for (json v : {json("sha512"), json("SHA256"), json(""), json(11)}) {
    json d = base();
    d["pcr_bank"] = v;
    expect_error(d, "\"pcr_bank\"");
  }
}

TEST_CASE("policy: pcrs keys are indices 0..23, values hex of the bank's digest length",
          "[policy]") {
  for (const char* key : {"24", "-1", "07", "x", "", "1.0", "100"}) {
    json d = base();
    d["pcrs"] = {{key, kZero32}};
    expect_error(d, "\"pcrs\": key \"" + std::string(key) + "\"");
  }
  for (json v : {json(std::string(62, '0')), json(std::string(66, '0')), json(std::string(40, '0')),
                 json(std::string(63, '0') + "z"), json(0)}) {
    json d = base();
    d["pcrs"] = {{"7", v}};
    expect_error(d, "\"pcrs\"[\"7\"]");
  }
  // A sha1 bank wants 40 hex digits: a SHA-256 value is wrong, whatever the field order.
  json d = base();
  d["pcrs"] = {{"0", kZero32}};
  d["pcr_bank"] = "sha1";
  expect_error(d, "40 hex digits");
  json arr = base();
  arr["pcrs"] = json::array();
  expect_error(arr, "\"pcrs\"");
}

// Issue #11 item 10: `"pcrs": {}` or no `pcrs` accepted every boot state, silently.
TEST_CASE("policy: a policy must judge the boot: no pcrs or {} is refused, \"any\" says so",
          "[policy]") {
  json none = base();
  none.erase("pcrs");
  expect_error(none, "field \"pcrs\" is missing; a policy must judge the boot explicitly");
  expect_error(none, "\"pcrs\": \"any\" to accept any boot state");
  json empty = base();
  empty["pcrs"] = json::object();
  expect_error(empty, "field \"pcrs\" is {} and judges nothing");
  // The same through a file: the message names the file and the field.
  TempDir dir;
  fs::path f = dir.write("p.json", none.dump());
  auto from_file = tpm2::load_policy_file(f);
  REQUIRE_FALSE(from_file.ok());
  CHECK(from_file.reason() == Reason::kPolicyError);
  CHECK_THAT(from_file.error().detail, Catch::StartsWith(f.string() + ": policy: field \"pcrs\""));
  // Only the exact string "any".
  for (json v : {json("ANY"), json("all"), json(""), json(true), json(nullptr)}) {
    json d = base();
    d["pcrs"] = v;
    expect_error(d, "\"pcrs\" must be an object");
  }
  // "any" loads, judges no PCR, and is written back as "any".
  auto any = tpm2::load_policy_json(base().dump());
  REQUIRE(any.ok());
  CHECK(any->pcrs_any);
  CHECK(any->pcrs.empty());
  CHECK(tpm2::policy_to_json(*any)["pcrs"] == "any");
  // Reference values are not "any".
  json refs = base();
  refs["pcrs"] = {{"7", kZero32}};
  auto r = tpm2::load_policy_json(refs.dump());
  REQUIRE(r.ok());
  CHECK_FALSE(r->pcrs_any);
  CHECK(tpm2::policy_to_json(*r)["pcrs"] == json{{"7", kZero32}});
  // A Policy that judges nothing is never written as {} (policy create checks by loading).
  tpm2::Policy blank;
  blank.trusted_aks.push_back(Bytes(32, 0xaa));
  CHECK_FALSE(tpm2::load_policy_json(tpm2::policy_to_json(blank).dump()).ok());
}

TEST_CASE("policy: ak_primary and require_clock_safe are booleans", "[policy]") {
  for (const char* field : {"ak_primary", "require_clock_safe"}) {
    for (json v : {json(1), json("true"), json(nullptr)}) {
      json d = base();
      d[field] = v;
      expect_error(d, std::string("\"") + field + "\"");
    }
  }
}

TEST_CASE("pcr selection: lists, ranges and banks", "[policy]") {
  auto s = tpm2::parse_pcr_selection("sha256:0,1,2,3,4,5,6,7");
  REQUIRE(s.ok());
  REQUIRE(s->banks.size() == 1);
  CHECK(s->banks[0].hash_alg == tpm2::kAlgSha256);
  CHECK(s->banks[0].pcrs == std::vector<uint32_t>{0, 1, 2, 3, 4, 5, 6, 7});
  auto r = tpm2::parse_pcr_selection("sha256:0-7");
  REQUIRE(r.ok());
  CHECK(*r == *s);
  CHECK(r->count() == 8);
  auto m = tpm2::parse_pcr_selection("sha1:23,10+sha384:0-2,16");
  REQUIRE(m.ok());
  REQUIRE(m->banks.size() == 2);
  CHECK(m->banks[0].hash_alg == tpm2::kAlgSha1);
  CHECK(m->banks[0].pcrs == std::vector<uint32_t>{10, 23});
  CHECK(m->banks[1].pcrs == std::vector<uint32_t>{0, 1, 2, 16});
  CHECK(tpm2::format_pcr_selection(*m) == "sha1:10,23+sha384:0,1,2,16");
  TPML_PCR_SELECTION t = tpm2::to_tpml_pcr_selection(*m);
  REQUIRE(t.count == 2);
  CHECK(t.pcrSelections[0].hash == tpm2::kAlgSha1);
  CHECK(t.pcrSelections[0].sizeofSelect == 3);
  CHECK(t.pcrSelections[0].pcrSelect[0] == 0x00);
  CHECK(t.pcrSelections[0].pcrSelect[1] == 0x04);
  CHECK(t.pcrSelections[0].pcrSelect[2] == 0x80);
  CHECK(t.pcrSelections[1].pcrSelect[0] == 0x07);
  CHECK(t.pcrSelections[1].pcrSelect[2] == 0x01);
}

TEST_CASE("pcr selection: malformed specs are policy_error", "[policy]") {
  for (const char* bad : {"", "sha256", "sha256:", "md5:0", "sha256:24", "sha256:0,0",
                          "sha256:0-3,2", "sha256:3-1", "sha256:0,", "sha256: 0", "sha256:01",
                          "sha256:0+sha256:1", "sha256:0+", "sha256:a", "sha256:-1",
                          "sha256:0--2"}) {
    INFO(bad);
    auto s = tpm2::parse_pcr_selection(bad);
    CHECK(s.reason() == Reason::kPolicyError);
  }
}
