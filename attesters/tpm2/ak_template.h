// The attestation key (AK) templates: the PROTOCOL.md §6 ECC P-256 default and an RSA-2048 variant.
#pragma once

#include <tss2/tss2_tpm2_types.h>

#include <string_view>

#include "common/bytes.h"
#include "common/result.h"

namespace exattest::tpm2 {

enum class AkAlgorithm {
  kEccP256,  // PROTOCOL.md §6 default AK
  kRsa2048,  // optional: RSASSA-SHA256, restricted signing key
};

// PROTOCOL.md §6: "objectAttributes 0x00050472 (fixedTPM | fixedParent | sensitiveDataOrigin
// | userWithAuth | noDA | restricted | sign)".
inline constexpr TPMA_OBJECT kAkAttributes = 0x00050472;

// The TPM2B_PUBLIC passed as inPublic to TPM2_CreatePrimary under TPM_RH_ENDORSEMENT.
TPM2B_PUBLIC ak_template(AkAlgorithm alg);

// The marshaled TPMT_PUBLIC of the template (unique empty), for tests and documentation.
Bytes ak_template_bytes(AkAlgorithm alg);

// "ecc" / "ecc256" / "p256" -> kEccP256, "rsa" / "rsa2048" -> kRsa2048; kPolicyError otherwise.
Result<AkAlgorithm> ak_algorithm_from_name(std::string_view name);
std::string_view ak_algorithm_name(AkAlgorithm alg);  // "ecc256" / "rsa2048"

}  // namespace exattest::tpm2
