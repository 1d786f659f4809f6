// Test helper: an in-memory TLS connection pair (BIO pair) with keys and certificates made
// on the fly: a root CA, an optional intermediate, server and optional client identities.
//
//   exattest::test::PairOptions o;
//   o.ciphersuites = "TLS_AES_128_GCM_SHA256";
//   o.server_key = exattest::test::KeyType::kEd25519;
//   o.client_cert = true;
//   auto pair = exattest::test::TlsPair::make(o);   // handshake done (REQUIREd)
//   SSL* s = pair->server.get(); SSL* c = pair->client.get(); X509_STORE* t = pair->trust.get();
#pragma once

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <catch2/catch.hpp>
#include <map>
#include <memory>
#include <string>

#include "common/ossl_ptr.h"

namespace exattest::test {

enum class KeyType { kP256, kP384, kP521, kRsa2048, kRsaPss2048, kEd25519, kEd448 };

inline const char* key_type_name(KeyType t) {
  switch (t) {
    case KeyType::kP256:
      return "P-256";
    case KeyType::kP384:
      return "P-384";
    case KeyType::kP521:
      return "P-521";
    case KeyType::kRsa2048:
      return "RSA-2048";
    case KeyType::kRsaPss2048:
      return "RSA-PSS-2048";
    case KeyType::kEd25519:
      return "Ed25519";
    case KeyType::kEd448:
      return "Ed448";
  }
  return "?";
}

// A fresh key of the given type (RSA keys are slow: generate what you need).
inline UniquePtr<EVP_PKEY> make_key(KeyType t) {
  EVP_PKEY* k = nullptr;
  switch (t) {
    case KeyType::kP256:
      k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case KeyType::kP384:
      k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
      break;
    case KeyType::kP521:
      k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-521");
      break;
    case KeyType::kRsa2048:
      k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
      break;
    case KeyType::kRsaPss2048: {
      UniquePtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA-PSS", nullptr));
      REQUIRE(ctx);
      REQUIRE(EVP_PKEY_keygen_init(ctx.get()) == 1);
      REQUIRE(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), 2048) == 1);
      REQUIRE(EVP_PKEY_generate(ctx.get(), &k) == 1);
      break;
    }
    case KeyType::kEd25519:
      k = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
      break;
    case KeyType::kEd448:
      k = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED448");
      break;
  }
  REQUIRE(k != nullptr);
  return UniquePtr<EVP_PKEY>(k);
}

// Owned SSL_SESSION (kept local: ossl_ptr.h has no SSL_SESSION deleter).
struct SessionFree {
  void operator()(SSL_SESSION* s) const { SSL_SESSION_free(s); }
};
using SessionPtr = std::unique_ptr<SSL_SESSION, SessionFree>;

// A key, its certificate and the intermediates up to (not including) the root.
struct Identity {
  UniquePtr<EVP_PKEY> key;
  UniquePtr<X509> leaf;
  X509Stack chain;  // never null; empty without intermediate
};

inline void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
  REQUIRE(ext != nullptr);
  REQUIRE(X509_add_ext(cert, ext, -1) == 1);
  X509_EXTENSION_free(ext);
}

// A certificate for `key`, signed by issuer_key (self-signed when issuer is null).
inline UniquePtr<X509> make_cert(const std::string& cn, EVP_PKEY* key, X509* issuer,
                                 EVP_PKEY* issuer_key, bool ca) {
  UniquePtr<X509> x(X509_new());
  REQUIRE(x);
  REQUIRE(X509_set_version(x.get(), 2) == 1);
  unsigned char serial[8];
  REQUIRE(RAND_bytes(serial, sizeof(serial)) == 1);
  serial[0] &= 0x7f;
  UniquePtr<BIGNUM> bn(BN_bin2bn(serial, sizeof(serial), nullptr));
  REQUIRE(BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(x.get())) != nullptr);
  X509_NAME* name = X509_get_subject_name(x.get());
  REQUIRE(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                     reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                     0) == 1);
  REQUIRE(X509_set_issuer_name(x.get(), issuer ? X509_get_subject_name(issuer) : name) == 1);
  REQUIRE(X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600) != nullptr);
  REQUIRE(X509_gmtime_adj(X509_getm_notAfter(x.get()), 24 * 3600) != nullptr);
  REQUIRE(X509_set_pubkey(x.get(), key) == 1);
  X509* iss = issuer ? issuer : x.get();
  if (ca) {
    add_ext(x.get(), iss, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(x.get(), iss, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
  } else {
    add_ext(x.get(), iss, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(x.get(), iss, NID_key_usage, "critical,digitalSignature");
  }
  add_ext(x.get(), iss, NID_subject_key_identifier, "hash");
  EVP_PKEY* signer = issuer_key ? issuer_key : key;
  // EdDSA signs without a separate digest.
  const EVP_MD* md =
      (EVP_PKEY_is_a(signer, "ED25519") || EVP_PKEY_is_a(signer, "ED448")) ? nullptr : EVP_sha256();
  REQUIRE(X509_sign(x.get(), signer, md) > 0);
  return x;
}

struct PairOptions {
  std::string ciphersuites = "TLS_AES_256_GCM_SHA384";  // TLS 1.3 suites (colon list)
  KeyType server_key = KeyType::kP256;
  bool client_cert = false;  // client presents a certificate; server requires one
  KeyType client_key = KeyType::kP256;
  bool intermediate = false;         // leaves are issued by an intermediate, sent in the chain
  int max_version = TLS1_3_VERSION;  // TLS1_2_VERSION for a TLS 1.2 connection
  bool client_verifies = true;       // client SSL_VERIFY_PEER against `trust`
  int num_tickets = 0;               // server NewSessionTickets (resumption tests)
  bool handshake = true;             // false: SSL objects set up, no byte exchanged
};

class TlsPair {
 public:
  UniquePtr<EVP_PKEY> root_key;
  UniquePtr<X509> root;
  UniquePtr<EVP_PKEY> intermediate_key;  // null without intermediate
  UniquePtr<X509> intermediate;
  UniquePtr<X509_STORE> trust;  // holds the root; the store both SSL_CTXs verify with
  Identity server_id;
  Identity client_id;  // key/leaf null unless options.client_cert
  UniquePtr<SSL_CTX> server_ctx;
  UniquePtr<SSL_CTX> client_ctx;
  UniquePtr<SSL> server;
  UniquePtr<SSL> client;
  PairOptions options;

  // Keys, certificates, contexts, a connected SSL pair; handshake done if options.handshake.
  static std::unique_ptr<TlsPair> make(const PairOptions& o = {}) {
    auto p = std::make_unique<TlsPair>();
    p->options = o;
    p->root_key = make_key(KeyType::kP256);
    p->root = make_cert("exattest test root", p->root_key.get(), nullptr, nullptr, true);
    if (o.intermediate) {
      p->intermediate_key = make_key(KeyType::kP256);
      p->intermediate = make_cert("exattest test intermediate", p->intermediate_key.get(),
                                  p->root.get(), p->root_key.get(), true);
    }
    p->trust.reset(X509_STORE_new());
    REQUIRE(X509_STORE_add_cert(p->trust.get(), p->root.get()) == 1);
    p->server_id = p->issue("server.test", o.server_key);
    if (o.client_cert) p->client_id = p->issue("client.test", o.client_key);

    p->server_ctx.reset(SSL_CTX_new(TLS_server_method()));
    p->client_ctx.reset(SSL_CTX_new(TLS_client_method()));
    REQUIRE(p->server_ctx);
    REQUIRE(p->client_ctx);
    for (SSL_CTX* c : {p->server_ctx.get(), p->client_ctx.get()}) {
      REQUIRE(SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) == 1);
      REQUIRE(SSL_CTX_set_max_proto_version(c, o.max_version) == 1);
      REQUIRE(SSL_CTX_set_ciphersuites(c, o.ciphersuites.c_str()) == 1);
      REQUIRE(X509_STORE_up_ref(p->trust.get()) == 1);
      SSL_CTX_set_cert_store(c, p->trust.get());
    }
    use_identity(p->server_ctx.get(), p->server_id);
    static const unsigned char kSid[] = "exattest-tests";
    REQUIRE(SSL_CTX_set_session_id_context(p->server_ctx.get(), kSid, sizeof(kSid) - 1) == 1);
    REQUIRE(SSL_CTX_set_num_tickets(p->server_ctx.get(), o.num_tickets) == 1);
    if (o.client_cert) {
      use_identity(p->client_ctx.get(), p->client_id);
      SSL_CTX_set_verify(p->server_ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                         nullptr);
    }
    if (o.client_verifies) SSL_CTX_set_verify(p->client_ctx.get(), SSL_VERIFY_PEER, nullptr);
    p->connect(nullptr);
    return p;
  }

  // A new identity issued by the intermediate (if any) or the root.
  Identity issue(const std::string& cn, KeyType t) const {
    Identity id;
    id.key = make_key(t);
    X509* issuer = intermediate ? intermediate.get() : root.get();
    EVP_PKEY* issuer_key = intermediate ? intermediate_key.get() : root_key.get();
    id.leaf = make_cert(cn, id.key.get(), issuer, issuer_key, false);
    id.chain.reset(sk_X509_new_null());
    REQUIRE(id.chain);
    if (intermediate) {
      REQUIRE(X509_up_ref(intermediate.get()) == 1);
      REQUIRE(sk_X509_push(id.chain.get(), intermediate.get()) > 0);
    }
    return id;
  }

  // New SSL objects on the same contexts (optionally resuming `session` on the client),
  // connected by a fresh BIO pair; handshake driven to completion if options.handshake.
  void connect(SSL_SESSION* session) {
    // A quiet close: SSL_free of a connection never shut down would mark its session
    // non-resumable.
    for (SSL* old : {client.get(), server.get()})
      if (old) SSL_set_shutdown(old, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    client.reset();
    server.reset();
    server.reset(SSL_new(server_ctx.get()));
    client.reset(SSL_new(client_ctx.get()));
    REQUIRE(server);
    REQUIRE(client);
    BIO* a = nullptr;
    BIO* b = nullptr;
    REQUIRE(BIO_new_bio_pair(&a, 0, &b, 0) == 1);
    SSL_set_bio(client.get(), a, a);
    SSL_set_bio(server.get(), b, b);
    SSL_set_connect_state(client.get());
    SSL_set_accept_state(server.get());
    if (session) REQUIRE(SSL_set_session(client.get(), session) == 1);
    if (options.handshake) REQUIRE(handshake());
  }

  // Drives both sides until both handshakes are complete; false on a TLS failure.
  bool handshake() {
    bool c_done = false, s_done = false;
    for (int i = 0; i < 64 && !(c_done && s_done); ++i) {
      if (!c_done) c_done = step(client.get());
      if (!s_done) s_done = step(server.get());
      if (failed_) return false;
    }
    return c_done && s_done;
  }

  // Lets the client read pending post-handshake messages (tickets) and returns its session.
  SessionPtr client_session() {
    unsigned char buf[1];
    for (int i = 0; i < 4; ++i) {
      size_t n = 0;
      int r = SSL_read_ex(client.get(), buf, sizeof(buf), &n);
      REQUIRE(r == 0);
      REQUIRE(SSL_get_error(client.get(), r) == SSL_ERROR_WANT_READ);
    }
    return SessionPtr(SSL_get1_session(client.get()));
  }

 private:
  static void use_identity(SSL_CTX* c, const Identity& id) {
    REQUIRE(SSL_CTX_use_certificate(c, id.leaf.get()) == 1);
    REQUIRE(SSL_CTX_use_PrivateKey(c, id.key.get()) == 1);
    for (int i = 0; i < sk_X509_num(id.chain.get()); ++i)
      REQUIRE(SSL_CTX_add1_chain_cert(c, sk_X509_value(id.chain.get(), i)) == 1);
  }

  bool step(SSL* s) {
    int r = SSL_do_handshake(s);
    if (r == 1) return true;
    int e = SSL_get_error(s, r);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
      char buf[256];
      ERR_error_string_n(ERR_peek_last_error(), buf, sizeof(buf));
      WARN("TLS handshake failed: " << buf);
      failed_ = true;
    }
    return false;
  }

  bool failed_ = false;
};

}  // namespace exattest::test
