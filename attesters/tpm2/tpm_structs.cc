// Exact TPM 2.0 structure parsers (TPM 2.0 Library Part 2), all big-endian via wire::Reader.
#include "attesters/tpm2/tpm_structs.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include <algorithm>
#include <string>

#include "attesters/tpm2/pcr_selection.h"
#include "wire/wire.h"

namespace exattest::tpm2 {
namespace {

Error decode(std::string what) { return make_error(Reason::kDecodeError, std::move(what)); }

std::string hex16(uint16_t v) {
  static const char* d = "0123456789abcdef";
  std::string s = "0x";
  for (int shift = 12; shift >= 0; shift -= 4) s.push_back(d[(v >> shift) & 15]);
  return s;
}

bool tpm2b(wire::Reader& r, Bytes& out) {
  ByteView v;
  if (!r.prefixed_u16(v)) return false;
  out.assign(v.begin(), v.end());
  return true;
}

// TPML_PCR_SELECTION.
bool pcr_selection_list(wire::Reader& r, std::vector<TpmsPcrSelection>& out) {
  uint32_t count;
  if (!r.u32(count) || count > TPM2_NUM_PCR_BANKS) return false;
  for (uint32_t i = 0; i < count; ++i) {
    TpmsPcrSelection s;
    ByteView bitmap;
    // Part 2 TPMS_PCR_SELECTION: sizeofSelect is at most PCR_SELECT_MAX (4 for 32 PCRs).
    if (!r.u16(s.hash) || !r.prefixed_u8(bitmap) || bitmap.size() > TPM2_PCR_SELECT_MAX) {
      return false;
    }
    s.select.assign(bitmap.begin(), bitmap.end());
    out.push_back(std::move(s));
  }
  return true;
}

// TPMT_SYM_DEF_OBJECT: algorithm, then keyBits and mode unless NULL.
bool sym_def_object(wire::Reader& r, uint16_t& alg) {
  uint16_t bits, mode;
  if (!r.u16(alg)) return false;
  if (alg == kAlgNull) return true;
  return r.u16(bits) && r.u16(mode);
}

// TPMT_RSA_SCHEME / TPMT_ECC_SCHEME / TPMT_SIG_SCHEME details by scheme selector.
bool asym_scheme(wire::Reader& r, uint16_t& scheme, uint16_t& hash) {
  if (!r.u16(scheme)) return false;
  switch (scheme) {
    case kAlgNull:
    case 0x0015:  // TPM_ALG_RSAES: empty details
      hash = 0;
      return true;
    case 0x001A: {  // TPM_ALG_ECDAA: hashAlg, count
      uint16_t count;
      return r.u16(hash) && r.u16(count);
    }
    case kAlgRsassa:
    case kAlgRsapss:
    case 0x0017:  // OAEP
    case kAlgEcdsa:
    case 0x0019:  // ECDH
    case 0x001B:  // SM2
    case 0x001C:  // ECSCHNORR
    case 0x001D:  // ECMQV
      return r.u16(hash);
    default:
      return false;
  }
}

// TPMT_KDF_SCHEME.
bool kdf_scheme(wire::Reader& r) {
  uint16_t scheme, hash;
  if (!r.u16(scheme)) return false;
  switch (scheme) {
    case kAlgNull:
      return true;
    case 0x0007:  // MGF1
    case 0x0020:  // KDF1_SP800_56A
    case 0x0021:  // KDF2
    case 0x0022:  // KDF1_SP800_108
      return r.u16(hash);
    default:
      return false;
  }
}

const char* curve_group(uint16_t curve) {
  switch (curve) {
    case kEccNistP256: return "prime256v1";
    case kEccNistP384: return "secp384r1";
    case kEccNistP521: return "secp521r1";
    default: return nullptr;
  }
}

size_t curve_bytes(uint16_t curve) {
  switch (curve) {
    case kEccNistP256: return 32;
    case kEccNistP384: return 48;
    case kEccNistP521: return 66;
    default: return 0;
  }
}

}  // namespace

std::vector<uint32_t> TpmsPcrSelection::indices() const {
  std::vector<uint32_t> out;
  for (size_t octet = 0; octet < select.size(); ++octet) {
    for (uint32_t bit = 0; bit < 8; ++bit) {
      if (select[octet] & (1u << bit)) out.push_back(static_cast<uint32_t>(octet * 8 + bit));
    }
  }
  return out;
}

Result<QuoteAttest> parse_quote_attest(ByteView attest) {
  wire::Reader r(attest);
  QuoteAttest q;
  if (!r.u32(q.magic)) return decode("TPMS_ATTEST truncated before magic");
  // PROTOCOL.md §6 step 1: "magic = TPM_GENERATED_VALUE (0xff544347)".
  if (q.magic != kTpmGeneratedValue) {
    return decode("TPMS_ATTEST magic is not TPM_GENERATED_VALUE (not made by a TPM)");
  }
  if (!r.u16(q.type)) return decode("TPMS_ATTEST truncated before type");
  // PROTOCOL.md §6 step 1: "type = TPM_ST_ATTEST_QUOTE (0x8018)".
  if (q.type != kStAttestQuote) {
    return decode("TPMS_ATTEST type " + hex16(q.type) +
                  (q.type == kStAttestCertify ? " (certify)" : "") +
                  " is not a quote (TPM_ST_ATTEST_QUOTE 0x8018)");
  }
  if (!tpm2b(r, q.qualified_signer)) return decode("TPMS_ATTEST qualifiedSigner truncated");
  if (!tpm2b(r, q.extra_data)) return decode("TPMS_ATTEST extraData truncated");
  if (!r.u64(q.clock_info.clock) || !r.u32(q.clock_info.reset_count) ||
      !r.u32(q.clock_info.restart_count) || !r.u8(q.clock_info.safe)) {
    return decode("TPMS_ATTEST clockInfo truncated");
  }
  // TPMI_YES_NO: only 0 and 1 are valid.
  if (q.clock_info.safe > 1) return decode("TPMS_ATTEST clockInfo.safe is not 0 or 1");
  if (!r.u64(q.firmware_version)) return decode("TPMS_ATTEST firmwareVersion truncated");
  if (!pcr_selection_list(r, q.pcr_select)) {
    return decode("TPMS_QUOTE_INFO pcrSelect malformed (count > 16 or sizeofSelect > 4)");
  }
  if (!tpm2b(r, q.pcr_digest)) return decode("TPMS_QUOTE_INFO pcrDigest truncated");
  if (!r.empty()) {
    return decode("TPMS_ATTEST has " + std::to_string(r.remaining()) + " trailing bytes");
  }
  return q;
}

Result<Signature> parse_signature(ByteView sig) {
  wire::Reader r(sig);
  Signature s;
  if (!r.u16(s.sig_alg) || !r.u16(s.hash_alg)) return decode("TPMT_SIGNATURE truncated");
  if (tpm_md(s.hash_alg) == nullptr) {
    return decode("TPMT_SIGNATURE hash " + hex16(s.hash_alg) + " is not sha1/sha256/sha384/sha512");
  }
  if (s.sig_alg == kAlgEcdsa) {
    ByteView rv, sv;
    if (!r.prefixed_u16(rv) || !r.prefixed_u16(sv)) return decode("TPMS_SIGNATURE_ECDSA truncated");
    if (!r.empty()) return decode("TPMT_SIGNATURE has trailing bytes");
    if (rv.empty() || sv.empty()) return decode("TPMS_SIGNATURE_ECDSA has an empty r or s");
    UniquePtr<ECDSA_SIG> es(ECDSA_SIG_new());
    BIGNUM* br = BN_bin2bn(rv.data(), static_cast<int>(rv.size()), nullptr);
    BIGNUM* bs = BN_bin2bn(sv.data(), static_cast<int>(sv.size()), nullptr);
    if (!es || !br || !bs || ECDSA_SIG_set0(es.get(), br, bs) != 1) {
      BN_free(br);
      BN_free(bs);
      return decode("out of memory building ECDSA-Sig-Value");
    }
    int len = i2d_ECDSA_SIG(es.get(), nullptr);
    if (len <= 0) return decode("cannot encode ECDSA-Sig-Value");
    s.der_or_raw.resize(static_cast<size_t>(len));
    uint8_t* p = s.der_or_raw.data();
    if (i2d_ECDSA_SIG(es.get(), &p) != len) return decode("cannot encode ECDSA-Sig-Value");
    return s;
  }
  if (s.sig_alg == kAlgRsassa || s.sig_alg == kAlgRsapss) {
    ByteView v;
    if (!r.prefixed_u16(v)) return decode("TPMS_SIGNATURE_RSA truncated");
    if (!r.empty()) return decode("TPMT_SIGNATURE has trailing bytes");
    if (v.empty()) return decode("TPMS_SIGNATURE_RSA is empty");
    s.der_or_raw.assign(v.begin(), v.end());
    return s;
  }
  return decode("TPMT_SIGNATURE algorithm " + hex16(s.sig_alg) +
                " is not ECDSA (0x0018), RSASSA (0x0014) or RSAPSS (0x0016)");
}

Result<Public> parse_public(ByteView tpmt_public) {
  wire::Reader r(tpmt_public);
  Public p;
  if (!r.u16(p.type) || !r.u16(p.name_alg) || !r.u32(p.attributes) ||
      !tpm2b(r, p.auth_policy)) {
    return decode("TPMT_PUBLIC truncated");
  }
  if (p.type == kAlgRsa) {
    if (!sym_def_object(r, p.symmetric) || !asym_scheme(r, p.scheme, p.scheme_hash) ||
        !r.u16(p.rsa_key_bits) || !r.u32(p.rsa_exponent)) {
      return decode("TPMS_RSA_PARMS malformed");
    }
    if (!tpm2b(r, p.rsa_n)) return decode("TPMT_PUBLIC unique.rsa truncated");
  } else if (p.type == kAlgEcc) {
    if (!sym_def_object(r, p.symmetric) || !asym_scheme(r, p.scheme, p.scheme_hash) ||
        !r.u16(p.curve) || !kdf_scheme(r)) {
      return decode("TPMS_ECC_PARMS malformed");
    }
    if (!tpm2b(r, p.ecc_x) || !tpm2b(r, p.ecc_y)) {
      return decode("TPMT_PUBLIC unique.ecc truncated");
    }
  } else {
    return decode("TPMT_PUBLIC type " + hex16(p.type) + " is not RSA (0x0001) or ECC (0x0023)");
  }
  if (!r.empty()) return decode("TPMT_PUBLIC has trailing bytes");
  p.marshaled.assign(tpmt_public.begin(), tpmt_public.end());
  return p;
}

Result<Public> parse_tpm2b_public(ByteView tpm2b_public) {
  wire::Reader r(tpm2b_public);
  ByteView body;
  if (!r.prefixed_u16(body)) return decode("TPM2B_PUBLIC size exceeds the input");
  if (!r.empty()) return decode("TPM2B_PUBLIC has trailing bytes");
  return parse_public(body);
}

Result<UniquePtr<EVP_PKEY>> public_to_pkey(const Public& pub) {
  UniquePtr<OSSL_PARAM_BLD> bld(OSSL_PARAM_BLD_new());
  if (!bld) return decode("out of memory");
  const char* key_type;
  Bytes point;
  UniquePtr<BIGNUM> n, e;
  if (pub.type == kAlgEcc) {
    key_type = "EC";
    const char* group = curve_group(pub.curve);
    size_t len = curve_bytes(pub.curve);
    if (group == nullptr) return decode("TPMT_PUBLIC curve " + hex16(pub.curve) + " unsupported");
    if (pub.ecc_x.size() > len || pub.ecc_y.size() > len || pub.ecc_x.empty() ||
        pub.ecc_y.empty()) {
      return decode("TPMS_ECC_POINT coordinates do not fit the curve");
    }
    // Uncompressed point 04 || x || y, coordinates left-padded to the field size.
    point.assign(1 + 2 * len, 0);
    point[0] = 0x04;
    std::copy(pub.ecc_x.begin(), pub.ecc_x.end(), point.begin() + 1 + (len - pub.ecc_x.size()));
    std::copy(pub.ecc_y.begin(), pub.ecc_y.end(),
              point.begin() + 1 + len + (len - pub.ecc_y.size()));
    if (!OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                          point.size())) {
      return decode("out of memory");
    }
  } else if (pub.type == kAlgRsa) {
    key_type = "RSA";
    if (pub.rsa_n.empty()) return decode("TPMT_PUBLIC unique.rsa is empty");
    // Part 2 TPMI_RSA_KEY_BITS: the TPM's RSA sizes; unique.rsa is exactly keyBits long
    // with its top bit set. Without this a 64 KiB "modulus" under keyBits = 2048 was
    // accepted, and verifying with it costs seconds of CPU per quote.
    uint16_t bits = pub.rsa_key_bits;
    if (bits != 1024 && bits != 2048 && bits != 3072 && bits != 4096)
      return decode("TPMT_PUBLIC keyBits " + std::to_string(bits) +
                    " is not an RSA size a TPM uses (1024, 2048, 3072, 4096)");
    if (pub.rsa_n.size() != bits / 8u || (pub.rsa_n[0] & 0x80) == 0)
      return decode("TPMT_PUBLIC unique.rsa is " + std::to_string(pub.rsa_n.size()) +
                    " bytes, not a " + std::to_string(bits) + "-bit modulus (keyBits)");
    // Part 2 TPMS_RSA_PARMS: "exponent ... zero indicates that the exponent is the default
    // of 2^16 + 1".
    uint32_t exponent = pub.rsa_exponent == 0 ? 65537 : pub.rsa_exponent;
    n.reset(BN_bin2bn(pub.rsa_n.data(), static_cast<int>(pub.rsa_n.size()), nullptr));
    e.reset(BN_new());
    if (!n || !e || !BN_set_word(e.get(), exponent) ||
        !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) ||
        !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get())) {
      return decode("out of memory");
    }
  } else {
    return decode("TPMT_PUBLIC type " + hex16(pub.type) + " is not RSA or ECC");
  }
  UniquePtr<OSSL_PARAM> params(OSSL_PARAM_BLD_to_param(bld.get()));
  UniquePtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, key_type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    ERR_clear_error();
    return decode("TPMT_PUBLIC does not hold a valid " + std::string(key_type) + " public key");
  }
  UniquePtr<EVP_PKEY> pkey(raw);
  if (pub.type == kAlgEcc) {
    // Reject points that are not on the curve (fromdata does not check).
    UniquePtr<EVP_PKEY_CTX> check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
    if (!check || EVP_PKEY_public_check(check.get()) != 1) {
      ERR_clear_error();
      return decode("TPMT_PUBLIC ECC point is not on the curve");
    }
  }
  return pkey;
}

const EVP_MD* tpm_md(uint16_t alg) {
  switch (alg) {
    case kAlgSha1: return EVP_sha1();
    case kAlgSha256: return EVP_sha256();
    case kAlgSha384: return EVP_sha384();
    case kAlgSha512: return EVP_sha512();
    default: return nullptr;
  }
}

Result<Bytes> tpm_hash(uint16_t alg, ByteView data) {
  const EVP_MD* md = tpm_md(alg);
  if (md == nullptr) return decode("hash algorithm " + hex16(alg) + " unsupported");
  Bytes out(static_cast<size_t>(EVP_MD_get_size(md)));
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr) != 1 ||
      len != out.size()) {
    return decode("digest failed");
  }
  return out;
}

Result<Bytes> public_name(const Public& pub) {
  // Part 1 §16 "Names": Name = nameAlg || H_nameAlg(TPMT_PUBLIC).
  auto h = tpm_hash(pub.name_alg, view(pub.marshaled));
  if (!h.ok()) return decode("TPMT_PUBLIC nameAlg " + hex16(pub.name_alg) + " unsupported");
  Bytes name{static_cast<uint8_t>(pub.name_alg >> 8), static_cast<uint8_t>(pub.name_alg)};
  name.insert(name.end(), h->begin(), h->end());
  return name;
}

Result<Bytes> spki_der(EVP_PKEY* pkey) {
  int len = i2d_PUBKEY(pkey, nullptr);
  if (len <= 0) return decode("cannot encode the AK as SubjectPublicKeyInfo");
  Bytes out(static_cast<size_t>(len));
  uint8_t* p = out.data();
  if (i2d_PUBKEY(pkey, &p) != len) return decode("cannot encode the AK as SubjectPublicKeyInfo");
  return out;
}

Result<Bytes> spki_sha256(EVP_PKEY* pkey) {
  auto der = spki_der(pkey);
  if (!der.ok()) return der.error();
  return tpm_hash(kAlgSha256, view(*der));
}

}  // namespace exattest::tpm2
