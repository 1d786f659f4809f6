// Exact parsers for the TPM 2.0 structures in a quote: TPMS_ATTEST, TPMT_SIGNATURE, TPMT_PUBLIC.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include <openssl/evp.h>

#include "common/bytes.h"
#include "common/ossl_ptr.h"
#include "common/result.h"

namespace exattest::tpm2 {

// TPM 2.0 Part 2 constants used here.
inline constexpr uint32_t kTpmGeneratedValue = 0xff544347;  // TPM_GENERATED_VALUE
inline constexpr uint16_t kStAttestQuote = 0x8018;          // TPM_ST_ATTEST_QUOTE
inline constexpr uint16_t kStAttestCertify = 0x8017;        // TPM_ST_ATTEST_CERTIFY
inline constexpr uint32_t kRhEndorsement = 0x4000000b;      // TPM_RH_ENDORSEMENT
inline constexpr uint16_t kAlgRsa = 0x0001;
inline constexpr uint16_t kAlgNull = 0x0010;
inline constexpr uint16_t kAlgRsassa = 0x0014;
inline constexpr uint16_t kAlgRsapss = 0x0016;
inline constexpr uint16_t kAlgEcdsa = 0x0018;
inline constexpr uint16_t kAlgEcc = 0x0023;
inline constexpr uint16_t kEccNistP256 = 0x0003;
inline constexpr uint16_t kEccNistP384 = 0x0004;
inline constexpr uint16_t kEccNistP521 = 0x0005;
// TPMA_OBJECT bits.
inline constexpr uint32_t kAttrFixedTpm = 1u << 1;
inline constexpr uint32_t kAttrFixedParent = 1u << 4;
inline constexpr uint32_t kAttrSensitiveDataOrigin = 1u << 5;
inline constexpr uint32_t kAttrUserWithAuth = 1u << 6;
inline constexpr uint32_t kAttrNoDa = 1u << 10;
inline constexpr uint32_t kAttrRestricted = 1u << 16;
inline constexpr uint32_t kAttrSign = 1u << 18;

// TPMS_PCR_SELECTION: one bank's bitmap, as marshaled (bit n of octet n/8 = PCR n).
struct TpmsPcrSelection {
  uint16_t hash = 0;
  Bytes select;  // sizeofSelect octets (at most 4)
  // Selected PCR indices, ascending.
  std::vector<uint32_t> indices() const;
};

struct ClockInfo {
  uint64_t clock = 0;
  uint32_t reset_count = 0;
  uint32_t restart_count = 0;
  uint8_t safe = 0;
};

// TPMS_ATTEST whose attested union is TPMS_QUOTE_INFO.
struct QuoteAttest {
  uint32_t magic = 0;
  uint16_t type = 0;
  Bytes qualified_signer;  // TPM2B_NAME body
  Bytes extra_data;        // TPM2B_DATA body: the qualifyingData (PROTOCOL.md §6: binding)
  ClockInfo clock_info;
  uint64_t firmware_version = 0;
  std::vector<TpmsPcrSelection> pcr_select;  // TPML_PCR_SELECTION
  Bytes pcr_digest;                          // TPM2B_DIGEST body
};

// PROTOCOL.md §6 step 1: parses exactly (a trailing byte is an error), requires magic =
// TPM_GENERATED_VALUE and type = TPM_ST_ATTEST_QUOTE. Any failure is kDecodeError; another
// attestation type (e.g. certify, 0x8017) is "not a quote".
Result<QuoteAttest> parse_quote_attest(ByteView attest);

// TPMT_SIGNATURE for ECDSA, RSASSA or RSAPSS.
struct Signature {
  uint16_t sig_alg = 0;   // kAlgEcdsa, kAlgRsassa, kAlgRsapss
  uint16_t hash_alg = 0;  // TPMI_ALG_HASH
  Bytes der_or_raw;       // ECDSA: DER ECDSA-Sig-Value; RSA: the raw signature
};
// Exact parser; kDecodeError for other algorithms, malformed input or trailing bytes.
Result<Signature> parse_signature(ByteView sig);

// TPMT_PUBLIC of an RSA or ECC key.
struct Public {
  uint16_t type = 0;  // kAlgRsa or kAlgEcc
  uint16_t name_alg = 0;
  uint32_t attributes = 0;
  Bytes auth_policy;
  uint16_t symmetric = kAlgNull;
  uint16_t scheme = kAlgNull;
  uint16_t scheme_hash = 0;
  uint16_t rsa_key_bits = 0;
  uint32_t rsa_exponent = 0;  // 0 means 65537 (Part 2, TPMS_RSA_PARMS)
  uint16_t curve = 0;
  Bytes rsa_n;             // unique.rsa
  Bytes ecc_x, ecc_y;      // unique.ecc
  Bytes marshaled;         // the exact TPMT_PUBLIC bytes (input of the Name)
};
// Exact parser of a TPMT_PUBLIC (no size prefix).
Result<Public> parse_public(ByteView tpmt_public);
// Exact parser of a TPM2B_PUBLIC (u16 size || TPMT_PUBLIC), as tpm2-tools writes "tss" files.
Result<Public> parse_tpm2b_public(ByteView tpm2b_public);
// The public key as an EVP_PKEY (P-256/384/521 or RSA); kDecodeError if it is not a valid key.
Result<UniquePtr<EVP_PKEY>> public_to_pkey(const Public& pub);
// Name = nameAlg(2) || H_nameAlg(TPMT_PUBLIC) (Part 1 §16); kDecodeError for unknown nameAlg.
Result<Bytes> public_name(const Public& pub);

// H_alg(data) for a TPM hash algorithm id; kDecodeError for unknown algorithms.
Result<Bytes> tpm_hash(uint16_t alg, ByteView data);
// The OpenSSL digest for a TPM hash algorithm id; nullptr when unknown.
const EVP_MD* tpm_md(uint16_t alg);

// DER SubjectPublicKeyInfo of a key, and its SHA-256 (PROTOCOL.md §9 trusted_aks).
Result<Bytes> spki_der(EVP_PKEY* pkey);
Result<Bytes> spki_sha256(EVP_PKEY* pkey);

}  // namespace exattest::tpm2
