#include "attesters/tpm2/ak_template.h"

#include <tss2/tss2_mu.h>

#include <string>

namespace exattest::tpm2 {

TPM2B_PUBLIC ak_template(AkAlgorithm alg) {
  TPM2B_PUBLIC in{};  // zeroed: empty authPolicy and empty unique (PROTOCOL.md §6)
  TPMT_PUBLIC& p = in.publicArea;
  // PROTOCOL.md §6: "nameAlg SHA-256, objectAttributes 0x00050472, empty authPolicy".
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = kAkAttributes;
  p.authPolicy.size = 0;
  if (alg == AkAlgorithm::kEccP256) {
    // PROTOCOL.md §6: "type ECC ... symmetric NULL, scheme ECDSA with SHA-256, curve NIST
    // P-256, kdf NULL, empty unique".
    p.type = TPM2_ALG_ECC;
    TPMS_ECC_PARMS& e = p.parameters.eccDetail;
    e.symmetric.algorithm = TPM2_ALG_NULL;
    e.scheme.scheme = TPM2_ALG_ECDSA;
    e.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
    e.curveID = TPM2_ECC_NIST_P256;
    e.kdf.scheme = TPM2_ALG_NULL;
    p.unique.ecc.x.size = 0;
    p.unique.ecc.y.size = 0;
  } else {
    // Same attributes; RSASSA with SHA-256, 2048-bit modulus, default exponent (0 = 65537).
    p.type = TPM2_ALG_RSA;
    TPMS_RSA_PARMS& r = p.parameters.rsaDetail;
    r.symmetric.algorithm = TPM2_ALG_NULL;
    r.scheme.scheme = TPM2_ALG_RSASSA;
    r.scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
    r.keyBits = 2048;
    r.exponent = 0;
    p.unique.rsa.size = 0;
  }
  in.size = 0;  // ESAPI marshals TPM2B_PUBLIC and computes the size itself
  return in;
}

Bytes ak_template_bytes(AkAlgorithm alg) {
  TPM2B_PUBLIC t = ak_template(alg);
  Bytes out(sizeof(TPMT_PUBLIC));
  size_t off = 0;
  if (Tss2_MU_TPMT_PUBLIC_Marshal(&t.publicArea, out.data(), out.size(), &off) != TSS2_RC_SUCCESS) {
    return {};
  }
  out.resize(off);
  return out;
}

Result<AkAlgorithm> ak_algorithm_from_name(std::string_view name) {
  if (name == "ecc" || name == "ecc256" || name == "p256" || name == "ecc-p256") {
    return AkAlgorithm::kEccP256;
  }
  if (name == "rsa" || name == "rsa2048") return AkAlgorithm::kRsa2048;
  return make_error(Reason::kPolicyError,
                    "unknown AK algorithm '" + std::string(name) + "'; use ecc256 or rsa2048");
}

std::string_view ak_algorithm_name(AkAlgorithm alg) {
  return alg == AkAlgorithm::kEccP256 ? "ecc256" : "rsa2048";
}

}  // namespace exattest::tpm2
