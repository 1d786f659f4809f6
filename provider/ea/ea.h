// RFC 9261 Exported Authenticators over a TLS 1.3 connection (PROTOCOL.md §3): requests,
// authenticators, empty authenticators (refusals), validation, and the pure transcript math.
#pragma once

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/ossl_ptr.h"
#include "common/result.h"

namespace exattest::ea {

// Handshake message types (RFC 8446 §4, RFC 9261 §4).
inline constexpr uint8_t kCertificate = 11;
inline constexpr uint8_t kCertificateRequest = 13;  // server asks the client
inline constexpr uint8_t kCertificateVerify = 15;
inline constexpr uint8_t kClientCertificateRequest = 17;  // client asks the server
inline constexpr uint8_t kFinished = 20;

// Extension types used by the rules of PROTOCOL.md §3.
inline constexpr uint16_t kExtServerName = 0;
inline constexpr uint16_t kExtStatusRequest = 5;
inline constexpr uint16_t kExtSignatureAlgorithms = 13;
// PROTOCOL.md §1: the cmw_attestation code point is configurable; this is its default.
inline constexpr uint16_t kDefaultCmwExtension = 0xff00;

// PROTOCOL.md §3 / §5: the in-band transport's context length.
inline constexpr size_t kContextLen = 32;

// The largest cmw_data one CertificateEntry can carry when cmw_attestation is its only
// extension: entry extensions are <0..2^16-1> and hold type(2) | length(2) | n(2) | data.
inline constexpr size_t kMaxCmwData = 65535 - 6;

// Which side of the TLS connection; also which side SENDS an authenticator (labels).
enum class Role { kClient, kServer };

// The TLS 1.3 signature schemes we can produce and verify (OpenSSL 3.0), in our preference
// order: ecdsa_secp{256,384,521}r1, rsa_pss_rsae_*, ed25519, ed448, rsa_pss_pss_*.
const std::vector<uint16_t>& supported_schemes();
// Whether `scheme` is one of supported_schemes().
bool is_supported_scheme(uint16_t scheme);
// Whether `key` can sign with `scheme` (key type, curve, RSA size, RSA-PSS restrictions).
bool key_supports_scheme(EVP_PKEY* key, uint16_t scheme);

// One extension as it appears on the wire.
struct Extension {
  uint16_t type = 0;
  Bytes body;
};

// A parsed authenticator request (CertificateRequest / ClientCertificateRequest).
struct Request {
  uint8_t type = 0;                       // 13 or 17
  Bytes context;                          // certificate_request_context
  std::vector<uint16_t> sigalgs;          // signature_algorithms, in the peer's order
  bool cmw_offered = false;               // an empty cmw_attestation extension was present
  std::vector<uint16_t> extension_types;  // every extension type, in wire order
  Bytes raw;                              // the whole message with its 4-byte header (R)
};

// Options for parse_request / Connection::parse_request.
struct ParseOptions {
  // PROTOCOL.md §3: only the in-band transport (§5) requires exactly 32 context bytes.
  bool require_32_byte_context = false;
  uint16_t cmw_extension = kDefaultCmwExtension;
};

// What validate() returns. An EMPTY authenticator is a refusal, not evidence of anything:
// then `empty` is true, `leaf` is null, `chain` is null and `cmw_data` is nullopt.
struct Validated {
  Bytes context;                          // the certificate_request_context it answered
  bool empty = false;                     // true: the peer refused (PROTOCOL.md §3)
  UniquePtr<X509> leaf;                   // end-entity certificate (null when empty)
  X509Stack chain;                        // the other certificates as sent (null when empty)
  std::optional<Bytes> cmw_data;          // entry 0's cmw_attestation payload, if present
  uint16_t scheme = 0;                    // CertificateVerify scheme (0 when empty)
  bool reused_handshake_verdict = false;  // PKIX verdict taken from the handshake (fast path)

  // OK only for a non-empty authenticator; no_evidence for a refusal.
  Status require_authenticator() const;
};

// ---------------------------------------------------------------------------------------
// Pure functions (no connection): encoding, parsing and the transcript arithmetic.
// ---------------------------------------------------------------------------------------

// Encodes a request message with header: type | context | extensions (sigalgs first, then
// an empty cmw_attestation if offer_cmw, then `extra` verbatim, in that order).
Result<Bytes> encode_request(uint8_t type, ByteView context, const std::vector<uint16_t>& sigalgs,
                             bool offer_cmw, uint16_t cmw_extension = kDefaultCmwExtension,
                             const std::vector<Extension>& extra = {});

// Parses and checks a request (every rule of PROTOCOL.md §3); decode_error on any violation.
Result<Request> parse_request(ByteView bytes, uint8_t expected_type, const ParseOptions& opts = {});

// RFC 9261 §6 "get context": the certificate_request_context of a request (type 13/17) or
// of an authenticator (from its Certificate message). decode_error if neither parses, and
// for an empty authenticator (it carries no context; use the request's).
Result<Bytes> get_context(ByteView bytes);

// One CertificateEntry to encode: DER certificate and its extensions in order.
struct CertEntry {
  Bytes cert_der;
  std::vector<Extension> extensions;
};

// The cmw_attestation extension body: uint16 n | cmw_data[n] (PROTOCOL.md §3), n >= 1.
Result<Bytes> encode_cmw_extension_body(ByteView cmw_data);

// Certificate message with header; decode_error if a length overflows its field.
Result<Bytes> encode_certificate(ByteView context, const std::vector<CertEntry>& entries);

// H(parts[0] || parts[1] || ...).
Result<Bytes> transcript_hash(const EVP_MD* md, const std::vector<ByteView>& parts);

// The bytes CertificateVerify signs: 0x20 x 64 || "Exported Authenticator" || 0x00 ||
// H(HC || R || C) (RFC 9261 §5.2.2).
Result<Bytes> certificate_verify_input(const EVP_MD* md, ByteView hc, ByteView request,
                                       ByteView certificate);

// CertificateVerify message with header, signed by `key` with `scheme`.
Result<Bytes> encode_certificate_verify(const EVP_MD* md, ByteView hc, ByteView request,
                                        ByteView certificate, EVP_PKEY* key, uint16_t scheme);

// The Finished MAC: HMAC(FK, H(HC || R || C || CV)); pass an empty CV for the empty
// authenticator (then C is Certificate(ctx, empty list)). `mac` may be null (fetched here).
Result<Bytes> finished_mac(const EVP_MD* md, ByteView fk, ByteView hc, ByteView request,
                           ByteView certificate, ByteView certificate_verify,
                           EVP_MAC* mac = nullptr);

// Everything build_authenticator needs, with the secrets supplied by the caller.
struct BuildParams {
  const EVP_MD* md = nullptr;      // the connection's handshake hash
  ByteView hc;                     // handshake context exporter of the SENDING side
  ByteView fk;                     // finished key exporter of the SENDING side
  ByteView request;                // R, with header
  ByteView context;                // what goes in Certificate (normally R's context)
  std::vector<CertEntry> entries;  // leaf first; empty = empty authenticator
  EVP_PKEY* key = nullptr;         // signs CertificateVerify (unused when entries empty)
  uint16_t scheme = 0;
  EVP_MAC* mac = nullptr;  // optional cached HMAC
};

// Certificate || CertificateVerify || Finished, or Finished alone when entries is empty.
Result<Bytes> build_authenticator(const BuildParams& p);

// ---------------------------------------------------------------------------------------
// One TLS connection's view of Exported Authenticators.
// ---------------------------------------------------------------------------------------

// What a request asks for (Connection::create_request). Defaults = PROTOCOL.md §3.
struct RequestSpec {
  bool offer_cmw = true;                                // empty cmw_attestation offer
  std::vector<uint16_t> sigalgs = supported_schemes();  // must not be empty
  std::vector<Extension> extra;                         // further extensions, verbatim
};

struct ConnectionOptions {
  uint16_t cmw_extension = kDefaultCmwExtension;  // PROTOCOL.md §1
};

class Connection {
 public:
  // Wraps `ssl` (not owned; must outlive this object). Cheap: checks happen on first use.
  explicit Connection(SSL* ssl, ConnectionOptions opts = {});
  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // protocol_error before the handshake completed, on TLS < 1.3, on a resumed session;
  // on success caches the handshake hash. Every other method calls it first.
  Status ready();

  // Our side (SSL_is_server).
  Role role() const { return role_; }
  // The peer's side.
  Role peer_role() const { return role_ == Role::kServer ? Role::kClient : Role::kServer; }
  // The handshake hash (SHA-256 or SHA-384), cached; null before ready() succeeded.
  const EVP_MD* md() const { return md_.get(); }
  // HashLen of md(); 0 before ready() succeeded.
  size_t hash_len() const { return hash_len_; }
  SSL* ssl() const { return ssl_; }

  // RFC 9261 §5.1: HC / FK exporters for authenticators SENT by `sender` (cached, secret).
  Result<const SecureBytes*> handshake_context(Role sender);
  Result<const SecureBytes*> finished_key(Role sender);

  // A fresh request of our type (server 13, client 17) with 32 random context bytes and
  // signature_algorithms = supported_schemes(); an empty cmw_attestation if offer_cmw.
  // Remembers the context as sent.
  Result<Bytes> create_request(bool offer_cmw = true);
  // Same, with a chosen scheme list and extra extensions (e.g. status_request).
  Result<Bytes> create_request(const RequestSpec& spec);

  // Parses a request RECEIVED from the peer (expected type: 17 on a server, 13 on a
  // client): decode_error on a wrong type or malformed message, context_mismatch if its
  // context was already used on this connection in either direction. Remembers it.
  // The cmw code point is always the connection's (opts.cmw_extension is ignored).
  Result<Request> parse_request(ByteView bytes, const ParseOptions& opts = {});

  // Answers a received request: Certificate(leaf, chain; cmw_data in entry 0 if given)
  // || CertificateVerify || Finished. Scheme = first of the request's list that `key` can
  // do and we support; with none, an empty authenticator. cmw_data without an offer in the
  // request is unsupported_extension. One answer per request (else context_mismatch).
  Result<Bytes> create_authenticator(ByteView request, X509* leaf, STACK_OF(X509) * chain,
                                     EVP_PKEY* key,
                                     std::optional<ByteView> cmw_data = std::nullopt);

  // A refusal: Finished alone over HC || R || Certificate(ctx, empty list).
  Result<Bytes> create_empty_authenticator(ByteView request);

  // Validates the peer's authenticator against a request WE sent with create_request
  // (every rule of PROTOCOL.md §3 and RFC 9261 §5). One validation per request: a second
  // one (or an unknown request) is context_mismatch. `trust` must not be null.
  Result<Validated> validate(ByteView request, ByteView authenticator, X509_STORE* trust);

 private:
  enum class CtxState : uint8_t { kSent, kSentAnswered, kReceived, kReceivedAnswered };
  Result<Bytes> answer(ByteView request, X509* leaf, STACK_OF(X509) * chain, EVP_PKEY* key,
                       std::optional<ByteView> cmw_data, bool refuse);
  Result<const SecureBytes*> exporter(int which, Role sender);

  SSL* ssl_ = nullptr;
  ConnectionOptions opts_;
  Role role_ = Role::kClient;
  bool ready_ = false;
  UniquePtr<EVP_MD> md_;
  UniquePtr<EVP_MAC> mac_;
  size_t hash_len_ = 0;
  // Byte-wise order of the contexts. Not std::less<Bytes>: at -O3 gcc 12 inlines vector's
  // operator<=> into a false -Wstringop-overread (Release builds with -Werror failed).
  struct ContextLess {
    bool operator()(const Bytes& a, const Bytes& b) const {
      size_t n = a.size() < b.size() ? a.size() : b.size();
      for (size_t i = 0; i < n; ++i)
        if (a[i] != b[i]) return a[i] < b[i];
      return a.size() < b.size();
    }
  };
  std::map<Bytes, CtxState, ContextLess> contexts_;  // every context seen, either direction
  SecureBytes secrets_[4];              // [hc/fk][client/server], lazily filled
  Bytes peer_der_;                      // DER of SSL_get0_peer_certificate, lazily
  bool peer_der_done_ = false;
};

}  // namespace exattest::ea
