#include "inband/ea_crypto.h"

#include <algorithm>

namespace exattest::inband {

EaCrypto::EaCrypto(SSL* ssl, const Config& config)
    : ssl_(ssl),
      conn_(ssl, ea::ConnectionOptions{config.cmw_ext}),
      cmw_ext_(config.cmw_ext),
      binding_opts_{config.binder_label, config.binder_length} {}

Result<Bytes> EaCrypto::make_request() {
  // PROTOCOL.md §3: "`cmw_attestation` with an EMPTY body = 'send me attestation'".
  return conn_.create_request(/*offer_cmw=*/true);
}

Result<bool> EaCrypto::accept_request(ByteView request) {
  ea::ParseOptions opts;
  // PROTOCOL.md §3: "over the in-band transport (§5) a request whose context is not exactly
  // 32 bytes is `decode_error`".
  opts.require_32_byte_context = true;
  opts.cmw_extension = cmw_ext_;
  auto parsed = conn_.parse_request(request, opts);
  if (!parsed.ok()) return parsed.error();
  peer_request_ = std::move(parsed).value();
  return peer_request_->cmw_offered;
}

const ea::Request* EaCrypto::peer_request(ByteView raw) const {
  if (!peer_request_ ||
      !std::equal(raw.begin(), raw.end(), peer_request_->raw.begin(), peer_request_->raw.end()))
    return nullptr;
  return &*peer_request_;
}

Result<Bytes> EaCrypto::own_binding(ByteView request) {
  const ea::Request* req = peer_request(request);
  if (req == nullptr) return make_error(Reason::kProtocolError, "binding for an unknown request");
  X509* leaf = SSL_get_certificate(ssl_);
  if (leaf == nullptr)
    return make_error(Reason::kAttesterUnavailable,
                      "this side has no certificate to attest with; configure one");
  // PROTOCOL.md §4: "binding = H(SPKI || EXP)", EXP with the request's context.
  return binding::compute(ssl_, req->context, leaf, binding_opts_);
}

Result<Bytes> EaCrypto::make_authenticator(ByteView request, ByteView cmw) {
  const ea::Request* req = peer_request(request);
  if (req == nullptr)
    return make_error(Reason::kProtocolError, "authenticator for an unknown request");
  X509* leaf = SSL_get_certificate(ssl_);
  EVP_PKEY* key = SSL_get_privatekey(ssl_);
  if (leaf == nullptr || key == nullptr)
    return make_error(Reason::kAttesterUnavailable,
                      "this side has no certificate and key to answer with");
  // PROTOCOL.md §3: "Signature schemes: those in the request ∩ what the key can do". With
  // none, ea would answer with a refusal; say why instead, so it is logged (§5).
  bool common = std::any_of(req->sigalgs.begin(), req->sigalgs.end(), [&](uint16_t s) {
    return ea::is_supported_scheme(s) && ea::key_supports_scheme(key, s);
  });
  if (!common)
    return make_error(Reason::kAttesterUnavailable,
                      "no signature scheme of the peer's request fits this side's key");
  STACK_OF(X509)* chain = nullptr;
  // The connection's own chain, else the context's extra chain certificates.
  if (SSL_get0_chain_certs(ssl_, &chain) != 1 || chain == nullptr || sk_X509_num(chain) == 0) {
    chain = nullptr;
    SSL_CTX_get_extra_chain_certs(SSL_get_SSL_CTX(ssl_), &chain);
  }
  std::optional<ByteView> cmw_data;
  if (!cmw.empty()) cmw_data = cmw;
  return conn_.create_authenticator(request, leaf, chain, key, cmw_data);
}

Result<Bytes> EaCrypto::make_empty_authenticator(ByteView request) {
  return conn_.create_empty_authenticator(request);
}

Result<Crypto::Validated> EaCrypto::validate(ByteView request, ByteView authenticator) {
  // PROTOCOL.md §8: "its chain is validated with the trust store the application gave the
  // connection (`SSL_CTX_get_cert_store`)".
  X509_STORE* trust = SSL_CTX_get_cert_store(SSL_get_SSL_CTX(ssl_));
  if (trust == nullptr)
    return make_error(Reason::kBadCertificate, "the connection has no trust store");
  auto v = conn_.validate(request, authenticator, trust);
  if (!v.ok()) return v.error();
  Validated out;
  out.empty = v->empty;
  if (out.empty) return out;
  out.cmw = v->cmw_data;
  if (out.cmw) {
    // PROTOCOL.md §4: "The relying party recomputes it from its own view of the connection
    // and the validated certificate".
    auto b = binding::compute(ssl_, v->context, v->leaf.get(), binding_opts_);
    if (!b.ok()) return b.error();
    out.binding = std::move(b).value();
  }
  return out;
}

}  // namespace exattest::inband
