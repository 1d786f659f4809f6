// Appraisal of TPM 2.0 quote Evidence against a policy (PROTOCOL.md §6 steps 1-7, §9).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <openssl/evp.h>

#include "attesters/attester.h"
#include "attesters/tpm2/evidence.h"
#include "attesters/tpm2/policy.h"
#include "common/bytes.h"

namespace exattest::tpm2 {

// The raw parts of one quote, e.g. from tpm2-tools files (`exattest verify --quote`).
struct QuoteParts {
  ByteView attest;                    // TPMS_ATTEST, exactly the signed bytes
  ByteView signature;                 // TPMT_SIGNATURE
  std::optional<ByteView> ak_public;  // TPMT_PUBLIC of the AK (evidence key 3)
  // The AK as a key, for callers that only have a PEM. When both are given they must be the
  // same key. `ak_primary` needs ak_public (the Name is computed over it).
  EVP_PKEY* ak_key = nullptr;
  // In the quote's selection order. Absent: the pcrDigest is not checked and a policy that
  // lists PCRs fails with pcr_mismatch.
  std::optional<std::vector<Bytes>> pcr_values;
  std::vector<Bytes> ak_certs;        // DER, AK certificate first (evidence key 5)
};

// PROTOCOL.md §6 appraisal steps 1-7 of a bare quote, in order; the Verdict carries the
// reason of the first failed step (decode_error, binding_mismatch, untrusted_ak,
// bad_signature, pcr_mismatch, policy_violation). Step 2 compares extraData with
// `qualifying_data` itself, in constant time: for quotes made outside exattest (tpm2-tools,
// the shared vectors), or for a caller that computed the §6.1 root itself.
Verdict verify_quote(const QuoteParts& parts, ByteView qualifying_data, const Policy& policy);

// Appraisal of decoded Evidence (PROTOCOL.md §6 map) for the connection whose `binding` (§4)
// is given: step 2 recomputes the binding-tree root from `binding` and key 7 (§6.1). Evidence
// without key 7 (version 1) or outside §6.1's limits is decode_error.
Verdict verify_evidence(const EvidenceParts& evidence, ByteView binding, const Policy& policy);

// The quote inside Evidence, for verify_quote (e.g. the quote of version-1 Evidence).
QuoteParts quote_parts(const EvidenceParts& evidence);

// What an appraisal derives from an AK's TPMT_PUBLIC alone (the OpenSSL key, its SPKI hash),
// kept per appraiser for the few AKs it sees again and again (issue #7: deriving them is
// two thirds of an appraisal's CPU; OpenSSL 3's encoder behind i2d_PUBKEY dominates).
// Keyed by the exact TPMT_PUBLIC bytes; thread-safe; at most kCapacity entries.
class AkCache;

// The Appraiser the provider uses: unwraps the §6 CMW record, then the §6 steps as
// verify_evidence does, reusing the derived AK data of an AK it has seen before.
class Tpm2Appraiser : public Appraiser {
 public:
  explicit Tpm2Appraiser(Policy policy, std::string media_type = std::string(kEvidenceMediaType));
  ~Tpm2Appraiser() override;
  Verdict appraise(ByteView cmw, ByteView binding) override;
  const Policy& policy() const { return policy_; }

 private:
  Policy policy_;
  std::string media_type_;
  std::unique_ptr<AkCache> ak_cache_;
};

}  // namespace exattest::tpm2
