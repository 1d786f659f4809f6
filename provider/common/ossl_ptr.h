// UniquePtr<T>: owning pointers for OpenSSL objects (one Deleter specialisation per type).
// Other modules add specialisations for libcbor and tpm2-tss types in their own headers.
#pragma once

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/param_build.h>

#include <memory>

namespace exattest {

template <class T>
struct Deleter;

template <class T>
using UniquePtr = std::unique_ptr<T, Deleter<T>>;

#define EXATTEST_DEFINE_DELETER(type, fn)       \
  template <>                                   \
  struct Deleter<type> {                        \
    void operator()(type* p) const { fn(p); }   \
  }

EXATTEST_DEFINE_DELETER(BIO, BIO_free_all);
EXATTEST_DEFINE_DELETER(BIGNUM, BN_free);
EXATTEST_DEFINE_DELETER(ECDSA_SIG, ECDSA_SIG_free);
EXATTEST_DEFINE_DELETER(EVP_MAC, EVP_MAC_free);
EXATTEST_DEFINE_DELETER(EVP_MAC_CTX, EVP_MAC_CTX_free);
EXATTEST_DEFINE_DELETER(EVP_MD, EVP_MD_free);
EXATTEST_DEFINE_DELETER(EVP_MD_CTX, EVP_MD_CTX_free);
EXATTEST_DEFINE_DELETER(EVP_PKEY, EVP_PKEY_free);
EXATTEST_DEFINE_DELETER(EVP_PKEY_CTX, EVP_PKEY_CTX_free);
EXATTEST_DEFINE_DELETER(OSSL_PARAM_BLD, OSSL_PARAM_BLD_free);
EXATTEST_DEFINE_DELETER(OSSL_PARAM, OSSL_PARAM_free);
EXATTEST_DEFINE_DELETER(SSL, SSL_free);
EXATTEST_DEFINE_DELETER(SSL_CTX, SSL_CTX_free);
EXATTEST_DEFINE_DELETER(X509, X509_free);
EXATTEST_DEFINE_DELETER(X509_STORE, X509_STORE_free);
EXATTEST_DEFINE_DELETER(X509_STORE_CTX, X509_STORE_CTX_free);

// STACK_OF(X509) that owns its certificates.
struct X509StackDeleter {
  void operator()(STACK_OF(X509) * s) const { sk_X509_pop_free(s, X509_free); }
};
using X509Stack = std::unique_ptr<STACK_OF(X509), X509StackDeleter>;

}  // namespace exattest
