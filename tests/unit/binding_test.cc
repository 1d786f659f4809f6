// Unit tests for provider/binding (PROTOCOL.md §4) over real in-memory TLS pairs.
#include "binding.h"

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstring>

#include "test_support.h"
#include "tls_pair.h"

using exattest::Bytes;
using exattest::ByteView;
using exattest::Reason;
using exattest::view;
using exattest::test::KeyType;
using exattest::test::PairOptions;
using exattest::test::TlsPair;
namespace binding = exattest::binding;

namespace {

Bytes digest(const EVP_MD* md, const Bytes& in) {
  Bytes out(static_cast<size_t>(EVP_MD_get_size(md)));
  unsigned int n = 0;
  REQUIRE(EVP_Digest(in.data(), in.size(), out.data(), &n, md, nullptr) == 1);
  return out;
}

// The SPKI from the public key, encoded independently of X509_get_X509_PUBKEY.
Bytes spki_of(X509* x) {
  unsigned char* p = nullptr;
  int n = i2d_PUBKEY(X509_get0_pubkey(x), &p);
  REQUIRE(n > 0);
  Bytes out(p, p + n);
  OPENSSL_free(p);
  return out;
}

// PROTOCOL.md §4 recomputed by hand: H(SPKI || TLS-Exporter(label, ctx, len)).
Bytes recompute(SSL* ssl, const EVP_MD* md, const Bytes& ctx, X509* leaf,
                const char* label = "Attestation", size_t len = 32) {
  Bytes exp(len);
  REQUIRE(SSL_export_keying_material(ssl, exp.data(), exp.size(), label, std::strlen(label),
                                     ctx.data(), ctx.size(), 1) == 1);
  Bytes in = spki_of(leaf);
  in.insert(in.end(), exp.begin(), exp.end());
  return digest(md, in);
}

}  // namespace

TEST_CASE("binding = H(SPKI || Exporter(\"Attestation\", ctx, 32)), both ends agree", "[binding]") {
  for (const char* suite : {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"}) {
    INFO(suite);
    PairOptions o;
    o.ciphersuites = suite;
    auto pair = TlsPair::make(o);
    bool sha384 = std::strstr(suite, "SHA384") != nullptr;
    const EVP_MD* want_md = sha384 ? EVP_sha384() : EVP_sha256();
    auto md = binding::handshake_md(pair->server.get());
    REQUIRE_OK(md);
    CHECK(EVP_MD_get_type(*md) == EVP_MD_get_type(want_md));

    Bytes ctx(32, 0x7c);
    X509* leaf = pair->server_id.leaf.get();
    auto s = binding::compute(pair->server.get(), view(ctx), leaf);
    auto c = binding::compute(pair->client.get(), view(ctx), leaf);
    REQUIRE_OK(s);
    REQUIRE_OK(c);
    CHECK(s->size() == (sha384 ? 48u : 32u));
    CHECK(*s == *c);
    CHECK(*s == recompute(pair->client.get(), want_md, ctx, leaf));

    // Same through the explicit-md/SPKI overload and from_exporter.
    auto spki = binding::spki_der(leaf);
    REQUIRE_OK(spki);
    CHECK(*spki == spki_of(leaf));
    auto s2 = binding::compute(pair->server.get(), *md, view(ctx), view(*spki));
    REQUIRE_OK(s2);
    CHECK(*s2 == *s);

    // AIK_pub_hash = H(SPKI).
    auto h = binding::spki_hash(*md, view(*spki));
    REQUIRE_OK(h);
    CHECK(*h == digest(want_md, spki_of(leaf)));
  }
}

TEST_CASE("binding differs with another context, label, key or hash", "[binding]") {
  PairOptions o;
  o.ciphersuites = "TLS_AES_256_GCM_SHA384";
  auto pair = TlsPair::make(o);
  SSL* ssl = pair->client.get();
  Bytes ctx(32, 0x01);
  X509* leaf = pair->server_id.leaf.get();
  auto right = binding::compute(ssl, view(ctx), leaf);
  REQUIRE_OK(right);
  CHECK(*right == recompute(ssl, EVP_sha384(), ctx, leaf));

  Bytes other_ctx = ctx;
  other_ctx[31] ^= 1;
  auto a = binding::compute(ssl, view(other_ctx), leaf);
  REQUIRE_OK(a);
  CHECK(*a != *right);

  binding::Options label;
  label.label = "Attestation2";
  auto b = binding::compute(ssl, view(ctx), leaf, label);
  REQUIRE_OK(b);
  CHECK(*b != *right);
  CHECK(*b == recompute(ssl, EVP_sha384(), ctx, leaf, "Attestation2"));

  binding::Options longer;
  longer.length = 48;
  auto l = binding::compute(ssl, view(ctx), leaf, longer);
  REQUIRE_OK(l);
  CHECK(*l != *right);
  CHECK(*l == recompute(ssl, EVP_sha384(), ctx, leaf, "Attestation", 48));

  auto other = pair->issue("other.test", KeyType::kP256);
  auto c = binding::compute(ssl, view(ctx), other.leaf.get());
  REQUIRE_OK(c);
  CHECK(*c != *right);

  auto spki = binding::spki_der(leaf);
  REQUIRE_OK(spki);
  auto d = binding::compute(ssl, EVP_sha256(), view(ctx), view(*spki));
  REQUIRE_OK(d);
  CHECK(d->size() == 32);
  CHECK(*d != *right);
  CHECK(*d == recompute(ssl, EVP_sha256(), ctx, leaf));
}

TEST_CASE("binding is refused on TLS 1.2, before the handshake and with bad options", "[binding]") {
  Bytes ctx(32, 0x02);
  {
    PairOptions o;
    o.max_version = TLS1_2_VERSION;
    auto pair = TlsPair::make(o);
    REQUIRE_REASON(binding::compute(pair->client.get(), view(ctx), pair->server_id.leaf.get()),
                   Reason::kProtocolError);
  }
  {
    PairOptions o;
    o.handshake = false;
    auto pair = TlsPair::make(o);
    REQUIRE_REASON(binding::compute(pair->client.get(), view(ctx), pair->server_id.leaf.get()),
                   Reason::kProtocolError);
  }
  auto pair = TlsPair::make(PairOptions{});
  binding::Options zero;
  zero.length = 0;
  REQUIRE_REASON(binding::compute(pair->client.get(), view(ctx), pair->server_id.leaf.get(), zero),
                 Reason::kPolicyError);
  REQUIRE_REASON(binding::spki_der(nullptr), Reason::kDecodeError);
}
