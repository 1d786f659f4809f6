// PROTOCOL.md §4: binding = H(SPKI || TLS-Exporter(label, certificate_request_context, L)).
#include "binding.h"

#include <openssl/evp.h>

#include "common/ossl_ptr.h"

namespace exattest::binding {

namespace {

Result<Bytes> digest(const EVP_MD* md, ByteView a, ByteView b) {
  UniquePtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  Bytes out(md ? static_cast<size_t>(EVP_MD_get_size(md)) : 0);
  unsigned int len = 0;
  if (!ctx || md == nullptr || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), a.data(), a.size()) != 1 ||
      EVP_DigestUpdate(ctx.get(), b.data(), b.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1 || len != out.size())
    return make_error(Reason::kProtocolError, "binding: hash failed");
  return out;
}

}  // namespace

Result<Bytes> spki_der(X509* leaf) {
  // PROTOCOL.md §4: "SPKI = the SubjectPublicKeyInfo bytes exactly as encoded in the
  // authenticator's end-entity certificate (DER, algorithm identifier included)".
  X509_PUBKEY* pk = leaf ? X509_get_X509_PUBKEY(leaf) : nullptr;
  unsigned char* p = nullptr;
  int n = pk ? i2d_X509_PUBKEY(pk, &p) : -1;
  if (n <= 0) return make_error(Reason::kDecodeError, "binding: certificate has no SPKI");
  Bytes out(p, p + n);
  OPENSSL_free(p);
  return out;
}

Result<const EVP_MD*> handshake_md(SSL* ssl) {
  if (ssl == nullptr || !SSL_is_init_finished(ssl) || SSL_version(ssl) != TLS1_3_VERSION)
    return make_error(Reason::kProtocolError,
                      "binding needs a completed TLS 1.3 handshake (PROTOCOL.md §1)");
  const SSL_CIPHER* c = SSL_get_current_cipher(ssl);
  const EVP_MD* md = c ? SSL_CIPHER_get_handshake_digest(c) : nullptr;
  if (md == nullptr) return make_error(Reason::kProtocolError, "binding: no handshake hash");
  return md;
}

Result<Bytes> spki_hash(const EVP_MD* md, ByteView spki) {
  // PROTOCOL.md §4: "AIK_pub_hash = H(SPKI)".
  return digest(md, spki, {});
}

Result<Bytes> from_exporter(const EVP_MD* md, ByteView spki, ByteView exp) {
  // PROTOCOL.md §4: "binding = H(SPKI || EXP)".
  return digest(md, spki, exp);
}

Result<Bytes> compute(SSL* ssl, const EVP_MD* md, ByteView context, ByteView spki,
                      const Options& opts) {
  auto hmd = handshake_md(ssl);  // also refuses TLS < 1.3 / incomplete handshakes
  EXATTEST_RETURN_IF_ERROR(hmd);
  if (opts.length == 0 || opts.label.empty())
    return make_error(Reason::kPolicyError, "binding: exporter label and length must be set");
  // PROTOCOL.md §4: "EXP = TLS-Exporter("Attestation", certificate_request_context, 32)".
  SecureBytes exp(opts.length);
  if (SSL_export_keying_material(ssl, exp.data(), exp.size(), opts.label.data(), opts.label.size(),
                                 context.data(), context.size(),
                                 /*use_context=*/1) != 1)
    return make_error(Reason::kProtocolError, "binding: TLS exporter failed");
  return from_exporter(md, spki, exp.view());
}

Result<Bytes> compute(SSL* ssl, ByteView context, X509* leaf, const Options& opts) {
  auto md = handshake_md(ssl);
  EXATTEST_RETURN_IF_ERROR(md);
  auto spki = spki_der(leaf);
  EXATTEST_RETURN_IF_ERROR(spki);
  return compute(ssl, *md, context, view(*spki), opts);
}

}  // namespace exattest::binding
