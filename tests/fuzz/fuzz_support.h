// Helpers shared by the fuzz targets (tests/fuzz): a fail-fast check macro and an in-memory
// TLS 1.3 pair built without Catch2 (the targets run outside any test framework).
#pragma once

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "common/bytes.h"
#include "common/ossl_ptr.h"
#include "common/result.h"

// A violated invariant (round trip mismatch, impossible state): report and abort(), which
// libFuzzer records as a crash with the input that caused it.
#define FUZZ_CHECK(cond)                                                               \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                    \
    }                                                                                  \
  } while (0)

namespace exattest::fuzz {

// Every failure carries a PROTOCOL.md §7 reason 1..15, never kNone.
inline bool valid_failure(const Error& e) {
  return e.reason != Reason::kNone && static_cast<unsigned>(e.reason) <= kMaxReason;
}

inline ByteView as_view(const uint8_t* data, size_t size) { return ByteView(data, size); }

// A connected, handshaken TLS 1.3 pair over a BIO pair: P-256 root, server certificate
// issued by it, client verifying the server. Built once per process (LLVMFuzzerInitialize).
class TlsPair {
 public:
  UniquePtr<EVP_PKEY> root_key, server_key;
  UniquePtr<X509> root, server_cert;
  UniquePtr<X509_STORE> trust;
  UniquePtr<SSL_CTX> server_ctx, client_ctx;
  UniquePtr<SSL> server, client;

  static std::unique_ptr<TlsPair> make(const char* ciphersuite = "TLS_AES_256_GCM_SHA384") {
    auto p = std::make_unique<TlsPair>();
    p->root_key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    p->server_key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    FUZZ_CHECK(p->root_key && p->server_key);
    p->root = cert("fuzz root", p->root_key.get(), nullptr, nullptr, true);
    p->server_cert = cert("fuzz server", p->server_key.get(), p->root.get(), p->root_key.get(),
                          false);
    p->trust.reset(X509_STORE_new());
    FUZZ_CHECK(p->trust && X509_STORE_add_cert(p->trust.get(), p->root.get()) == 1);
    p->server_ctx.reset(SSL_CTX_new(TLS_server_method()));
    p->client_ctx.reset(SSL_CTX_new(TLS_client_method()));
    FUZZ_CHECK(p->server_ctx && p->client_ctx);
    for (SSL_CTX* c : {p->server_ctx.get(), p->client_ctx.get()}) {
      FUZZ_CHECK(SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION) == 1);
      FUZZ_CHECK(SSL_CTX_set_ciphersuites(c, ciphersuite) == 1);
      FUZZ_CHECK(X509_STORE_up_ref(p->trust.get()) == 1);
      SSL_CTX_set_cert_store(c, p->trust.get());
    }
    FUZZ_CHECK(SSL_CTX_use_certificate(p->server_ctx.get(), p->server_cert.get()) == 1);
    FUZZ_CHECK(SSL_CTX_use_PrivateKey(p->server_ctx.get(), p->server_key.get()) == 1);
    FUZZ_CHECK(SSL_CTX_set_num_tickets(p->server_ctx.get(), 0) == 1);
    SSL_CTX_set_verify(p->client_ctx.get(), SSL_VERIFY_PEER, nullptr);
    p->server.reset(SSL_new(p->server_ctx.get()));
    p->client.reset(SSL_new(p->client_ctx.get()));
    FUZZ_CHECK(p->server && p->client);
    BIO* a = nullptr;
    BIO* b = nullptr;
    FUZZ_CHECK(BIO_new_bio_pair(&a, 0, &b, 0) == 1);
    SSL_set_bio(p->client.get(), a, a);
    SSL_set_bio(p->server.get(), b, b);
    SSL_set_connect_state(p->client.get());
    SSL_set_accept_state(p->server.get());
    bool c_done = false, s_done = false;
    for (int i = 0; i < 64 && !(c_done && s_done); ++i) {
      if (!c_done) c_done = step(p->client.get());
      if (!s_done) s_done = step(p->server.get());
    }
    FUZZ_CHECK(c_done && s_done);
    return p;
  }

 private:
  static bool step(SSL* s) {
    int r = SSL_do_handshake(s);
    if (r == 1) return true;
    int e = SSL_get_error(s, r);
    FUZZ_CHECK(e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE);
    return false;
  }

  static void ext(X509* c, X509* issuer, int nid, const char* value) {
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, issuer, c, nullptr, nullptr, 0);
    X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
    FUZZ_CHECK(e != nullptr);
    FUZZ_CHECK(X509_add_ext(c, e, -1) == 1);
    X509_EXTENSION_free(e);
  }

  static UniquePtr<X509> cert(const std::string& cn, EVP_PKEY* key, X509* issuer,
                              EVP_PKEY* issuer_key, bool ca) {
    UniquePtr<X509> x(X509_new());
    FUZZ_CHECK(x);
    FUZZ_CHECK(X509_set_version(x.get(), 2) == 1);
    FUZZ_CHECK(ASN1_INTEGER_set(X509_get_serialNumber(x.get()), ca ? 1 : 2) == 1);
    X509_NAME* name = X509_get_subject_name(x.get());
    FUZZ_CHECK(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                          reinterpret_cast<const unsigned char*>(cn.c_str()),
                                          -1, -1, 0) == 1);
    FUZZ_CHECK(X509_set_issuer_name(x.get(), issuer ? X509_get_subject_name(issuer) : name) == 1);
    FUZZ_CHECK(X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600) != nullptr);
    FUZZ_CHECK(X509_gmtime_adj(X509_getm_notAfter(x.get()), 30L * 24 * 3600) != nullptr);
    FUZZ_CHECK(X509_set_pubkey(x.get(), key) == 1);
    X509* iss = issuer ? issuer : x.get();
    ext(x.get(), iss, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    ext(x.get(), iss, NID_key_usage,
        ca ? "critical,keyCertSign,cRLSign,digitalSignature" : "critical,digitalSignature");
    FUZZ_CHECK(X509_sign(x.get(), issuer_key ? issuer_key : key, EVP_sha256()) > 0);
    return x;
  }
};

}  // namespace exattest::fuzz
