// ea::Connection: RFC 9261 on one TLS 1.3 connection (PROTOCOL.md §3).
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "ea/ea.h"
#include "ea/internal.h"
#include "wire/wire.h"

namespace exattest::ea {

namespace {

Error decode(std::string detail) { return make_error(Reason::kDecodeError, std::move(detail)); }
Error ctx_error(std::string detail) {
  return make_error(Reason::kContextMismatch, std::move(detail));
}

// RFC 9261 §5.1 exporter labels, by the side that SENDS the authenticator.
constexpr const char* kLabels[2][2] = {
    {"EXPORTER-client authenticator handshake context",
     "EXPORTER-server authenticator handshake context"},
    {"EXPORTER-client authenticator finished key", "EXPORTER-server authenticator finished key"},
};

Result<Bytes> der(X509* x) {
  unsigned char* p = nullptr;
  int n = i2d_X509(x, &p);
  if (n <= 0) return decode("cannot DER-encode a certificate");
  Bytes out(p, p + n);
  OPENSSL_free(p);
  return out;
}

// d2i that must consume the whole input (no trailing bytes inside cert_data).
Result<UniquePtr<X509>> parse_x509(ByteView in) {
  const unsigned char* p = in.data();
  UniquePtr<X509> x(d2i_X509(nullptr, &p, static_cast<long>(in.size())));
  if (!x || p != in.data() + in.size())
    return decode("Certificate: cert_data is not one DER X.509 certificate");
  return x;
}

}  // namespace

Connection::Connection(SSL* ssl, ConnectionOptions opts) : ssl_(ssl), opts_(opts) {
  if (ssl_ != nullptr) role_ = SSL_is_server(ssl_) ? Role::kServer : Role::kClient;
}
Connection::Connection(Connection&&) noexcept = default;
Connection& Connection::operator=(Connection&&) noexcept = default;
Connection::~Connection() = default;

Status Connection::ready() {
  if (ready_) return Status::Ok();
  if (ssl_ == nullptr) return make_error(Reason::kProtocolError, "no TLS connection");
  // RFC 9261 §7: the API "MUST return a failure" before the handshake has completed.
  if (!SSL_is_init_finished(ssl_))
    return make_error(Reason::kProtocolError,
                      "exported authenticators need a completed TLS handshake");
  // PROTOCOL.md §1: "TLS 1.3 only".
  if (SSL_version(ssl_) != TLS1_3_VERSION)
    return make_error(Reason::kProtocolError,
                      std::string("exported authenticators here need TLS 1.3, the connection "
                                  "negotiated ") +
                          SSL_get_version(ssl_));
  // PROTOCOL.md §5: attested connections never resume; a resumed session has no fresh
  // peer authentication to bind to.
  if (SSL_session_reused(ssl_))
    return make_error(Reason::kProtocolError,
                      "exported authenticators are refused on a resumed session");
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl_);
  const EVP_MD* hmd = cipher ? SSL_CIPHER_get_handshake_digest(cipher) : nullptr;
  if (hmd == nullptr) return make_error(Reason::kProtocolError, "no handshake hash");
  // Fetched once per connection: no implicit fetch on every digest/HMAC.
  md_.reset(EVP_MD_fetch(nullptr, EVP_MD_get0_name(hmd), nullptr));
  mac_.reset(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  if (!md_ || !mac_) return make_error(Reason::kProtocolError, "cannot fetch hash/HMAC");
  hash_len_ = static_cast<size_t>(EVP_MD_get_size(md_.get()));
  role_ = SSL_is_server(ssl_) ? Role::kServer : Role::kClient;
  ready_ = true;
  return Status::Ok();
}

Result<const SecureBytes*> Connection::exporter(int which, Role sender) {
  EXATTEST_RETURN_IF_ERROR(ready());
  int s = sender == Role::kServer ? 1 : 0;
  SecureBytes& slot = secrets_[which * 2 + s];
  if (slot.size() == 0) {
    // RFC 9261 §5.1: context empty, length = the handshake hash's length.
    SecureBytes v(hash_len_);
    const char* label = kLabels[which][s];
    if (SSL_export_keying_material(ssl_, v.data(), v.size(), label, strlen(label), nullptr, 0, 0) !=
        1)
      return make_error(Reason::kProtocolError, "TLS exporter failed");
    slot = std::move(v);
  }
  return &slot;
}

Result<const SecureBytes*> Connection::handshake_context(Role sender) {
  return exporter(0, sender);
}
Result<const SecureBytes*> Connection::finished_key(Role sender) { return exporter(1, sender); }

Result<Bytes> Connection::create_request(bool offer_cmw) {
  RequestSpec spec;
  spec.offer_cmw = offer_cmw;
  return create_request(spec);
}

Result<Bytes> Connection::create_request(const RequestSpec& spec) {
  EXATTEST_RETURN_IF_ERROR(ready());
  if (spec.sigalgs.empty())
    return decode("request: signature_algorithms must list at least one scheme");
  // PROTOCOL.md §3: "`certificate_request_context` = 32 random bytes, never reused on the
  // connection in either direction".
  Bytes ctx(kContextLen);
  for (int tries = 0;; ++tries) {
    if (tries == 4 || RAND_bytes(ctx.data(), static_cast<int>(ctx.size())) != 1)
      return make_error(Reason::kProtocolError, "no fresh random context");
    if (!contexts_.count(ctx)) break;
  }
  uint8_t type = role_ == Role::kServer ? kCertificateRequest : kClientCertificateRequest;
  auto req = encode_request(type, view(ctx), spec.sigalgs, spec.offer_cmw, opts_.cmw_extension,
                            spec.extra);
  EXATTEST_RETURN_IF_ERROR(req);
  // Fail closed on a spec that yields a request we would reject ourselves (duplicates).
  ParseOptions o;
  o.cmw_extension = opts_.cmw_extension;
  EXATTEST_RETURN_IF_ERROR(ea::parse_request(view(*req), type, o));
  contexts_.emplace(std::move(ctx), CtxState::kSent);
  return req;
}

Result<Request> Connection::parse_request(ByteView bytes, const ParseOptions& opts) {
  EXATTEST_RETURN_IF_ERROR(ready());
  ParseOptions o = opts;
  o.cmw_extension = opts_.cmw_extension;
  uint8_t expected = role_ == Role::kServer ? kClientCertificateRequest : kCertificateRequest;
  auto req = ea::parse_request(bytes, expected, o);
  EXATTEST_RETURN_IF_ERROR(req);
  // RFC 9261 §4: "MUST be unique for each authenticator request within the scope of a
  // connection"; PROTOCOL.md §3: "never reused on the connection in either direction".
  if (contexts_.count(req->context))
    return ctx_error("request context already used on this connection");
  contexts_.emplace(req->context, CtxState::kReceived);
  return req;
}

Result<Bytes> Connection::create_authenticator(ByteView request, X509* leaf, STACK_OF(X509) * chain,
                                               EVP_PKEY* key, std::optional<ByteView> cmw_data) {
  return answer(request, leaf, chain, key, cmw_data, /*refuse=*/false);
}

Result<Bytes> Connection::create_empty_authenticator(ByteView request) {
  return answer(request, nullptr, nullptr, nullptr, std::nullopt, /*refuse=*/true);
}

Result<Bytes> Connection::answer(ByteView request, X509* leaf, STACK_OF(X509) * chain,
                                 EVP_PKEY* key, std::optional<ByteView> cmw_data, bool refuse) {
  EXATTEST_RETURN_IF_ERROR(ready());
  ParseOptions o;
  o.cmw_extension = opts_.cmw_extension;
  uint8_t expected = role_ == Role::kServer ? kClientCertificateRequest : kCertificateRequest;
  auto req = ea::parse_request(request, expected, o);
  EXATTEST_RETURN_IF_ERROR(req);
  auto it = contexts_.find(req->context);
  if (it != contexts_.end() && it->second != CtxState::kReceived)
    return ctx_error(it->second == CtxState::kReceivedAnswered
                         ? "request already answered on this connection"
                         : "request context is one this side sent");

  BuildParams p;
  p.md = md_.get();
  p.mac = mac_.get();
  p.request = request;
  p.context = view(req->context);
  if (!refuse && leaf != nullptr && key != nullptr) {
    if (cmw_data && !req->cmw_offered)
      return make_error(Reason::kUnsupportedExtension,
                        "cmw_attestation was not offered in the request");
    // PROTOCOL.md §3: "Signature schemes: those in the request ∩ what the key can do".
    for (uint16_t s : req->sigalgs) {
      if (key_supports_scheme(key, s)) {
        p.scheme = s;
        break;
      }
    }
  }
  if (p.scheme != 0) {
    if (X509_check_private_key(leaf, key) != 1)
      return make_error(Reason::kBadCertificate,
                        "the authenticator's certificate does not match its private key");
    CertEntry first;
    auto d = der(leaf);
    EXATTEST_RETURN_IF_ERROR(d);
    first.cert_der = std::move(*d);
    if (cmw_data) {
      auto body = encode_cmw_extension_body(*cmw_data);
      EXATTEST_RETURN_IF_ERROR(body);
      // PROTOCOL.md §3: "only in the FIRST CertificateEntry".
      first.extensions.push_back({opts_.cmw_extension, std::move(*body)});
    }
    p.entries.push_back(std::move(first));
    for (int i = 0; chain != nullptr && i < sk_X509_num(chain); ++i) {
      auto c = der(sk_X509_value(chain, i));
      EXATTEST_RETURN_IF_ERROR(c);
      p.entries.push_back({std::move(*c), {}});
    }
    p.key = key;
  }
  // RFC 9261 §5.1: the labels name the side that sends the authenticator (us).
  auto hc = handshake_context(role_);
  EXATTEST_RETURN_IF_ERROR(hc);
  auto fk = finished_key(role_);
  EXATTEST_RETURN_IF_ERROR(fk);
  p.hc = (*hc)->view();
  p.fk = (*fk)->view();
  auto out = build_authenticator(p);
  EXATTEST_RETURN_IF_ERROR(out);
  contexts_[req->context] = CtxState::kReceivedAnswered;
  return out;
}

Result<Validated> Connection::validate(ByteView request, ByteView authenticator,
                                       X509_STORE* trust) {
  EXATTEST_RETURN_IF_ERROR(ready());
  if (trust == nullptr)
    return make_error(Reason::kBadCertificate, "no trust store to validate the chain with");
  ParseOptions o;
  o.cmw_extension = opts_.cmw_extension;
  uint8_t own = role_ == Role::kServer ? kCertificateRequest : kClientCertificateRequest;
  auto req = ea::parse_request(request, own, o);
  EXATTEST_RETURN_IF_ERROR(req);
  auto it = contexts_.find(req->context);
  if (it == contexts_.end() || it->second != CtxState::kSent)
    return ctx_error(it == contexts_.end() ? "request was not sent on this connection"
                     : it->second == CtxState::kSentAnswered
                         ? "request already answered: an authenticator is accepted once"
                         : "request context is one the peer sent");
  // One validation per request, whatever its outcome (fail closed: no retries).
  it->second = CtxState::kSentAnswered;

  auto parsed = internal::parse_authenticator(authenticator, hash_len_, opts_.cmw_extension);
  EXATTEST_RETURN_IF_ERROR(parsed);
  const internal::ParsedAuthenticator& a = *parsed;
  Role sender = peer_role();
  auto hc = handshake_context(sender);
  EXATTEST_RETURN_IF_ERROR(hc);
  auto fk = finished_key(sender);
  EXATTEST_RETURN_IF_ERROR(fk);

  Validated out;
  out.context = req->context;
  if (a.empty) {
    // PROTOCOL.md §3: Finished alone "over `HC || R || Certificate(ctx, empty list)`".
    auto c = encode_certificate(view(req->context), {});
    EXATTEST_RETURN_IF_ERROR(c);
    auto mac =
        finished_mac(md_.get(), (*fk)->view(), (*hc)->view(), request, view(*c), {}, mac_.get());
    EXATTEST_RETURN_IF_ERROR(mac);
    if (CRYPTO_memcmp(mac->data(), a.finished.data(), mac->size()) != 0)
      return make_error(Reason::kBadFinished, "empty authenticator: Finished does not verify");
    out.empty = true;
    return out;
  }

  // Parse every certificate before any semantic check (decode_error first).
  if (!peer_der_done_) {
    if (X509* peer = SSL_get0_peer_certificate(ssl_)) {
      auto d = der(peer);
      if (d) peer_der_ = std::move(*d);
    }
    peer_der_done_ = true;
  }
  bool leaf_is_peer = !peer_der_.empty() && a.entries[0].cert_der.size() == peer_der_.size() &&
                      std::equal(peer_der_.begin(), peer_der_.end(), a.entries[0].cert_der.begin());
  if (leaf_is_peer) {
    X509* peer = SSL_get0_peer_certificate(ssl_);
    X509_up_ref(peer);
    out.leaf.reset(peer);
  } else {
    auto x = parse_x509(a.entries[0].cert_der);
    EXATTEST_RETURN_IF_ERROR(x);
    out.leaf = std::move(*x);
  }
  out.chain.reset(sk_X509_new_null());
  if (!out.chain) return make_error(Reason::kProtocolError, "out of memory");
  for (size_t i = 1; i < a.entries.size(); ++i) {
    auto x = parse_x509(a.entries[i].cert_der);
    EXATTEST_RETURN_IF_ERROR(x);
    if (!sk_X509_push(out.chain.get(), x->get()))
      return make_error(Reason::kProtocolError, "out of memory");
    x->release();
  }

  // RFC 9261 §5.2.1: the Certificate's context is the request's.
  if (a.context.size() != req->context.size() ||
      !std::equal(a.context.begin(), a.context.end(), req->context.begin()))
    return ctx_error("Certificate.certificate_request_context differs from the request's");

  for (size_t i = 0; i < a.entries.size(); ++i) {
    for (const auto& x : a.entries[i].extensions) {
      if (x.type == opts_.cmw_extension) {
        // PROTOCOL.md §3: "Present without having been offered, or present in any other
        // entry: `unsupported_extension`".
        if (i != 0)
          return make_error(Reason::kUnsupportedExtension, "cmw_attestation in CertificateEntry " +
                                                               std::to_string(i) +
                                                               "; it is allowed only in the first");
        if (!req->cmw_offered)
          return make_error(Reason::kUnsupportedExtension,
                            "cmw_attestation present but the request did not offer it");
        continue;
      }
      // PROTOCOL.md §3: "Any other extension the request did not offer:
      // `unsupported_extension`". signature_algorithms is a request-only extension
      // (RFC 8446 §4.2), never valid in a CertificateEntry.
      bool offered = std::find(req->extension_types.begin(), req->extension_types.end(), x.type) !=
                     req->extension_types.end();
      if (!offered || x.type == kExtSignatureAlgorithms)
        return make_error(Reason::kUnsupportedExtension, "CertificateEntry extension " +
                                                             std::to_string(x.type) +
                                                             " was not offered in the request");
    }
  }
  if (a.entries[0].cmw_data)
    out.cmw_data = Bytes(a.entries[0].cmw_data->begin(), a.entries[0].cmw_data->end());

  // Signature scheme: all scheme faults are CertificateVerify faults, so bad_signature.
  // PROTOCOL.md §3: "those in the request ∩ what the key can do; TLS 1.3 schemes only".
  EVP_PKEY* pub = X509_get0_pubkey(out.leaf.get());
  if (!is_supported_scheme(a.scheme))
    return make_error(Reason::kBadSignature, "CertificateVerify scheme " +
                                                 std::to_string(a.scheme) +
                                                 " is not a TLS 1.3 scheme we accept");
  if (std::find(req->sigalgs.begin(), req->sigalgs.end(), a.scheme) == req->sigalgs.end())
    return make_error(
        Reason::kBadSignature,
        "CertificateVerify scheme " + std::to_string(a.scheme) + " was not in the request's list");
  if (pub == nullptr || !key_supports_scheme(pub, a.scheme))
    return make_error(Reason::kBadSignature, "CertificateVerify scheme " +
                                                 std::to_string(a.scheme) +
                                                 " does not match the certificate's key");
  EXATTEST_RETURN_IF_ERROR(internal::verify_certificate_verify(
      md_.get(), (*hc)->view(), request, a.certificate_msg, pub, a.scheme, a.signature));
  out.scheme = a.scheme;

  auto mac = finished_mac(md_.get(), (*fk)->view(), (*hc)->view(), request, a.certificate_msg,
                          a.cv_msg, mac_.get());
  EXATTEST_RETURN_IF_ERROR(mac);
  // STYLE.md: compare MACs with CRYPTO_memcmp.
  if (CRYPTO_memcmp(mac->data(), a.finished.data(), mac->size()) != 0)
    return make_error(Reason::kBadFinished, "Finished does not verify");

  // PROTOCOL.md §3: "including the X.509 chain against its trust store; attestation never
  // replaces PKIX validation".
  //
  // Fast path (issue #7): when the leaf is byte-for-byte the certificate the peer
  // presented in the handshake, the application asked libssl to verify it
  // (SSL_VERIFY_PEER), libssl's verdict is X509_V_OK, and `trust` is the very store the
  // handshake verified against, the handshake already proved what X509_verify_cert would:
  // reuse that verdict. Any other case (another identity, another store, no verification
  // in the handshake) runs full PKIX validation.
  X509_STORE* hs_store = nullptr;
  SSL_get0_verify_cert_store(ssl_, &hs_store);
  if (hs_store == nullptr) hs_store = SSL_CTX_get_cert_store(SSL_get_SSL_CTX(ssl_));
  if (leaf_is_peer && (SSL_get_verify_mode(ssl_) & SSL_VERIFY_PEER) != 0 &&
      SSL_get_verify_result(ssl_) == X509_V_OK && hs_store == trust) {
    out.reused_handshake_verdict = true;
    return out;
  }
  UniquePtr<X509_STORE_CTX> vctx(X509_STORE_CTX_new());
  if (!vctx || X509_STORE_CTX_init(vctx.get(), trust, out.leaf.get(), out.chain.get()) != 1)
    return make_error(Reason::kBadCertificate, "cannot set up chain validation");
  // No purpose/EKU is imposed: RFC 9261 lets the authenticator use another identity than
  // the TLS certificate, and a server's TLS certificate (serverAuth) authenticates here in
  // both directions. The store's own X509_VERIFY_PARAM still applies.
  if (X509_verify_cert(vctx.get()) != 1)
    return make_error(Reason::kBadCertificate,
                      std::string("authenticator chain: ") +
                          X509_verify_cert_error_string(X509_STORE_CTX_get_error(vctx.get())));
  return out;
}

}  // namespace exattest::ea
