// RFC 9261 message encoding/parsing and transcript arithmetic (PROTOCOL.md §3), no connection.
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <array>
#include <bitset>
#include <string>

#include "ea/ea.h"
#include "ea/internal.h"
#include "wire/wire.h"

namespace exattest::ea {

namespace {

Error decode(std::string detail) { return make_error(Reason::kDecodeError, std::move(detail)); }

// RFC 8446 §4.2.3 code points we implement, in our preference order.
constexpr std::array<internal::SchemeInfo, 11> kSchemes = {{
    {0x0403, internal::KeyKind::kEc, "SHA256", NID_X9_62_prime256v1, 32},
    {0x0503, internal::KeyKind::kEc, "SHA384", NID_secp384r1, 48},
    {0x0603, internal::KeyKind::kEc, "SHA512", NID_secp521r1, 64},
    {0x0804, internal::KeyKind::kRsaPssRsae, "SHA256", 0, 32},
    {0x0805, internal::KeyKind::kRsaPssRsae, "SHA384", 0, 48},
    {0x0806, internal::KeyKind::kRsaPssRsae, "SHA512", 0, 64},
    {0x0807, internal::KeyKind::kEd25519, nullptr, 0, 0},
    {0x0808, internal::KeyKind::kEd448, nullptr, 0, 0},
    {0x0809, internal::KeyKind::kRsaPssPss, "SHA256", 0, 32},
    {0x080a, internal::KeyKind::kRsaPssPss, "SHA384", 0, 48},
    {0x080b, internal::KeyKind::kRsaPssPss, "SHA512", 0, 64},
}};

int ec_curve_nid(EVP_PKEY* key) {
  char name[64] = {0};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name), &len) !=
      1)
    return NID_undef;
  int nid = OBJ_txt2nid(name);
  if (nid == NID_undef) nid = EC_curve_nist2nid(name);
  return nid;
}

// An RSA-PSS key may carry restrictions (RFC 4055 parameters): digest and MGF1 digest must
// then be the scheme's, else the signature could not be produced as TLS 1.3 requires.
bool pss_restrictions_allow(EVP_PKEY* key, const char* md) {
  char name[64] = {0};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_RSA_DIGEST, name, sizeof(name), &len) ==
          1 &&
      len > 0) {
    UniquePtr<EVP_MD> a(EVP_MD_fetch(nullptr, name, nullptr));
    UniquePtr<EVP_MD> b(EVP_MD_fetch(nullptr, md, nullptr));
    if (!a || !b || EVP_MD_get_type(a.get()) != EVP_MD_get_type(b.get())) return false;
  }
  return true;
}

// Configures RSA-PSS as TLS 1.3 demands: RFC 8446 §4.2.3 "the length of the Salt MUST be
// equal to the length of the output of the digest algorithm", MGF1 with the same digest.
bool setup_pss(EVP_PKEY_CTX* pctx, const internal::SchemeInfo& s) {
  return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) > 0 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, s.md, nullptr) > 0;
}

bool is_rsa_kind(internal::KeyKind k) {
  return k == internal::KeyKind::kRsaPssRsae || k == internal::KeyKind::kRsaPssPss;
}

}  // namespace

namespace internal {

const SchemeInfo* scheme_info(uint16_t code) {
  for (const auto& s : kSchemes)
    if (s.code == code) return &s;
  return nullptr;
}

Result<ParsedAuthenticator> parse_authenticator(ByteView in, size_t hash_len,
                                                uint16_t cmw_extension) {
  struct Msg {
    uint8_t type;
    ByteView whole;
    ByteView body;
  };
  std::vector<Msg> msgs;
  wire::Reader r(in);
  while (!r.empty()) {
    wire::Reader at = r;
    uint8_t type = 0;
    ByteView body;
    if (!r.u8(type) || !r.prefixed_u24(body))
      return decode(
          "authenticator: truncated handshake message (header or body shorter than "
          "its 24-bit length)");
    if (msgs.size() == 3)
      return decode("authenticator: more than Certificate, CertificateVerify, Finished");
    msgs.push_back({type, at.rest().first(at.remaining() - r.remaining()), body});
  }
  ParsedAuthenticator out;
  // PROTOCOL.md §3: "Authenticator = Certificate(11) || CertificateVerify(15) || Finished(20)"
  // and "Empty authenticator (refusal) = Finished alone".
  if (msgs.size() == 1 && msgs[0].type == kFinished) {
    out.empty = true;
  } else if (!(msgs.size() == 3 && msgs[0].type == kCertificate &&
               msgs[1].type == kCertificateVerify && msgs[2].type == kFinished)) {
    std::string order;
    // Appended piecewise: `"," + std::to_string(...)` trips gcc 12's false -Wrestrict at -O3.
    for (const auto& m : msgs) {
      if (!order.empty()) order.push_back(',');
      order.append(std::to_string(m.type));
    }
    return decode("authenticator: message order [" + order +
                  "], expected [11,15,20] or [20] (empty authenticator)");
  }
  const Msg& fin = msgs.back();
  // RFC 8446 §4.4.4: verify_data is Hash.length bytes.
  if (fin.body.size() != hash_len)
    return decode("authenticator: Finished is " + std::to_string(fin.body.size()) +
                  " bytes, the handshake hash needs " + std::to_string(hash_len));
  out.finished = fin.body;
  if (out.empty) return out;

  out.certificate_msg = msgs[0].whole;
  out.cv_msg = msgs[1].whole;

  // RFC 8446 §4.4.2 Certificate: context<0..255>, certificate_list<0..2^24-1>.
  wire::Reader c(msgs[0].body);
  wire::Reader list;
  if (!c.prefixed_u8(out.context) || !c.prefixed_u24(list) || !c.empty())
    return decode("Certificate: malformed context or certificate_list");
  while (!list.empty()) {
    if (out.entries.size() == kMaxCertificateEntries)
      return decode("Certificate: more than " + std::to_string(kMaxCertificateEntries) +
                    " CertificateEntries");
    ParsedEntry e;
    wire::Reader exts;
    if (!list.prefixed_u24(e.cert_der) || e.cert_der.empty() || !list.prefixed_u16(exts))
      return decode("Certificate: malformed CertificateEntry");
    while (!exts.empty()) {
      ParsedExtension x;
      if (!exts.u16(x.type) || !exts.prefixed_u16(x.body))
        return decode("CertificateEntry: malformed extension");
      if (e.extensions.size() == kMaxEntryExtensions)
        return decode("CertificateEntry: more than " + std::to_string(kMaxEntryExtensions) +
                      " extensions");
      if (x.type == cmw_extension) {
        // PROTOCOL.md §3: "body `uint16 n | cmw_data[n]`, n ≥ 1".
        wire::Reader b(x.body);
        ByteView data;
        if (!b.prefixed_u16(data) || !b.empty() || data.empty())
          return decode("cmw_attestation: body must be uint16 n | cmw_data[n] with n >= 1");
        e.cmw_data = data;
      }
      e.extensions.push_back(x);
    }
    // RFC 8446 §4.2: "There MUST NOT be more than one extension of the same type".
    // Checked on a sorted copy of the types (2 bytes per extension; a std::set cost ~40).
    std::vector<uint16_t> types;
    types.reserve(e.extensions.size());
    for (const auto& x : e.extensions) types.push_back(x.type);
    std::sort(types.begin(), types.end());
    auto dup = std::adjacent_find(types.begin(), types.end());
    if (dup != types.end())
      return decode("CertificateEntry: duplicate extension " + std::to_string(*dup));
    out.entries.push_back(std::move(e));
  }
  // RFC 9261 §5.2.3 / PROTOCOL.md §3: a refusal is Finished alone; a Certificate with an
  // empty list followed by CertificateVerify is malformed.
  if (out.entries.empty())
    return decode(
        "Certificate with zero entries before CertificateVerify (an empty "
        "authenticator is Finished alone)");

  // RFC 8446 §4.4.3 CertificateVerify: algorithm(2) | signature<0..2^16-1>.
  wire::Reader v(msgs[1].body);
  if (!v.u16(out.scheme) || !v.prefixed_u16(out.signature) || !v.empty())
    return decode("CertificateVerify: malformed");
  return out;
}

Status verify_certificate_verify(const EVP_MD* md, ByteView hc, ByteView request,
                                 ByteView certificate, EVP_PKEY* pub, uint16_t scheme,
                                 ByteView signature) {
  const SchemeInfo* s = scheme_info(scheme);
  if (s == nullptr) return make_error(Reason::kBadSignature, "unsupported signature scheme");
  auto input = certificate_verify_input(md, hc, request, certificate);
  EXATTEST_RETURN_IF_ERROR(input);
  UniquePtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!ctx || EVP_DigestVerifyInit_ex(ctx.get(), &pctx, s->md, nullptr, nullptr, pub, nullptr) != 1)
    return make_error(Reason::kBadSignature, "CertificateVerify: cannot verify with this key");
  if (is_rsa_kind(s->kind) && !setup_pss(pctx, *s))
    return make_error(Reason::kBadSignature, "CertificateVerify: cannot set RSA-PSS");
  if (EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), input->data(),
                       input->size()) != 1)
    return make_error(Reason::kBadSignature, "CertificateVerify signature does not verify");
  return Status::Ok();
}

}  // namespace internal

const std::vector<uint16_t>& supported_schemes() {
  static const std::vector<uint16_t> kList = [] {
    std::vector<uint16_t> v;
    for (const auto& s : kSchemes) v.push_back(s.code);
    return v;
  }();
  return kList;
}

bool is_supported_scheme(uint16_t scheme) { return internal::scheme_info(scheme) != nullptr; }

bool key_supports_scheme(EVP_PKEY* key, uint16_t scheme) {
  const internal::SchemeInfo* s = internal::scheme_info(scheme);
  if (key == nullptr || s == nullptr) return false;
  switch (s->kind) {
    case internal::KeyKind::kEc:
      // RFC 8446 §4.2.3: ECDSA schemes name the curve ("ecdsa_secp256r1_sha256").
      return EVP_PKEY_is_a(key, "EC") && ec_curve_nid(key) == s->curve_nid;
    case internal::KeyKind::kRsaPssRsae:
    case internal::KeyKind::kRsaPssPss: {
      // rsae = rsaEncryption key, pss = id-RSASSA-PSS key (RFC 8446 §4.2.3).
      bool pss_key = EVP_PKEY_is_a(key, "RSA-PSS");
      bool rsa_key = !pss_key && EVP_PKEY_is_a(key, "RSA");
      if (s->kind == internal::KeyKind::kRsaPssRsae ? !rsa_key : !pss_key) return false;
      // RFC 8017 §9.1.1: emLen >= hLen + sLen + 2, with sLen = hLen.
      if (static_cast<size_t>(EVP_PKEY_get_size(key)) < 2 * s->md_len + 2) return false;
      return !pss_key || pss_restrictions_allow(key, s->md);
    }
    case internal::KeyKind::kEd25519:
      return EVP_PKEY_is_a(key, "ED25519");
    case internal::KeyKind::kEd448:
      return EVP_PKEY_is_a(key, "ED448");
  }
  return false;
}

Status Validated::require_authenticator() const {
  // PROTOCOL.md §3: "It is a refusal, never a success."
  if (empty || !leaf)
    return make_error(Reason::kNoEvidence, "the peer sent an empty authenticator");
  return Status::Ok();
}

Result<Bytes> encode_request(uint8_t type, ByteView context, const std::vector<uint16_t>& sigalgs,
                             bool offer_cmw, uint16_t cmw_extension,
                             const std::vector<Extension>& extra) {
  if (type != kCertificateRequest && type != kClientCertificateRequest)
    return decode("request type must be 13 or 17");
  wire::Writer w;
  w.u8(type);
  w.prefixed_u24([&](wire::Writer& body) {
    body.prefixed_u8([&](wire::Writer& c) { c.bytes(context); });
    body.prefixed_u16([&](wire::Writer& exts) {
      // PROTOCOL.md §3: "`signature_algorithms` (13) REQUIRED".
      exts.u16(kExtSignatureAlgorithms);
      exts.prefixed_u16([&](wire::Writer& d) {
        d.prefixed_u16([&](wire::Writer& l) {
          for (uint16_t s : sigalgs) l.u16(s);
        });
      });
      // PROTOCOL.md §3: "`cmw_attestation` with an EMPTY body = 'send me attestation'".
      if (offer_cmw) {
        exts.u16(cmw_extension);
        exts.u16(0);
      }
      for (const auto& x : extra) {
        exts.u16(x.type);
        exts.prefixed_u16([&](wire::Writer& d) { d.bytes(x.body); });
      }
    });
  });
  if (!w.ok()) return decode("request: a field exceeds its length prefix");
  return w.take();
}

Result<Request> parse_request(ByteView bytes, uint8_t expected_type, const ParseOptions& opts) {
  wire::Reader r(bytes);
  Request out;
  wire::Reader body;
  if (!r.u8(out.type) || !r.prefixed_u24(body))
    return decode("request: truncated handshake header or body");
  if (!r.empty()) return decode("request: trailing bytes after the handshake message");
  // PROTOCOL.md §3: "CertificateRequest (type 13) when the server asks the client,
  // ClientCertificateRequest (type 17) when the client asks the server".
  if (out.type != expected_type)
    return decode("request type " + std::to_string(out.type) + " where " +
                  std::to_string(expected_type) +
                  " is expected (servers send 13, clients send 17)");
  ByteView ctx;
  wire::Reader exts;
  if (!body.prefixed_u8(ctx) || !body.prefixed_u16(exts) || !body.empty())
    return decode("request: malformed context or extensions");
  // PROTOCOL.md §3: "over the in-band transport (§5) a request whose context is not
  // exactly 32 bytes is `decode_error`".
  if (opts.require_32_byte_context && ctx.size() != kContextLen)
    return decode("request: certificate_request_context is " + std::to_string(ctx.size()) +
                  " bytes, the in-band transport requires 32");
  out.context.assign(ctx.begin(), ctx.end());
  bool have_sigalgs = false;
  // One bit per extension type (8 KiB): a std::set cost ~40 bytes per 4-byte empty
  // extension, 10x the input (tests/unit/memory_test.cc).
  std::bitset<65536> seen;
  while (!exts.empty()) {
    uint16_t type = 0;
    wire::Reader data;
    if (!exts.u16(type) || !exts.prefixed_u16(data)) return decode("request: malformed extension");
    // PROTOCOL.md §3: "a duplicate extension ... is `decode_error`".
    if (seen.test(type)) return decode("request: duplicate extension " + std::to_string(type));
    seen.set(type);
    out.extension_types.push_back(type);
    if (type == kExtSignatureAlgorithms) {
      // RFC 8446 §4.2.3: SignatureScheme supported_signature_algorithms<2..2^16-2>.
      wire::Reader list;
      if (!data.prefixed_u16(list) || !data.empty() || list.empty() || list.remaining() % 2 != 0)
        return decode("request: malformed signature_algorithms");
      while (!list.empty()) {
        uint16_t s = 0;
        if (!list.u16(s)) return decode("request: malformed signature_algorithms");
        out.sigalgs.push_back(s);
      }
      have_sigalgs = true;
    } else if (type == kExtServerName && out.type == kCertificateRequest) {
      // PROTOCOL.md §3: "`server_name` in type 13 ... is `decode_error`".
      return decode("request: server_name is not allowed in a CertificateRequest (13)");
    } else if (type == opts.cmw_extension) {
      // PROTOCOL.md §3: "a non-empty cmw_attestation offer is `decode_error`".
      if (!data.empty()) return decode("request: cmw_attestation offer must be empty");
      out.cmw_offered = true;
    }
    // PROTOCOL.md §3: "unknown extensions are ignored".
  }
  if (!have_sigalgs)
    return decode("request: signature_algorithms is missing (PROTOCOL.md §3 requires it)");
  out.raw.assign(bytes.begin(), bytes.end());
  return out;
}

Result<Bytes> get_context(ByteView bytes) {
  wire::Reader r(bytes);
  uint8_t type = 0;
  if (!r.u8(type)) return decode("get_context: empty input");
  if (type == kCertificateRequest || type == kClientCertificateRequest) {
    auto req = parse_request(bytes, type);
    EXATTEST_RETURN_IF_ERROR(req);
    return std::move(req->context);
  }
  if (type == kCertificate) {
    // RFC 9261 §6: the context of an authenticator is its Certificate's context.
    wire::Reader body;
    ByteView ctx;
    if (!r.prefixed_u24(body) || !body.prefixed_u8(ctx))
      return decode("get_context: malformed Certificate");
    return Bytes(ctx.begin(), ctx.end());
  }
  if (type == kFinished)
    return decode("get_context: an empty authenticator carries no context; use its request's");
  return decode("get_context: neither a request nor an authenticator (type " +
                std::to_string(type) + ")");
}

Result<Bytes> encode_cmw_extension_body(ByteView cmw_data) {
  // PROTOCOL.md §3: "body `uint16 n | cmw_data[n]`, n ≥ 1".
  if (cmw_data.empty()) return decode("cmw_data must not be empty");
  if (cmw_data.size() > kMaxCmwData)
    return decode("cmw_data of " + std::to_string(cmw_data.size()) + " bytes exceeds the " +
                  std::to_string(kMaxCmwData) + " bytes a CertificateEntry's extensions can carry");
  wire::Writer w;
  w.prefixed_u16([&](wire::Writer& d) { d.bytes(cmw_data); });
  if (!w.ok()) return decode("cmw_data too large");
  return w.take();
}

Result<Bytes> encode_certificate(ByteView context, const std::vector<CertEntry>& entries) {
  wire::Writer w;
  w.u8(kCertificate);
  w.prefixed_u24([&](wire::Writer& body) {
    body.prefixed_u8([&](wire::Writer& c) { c.bytes(context); });
    body.prefixed_u24([&](wire::Writer& list) {
      for (const auto& e : entries) {
        list.prefixed_u24([&](wire::Writer& d) { d.bytes(e.cert_der); });
        list.prefixed_u16([&](wire::Writer& exts) {
          for (const auto& x : e.extensions) {
            exts.u16(x.type);
            exts.prefixed_u16([&](wire::Writer& d) { d.bytes(x.body); });
          }
        });
      }
    });
  });
  if (!w.ok())
    return decode(
        "Certificate: a certificate, extension block or the list exceeds its "
        "length prefix");
  return w.take();
}

Result<Bytes> transcript_hash(const EVP_MD* md, const std::vector<ByteView>& parts) {
  UniquePtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  if (!ctx || md == nullptr || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1)
    return make_error(Reason::kProtocolError, "cannot initialise the handshake hash");
  for (ByteView p : parts)
    if (EVP_DigestUpdate(ctx.get(), p.data(), p.size()) != 1)
      return make_error(Reason::kProtocolError, "hash update failed");
  Bytes out(static_cast<size_t>(EVP_MD_get_size(md)));
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1 || len != out.size())
    return make_error(Reason::kProtocolError, "hash final failed");
  return out;
}

Result<Bytes> certificate_verify_input(const EVP_MD* md, ByteView hc, ByteView request,
                                       ByteView certificate) {
  auto h = transcript_hash(md, {hc, request, certificate});
  EXATTEST_RETURN_IF_ERROR(h);
  // RFC 8446 §4.4.3 / RFC 9261 §5.2.2: 64 spaces, the context string, one zero byte.
  static constexpr char kLabel[] = "Exported Authenticator";
  wire::Writer w;
  for (int i = 0; i < 64; ++i) w.u8(0x20);
  w.bytes(ByteView(reinterpret_cast<const uint8_t*>(kLabel), sizeof(kLabel) - 1));
  w.u8(0x00);
  w.bytes(*h);
  return w.take();
}

Result<Bytes> encode_certificate_verify(const EVP_MD* md, ByteView hc, ByteView request,
                                        ByteView certificate, EVP_PKEY* key, uint16_t scheme) {
  const internal::SchemeInfo* s = internal::scheme_info(scheme);
  if (s == nullptr || !key_supports_scheme(key, scheme))
    return make_error(Reason::kBadSignature, "CertificateVerify: the key cannot sign with scheme " +
                                                 std::to_string(scheme));
  auto input = certificate_verify_input(md, hc, request, certificate);
  EXATTEST_RETURN_IF_ERROR(input);
  UniquePtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!ctx || EVP_DigestSignInit_ex(ctx.get(), &pctx, s->md, nullptr, nullptr, key, nullptr) != 1 ||
      (is_rsa_kind(s->kind) && !setup_pss(pctx, *s)))
    return make_error(Reason::kBadSignature, "CertificateVerify: cannot initialise signing");
  size_t len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &len, input->data(), input->size()) != 1)
    return make_error(Reason::kBadSignature, "CertificateVerify: signing failed");
  Bytes sig(len);
  if (EVP_DigestSign(ctx.get(), sig.data(), &len, input->data(), input->size()) != 1)
    return make_error(Reason::kBadSignature, "CertificateVerify: signing failed");
  sig.resize(len);
  wire::Writer w;
  w.u8(kCertificateVerify);
  w.prefixed_u24([&](wire::Writer& b) {
    b.u16(scheme);
    b.prefixed_u16([&](wire::Writer& v) { v.bytes(sig); });
  });
  if (!w.ok()) return decode("CertificateVerify: signature too long");
  return w.take();
}

Result<Bytes> finished_mac(const EVP_MD* md, ByteView fk, ByteView hc, ByteView request,
                           ByteView certificate, ByteView certificate_verify, EVP_MAC* mac) {
  std::vector<ByteView> parts = {hc, request, certificate};
  if (!certificate_verify.empty()) parts.push_back(certificate_verify);
  auto h = transcript_hash(md, parts);
  EXATTEST_RETURN_IF_ERROR(h);
  UniquePtr<EVP_MAC> fetched;
  if (mac == nullptr) {
    fetched.reset(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
    mac = fetched.get();
  }
  UniquePtr<EVP_MAC_CTX> ctx(mac ? EVP_MAC_CTX_new(mac) : nullptr);
  if (!ctx) return make_error(Reason::kProtocolError, "HMAC unavailable");
  OSSL_PARAM params[2] = {OSSL_PARAM_construct_utf8_string(
                              OSSL_MAC_PARAM_DIGEST, const_cast<char*>(EVP_MD_get0_name(md)), 0),
                          OSSL_PARAM_construct_end()};
  // RFC 9261 §5.2.3: "Finished = HMAC(Finished MAC Key, Hash(Handshake Context ||
  // authenticator request || Certificate || CertificateVerify))".
  Bytes out(h->size());
  size_t len = 0;
  if (EVP_MAC_init(ctx.get(), fk.data(), fk.size(), params) != 1 ||
      EVP_MAC_update(ctx.get(), h->data(), h->size()) != 1 ||
      EVP_MAC_final(ctx.get(), out.data(), &len, out.size()) != 1 || len != out.size())
    return make_error(Reason::kProtocolError, "HMAC failed");
  return out;
}

Result<Bytes> build_authenticator(const BuildParams& p) {
  auto cert = encode_certificate(p.context, p.entries);
  EXATTEST_RETURN_IF_ERROR(cert);
  Bytes out;
  Bytes cv;
  if (!p.entries.empty()) {
    auto v = encode_certificate_verify(p.md, p.hc, p.request, view(*cert), p.key, p.scheme);
    EXATTEST_RETURN_IF_ERROR(v);
    cv = std::move(*v);
    out = *cert;
    out.insert(out.end(), cv.begin(), cv.end());
  }
  // PROTOCOL.md §3: "Empty authenticator (refusal) = Finished alone, over
  // `HC || R || Certificate(ctx, empty list)`".
  auto fin = finished_mac(p.md, p.fk, p.hc, p.request, view(*cert), view(cv), p.mac);
  EXATTEST_RETURN_IF_ERROR(fin);
  Bytes f = wire::handshake_message(kFinished, view(*fin));
  out.insert(out.end(), f.begin(), f.end());
  return out;
}

}  // namespace exattest::ea
