// PROTOCOL.md §4: binding Evidence to the TLS connection, binding = H(SPKI || EXP).
#pragma once

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <string>

#include "common/bytes.h"
#include "common/result.h"

namespace exattest::binding {

// PROTOCOL.md §1: the exporter label and length are configuration keys with these defaults.
struct Options {
  std::string label = "Attestation";
  size_t length = 32;
};

// The DER SubjectPublicKeyInfo of `leaf`, exactly as encoded in the certificate
// (i2d_X509_PUBKEY(X509_get_X509_PUBKEY(leaf))). decode_error if it cannot be encoded.
Result<Bytes> spki_der(X509* leaf);

// The connection's handshake hash (SHA-256 / SHA-384 from the negotiated cipher suite);
// protocol_error before the handshake or on TLS < 1.3. Not owned (OpenSSL's static MD).
Result<const EVP_MD*> handshake_md(SSL* ssl);

// AIK_pub_hash = H(SPKI).
Result<Bytes> spki_hash(const EVP_MD* md, ByteView spki);

// H(SPKI || EXP) for a given exporter output (pure; EXP is secret, not logged).
Result<Bytes> from_exporter(const EVP_MD* md, ByteView spki, ByteView exp);

// binding = H(SPKI || TLS-Exporter(label, context, length)), H = `md`.
Result<Bytes> compute(SSL* ssl, const EVP_MD* md, ByteView context, ByteView spki,
                      const Options& opts = {});

// Same, with H = the connection's handshake hash and SPKI taken from `leaf`.
Result<Bytes> compute(SSL* ssl, ByteView context, X509* leaf, const Options& opts = {});

}  // namespace exattest::binding
