// Unit tests for provider/ea (RFC 9261, PROTOCOL.md §3) over real in-memory TLS 1.3 pairs.
#include "ea/ea.h"

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>

#include "test_support.h"
#include "tls_pair.h"
#include "wire/wire.h"

namespace ea = exattest::ea;
using exattest::Bytes;
using exattest::ByteView;
using exattest::Reason;
using exattest::view;
using exattest::test::from_hex;
using exattest::test::KeyType;
using exattest::test::PairOptions;
using exattest::test::TlsPair;

namespace {

// Compares without letting Catch print the bytes (some are secrets).
bool same(ByteView a, ByteView b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

Bytes der(X509* x) {
  unsigned char* p = nullptr;
  int n = i2d_X509(x, &p);
  REQUIRE(n > 0);
  Bytes out(p, p + n);
  OPENSSL_free(p);
  return out;
}

Bytes str_bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

// Both ends of one pair, each with its ea::Connection.
struct Env {
  explicit Env(const PairOptions& o)
      : pair(TlsPair::make(o)), server(pair->server.get()), client(pair->client.get()) {}
  std::unique_ptr<TlsPair> pair;
  ea::Connection server;
  ea::Connection client;
};

PairOptions with_client_cert(KeyType k = KeyType::kP256) {
  PairOptions o;
  o.server_key = k;
  o.client_cert = true;
  o.client_key = k;
  return o;
}

struct Exchange {
  Bytes request;
  Bytes auth;
};

// The client asks, the server answers with its TLS identity.
Exchange server_answers(Env& e, std::optional<Bytes> cmw = std::nullopt, bool offer = true) {
  auto req = e.client.create_request(offer);
  REQUIRE_OK(req);
  std::optional<ByteView> c;
  if (cmw) c = view(*cmw);
  auto& id = e.pair->server_id;
  auto auth =
      e.server.create_authenticator(view(*req), id.leaf.get(), id.chain.get(), id.key.get(), c);
  REQUIRE_OK(auth);
  return {*req, *auth};
}

struct Msg {
  uint8_t type;
  size_t off;  // of the 4-byte header
  size_t len;  // of the body
};

std::vector<Msg> split(const Bytes& a) {
  std::vector<Msg> out;
  size_t at = 0;
  while (at < a.size()) {
    REQUIRE(at + 4 <= a.size());
    size_t len = size_t{a[at + 1]} << 16 | size_t{a[at + 2]} << 8 | a[at + 3];
    out.push_back({a[at], at, len});
    at += 4 + len;
  }
  REQUIRE(at == a.size());
  return out;
}

Bytes slice(const Bytes& a, const Msg& m) {
  return Bytes(a.begin() + m.off, a.begin() + m.off + 4 + m.len);
}

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// Finished over C || CV with the exporters of `sender`, so only what the test changed
// is wrong; returns C || CV || Finished.
Bytes refinish(Env& e, ea::Role sender, const Bytes& request, const Bytes& c, const Bytes& cv) {
  auto hc = e.server.handshake_context(sender);
  auto fk = e.server.finished_key(sender);
  REQUIRE_OK(hc);
  REQUIRE_OK(fk);
  auto mac = ea::finished_mac(e.server.md(), (*fk)->view(), (*hc)->view(), view(request), view(c),
                              view(cv));
  REQUIRE_OK(mac);
  return cat({c, cv, exattest::wire::handshake_message(ea::kFinished, view(*mac))});
}

ea::CertEntry entry(X509* x, std::vector<ea::Extension> exts = {}) {
  return ea::CertEntry{der(x), std::move(exts)};
}

// A complete authenticator built by hand (the server's side by default), correctly
// signed and MACed over whatever the test puts in it.
Bytes forge(Env& e, const Bytes& request, std::vector<ea::CertEntry> entries, EVP_PKEY* key,
            uint16_t scheme, std::optional<Bytes> context = std::nullopt,
            ea::Role labels = ea::Role::kServer) {
  auto hc = e.server.handshake_context(labels);
  auto fk = e.server.finished_key(labels);
  REQUIRE_OK(hc);
  REQUIRE_OK(fk);
  auto rctx = ea::get_context(view(request));
  REQUIRE_OK(rctx);
  ea::BuildParams p;
  p.md = e.server.md();
  p.hc = (*hc)->view();
  p.fk = (*fk)->view();
  p.request = view(request);
  p.context = context ? view(*context) : view(*rctx);
  p.entries = std::move(entries);
  p.key = key;
  p.scheme = scheme;
  auto a = ea::build_authenticator(p);
  REQUIRE_OK(a);
  return *a;
}

Bytes cmw_ext(ByteView data) {
  auto b = ea::encode_cmw_extension_body(data);
  REQUIRE_OK(b);
  return *b;
}

// One direction of a round trip: `asker` requests, `answerer` authenticates with `id`.
void one_way(ea::Connection& asker, ea::Connection& answerer, const exattest::test::Identity& id,
             X509_STORE* trust, uint16_t want_scheme, std::optional<Bytes> cmw, bool want_reuse) {
  auto req = asker.create_request(cmw.has_value());
  REQUIRE_OK(req);
  CHECK((*req)[0] == (asker.role() == ea::Role::kServer ? 13 : 17));
  std::optional<ByteView> c;
  if (cmw) c = view(*cmw);
  auto auth =
      answerer.create_authenticator(view(*req), id.leaf.get(), id.chain.get(), id.key.get(), c);
  REQUIRE_OK(auth);
  auto v = asker.validate(view(*req), view(*auth), trust);
  REQUIRE_OK(v);
  CHECK_FALSE(v->empty);
  CHECK(v->require_authenticator().ok());
  CHECK(v->scheme == want_scheme);
  REQUIRE(v->leaf);
  CHECK(der(v->leaf.get()) == der(id.leaf.get()));
  CHECK(v->cmw_data == cmw);
  CHECK(v->reused_handshake_verdict == want_reuse);
  auto rctx = ea::get_context(view(*req));
  auto actx = ea::get_context(view(*auth));
  REQUIRE_OK(rctx);
  REQUIRE_OK(actx);
  CHECK(v->context == *rctx);
  CHECK(*actx == *rctx);
  CHECK(rctx->size() == 32);
}

void round_trip(KeyType k, uint16_t want_scheme) {
  for (const char* suite : {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"}) {
    INFO(suite << " " << exattest::test::key_type_name(k));
    PairOptions o = with_client_cert(k);
    o.ciphersuites = suite;
    Env e(o);
    REQUIRE(e.server.ready().ok());
    REQUIRE(e.client.ready().ok());
    size_t want_len = std::strstr(suite, "SHA384") ? 48 : 32;
    CHECK(e.server.hash_len() == want_len);
    CHECK(e.client.hash_len() == want_len);
    Bytes cmw = from_hex("83 78 27");
    cmw.insert(cmw.end(), 40, 0x61);
    // Server attests to the client (with cmw_data), then client to server (without).
    one_way(e.client, e.server, e.pair->server_id, e.pair->trust.get(), want_scheme, cmw, true);
    one_way(e.server, e.client, e.pair->client_id, e.pair->trust.get(), want_scheme, std::nullopt,
            true);
    // And with full PKIX validation against another store holding the same root.
    exattest::UniquePtr<X509_STORE> other(X509_STORE_new());
    REQUIRE(X509_STORE_add_cert(other.get(), e.pair->root.get()) == 1);
    one_way(e.client, e.server, e.pair->server_id, other.get(), want_scheme, cmw, false);
    one_way(e.server, e.client, e.pair->client_id, other.get(), want_scheme, std::nullopt, false);
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Known answers for the transcript arithmetic (no connection).
// ---------------------------------------------------------------------------------------

TEST_CASE("Finished known answer: HMAC(FK, SHA-256(HC || R || C || CV))", "[ea][kat]") {
  Bytes hc = str_bytes("12345678901234567890123456789012");
  Bytes fk = hc;
  Bytes r = cat({from_hex("0d00001f 14"), str_bytes("0123456789abcdefghij"),
                 from_hex("0008 000d 0004 0002 0403")});
  Bytes c = from_hex("0b00000400000000");
  Bytes v = cat({from_hex("0f00000d 0403 0009"), str_bytes("signature")});
  // The length fields are consistent: R's body is 31 = 0x1f bytes, C's 4, V's 13 = 0x0d.
  REQUIRE(r.size() == 4 + 0x1f);
  REQUIRE(v.size() == 4 + 0x0d);
  auto req = ea::parse_request(view(r), ea::kCertificateRequest);
  REQUIRE_OK(req);
  CHECK(req->sigalgs == std::vector<uint16_t>{0x0403});
  auto mac = ea::finished_mac(EVP_sha256(), view(fk), view(hc), view(r), view(c), view(v));
  REQUIRE_OK(mac);
  CHECK(exattest::test::to_hex(*mac) ==
        "96a898472dfd89f2a2678c6ab15eb6763b855b5ec6c7e3f24ba62c3e34072f0b");

  // The empty authenticator: Finished over HC || R || Certificate(ctx, empty list).
  Bytes empty_c =
      cat({from_hex("0b000018 14"), str_bytes("0123456789abcdefghij"), from_hex("000000")});
  auto enc = ea::encode_certificate(view(req->context), {});
  REQUIRE_OK(enc);
  CHECK(*enc == empty_c);
  auto mac2 = ea::finished_mac(EVP_sha256(), view(fk), view(hc), view(r), view(empty_c), {});
  REQUIRE_OK(mac2);
  CHECK(exattest::test::to_hex(*mac2) ==
        "c6558d626bf2fa60477e003306525df98b168784616d0b757aaf4b87823fc886");

  // build_authenticator with no entries is exactly that Finished message.
  ea::BuildParams p;
  p.md = EVP_sha256();
  p.hc = view(hc);
  p.fk = view(fk);
  p.request = view(r);
  p.context = view(req->context);
  auto refusal = ea::build_authenticator(p);
  REQUIRE_OK(refusal);
  CHECK(exattest::test::to_hex(*refusal) ==
        "14000020c6558d626bf2fa60477e003306525df98b168784616d0b757aaf4b87823fc886");
}

TEST_CASE("CertificateVerify input is 64 spaces, the label, 0x00, H(HC || R || C)", "[ea][kat]") {
  Bytes hc = str_bytes("12345678901234567890123456789012");
  Bytes r = from_hex("0d000000");
  Bytes c = from_hex("0b00000400000000");
  auto in = ea::certificate_verify_input(EVP_sha256(), view(hc), view(r), view(c));
  REQUIRE_OK(in);
  auto h = ea::transcript_hash(EVP_sha256(), {view(hc), view(r), view(c)});
  REQUIRE_OK(h);
  Bytes want(64, 0x20);
  Bytes label = str_bytes("Exported Authenticator");
  want.insert(want.end(), label.begin(), label.end());
  want.push_back(0);
  want.insert(want.end(), h->begin(), h->end());
  CHECK(*in == want);
  CHECK(in->size() == 64 + 22 + 1 + 32);
}

// ---------------------------------------------------------------------------------------
// Round trips.
// ---------------------------------------------------------------------------------------

TEST_CASE("Round trip both directions, ECDSA P-256, both cipher suites", "[ea]") {
  round_trip(KeyType::kP256, 0x0403);
}

TEST_CASE("Round trip both directions, ECDSA P-384, both cipher suites", "[ea]") {
  round_trip(KeyType::kP384, 0x0503);
}

TEST_CASE("Round trip both directions, RSA 2048 (rsa_pss_rsae_sha256)", "[ea]") {
  round_trip(KeyType::kRsa2048, 0x0804);
}

TEST_CASE("Round trip both directions, RSA-PSS 2048 key (rsa_pss_pss_sha256)", "[ea]") {
  round_trip(KeyType::kRsaPss2048, 0x0809);
}

TEST_CASE("Round trip both directions, Ed25519", "[ea]") { round_trip(KeyType::kEd25519, 0x0807); }

TEST_CASE("Round trip with P-521 and Ed448 identities other than the TLS certificate", "[ea]") {
  Env e(PairOptions{});
  for (auto [k, scheme] : {std::pair{KeyType::kP521, uint16_t{0x0603}},
                           std::pair{KeyType::kEd448, uint16_t{0x0808}}}) {
    auto id = e.pair->issue("other.test", k);
    auto req = e.client.create_request(false);
    REQUIRE_OK(req);
    auto auth =
        e.server.create_authenticator(view(*req), id.leaf.get(), id.chain.get(), id.key.get());
    REQUIRE_OK(auth);
    auto v = e.client.validate(view(*req), view(*auth), e.pair->trust.get());
    REQUIRE_OK(v);
    CHECK(v->scheme == scheme);
    // Another identity than the handshake's: the handshake verdict is not reused.
    CHECK_FALSE(v->reused_handshake_verdict);
  }
}

TEST_CASE("The scheme is the first of the request's list the key can do", "[ea]") {
  Env e(PairOptions{});  // server key P-256
  ea::RequestSpec spec;
  spec.sigalgs = {0x0401, 0x0807, 0x0503, 0x0403, 0x0804};
  auto req = e.client.create_request(spec);
  REQUIRE_OK(req);
  auto& id = e.pair->server_id;
  auto auth =
      e.server.create_authenticator(view(*req), id.leaf.get(), id.chain.get(), id.key.get());
  REQUIRE_OK(auth);
  auto v = e.client.validate(view(*req), view(*auth), e.pair->trust.get());
  REQUIRE_OK(v);
  CHECK(v->scheme == 0x0403);
}

TEST_CASE("A chain with an intermediate validates, and without it PKIX fails", "[ea]") {
  PairOptions o;
  o.intermediate = true;
  Env e(o);
  REQUIRE(sk_X509_num(e.pair->server_id.chain.get()) == 1);
  exattest::UniquePtr<X509_STORE> other(X509_STORE_new());
  REQUIRE(X509_STORE_add_cert(other.get(), e.pair->root.get()) == 1);

  // Full PKIX path (another store object): the intermediate comes from the authenticator.
  Exchange x = server_answers(e);
  auto v = e.client.validate(view(x.request), view(x.auth), other.get());
  REQUIRE_OK(v);
  CHECK_FALSE(v->reused_handshake_verdict);
  REQUIRE(sk_X509_num(v->chain.get()) == 1);
  CHECK(der(sk_X509_value(v->chain.get(), 0)) == der(e.pair->intermediate.get()));

  // The handshake's own store and certificate: the handshake verdict is reused.
  Exchange y = server_answers(e);
  auto w = e.client.validate(view(y.request), view(y.auth), e.pair->trust.get());
  REQUIRE_OK(w);
  CHECK(w->reused_handshake_verdict);

  // The same leaf without its intermediate, checked against another store: bad_certificate.
  auto req = e.client.create_request(false);
  REQUIRE_OK(req);
  auto& id = e.pair->server_id;
  auto auth = e.server.create_authenticator(view(*req), id.leaf.get(), nullptr, id.key.get());
  REQUIRE_OK(auth);
  REQUIRE_REASON(e.client.validate(view(*req), view(*auth), other.get()), Reason::kBadCertificate);
}

TEST_CASE("Fast path only with the handshake's store and a verified peer", "[ea]") {
  SECTION("another store without the root: full validation runs and fails") {
    Env e(PairOptions{});
    exattest::UniquePtr<X509_STORE> empty_store(X509_STORE_new());
    Exchange x = server_answers(e);
    REQUIRE_REASON(e.client.validate(view(x.request), view(x.auth), empty_store.get()),
                   Reason::kBadCertificate);
  }
  SECTION("the client did not verify the server in the handshake") {
    PairOptions o;
    o.client_verifies = false;
    Env e(o);
    Exchange x = server_answers(e);
    auto v = e.client.validate(view(x.request), view(x.auth), e.pair->trust.get());
    REQUIRE_OK(v);
    CHECK_FALSE(v->reused_handshake_verdict);
  }
}

TEST_CASE("The empty authenticator is a refusal, never a success", "[ea]") {
  Env e(PairOptions{});
  auto req = e.client.create_request();
  REQUIRE_OK(req);
  auto auth = e.server.create_empty_authenticator(view(*req));
  REQUIRE_OK(auth);
  auto msgs = split(*auth);
  REQUIRE(msgs.size() == 1);
  CHECK(msgs[0].type == ea::kFinished);
  CHECK(msgs[0].len == 48);
  REQUIRE_REASON(ea::get_context(view(*auth)), Reason::kDecodeError);
  auto v = e.client.validate(view(*req), view(*auth), e.pair->trust.get());
  REQUIRE_OK(v);
  CHECK(v->empty);
  CHECK_FALSE(v->leaf);
  CHECK_FALSE(v->chain);
  CHECK_FALSE(v->cmw_data);
  CHECK(v->scheme == 0);
  REQUIRE_REASON(v->require_authenticator(), Reason::kNoEvidence);

  SECTION("a flipped bit in its Finished is bad_finished") {
    auto req2 = e.client.create_request();
    REQUIRE_OK(req2);
    auto auth2 = e.server.create_empty_authenticator(view(*req2));
    REQUIRE_OK(auth2);
    auth2->back() ^= 0x01;
    REQUIRE_REASON(e.client.validate(view(*req2), view(*auth2), e.pair->trust.get()),
                   Reason::kBadFinished);
  }
}

TEST_CASE("No common signature scheme yields the empty authenticator", "[ea]") {
  Env e(PairOptions{});  // P-256 server key
  ea::RequestSpec spec;
  spec.sigalgs = {0x0807, 0x0804};
  auto req = e.client.create_request(spec);
  REQUIRE_OK(req);
  auto& id = e.pair->server_id;
  auto auth =
      e.server.create_authenticator(view(*req), id.leaf.get(), id.chain.get(), id.key.get());
  REQUIRE_OK(auth);
  REQUIRE(split(*auth).size() == 1);
  auto v = e.client.validate(view(*req), view(*auth), e.pair->trust.get());
  REQUIRE_OK(v);
  CHECK(v->empty);
}

TEST_CASE("cmw_data of the maximum size fits, one byte more does not", "[ea]") {
  // CertificateEntry.extensions is <0..2^16-1>: type(2) + extension_data length(2) + the
  // cmw body's n(2) + n <= 65535, so n <= 65529 when cmw_attestation is alone in entry 0.
  // (The uint16 n itself would allow 65535; the 24-bit message lengths are far away.)
  REQUIRE(ea::kMaxCmwData == 65529);
  Env e(PairOptions{});
  Bytes cmw(ea::kMaxCmwData, 0x5a);
  Exchange x = server_answers(e, cmw);
  auto v = e.client.validate(view(x.request), view(x.auth), e.pair->trust.get());
  REQUIRE_OK(v);
  REQUIRE(v->cmw_data);
  CHECK(v->cmw_data->size() == 65529);
  CHECK(*v->cmw_data == cmw);

  auto req = e.client.create_request();
  REQUIRE_OK(req);
  Bytes big(ea::kMaxCmwData + 1, 0x5a);
  auto& id = e.pair->server_id;
  REQUIRE_REASON(e.server.create_authenticator(view(*req), id.leaf.get(), id.chain.get(),
                                               id.key.get(), ByteView(big)),
                 Reason::kDecodeError);
  // A failed attempt does not consume the request: it can still be refused.
  auto refusal = e.server.create_empty_authenticator(view(*req));
  REQUIRE_OK(refusal);
  // And one byte more, hand-encoded, overflows the entry's extension block.
  Bytes body = from_hex("fffa");
  body.insert(body.end(), ea::kMaxCmwData + 1, 0x5a);
  REQUIRE_REASON(ea::encode_certificate({}, {ea::CertEntry{Bytes{0x30}, {{0xff00, body}}}}),
                 Reason::kDecodeError);
  REQUIRE_REASON(ea::encode_cmw_extension_body({}), Reason::kDecodeError);
}

// ---------------------------------------------------------------------------------------
// Tampering: each fault has its reason.
// ---------------------------------------------------------------------------------------

TEST_CASE("Flipped bits: CertificateVerify, Finished, certificate, extension, cmw_data", "[ea]") {
  Env e(PairOptions{});
  Bytes cmw(100, 0x42);
  auto check = [&](auto mutate, Reason want) {
    Exchange x = server_answers(e, cmw);
    auto m = split(x.auth);
    REQUIRE(m.size() == 3);
    mutate(x.auth, m);
    REQUIRE_REASON(e.client.validate(view(x.request), view(x.auth), e.pair->trust.get()), want);
  };
  // Last byte of the ECDSA signature: the DER still parses, the signature fails.
  check([](Bytes& a, const std::vector<Msg>& m) { a[m[1].off + 4 + m[1].len - 1] ^= 1; },
        Reason::kBadSignature);
  // Finished: CertificateVerify is intact, so only the MAC fails.
  check([](Bytes& a, const std::vector<Msg>&) { a.back() ^= 0x80; }, Reason::kBadFinished);
  // Certificate layout: hdr(4) ctx_len(1) ctx(32) list_len(3) cert_len(3) der ...
  // The last byte of the leaf DER (its signatureValue) still parses; CertificateVerify
  // covers C, and it is checked before Finished and before PKIX: bad_signature.
  check(
      [&](Bytes& a, const std::vector<Msg>&) {
        size_t der_len = der(e.pair->server_id.leaf.get()).size();
        a[4 + 1 + 32 + 3 + 3 + der_len - 1] ^= 1;
      },
      Reason::kBadSignature);
  // The entry extension's type (0xff00 -> 0xff01): an extension the request did not offer.
  check(
      [&](Bytes& a, const std::vector<Msg>&) {
        size_t der_len = der(e.pair->server_id.leaf.get()).size();
        size_t ext = 4 + 1 + 32 + 3 + 3 + der_len + 2;
        REQUIRE(a[ext] == 0xff);
        REQUIRE(a[ext + 1] == 0x00);
        a[ext + 1] ^= 1;
      },
      Reason::kUnsupportedExtension);
  // The cmw body's n: the body no longer parses.
  check(
      [&](Bytes& a, const std::vector<Msg>&) {
        size_t der_len = der(e.pair->server_id.leaf.get()).size();
        size_t n_at = 4 + 1 + 32 + 3 + 3 + der_len + 2 + 4;
        REQUIRE(a[n_at + 1] == 100);
        a[n_at + 1] ^= 1;
      },
      Reason::kDecodeError);
  // A bit of cmw_data itself: CertificateVerify covers it and is checked first.
  check(
      [&](Bytes& a, const std::vector<Msg>&) {
        size_t der_len = der(e.pair->server_id.leaf.get()).size();
        size_t data_at = 4 + 1 + 32 + 3 + 3 + der_len + 2 + 4 + 2;
        REQUIRE(a[data_at + 50] == 0x42);
        a[data_at + 50] ^= 0x10;
      },
      Reason::kBadSignature);
}

TEST_CASE("A Certificate context other than the request's is context_mismatch", "[ea]") {
  Env e(PairOptions{});
  auto req = e.client.create_request();
  REQUIRE_OK(req);
  Bytes other(32, 0x33);
  auto& id = e.pair->server_id;
  // Correctly signed and MACed: only the context is wrong.
  Bytes a = forge(e, *req, {entry(id.leaf.get())}, id.key.get(), 0x0403, other);
  REQUIRE_REASON(e.client.validate(view(*req), view(a), e.pair->trust.get()),
                 Reason::kContextMismatch);
}

TEST_CASE("The same authenticator validated twice is context_mismatch", "[ea]") {
  Env e(PairOptions{});
  Exchange x = server_answers(e);
  REQUIRE_OK(e.client.validate(view(x.request), view(x.auth), e.pair->trust.get()));
  REQUIRE_REASON(e.client.validate(view(x.request), view(x.auth), e.pair->trust.get()),
                 Reason::kContextMismatch);
}

TEST_CASE("A request nobody sent, or answered twice, is context_mismatch", "[ea]") {
  Env e(PairOptions{});
  Bytes ctx(32, 0x11);
  auto fake = ea::encode_request(ea::kClientCertificateRequest, view(ctx), {0x0403}, true);
  REQUIRE_OK(fake);
  auto& id = e.pair->server_id;
  auto auth =
      e.server.create_authenticator(view(*fake), id.leaf.get(), id.chain.get(), id.key.get());
  REQUIRE_OK(auth);
  // The client never sent that request.
  REQUIRE_REASON(e.client.validate(view(*fake), view(*auth), e.pair->trust.get()),
                 Reason::kContextMismatch);
  // The server already answered it.
  REQUIRE_REASON(e.server.create_empty_authenticator(view(*fake)), Reason::kContextMismatch);
}

TEST_CASE("A request context reused in the other direction is context_mismatch", "[ea]") {
  Env e(PairOptions{});
  auto sreq = e.server.create_request();
  REQUIRE_OK(sreq);
  auto parsed = e.client.parse_request(view(*sreq));
  REQUIRE_OK(parsed);
  CHECK(parsed->type == ea::kCertificateRequest);
  // The client's request carrying the server's context, received by the server.
  auto creq = ea::encode_request(ea::kClientCertificateRequest, view(parsed->context),
                                 ea::supported_schemes(), true);
  REQUIRE_OK(creq);
  REQUIRE_REASON(e.server.parse_request(view(*creq)), Reason::kContextMismatch);
  REQUIRE_REASON(e.server.create_empty_authenticator(view(*creq)), Reason::kContextMismatch);
  // The same request received twice.
  REQUIRE_REASON(e.client.parse_request(view(*sreq)), Reason::kContextMismatch);
  // A context the client received cannot come back to it as an authenticator request of
  // its own: validate() knows it as the peer's.
  auto fake =
      ea::encode_request(ea::kClientCertificateRequest, view(parsed->context), {0x0403}, true);
  REQUIRE_OK(fake);
  auto& id = e.pair->server_id;
  Bytes a = forge(e, *fake, {entry(id.leaf.get())}, id.key.get(), 0x0403);
  REQUIRE_REASON(e.client.validate(view(*fake), view(a), e.pair->trust.get()),
                 Reason::kContextMismatch);
}

TEST_CASE("An authenticator made with the client labels, checked as server-sent", "[ea]") {
  Env e(PairOptions{});
  auto req = e.client.create_request();
  REQUIRE_OK(req);
  auto& id = e.pair->server_id;
  // HC differs, so the CertificateVerify input differs: bad_signature (checked first).
  Bytes a =
      forge(e, *req, {entry(id.leaf.get())}, id.key.get(), 0x0403, std::nullopt, ea::Role::kClient);
  REQUIRE_REASON(e.client.validate(view(*req), view(a), e.pair->trust.get()),
                 Reason::kBadSignature);
}

TEST_CASE("A server receiving type 13 / a client receiving type 17 is decode_error", "[ea]") {
  Env e(PairOptions{});
  auto sreq = e.server.create_request();
  auto creq = e.client.create_request();
  REQUIRE_OK(sreq);
  REQUIRE_OK(creq);
  CHECK((*sreq)[0] == 13);
  CHECK((*creq)[0] == 17);
  Bytes to_server = *sreq;  // type 13 arriving at a server
  to_server[5] ^= 0xff;     // (fresh context)
  Bytes to_client = *creq;
  to_client[5] ^= 0xff;
  REQUIRE_REASON(e.server.parse_request(view(to_server)), Reason::kDecodeError);
  REQUIRE_REASON(e.client.parse_request(view(to_client)), Reason::kDecodeError);
  auto& id = e.pair->server_id;
  REQUIRE_REASON(
      e.server.create_authenticator(view(to_server), id.leaf.get(), nullptr, id.key.get()),
      Reason::kDecodeError);
}

TEST_CASE("Extension rules in CertificateEntry", "[ea]") {
  PairOptions o;
  o.intermediate = true;
  Env e(o);
  auto& id = e.pair->server_id;
  Bytes cmw = from_hex("0102030405");
  X509* inter = e.pair->intermediate.get();

  SECTION("cmw_attestation present but not offered") {
    auto req = e.client.create_request(false);
    REQUIRE_OK(req);
    REQUIRE_REASON(e.server.create_authenticator(view(*req), id.leaf.get(), id.chain.get(),
                                                 id.key.get(), ByteView(cmw)),
                   Reason::kUnsupportedExtension);
    Bytes a = forge(e, *req, {entry(id.leaf.get(), {{0xff00, cmw_ext(view(cmw))}}), entry(inter)},
                    id.key.get(), 0x0403);
    REQUIRE_REASON(e.client.validate(view(*req), view(a), e.pair->trust.get()),
                   Reason::kUnsupportedExtension);
  }
  SECTION("cmw_attestation in the second entry") {
    auto req = e.client.create_request(true);
    REQUIRE_OK(req);
    Bytes a = forge(e, *req, {entry(id.leaf.get()), entry(inter, {{0xff00, cmw_ext(view(cmw))}})},
                    id.key.get(), 0x0403);
    REQUIRE_REASON(e.client.validate(view(*req), view(a), e.pair->trust.get()),
                   Reason::kUnsupportedExtension);
  }
  SECTION("status_request not offered") {
    auto req = e.client.create_request(true);
    REQUIRE_OK(req);
    Bytes a = forge(e, *req,
                    {entry(id.leaf.get(), {{ea::kExtStatusRequest, from_hex("01")}}), entry(inter)},
                    id.key.get(), 0x0403);
    REQUIRE_REASON(e.client.validate(view(*req), view(a), e.pair->trust.get()),
                   Reason::kUnsupportedExtension);
  }
  SECTION("status_request offered is accepted") {
    ea::RequestSpec spec;
    spec.extra = {{ea::kExtStatusRequest, from_hex("01 0000 0000")}};
    auto req = e.client.create_request(spec);
    REQUIRE_OK(req);
    Bytes a = forge(e, *req,
                    {entry(id.leaf.get(), {{ea::kExtStatusRequest, from_hex("01")}}), entry(inter)},
                    id.key.get(), 0x0403);
    REQUIRE_OK(e.client.validate(view(*req), view(a), e.pair->trust.get()));
  }
  SECTION("a duplicate extension in an entry") {
    auto req = e.client.create_request(true);
    REQUIRE_OK(req);
    Bytes a =
        forge(e, *req,
              {entry(id.leaf.get(), {{0xff00, cmw_ext(view(cmw))}, {0xff00, cmw_ext(view(cmw))}})},
              id.key.get(), 0x0403);
    REQUIRE_REASON(e.client.validate(view(*req), view(a), e.pair->trust.get()),
                   Reason::kDecodeError);
  }
  SECTION("an empty cmw_data (n = 0)") {
    auto req = e.client.create_request(true);
    REQUIRE_OK(req);
    Bytes a =
        forge(e, *req, {entry(id.leaf.get(), {{0xff00, from_hex("0000")}})}, id.key.get(), 0x0403);
    REQUIRE_REASON(e.client.validate(view(*req), view(a), e.pair->trust.get()),
                   Reason::kDecodeError);
  }
}

TEST_CASE("Truncation at every byte, at every length field, and one trailing byte", "[ea]") {
  PairOptions o;
  o.server_key = KeyType::kEd25519;  // fixed-size signatures: every authenticator has one layout
  Env e(o);
  X509_STORE* trust = e.pair->trust.get();
  Exchange ref = server_answers(e, Bytes{1, 2, 3});
  const size_t total = ref.auth.size();
  // Every proper prefix (cuts the header, context, list, cert, extensions, signature or
  // Finished of a fresh authenticator).
  for (size_t cut = 0; cut < total; ++cut) {
    Exchange x = server_answers(e, Bytes{1, 2, 3});
    REQUIRE(x.auth.size() == total);
    x.auth.resize(cut);
    INFO("prefix " << cut);
    REQUIRE_REASON(e.client.validate(view(x.request), view(x.auth), trust), Reason::kDecodeError);
  }
  // Each message cut inside with its 24-bit length adjusted, so the inner vectors (context,
  // certificate_list, cert_data, extensions, signature, Finished) run short.
  for (int which = 0; which < 3; ++which) {
    Exchange probe = server_answers(e, Bytes{1, 2, 3});
    size_t body_len = split(probe.auth)[which].len;
    for (size_t keep = 0; keep <= body_len + 1; ++keep) {
      if (keep == body_len) continue;  // unchanged
      Exchange x = server_answers(e, Bytes{1, 2, 3});
      auto m = split(x.auth);
      Bytes parts[3] = {slice(x.auth, m[0]), slice(x.auth, m[1]), slice(x.auth, m[2])};
      Bytes& p = parts[which];
      p.resize(4 + std::min(keep, body_len));
      if (keep > body_len) p.push_back(0);  // one trailing byte inside the message
      p[1] = static_cast<uint8_t>(keep >> 16);
      p[2] = static_cast<uint8_t>(keep >> 8);
      p[3] = static_cast<uint8_t>(keep);
      Bytes a = cat({parts[0], parts[1], parts[2]});
      INFO("message " << which << " keeps " << keep);
      REQUIRE_REASON(e.client.validate(view(x.request), view(a), trust), Reason::kDecodeError);
    }
  }
  // One trailing byte after the authenticator.
  Exchange x = server_answers(e);
  x.auth.push_back(0);
  REQUIRE_REASON(e.client.validate(view(x.request), view(x.auth), trust), Reason::kDecodeError);
}

TEST_CASE("Message orders other than [11,15,20] or [20] are decode_error", "[ea]") {
  Env e(PairOptions{});
  auto orders = std::vector<std::vector<int>>{{1, 0, 2}, {0, 2}, {0, 1}, {0, 1, 2, 2},
                                              {2, 2},    {0},    {1, 2}, {0, 2, 1}};
  for (const auto& order : orders) {
    Exchange x = server_answers(e);
    auto m = split(x.auth);
    Bytes a;
    for (int i : order) {
      Bytes s = slice(x.auth, m[static_cast<size_t>(i)]);
      a.insert(a.end(), s.begin(), s.end());
    }
    REQUIRE_REASON(e.client.validate(view(x.request), view(a), e.pair->trust.get()),
                   Reason::kDecodeError);
  }
}

TEST_CASE("A Certificate with zero entries followed by CertificateVerify and Finished", "[ea]") {
  Env e(PairOptions{});
  auto req = e.client.create_request();
  REQUIRE_OK(req);
  auto ctx = ea::get_context(view(*req));
  REQUIRE_OK(ctx);
  auto c = ea::encode_certificate(view(*ctx), {});
  REQUIRE_OK(c);
  auto hc = e.server.handshake_context(ea::Role::kServer);
  REQUIRE_OK(hc);
  auto cv = ea::encode_certificate_verify(e.server.md(), (*hc)->view(), view(*req), view(*c),
                                          e.pair->server_id.key.get(), 0x0403);
  REQUIRE_OK(cv);
  Bytes a = refinish(e, ea::Role::kServer, *req, *c, *cv);
  REQUIRE_REASON(e.client.validate(view(*req), view(a), e.pair->trust.get()), Reason::kDecodeError);
}

TEST_CASE("Signature schemes: TLS 1.2-only, not requested, wrong curve", "[ea]") {
  // Every scheme fault is a CertificateVerify fault: bad_signature (Finished is recomputed
  // so only the scheme is wrong).
  Env e(PairOptions{});  // P-256 server key
  auto& id = e.pair->server_id;
  auto with_scheme = [&](std::vector<uint16_t> sigalgs, uint16_t rewrite) {
    ea::RequestSpec spec;
    spec.sigalgs = std::move(sigalgs);
    auto req = e.client.create_request(spec);
    REQUIRE_OK(req);
    Bytes a = forge(e, *req, {entry(id.leaf.get())}, id.key.get(), 0x0403);
    auto m = split(a);
    Bytes c = slice(a, m[0]);
    Bytes cv = slice(a, m[1]);
    cv[4] = static_cast<uint8_t>(rewrite >> 8);
    cv[5] = static_cast<uint8_t>(rewrite);
    return std::pair{*req, refinish(e, ea::Role::kServer, *req, c, cv)};
  };
  for (uint16_t s : {uint16_t{0x0401}, uint16_t{0x0201}}) {
    INFO("scheme " << s);
    auto [req, a] = with_scheme({s, 0x0403}, s);
    REQUIRE_REASON(e.client.validate(view(req), view(a), e.pair->trust.get()),
                   Reason::kBadSignature);
  }
  {
    INFO("0x0403 not in the request");
    auto [req, a] = with_scheme({0x0503, 0x0804}, 0x0403);
    REQUIRE_REASON(e.client.validate(view(req), view(a), e.pair->trust.get()),
                   Reason::kBadSignature);
  }
  {
    INFO("0x0503 with a P-256 key");
    auto [req, a] = with_scheme({0x0503, 0x0403}, 0x0503);
    REQUIRE_REASON(e.client.validate(view(req), view(a), e.pair->trust.get()),
                   Reason::kBadSignature);
  }
  // Nor can such a CertificateVerify be produced.
  CHECK_FALSE(ea::key_supports_scheme(id.key.get(), 0x0503));
  CHECK_FALSE(ea::key_supports_scheme(id.key.get(), 0x0401));
  CHECK(ea::key_supports_scheme(id.key.get(), 0x0403));
  CHECK_FALSE(ea::is_supported_scheme(0x0401));
  CHECK_FALSE(ea::is_supported_scheme(0x0201));
}

TEST_CASE("An untrusted leaf with a valid signature is bad_certificate", "[ea]") {
  Env e(PairOptions{});
  auto key = exattest::test::make_key(KeyType::kP256);
  auto self = exattest::test::make_cert("stranger", key.get(), nullptr, nullptr, false);
  auto req = e.client.create_request(false);
  REQUIRE_OK(req);
  auto auth = e.server.create_authenticator(view(*req), self.get(), nullptr, key.get());
  REQUIRE_OK(auth);
  REQUIRE_REASON(e.client.validate(view(*req), view(*auth), e.pair->trust.get()),
                 Reason::kBadCertificate);
  // A certificate that does not match the signing key is refused when building.
  auto req2 = e.client.create_request(false);
  REQUIRE_OK(req2);
  REQUIRE_REASON(
      e.server.create_authenticator(view(*req2), self.get(), nullptr, e.pair->server_id.key.get()),
      Reason::kBadCertificate);
}

// ---------------------------------------------------------------------------------------
// Requests.
// ---------------------------------------------------------------------------------------

TEST_CASE("Request rules of PROTOCOL.md §3", "[ea]") {
  Bytes ctx(32, 0xab);
  auto enc = [&](uint8_t type, Bytes exts) {
    exattest::wire::Writer w;
    w.u8(type);
    w.prefixed_u24([&](exattest::wire::Writer& b) {
      b.prefixed_u8([&](exattest::wire::Writer& c) { c.bytes(ctx); });
      b.prefixed_u16([&](exattest::wire::Writer& x) { x.bytes(exts); });
    });
    return w.take();
  };
  Bytes sigalgs = from_hex("000d 0004 0002 0403");
  Bytes cmw_offer = from_hex("ff00 0000");

  auto ok = ea::parse_request(view(enc(13, cat({sigalgs, cmw_offer}))), 13);
  REQUIRE_OK(ok);
  CHECK(ok->cmw_offered);
  CHECK(ok->context == ctx);
  CHECK(ok->extension_types == std::vector<uint16_t>{13, 0xff00});

  // Missing signature_algorithms.
  REQUIRE_REASON(ea::parse_request(view(enc(13, cmw_offer)), 13), Reason::kDecodeError);
  // server_name in type 13 (allowed in 17).
  Bytes sni = from_hex("0000 0000");
  REQUIRE_REASON(ea::parse_request(view(enc(13, cat({sigalgs, sni}))), 13), Reason::kDecodeError);
  REQUIRE_OK(ea::parse_request(view(enc(17, cat({sigalgs, sni}))), 17));
  // Duplicate extension.
  REQUIRE_REASON(ea::parse_request(view(enc(13, cat({sigalgs, sigalgs}))), 13),
                 Reason::kDecodeError);
  REQUIRE_REASON(ea::parse_request(view(enc(13, cat({sigalgs, cmw_offer, cmw_offer}))), 13),
                 Reason::kDecodeError);
  // Non-empty cmw_attestation offer.
  REQUIRE_REASON(ea::parse_request(view(enc(13, cat({sigalgs, from_hex("ff00 0001 00")}))), 13),
                 Reason::kDecodeError);
  // Malformed signature_algorithms: empty list, odd length.
  REQUIRE_REASON(ea::parse_request(view(enc(13, from_hex("000d 0002 0000"))), 13),
                 Reason::kDecodeError);
  REQUIRE_REASON(ea::parse_request(view(enc(13, from_hex("000d 0003 0001 04"))), 13),
                 Reason::kDecodeError);
  // Wrong type.
  REQUIRE_REASON(ea::parse_request(view(enc(17, sigalgs)), 13), Reason::kDecodeError);
  // An unknown extension is ignored.
  auto unk = ea::parse_request(view(enc(13, cat({from_hex("1234 0003 aabbcc"), sigalgs}))), 13);
  REQUIRE_OK(unk);
  CHECK(unk->sigalgs == std::vector<uint16_t>{0x0403});
  CHECK_FALSE(unk->cmw_offered);
  // The cmw code point is configurable (PROTOCOL.md §1).
  ea::ParseOptions po;
  po.cmw_extension = 0xfe01;
  auto moved = ea::parse_request(view(enc(13, cat({sigalgs, from_hex("fe01 0000")}))), 13, po);
  REQUIRE_OK(moved);
  CHECK(moved->cmw_offered);

  // The in-band transport's 32-byte context rule is switchable.
  Bytes good = enc(13, sigalgs);
  ctx.assign(31, 0xab);
  Bytes short_ctx = enc(13, sigalgs);
  ea::ParseOptions strict;
  strict.require_32_byte_context = true;
  REQUIRE_OK(ea::parse_request(view(short_ctx), 13));
  REQUIRE_REASON(ea::parse_request(view(short_ctx), 13, strict), Reason::kDecodeError);
  REQUIRE_OK(ea::parse_request(view(good), 13, strict));

  // Every truncation of a request, with and without its header length adjusted, and one
  // trailing byte, is decode_error.
  for (size_t cut = 0; cut < good.size(); ++cut) {
    Bytes t(good.begin(), good.begin() + static_cast<long>(cut));
    REQUIRE_REASON(ea::parse_request(view(t), 13), Reason::kDecodeError);
    if (cut >= 4) {
      size_t n = cut - 4;
      t[1] = static_cast<uint8_t>(n >> 16);
      t[2] = static_cast<uint8_t>(n >> 8);
      t[3] = static_cast<uint8_t>(n);
      REQUIRE_REASON(ea::parse_request(view(t), 13), Reason::kDecodeError);
    }
  }
  Bytes trailing = good;
  trailing.push_back(0);
  REQUIRE_REASON(ea::parse_request(view(trailing), 13), Reason::kDecodeError);
}

TEST_CASE("A request with an unknown extension round-trips", "[ea]") {
  Env e(PairOptions{});
  ea::RequestSpec spec;
  spec.extra = {{0x1234, from_hex("aabbcc")}};
  auto req = e.client.create_request(spec);
  REQUIRE_OK(req);
  auto seen = e.server.parse_request(view(*req));
  REQUIRE_OK(seen);
  CHECK(seen->extension_types == std::vector<uint16_t>{13, 0xff00, 0x1234});
  auto& id = e.pair->server_id;
  auto auth = e.server.create_authenticator(view(*req), id.leaf.get(), id.chain.get(), id.key.get(),
                                            ByteView(from_hex("a0")));
  REQUIRE_OK(auth);
  REQUIRE_OK(e.client.validate(view(*req), view(*auth), e.pair->trust.get()));
  // A spec with a duplicate extension is refused at creation.
  ea::RequestSpec dup;
  dup.extra = {{13, from_hex("0002 0403")}};
  REQUIRE_REASON(e.client.create_request(dup), Reason::kDecodeError);
}

TEST_CASE("get_context for requests and authenticators", "[ea]") {
  Env e(PairOptions{});
  Exchange x = server_answers(e);
  auto rc = ea::get_context(view(x.request));
  auto ac = ea::get_context(view(x.auth));
  REQUIRE_OK(rc);
  REQUIRE_OK(ac);
  CHECK(*rc == *ac);
  CHECK(*rc == Bytes(x.request.begin() + 5, x.request.begin() + 37));
  REQUIRE_REASON(ea::get_context(ByteView{}), Reason::kDecodeError);
  REQUIRE_REASON(ea::get_context(view(from_hex("0f000000"))), Reason::kDecodeError);
}

// ---------------------------------------------------------------------------------------
// Exporters and connection preconditions.
// ---------------------------------------------------------------------------------------

TEST_CASE("Exporters follow RFC 9261 §5.1: sender's label, empty context, HashLen", "[ea]") {
  for (const char* suite : {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"}) {
    PairOptions o;
    o.ciphersuites = suite;
    Env e(o);
    size_t len = std::strstr(suite, "SHA384") ? 48 : 32;
    auto independent = [&](const char* label) {
      Bytes out(len);
      REQUIRE(SSL_export_keying_material(e.pair->client.get(), out.data(), out.size(), label,
                                         std::strlen(label), nullptr, 0, 0) == 1);
      return out;
    };
    struct Case {
      ea::Role sender;
      bool fk;
      const char* label;
    };
    for (const Case& c :
         {Case{ea::Role::kClient, false, "EXPORTER-client authenticator handshake context"},
          Case{ea::Role::kServer, false, "EXPORTER-server authenticator handshake context"},
          Case{ea::Role::kClient, true, "EXPORTER-client authenticator finished key"},
          Case{ea::Role::kServer, true, "EXPORTER-server authenticator finished key"}}) {
      INFO(c.label);
      auto s = c.fk ? e.server.finished_key(c.sender) : e.server.handshake_context(c.sender);
      auto k = c.fk ? e.client.finished_key(c.sender) : e.client.handshake_context(c.sender);
      REQUIRE_OK(s);
      REQUIRE_OK(k);
      CHECK((*s)->size() == len);
      CHECK(same((*s)->view(), (*k)->view()));
      Bytes want = independent(c.label);
      CHECK(same((*s)->view(), view(want)));
    }
    auto a = e.server.handshake_context(ea::Role::kClient);
    auto b = e.server.handshake_context(ea::Role::kServer);
    REQUIRE_OK(a);
    REQUIRE_OK(b);
    CHECK_FALSE(same((*a)->view(), (*b)->view()));
  }
}

TEST_CASE("Refusal before the handshake completes", "[ea]") {
  PairOptions o;
  o.handshake = false;
  auto pair = TlsPair::make(o);
  ea::Connection client(pair->client.get());
  ea::Connection server(pair->server.get());
  REQUIRE_REASON(client.ready(), Reason::kProtocolError);
  REQUIRE_REASON(server.create_request(), Reason::kProtocolError);
  // Mid-handshake (ClientHello sent).
  REQUIRE(SSL_do_handshake(pair->client.get()) == -1);
  REQUIRE_REASON(client.create_request(), Reason::kProtocolError);
  REQUIRE_REASON(client.handshake_context(ea::Role::kClient), Reason::kProtocolError);
  REQUIRE_REASON(client.parse_request(view(from_hex("0d000000"))), Reason::kProtocolError);
  REQUIRE_REASON(client.validate({}, {}, pair->trust.get()), Reason::kProtocolError);
  REQUIRE_REASON(client.create_empty_authenticator({}), Reason::kProtocolError);
  // Once complete, the same objects work.
  REQUIRE(pair->handshake());
  REQUIRE_OK(client.create_request());
  REQUIRE_OK(server.create_request());
}

TEST_CASE("Refusal on TLS 1.2", "[ea]") {
  PairOptions o;
  o.max_version = TLS1_2_VERSION;
  auto pair = TlsPair::make(o);
  REQUIRE(SSL_version(pair->client.get()) == TLS1_2_VERSION);
  ea::Connection client(pair->client.get());
  ea::Connection server(pair->server.get());
  REQUIRE_REASON(client.create_request(), Reason::kProtocolError);
  REQUIRE_REASON(server.create_request(), Reason::kProtocolError);
  REQUIRE_REASON(server.finished_key(ea::Role::kServer), Reason::kProtocolError);
}

TEST_CASE("Refusal on a resumed session", "[ea]") {
  PairOptions o;
  o.num_tickets = 1;
  auto pair = TlsPair::make(o);
  auto session = pair->client_session();
  REQUIRE(session);
  pair->connect(session.get());
  REQUIRE(SSL_session_reused(pair->client.get()) == 1);
  ea::Connection client(pair->client.get());
  ea::Connection server(pair->server.get());
  REQUIRE_REASON(client.create_request(), Reason::kProtocolError);
  REQUIRE_REASON(server.create_request(), Reason::kProtocolError);
}

TEST_CASE("The cmw_attestation code point is configurable", "[ea]") {
  auto pair = TlsPair::make(PairOptions{});
  ea::ConnectionOptions co;
  co.cmw_extension = 0xfe01;
  ea::Connection server(pair->server.get(), co);
  ea::Connection client(pair->client.get(), co);
  auto req = client.create_request(true);
  REQUIRE_OK(req);
  auto parsed = ea::parse_request(view(*req), 17);  // default code point 0xff00
  REQUIRE_OK(parsed);
  CHECK_FALSE(parsed->cmw_offered);
  CHECK(parsed->extension_types == std::vector<uint16_t>{13, 0xfe01});
  auto& id = pair->server_id;
  Bytes cmw = from_hex("0a0b");
  auto auth = server.create_authenticator(view(*req), id.leaf.get(), id.chain.get(), id.key.get(),
                                          ByteView(cmw));
  REQUIRE_OK(auth);
  auto v = client.validate(view(*req), view(*auth), pair->trust.get());
  REQUIRE_OK(v);
  CHECK(v->cmw_data == cmw);
}
