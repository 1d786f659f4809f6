// Unit tests for provider/cmw: RFC 9999 vectors, rejections, re-encoding, PROTOCOL.md §6
// evidence record, bounded CBOR decoding.
#include "cmw/cmw.h"

#include <chrono>
#include <string>

#include "test_support.h"

using exattest::Bytes;
using exattest::ByteView;
using exattest::cbor_load_bounded;
using exattest::cbor_prescan;
using exattest::CborLimits;
using exattest::CborWriter;
using exattest::is_deterministic;
using exattest::Reason;
using exattest::test::from_hex;
using exattest::test::read_file;
using exattest::test::to_hex;
using namespace exattest::cmw;

namespace {

Record rec(std::variant<uint16_t, std::string> type, std::string_view hex,
           std::optional<uint32_t> ind = std::nullopt) {
  return Record{std::move(type), from_hex(hex), ind};
}

TagCmw tagged(uint64_t tn, std::string_view hex) { return TagCmw{tn, from_hex(hex)}; }

Collection coll(std::optional<std::string> ctype, std::vector<std::pair<Label, Cmw>> items) {
  return Collection{std::move(ctype), std::move(items)};
}

std::string text_of(const Bytes& b) { return std::string(b.begin(), b.end()); }

ByteView bv(const Bytes& b) { return exattest::view(b); }

Cmw decode_file(const std::filesystem::path& p) {
  Bytes b = read_file(p);
  auto r = decode(bv(b));
  INFO(p.string() << ": " << (r ? std::string() : r.error().detail));
  REQUIRE(r.ok());
  return r.value();
}

// Decoding must fail with decode_error and a detail containing `why`.
void expect_cbor_reject(std::string_view hex, std::string_view why) {
  Bytes in = from_hex(hex);
  auto r = decode_cbor(bv(in));
  INFO("input " << hex);
  REQUIRE_FALSE(r.ok());
  CHECK(r.reason() == Reason::kDecodeError);
  INFO("detail: " << r.error().detail);
  CHECK(r.error().detail.find(why) != std::string::npos);
}

void expect_json_reject(std::string_view json, std::string_view why) {
  auto r = decode_json(json);
  INFO("input " << json);
  REQUIRE_FALSE(r.ok());
  CHECK(r.reason() == Reason::kDecodeError);
  INFO("detail: " << r.error().detail);
  CHECK(r.error().detail.find(why) != std::string::npos);
  // Through the sniffing entry point too.
  Bytes b(json.begin(), json.end());
  CHECK(decode(bv(b)).reason() == Reason::kDecodeError);
}

// The collection shared by collection-cbor-ok.cbor and the CBOR X.509 extension.
Collection veraison_cbor_collection(const std::string& type1) {
  return coll(std::nullopt, {{int64_t{1}, rec(type1, "d28443a10126a1", 3)},
                             {int64_t{2}, tagged(1668576818, "2347da55")},
                             {std::string("s"), rec(uint16_t{30001}, "2347da55")}});
}

Collection ab_collection() {
  return coll(std::nullopt, {{std::string("a"), rec("application/vnd.a", "61")},
                             {std::string("b"), rec("application/vnd.b", "62")}});
}

Collection draft_collection(std::string_view attester_c) {
  return coll("tag:example.com,2024:composite-attester",
              {{int64_t{0}, rec(uint16_t{64999}, "2347da55", 4)},
               {int64_t{1}, tagged(1668612070, "2347da55")},
               {int64_t{2}, rec("application/eat+jwt", attester_c, 8)}});
}

Collection ucs_collection(std::optional<std::string> ctype) {
  return coll(std::move(ctype),
              {{std::string("attester A"), rec("application/eat-ucs+json", "7b7d0a", 4)},
               {std::string("attester B"), rec("application/eat-ucs+cbor", "a0", 4)}});
}

}  // namespace

TEST_CASE("TN <-> Content-Format follows RFC 9277 §4.3", "[cmw]") {
  CHECK(tn_from_cf(0) == 1668546817u);
  CHECK(tn_from_cf(29884) == 1668576818u);
  CHECK(tn_from_cf(64999) == 1668612070u);
  CHECK(tn_from_cf(64998) == 1668612069u);
  CHECK(tn_from_cf(65024) == 1668612095u);
  CHECK_FALSE(tn_from_cf(65025).has_value());
  CHECK(cf_from_tn(1668576818) == uint16_t{29884});
  CHECK(cf_from_tn(1668612095) == uint16_t{65024});
  CHECK_FALSE(cf_from_tn(1668546816).has_value());
  CHECK_FALSE(cf_from_tn(1668612096).has_value());
  CHECK_FALSE(cf_from_tn(0x63740200).has_value());  // low byte 0x00: no C-F maps here
  for (uint32_t cf : {0u, 1u, 254u, 255u, 256u, 509u, 510u, 30001u, 65024u}) {
    INFO(cf);
    CHECK(cf_from_tn(*tn_from_cf(cf)) == static_cast<uint16_t>(cf));
  }
}

TEST_CASE("Veraison CBOR collection vectors decode as INDEX.md says", "[cmw]") {
  EXATTEST_REQUIRE_VECTORS("cmw/INDEX.md");
  auto dir = vec_path_->parent_path() / "veraison-testdata";
  CHECK(decode_file(dir / "collection-cbor-ok.cbor") ==
        Cmw(veraison_cbor_collection("application/signed-corim+cbor")));
  CHECK(decode_file(dir / "collection-cbor-ok-2.cbor") ==
        Cmw(coll(std::nullopt, {{int64_t{1}, rec("application/vnd.1", "deadbeef")}})));
  Cmw mixed = decode_file(dir / "collection-cbor-mixed-keys.cbor");
  CHECK(mixed == Cmw(coll(std::nullopt, {{std::string("string"), rec(uint16_t{0}, "ff")},
                                         {int64_t{1024}, tagged(1668546817, "aa")}})));
  CHECK(cf_from_tn(mixed.collection().items[1].second.tag().tag) == uint16_t{0});
  CHECK(decode_file(dir / "collection-ok.json") == Cmw(ab_collection()));
}

TEST_CASE("CMWs in the X.509 extension 1.3.6.1.5.5.7.1.35 decode", "[cmw]") {
  EXATTEST_REQUIRE_VECTORS("cmw/INDEX.md");
  auto dir = vec_path_->parent_path() / "veraison-testdata";
  Bytes cbor_cert = read_file(dir / "x509-cert+cbor-cmw.der");
  auto c = decode_from_x509_extension(bv(cbor_cert));
  INFO((c ? "" : c.error().detail));
  REQUIRE(c.ok());
  CHECK(c.value() == Cmw(veraison_cbor_collection("application/rim+cose")));
  Bytes json_cert = read_file(dir / "x509-cert+json-cmw.der");
  auto j = decode_from_x509_extension(bv(json_cert));
  INFO((j ? "" : j.error().detail));
  REQUIRE(j.ok());
  CHECK(j.value() == Cmw(ab_collection()));
  // Not a certificate / truncated certificate.
  Bytes cut(cbor_cert.begin(), cbor_cert.end() - 1);
  auto bad = decode_from_x509_extension(bv(cut));
  CHECK(bad.reason() == Reason::kDecodeError);
  CHECK(bad.error().detail.find("not a DER X.509 certificate") != std::string::npos);
}

TEST_CASE("Certificate without the CMW extension is rejected", "[cmw]") {
  // A self-signed certificate made here, without extension 1.3.6.1.5.5.7.1.35.
  exattest::UniquePtr<EVP_PKEY> key(EVP_EC_gen("P-256"));
  REQUIRE(key);
  exattest::UniquePtr<X509> x(X509_new());
  REQUIRE(X509_set_version(x.get(), 2));
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 3600);
  REQUIRE(X509_set_pubkey(x.get(), key.get()));
  REQUIRE(X509_sign(x.get(), key.get(), EVP_sha256()) > 0);
  unsigned char* der = nullptr;
  int n = i2d_X509(x.get(), &der);
  REQUIRE(n > 0);
  Bytes b(der, der + n);
  OPENSSL_free(der);
  auto r = decode_from_x509_extension(bv(b));
  CHECK(r.reason() == Reason::kDecodeError);
  CHECK(r.error().detail.find("no CMW extension") != std::string::npos);
}

TEST_CASE("Draft example records and tags decode as INDEX.md says", "[cmw]") {
  EXATTEST_REQUIRE_VECTORS("cmw/INDEX.md");
  auto dir = vec_path_->parent_path() / "draft-examples";
  CHECK(decode_file(dir / "cmw-example-1.cbor") == Cmw(rec(uint16_t{64999}, "2347da55")));
  CHECK(decode_file(dir / "cmw-example-1.json") ==
        Cmw(rec("application/vnd.example.rats-conceptual-msg", "2347da55")));
  CHECK(decode_file(dir / "cmw-example-2.cbor") ==
        Cmw(rec("application/vnd.example.rats-conceptual-msg", "2347da55")));
  CHECK(decode_file(dir / "cmw-example-2.json") ==
        Cmw(rec("application/eat+cwt; eat_profile=\"tag:psacertified.org,2023:psa#tfm\"",
                "2347da55")));
  CHECK(decode_file(dir / "cmw-example-3.cbor") ==
        Cmw(rec("application/rim+cose", "d28440a044d901f5a040", 3)));
  Cmw t1 = decode_file(dir / "cmw-example-tag-1.cbor");
  CHECK(t1 == Cmw(tagged(1668612070, "2347da55")));
  CHECK(cf_from_tn(t1.tag().tag) == uint16_t{64999});
  Cmw t2 = decode_file(dir / "cmw-example-tag-2.cbor");
  CHECK(t2 == Cmw(tagged(1668612069, "a10a48a7c76d8424a96fb4")));
  CHECK(cf_from_tn(t2.tag().tag) == uint16_t{64998});
}

TEST_CASE("Draft example collections decode as INDEX.md says", "[cmw]") {
  EXATTEST_REQUIRE_VECTORS("cmw/INDEX.md");
  auto dir = vec_path_->parent_path() / "draft-examples";
  CHECK(decode_file(dir / "collection-example-1.cbor") == Cmw(draft_collection("4c693475")));
  CHECK(decode_file(dir / "collection-example-2.cbor") == Cmw(draft_collection("2e2e2e")));
  CHECK(decode_file(dir / "collection-example-1.json") == Cmw(ucs_collection(std::nullopt)));
  CHECK(decode_file(dir / "collection-example-2.json") ==
        Cmw(ucs_collection("tag:example.com,2024:another-composite-attester")));
  // eat-example-1.json: the "cmw" claim of a JWT claims set is the collection-example-2 one.
  Bytes eat = read_file(dir / "eat-example-1.json");
  auto claims = nlohmann::json::parse(text_of(eat));
  CHECK(claims["iss"] == "evidence collection daemon");
  CHECK(claims["exp"] == 1300819380);
  auto r = decode_json(claims["cmw"].dump());
  REQUIRE(r.ok());
  CHECK(r.value() == Cmw(ucs_collection("tag:example.com,2024:another-composite-attester")));
  // The claims set itself is not a CMW ("iss" is not a record or collection).
  auto whole = decode_json(text_of(eat));
  CHECK(whole.reason() == Reason::kDecodeError);
  CHECK(whole.error().detail.find("in item \"iss\"") != std::string::npos);
}

TEST_CASE("Encoding what was decoded reproduces the vector bytes", "[cmw]") {
  EXATTEST_REQUIRE_VECTORS("cmw/INDEX.md");
  auto root = vec_path_->parent_path();
  for (const char* f :
       {"veraison-testdata/collection-cbor-ok-2.cbor", "veraison-testdata/collection-cbor-ok.cbor",
        "veraison-testdata/collection-cbor-mixed-keys.cbor", "draft-examples/cmw-example-1.cbor",
        "draft-examples/cmw-example-2.cbor", "draft-examples/cmw-example-3.cbor",
        "draft-examples/cmw-example-tag-1.cbor", "draft-examples/cmw-example-tag-2.cbor",
        "draft-examples/collection-example-1.cbor"}) {
    INFO(f);
    Bytes in = read_file(root / f);
    auto d = decode_cbor(bv(in));
    REQUIRE(d.ok());
    auto e = encode_cbor(d.value(), MapOrder::kAsGiven);
    REQUIRE(e.ok());
    CHECK(to_hex(e.value()) == to_hex(in));
  }
  // Exact bytes named in INDEX.md.
  auto ok2 = encode_cbor(decode_file(root / "veraison-testdata/collection-cbor-ok-2.cbor"));
  REQUIRE(ok2.ok());
  CHECK(to_hex(ok2.value()) == "a10182716170706c69636174696f6e2f766e642e3144deadbeef");
  auto ex1 = encode_cbor(decode_file(root / "draft-examples/cmw-example-1.cbor"));
  REQUIRE(ex1.ok());
  CHECK(to_hex(ex1.value()) == "8219fde7442347da55");
  auto tag1 = encode_cbor(decode_file(root / "draft-examples/cmw-example-tag-1.cbor"));
  REQUIRE(tag1.ok());
  CHECK(to_hex(tag1.value()) == "da6374ffe6442347da55");
  // Deterministic order puts 1024 (19 0400) before "string" (66 ...): RFC 8949 §4.2.1.
  auto mixed = encode_cbor(decode_file(root / "veraison-testdata/collection-cbor-mixed-keys.cbor"));
  REQUIRE(mixed.ok());
  CHECK(to_hex(mixed.value()) == "a2190400da6374010141aa66737472696e67820041ff");
  CHECK(is_deterministic(bv(mixed.value())));
  // ... and "__cmwc_t" (68 ...) after the integer labels.
  auto c1 = encode_cbor(decode_file(root / "draft-examples/collection-example-1.cbor"));
  REQUIRE(c1.ok());
  CHECK(to_hex(c1.value()).starts_with("a4008319fde7442347da5504"));
  CHECK(is_deterministic(bv(c1.value())));
  auto back = decode_cbor(bv(c1.value()));
  REQUIRE(back.ok());
  CHECK(back.value() == Cmw(draft_collection("4c693475")));
}

TEST_CASE("JSON and CBOR round trips", "[cmw]") {
  // JSON -> model -> CBOR -> model -> JSON.
  const std::string json = R"({"__cmwc_t":"1.2.3.4","x":["application/vnd.a","YQ",4],)"
                           R"("y":{"in":["text/plain; charset=\"utf-8\"","-_8",1]}})";
  auto j = decode_json(json);
  REQUIRE(j.ok());
  const Collection& c = j.value().collection();
  CHECK(c.ctype == "1.2.3.4");
  CHECK(c.items[1].second.collection().items[0].second.record().value == from_hex("fbff"));
  auto cbor = encode_cbor(j.value());
  REQUIRE(cbor.ok());
  auto back = decode_cbor(bv(cbor.value()));
  REQUIRE(back.ok());
  CHECK(back.value() == j.value());
  auto json2 = encode_json(back.value());
  REQUIRE(json2.ok());
  CHECK(json2.value() == json);

  // CBOR -> JSON -> CBOR for a record with every byte length mod 3.
  for (std::string_view hex : {"", "00", "0001", "000102", "fffefdfc"}) {
    Cmw r = rec("application/vnd.x", hex, 16);
    auto e = encode_cbor(r);
    REQUIRE(e.ok());
    auto js = encode_json(r);
    REQUIRE(js.ok());
    auto d = decode_json(js.value());
    REQUIRE(d.ok());
    CHECK(d.value() == r);
    auto e2 = encode_cbor(d.value());
    REQUIRE(e2.ok());
    CHECK(e2.value() == e.value());
  }
  CHECK(base64url_encode(from_hex("fbff")) == "-_8");
  CHECK(base64url_encode(from_hex("2347da55")) == "I0faVQ");

  // Forms JSON cannot carry.
  CHECK(encode_json(Cmw(tagged(1668612070, "00"))).reason() == Reason::kDecodeError);
  auto cf = encode_json(Cmw(rec(uint16_t{30001}, "00")));
  CHECK(cf.reason() == Reason::kDecodeError);
  CHECK(cf.error().detail.find("Content-Format") != std::string::npos);
  auto il = encode_json(Cmw(coll(std::nullopt, {{int64_t{1}, rec("a/b", "00")}})));
  CHECK(il.error().detail.find("integer label 1") != std::string::npos);
}

TEST_CASE("Encoder refuses invalid models", "[cmw]") {
  CHECK(encode_cbor(Cmw(rec("a/b", "00", 0))).error().detail.find("non-zero") != std::string::npos);
  CHECK(encode_cbor(Cmw(rec("a/b", "00", 32))).error().detail.find("undefined bits") !=
        std::string::npos);
  CHECK(encode_cbor(Cmw(rec("nota-media-type", "00"))).error().detail.find("not a media type") !=
        std::string::npos);
  CHECK(encode_cbor(Cmw(tagged(1234, "00"))).error().detail.find("not a CMW tag") !=
        std::string::npos);
  CHECK(encode_cbor(Cmw(coll(std::nullopt, {}))).error().detail.find("no items") !=
        std::string::npos);
  CHECK(encode_cbor(Cmw(coll(std::nullopt,
                             {{int64_t{1}, rec("a/b", "00")}, {int64_t{1}, rec("a/b", "01")}})))
            .error()
            .detail.find("duplicate label 1") != std::string::npos);
}

TEST_CASE("INDEX.md must-reject CBOR inputs fail with decode_error", "[cmw]") {
  expect_cbor_reject("80", "record must have 2 or 3 entries, has 0");
  expect_cbor_reject("81 192710", "has 1");
  expect_cbor_reject("84 1903e8 44deadbeef 01 f4", "has 4");
  expect_cbor_reject("82 fb408f41d70a3d70a4 44deadbeef", "record type must be");
  expect_cbor_reject("82 1a00010000 44deadbeef", "Content-Format 65536 exceeds 65535");
  expect_cbor_reject("82 19ffff fb3ff3333333333333", "record value must be a byte string");
  expect_cbor_reject("da63740101", "truncated input");
  expect_cbor_reject("da6374010101", "tag CMW content must be a byte string");
  expect_cbor_reject("00", "not a CMW");
  expect_cbor_reject("", "empty input");
  expect_cbor_reject("a100", "declared map size 1 exceeds the 1 bytes left");
  // extra rows
  expect_cbor_reject("83 197531 41ff 00", "indicator must be non-zero");
  expect_cbor_reject("a0", "collection has no items");
  expect_cbor_reject("d841 41ff", "tag 65 is not a CMW tag number");
  expect_cbor_reject("82 197531 41ff 00ff", "2 trailing bytes");
}

TEST_CASE("Further CBOR rejections: tags, indicators, labels, types", "[cmw]") {
  expect_cbor_reject("da63740200 41ff", "not a CMW tag number");  // low byte 0x00
  expect_cbor_reject("da63750000 41ff", "not a CMW tag number");  // above kTnMax
  expect_cbor_reject("83 00 41ff 1820", "undefined bits");        // ind 32
  expect_cbor_reject("83 00 41ff 1b0000000100000000", "exceeds 2^32-1");
  expect_cbor_reject("83 00 41ff 20", "indicator must be an unsigned integer");
  expect_cbor_reject("82 60 41ff", "is not a media type");        // ""
  expect_cbor_reject("82 63616263 41ff", "is not a media type");  // "abc"
  expect_cbor_reject("82 00 61ff", "not valid UTF-8");            // text 0xff
  expect_cbor_reject("82 00 6161", "record value must be a byte string");
  // {1: [0, h'ff'], 1: [...]}: duplicate key (same encoding, caught by the pre-scan).
  expect_cbor_reject("a2 01 820041ff 01 820041fe", "duplicate map key");
  // {1: ..., 0x1801 (non-shortest 1): ...}: duplicate label by value.
  expect_cbor_reject("a2 01 820041ff 1801 820041fe", "duplicate label 1");
  // Float, bool and bstr labels.
  expect_cbor_reject("a1 f93c00 820041ff", "label must be an integer or a text string");
  expect_cbor_reject("a1 41aa 820041ff", "label must be an integer or a text string");
  // Collection item that is not a CMW.
  expect_cbor_reject("a1 01 01", "in item 1: not a CMW");
  // Negative labels are fine; below int64 is not.
  auto neg = decode_cbor(from_hex("a1 20 820041ff"));
  REQUIRE(neg.ok());
  CHECK(std::get<int64_t>(neg.value().collection().items[0].first) == -1);
  expect_cbor_reject("a1 3bffffffffffffffff 820041ff", "below int64");
  expect_cbor_reject("a1 1bffffffffffffffff 820041ff", "exceeds int64");
}

TEST_CASE("Collection type and label rules", "[cmw]") {
  // __cmwc_t must be an absolute URI or OID: "", "a/b/c", ".2.3.4", "1.2 3.4".
  expect_json_reject(R"({"__cmwc_t":"","a":["a/b","YQ"]})", "not an absolute URI");
  expect_json_reject(R"({"__cmwc_t":"a/b/c","a":["a/b","YQ"]})", "not an absolute URI");
  expect_json_reject(R"({"__cmwc_t":".2.3.4","a":["a/b","YQ"]})", "not an absolute URI");
  expect_json_reject(R"({"__cmwc_t":"1.2 3.4","a":["a/b","YQ"]})", "not an absolute URI");
  expect_json_reject(R"({"__cmwc_t":"3.1","a":["a/b","YQ"]})", "not an absolute URI");
  expect_json_reject(R"({"__cmwc_t":"1.02","a":["a/b","YQ"]})", "not an absolute URI");
  // CBOR: {"__cmwc_t": "a/b/c", 1: [0, h'ff']}
  expect_cbor_reject("a2 685f5f636d77635f74 65612f622f63 01 820041ff", "not an absolute URI");
  // __cmwc_t used for an item; empty and blank labels.
  expect_json_reject(R"({"__cmwc_t":["a/b","YQ"]})", "reserved for the collection type");
  expect_cbor_reject("a1 685f5f636d77635f74 820041ff", "reserved for the collection type");
  expect_json_reject(R"({"":["a/b","YQ"]})", "empty or blank collection label");
  expect_json_reject(R"({"   ":["a/b","YQ"]})", "empty or blank collection label");
  expect_cbor_reject("a1 60 820041ff", "empty or blank collection label");
  expect_cbor_reject("a1 6120 820041ff", "empty or blank collection label");
  // Only __cmwc_t: no item.
  expect_json_reject(R"({ "a": { "__cmwc_t": "1.2.3.4" } })", "collection has no items");
  expect_cbor_reject("a1 685f5f636d77635f74 67312e322e332e34", "collection has no items");
  // Valid ones: OID and URIs.
  for (const char* t : {"1.2.3.4", "2.999.1", "urn:ietf:params:x", "https://ex.com/a%20b?q#f"}) {
    INFO(t);
    auto r = decode_json(std::string(R"({"__cmwc_t":")") + t + R"(","a":["a/b","YQ"]})");
    REQUIRE(r.ok());
    CHECK(r.value().collection().ctype == std::string(t));
  }
}

TEST_CASE("Nested collections are depth-capped", "[cmw]") {
  std::string deep = R"(["a/b","YQ"])";
  for (int k = 0; k < 4; ++k) deep = R"({"n":)" + deep + "}";
  REQUIRE(decode_json(deep).ok());  // 4 levels: the default cap
  expect_json_reject(R"({"n":)" + deep + "}", "collections nested deeper than 4");
  Bytes cbor = from_hex("820041ff");
  for (int k = 0; k < 5; ++k) {
    Bytes outer = from_hex("a101");
    outer.insert(outer.end(), cbor.begin(), cbor.end());
    cbor = outer;
  }
  auto r = decode_cbor(bv(cbor));
  CHECK(r.reason() == Reason::kDecodeError);
  CHECK(r.error().detail.find("collections nested deeper than 4") != std::string::npos);
}

TEST_CASE("INDEX.md must-reject JSON inputs fail with decode_error", "[cmw]") {
  expect_json_reject("[]", "has 0");
  expect_json_reject("[10000]", "has 1");
  expect_json_reject(R"(["3q2-7w"])", "has 1");
  expect_json_reject(R"([10000,"3q2-7w",1,"EXTRA"])", "has 4");
  expect_json_reject(R"([10000.23,"3q2-7w"])", "C-F number is CBOR-only");
  expect_json_reject(R"([{"type":10000},"3q2-7w"])", "record type must be a media type string");
  expect_json_reject("[10000, 1.2]", "C-F number is CBOR-only");
  expect_json_reject(R"(["a/b", 1.2])", "record value must be a base64url string");
  expect_json_reject(R"(["a/b","3q2-7w=="])", "without padding");
  expect_json_reject(R"([10000,"3q2-7w","Evidence"])", "C-F number is CBOR-only");
  expect_json_reject(R"(["a/b","3q2-7w","Evidence"])", "indicator must be an unsigned integer");
  expect_json_reject(R"([10000, "3q2-7w")", "malformed JSON");
  // Our policy (INDEX.md note): a C-F number as JSON type is rejected.
  expect_json_reject(R"([30001,"3q2-7w"])", "C-F number is CBOR-only");
}

TEST_CASE("Further JSON rejections", "[cmw]") {
  expect_json_reject(R"(["a/b","3q2+7w"])", "not valid base64url");  // '+' is base64, not url
  expect_json_reject(R"(["a/b","YR"])", "not valid base64url");      // non-zero unused bits
  expect_json_reject(R"(["a/b","Y"])", "not valid base64url");       // impossible length
  expect_json_reject(R"(["a/b","YQ",0])", "must be non-zero");
  expect_json_reject(R"(["a/b","YQ",-4])", "indicator must be an unsigned integer");
  expect_json_reject(R"(["a/b","YQ",4.0])", "indicator must be an unsigned integer");
  expect_json_reject(R"(["a/b","YQ",64])", "undefined bits");
  expect_json_reject(R"(["a/b","YQ",4294967296])", "exceeds 2^32-1");
  expect_json_reject(R"("a/b")", "not a CMW");
  expect_json_reject(R"(["a/b","YQ"] x)", "malformed JSON");
  expect_json_reject(R"({"a":["a/b","YQ"],"a":["a/b","Yg"]})", "duplicate object key \"a\"");
  expect_json_reject(R"({"a":{"b":["a/b","YQ"],"b":["a/b","YQ"]}})", "duplicate object key \"b\"");
  expect_json_reject(std::string(10000, '[') + std::string(10000, ']'),
                     "JSON nesting deeper than 16");
  expect_json_reject(R"(["a/b ","YQ"])", "not a media type");
  expect_json_reject(R"(["a/b; q","YQ"])", "not a media type");
  expect_json_reject(R"(["a/b; q=\"x","YQ"])", "not a media type");
}

TEST_CASE("PROTOCOL.md §6 evidence record: encode and accept exactly the shape", "[cmw]") {
  Bytes ev = from_hex("a10102");
  Bytes rec6 = encode_evidence_record(kTpm2QuoteMediaType, bv(ev));
  // [ "application/vnd.exattest.tpm2-quote+cbor", h'a10102', 4 ]
  CHECK(to_hex(rec6) ==
        "8378286170706c69636174696f6e2f766e642e65786174746573742e74706d322d71756f74652b63626f7243"
        "a1010204");
  auto d = decode_evidence_record(bv(rec6), kTpm2QuoteMediaType);
  REQUIRE(d.ok());
  CHECK(d.value() == ev);
  // The general codec reads it as an evidence record too.
  auto g = decode_cbor(bv(rec6));
  REQUIRE(g.ok());
  CHECK(g.value() == Cmw(Record{std::string(kTpm2QuoteMediaType), ev, kIndEvidence}));

  auto reject = [](const Bytes& in, std::string_view why) {
    auto r = decode_evidence_record(exattest::view(in), kTpm2QuoteMediaType);
    REQUIRE_FALSE(r.ok());
    CHECK(r.reason() == Reason::kDecodeError);
    INFO(r.error().detail);
    CHECK(r.error().detail.find(why) != std::string::npos);
  };
  const Bytes mt(kTpm2QuoteMediaType.begin(), kTpm2QuoteMediaType.end());
  auto build = [&](uint8_t count, bool cf_type, std::string_view type, uint64_t ind) {
    CborWriter w;
    w.array_header(count);
    if (cf_type) {
      w.uint(30001);
    } else {
      w.tstr(type);
    }
    w.bstr(exattest::view(ev));
    if (count == 3) w.uint(ind);
    return w.take();
  };
  reject(build(2, false, kTpm2QuoteMediaType, 0), "3-element");
  reject(build(3, false, kTpm2QuoteMediaType, 8), "indicator must be 4");
  reject(build(3, true, "", 4), "must be the text media type");
  reject(build(3, false, "application/eat+cwt", 4), "is not \"application/vnd.exattest");
  Bytes trailing = rec6;
  trailing.push_back(0x00);
  reject(trailing, "trailing bytes");
  // Non-canonical length head: 0x78 0x28 -> 0x79 0x0028 for the type string.
  Bytes long_head = from_hex("83 79 0028");
  long_head.insert(long_head.end(), mt.begin(), mt.end());
  Bytes tail = from_hex("43a10102 04");
  long_head.insert(long_head.end(), tail.begin(), tail.end());
  reject(long_head, "non-shortest");
  // ... which the general codec accepts (it is well-formed).
  CHECK(decode_cbor(bv(long_head)).ok());
  // Indefinite-length array, value not a bstr, a collection, a tag.
  Bytes indef = from_hex("9f");
  indef.insert(indef.end(), rec6.begin() + 1, rec6.end());
  indef.push_back(0xff);
  reject(indef, "indefinite-length");
  reject(from_hex("a1 01 820041ff"), "nesting deeper than 2");
  reject(from_hex("da6374ffe6 442347da55"), "3-element");
}

TEST_CASE("Bounded decoding: huge declared lengths, deep nesting, size cap", "[cmw]") {
  auto t0 = std::chrono::steady_clock::now();
  // 5b ffffffffffffffff: byte string of 2^64-1 bytes in a 9-byte input.
  expect_cbor_reject("5b ffffffffffffffff", "declared string length 18446744073709551615");
  // A 6-byte input declaring a 4 GB - 1 byte string, text string, array, map.
  expect_cbor_reject("5a ffffffff 00", "exceeds the 1 bytes left");
  expect_cbor_reject("7a ffffffff 00", "declared string length 4294967295");
  expect_cbor_reject("9a ffffffff 00", "declared array count 4294967295");
  expect_cbor_reject("bb 7fffffffffffffff 00", "declared map size");
  expect_cbor_reject("82 00 5a 80000000", "exceeds the 0 bytes left");
  // Through the sniffing entry point (0x5b is '[': the JSON parser rejects it).
  Bytes huge = from_hex("5bffffffffffffffff");
  CHECK(decode(bv(huge)).reason() == Reason::kDecodeError);
  // 10000 nested arrays.
  Bytes deep(10000, 0x81);
  deep.push_back(0x00);
  auto r = decode_cbor(bv(deep));
  CHECK(r.reason() == Reason::kDecodeError);
  CHECK(r.error().detail.find("nesting deeper than 16") != std::string::npos);
  // 10000 nested tags.
  Bytes tags;
  for (int k = 0; k < 10000; ++k) tags.push_back(0xc1);
  tags.push_back(0x00);
  CHECK(decode_cbor(bv(tags)).error().detail.find("nesting deeper than 16") != std::string::npos);
  // Input size cap.
  DecodeLimits small;
  small.cbor.max_input = 8;
  auto big = decode_cbor(from_hex("8219fde7442347da55"), small);
  CHECK(big.error().detail.find("exceeds the limit of 8") != std::string::npos);
  CHECK(decode_json(R"(["a/b","YQ"])", small).error().detail.find("exceeds the limit of 8") !=
        std::string::npos);
  // Item count cap: an array of 70000 zeros.
  Bytes many = from_hex("9a 00011170");
  many.insert(many.end(), 70000, 0x00);
  CHECK(decode_cbor(bv(many)).error().detail.find("more than 65536 items") != std::string::npos);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  CHECK(ms < 2000);
}

TEST_CASE("CBOR pre-scan: well-formedness and deterministic encoding", "[cmw]") {
  CborLimits det;
  det.require_deterministic = true;
  auto st = [&](std::string_view hex, const CborLimits& l) {
    Bytes b = from_hex(hex);
    return cbor_prescan(exattest::view(b), l);
  };
  auto why = [&](std::string_view hex, const CborLimits& l) {
    auto s = st(hex, l);
    REQUIRE_FALSE(s.ok());
    CHECK(s.reason() == Reason::kDecodeError);
    return s.error().detail;
  };
  CborLimits any;
  // Always rejected.
  CHECK(why("5f 41aa ff", any).find("indefinite-length item") != std::string::npos);
  CHECK(why("ff", any).find("additional information 31") != std::string::npos);
  CHECK(why("1c", any).find("reserved additional information") != std::string::npos);
  CHECK(why("f8 10", any).find("simple value below 32") != std::string::npos);
  CHECK(why("19 01", any).find("truncated head") != std::string::npos);
  CHECK(why("62 c3 28", any).find("not valid UTF-8") != std::string::npos);
  CHECK(why("62 c0 80", any).find("not valid UTF-8") != std::string::npos);  // overlong
  CHECK(why("a2 01 00 01 00", any).find("duplicate map key") != std::string::npos);
  // Accepted in general, rejected when deterministic.
  CHECK(st("18 17", any).ok());
  CHECK(why("18 17", det).find("non-shortest") != std::string::npos);
  CHECK(why("d9 0001 00", det).find("non-shortest") != std::string::npos);  // tag head
  CHECK(st("a2 02 00 01 00", any).ok());
  CHECK(why("a2 02 00 01 00", det).find("not in bytewise sorted order") != std::string::npos);
  CHECK(why("a2 01 00 01 00", det).find("duplicate map key") != std::string::npos);
  CHECK(why("fa 3f800000", det).find("float not in its shortest form") != std::string::npos);
  CHECK(why("fb 3ff0000000000000", det).find("float not in its shortest form") !=
        std::string::npos);
  CHECK(st("f9 3c00", det).ok());
  CHECK(st("fa 3f800001", det).ok());  // needs single precision
  CHECK(st("fb 3ff0000000000001", det).ok());
  // Shorter keys sort first: 0x01 < 0x19 0100 < 0x61 'a' < 0x62 'aa'.
  CHECK(st("a4 01 00 190100 00 6161 00 626161 00", det).ok());
  CHECK(is_deterministic(from_hex("a2 01 00 02 00")));
  CHECK_FALSE(is_deterministic(from_hex("a2 02 00 01 00")));
  // libcbor load after the pre-scan.
  auto item = cbor_load_bounded(from_hex("83 01 02 03"), any);
  REQUIRE(item.ok());
  CHECK(cbor_array_size(item->get()) == 3);
}

TEST_CASE("CborWriter emits deterministic CBOR", "[cmw]") {
  CborWriter w;
  w.uint(0);
  w.uint(23);
  w.uint(24);
  w.uint(255);
  w.uint(256);
  w.uint(65535);
  w.uint(65536);
  w.uint(0xffffffffull);
  w.uint(0x100000000ull);
  w.int64(-1);
  w.int64(-25);
  w.int64(INT64_MIN);
  w.tag(1668612070);
  w.bstr(from_hex("aabb"));
  w.tstr("hi");
  REQUIRE(w.ok());
  CHECK(to_hex(w.data()) ==
        "00"
        "17"
        "1818"
        "18ff"
        "190100"
        "19ffff"
        "1a00010000"
        "1affffffff"
        "1b0000000100000000"
        "20"
        "3818"
        "3b7fffffffffffffff"
        "da6374ffe6"
        "42aabb"
        "626869");
  CborWriter m;
  m.map({{from_hex("6161"), from_hex("01")},
         {from_hex("190100"), from_hex("02")},
         {from_hex("01"), from_hex("03")}});
  REQUIRE(m.ok());
  CHECK(to_hex(m.data()) == "a3010319010002616101");
  CborWriter dup;
  dup.map({{from_hex("01"), from_hex("01")}, {from_hex("01"), from_hex("02")}});
  CHECK_FALSE(dup.ok());
}

TEST_CASE("describe() names kinds, types, C-Fs and indicators", "[cmw]") {
  Cmw c = coll("tag:x,2024:y", {{int64_t{0}, rec(uint16_t{64999}, "2347da55", 5)},
                                {int64_t{1}, tagged(1668612070, "2347da55")},
                                {std::string("s"), rec("application/eat+jwt", "2e", 8)}});
  auto d = describe(c);
  CHECK(d["kind"] == "collection");
  CHECK(d["ctype"] == "tag:x,2024:y");
  CHECK(d["items"][0]["label"] == 0);
  CHECK(d["items"][0]["cmw"]["kind"] == "record");
  CHECK(d["items"][0]["cmw"]["content_format"] == 64999);
  CHECK(d["items"][0]["cmw"]["value"] == "2347da55");
  CHECK(d["items"][0]["cmw"]["ind_names"] == "reference-values|evidence");
  CHECK(d["items"][1]["cmw"]["kind"] == "tag");
  CHECK(d["items"][1]["cmw"]["tag"] == 1668612070u);
  CHECK(d["items"][1]["cmw"]["content_format"] == 64999);
  CHECK(d["items"][2]["label"] == "s");
  CHECK(d["items"][2]["cmw"]["media_type"] == "application/eat+jwt");
  CHECK(d["items"][2]["cmw"]["ind_names"] == "attestation-results");
  CHECK(ind_names(31) ==
        "reference-values|endorsements|evidence|attestation-results|appraisal-policy");
}
