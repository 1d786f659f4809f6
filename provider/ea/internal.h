// Internals shared by ea/messages.cc and ea/connection.cc (not part of the module's API).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "ea/ea.h"

namespace exattest::ea::internal {

enum class KeyKind { kEc, kRsaPssRsae, kRsaPssPss, kEd25519, kEd448 };

// One TLS 1.3 signature scheme (RFC 8446 §4.2.3).
struct SchemeInfo {
  uint16_t code;
  KeyKind kind;
  const char* md;  // digest name for EVP, null for EdDSA
  int curve_nid;   // ECDSA only: TLS 1.3 binds the curve to the scheme
  size_t md_len;   // 0 for EdDSA
};

// nullptr for a scheme we do not support (TLS 1.2-only schemes included).
const SchemeInfo* scheme_info(uint16_t code);

// Implementation limits of an authenticator's Certificate (decode_error beyond them): the
// parsed form costs ~64 bytes per CertificateEntry and ~24 per extension, so a 1 MiB
// authenticator of 6-byte entries took 25 MB (tests/unit/memory_test.cc). 100 is OpenSSL's
// default verification depth: a longer chain could not validate anyway; a CertificateEntry
// has at most a handful of defined extensions (RFC 8446 §4.4.2, cmw_attestation).
inline constexpr size_t kMaxCertificateEntries = 100;
inline constexpr size_t kMaxEntryExtensions = 32;

struct ParsedExtension {
  uint16_t type;
  ByteView body;
};

struct ParsedEntry {
  ByteView cert_der;
  std::vector<ParsedExtension> extensions;
  std::optional<ByteView> cmw_data;  // decoded cmw_attestation payload, if present
};

// The structure of an authenticator, every length checked; views into the input.
struct ParsedAuthenticator {
  bool empty = false;
  ByteView certificate_msg;  // whole message with header (C)
  ByteView cv_msg;           // whole message with header (CV)
  ByteView finished;         // Finished body (verify_data)
  ByteView context;          // Certificate.certificate_request_context
  std::vector<ParsedEntry> entries;
  uint16_t scheme = 0;
  ByteView signature;
};

// Splits and parses an authenticator: decode_error on any framing, order or length fault
// (including a Certificate with zero entries followed by CertificateVerify and Finished).
Result<ParsedAuthenticator> parse_authenticator(ByteView in, size_t hash_len,
                                                uint16_t cmw_extension);

// Verifies a CertificateVerify signature; bad_signature on failure.
Status verify_certificate_verify(const EVP_MD* md, ByteView hc, ByteView request,
                                 ByteView certificate, EVP_PKEY* pub, uint16_t scheme,
                                 ByteView signature);

}  // namespace exattest::ea::internal
