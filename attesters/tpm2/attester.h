// TPM 2.0 attester over ESAPI: one quote per binding tree (PROTOCOL.md §4, §6, §6.1).
#pragma once

#include <sys/types.h>

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "attesters/attester.h"
#include "attesters/tpm2/ak_template.h"
#include "attesters/tpm2/evidence.h"
#include "attesters/tpm2/pcr_selection.h"
#include "common/bytes.h"
#include "common/result.h"

namespace exattest::tpm2 {

struct Tpm2Config {
  // tctildr configuration string: "swtpm:host=127.0.0.1,port=2321", "device:/dev/tpmrm0",
  // "mssim:...". Empty = tctildr's default search (tabrmd, tpmrm0, tpm0, ...).
  std::string tcti;
  // PCRs to quote; quoted in this order (bank, then index), PROTOCOL.md §6 key 4.
  PcrSelection pcrs;
  AkAlgorithm ak_alg = AkAlgorithm::kEccP256;
  std::string media_type = std::string(kEvidenceMediaType);
};

// The AK as the CLI shows it and a policy pins it (PROTOCOL.md §9 trusted_aks).
struct AkInfo {
  Bytes spki_der;           // DER SubjectPublicKeyInfo
  std::string spki_pem;     // "-----BEGIN PUBLIC KEY-----..."
  std::string spki_sha256;  // "sha256:<hex of SHA-256(spki_der)>"
  Bytes tpmt_public;        // marshaled TPMT_PUBLIC (PROTOCOL.md §6 key 3)
  Bytes name;               // nameAlg || H(TPMT_PUBLIC)
};

// Makes TPM 2.0 Evidence. Thread-safe and fork-safe:
//  * the ESAPI context is opened lazily on first use, per process (pid check): a child after
//    fork() opens its own TCTI connection and never touches its parent's (the inherited
//    context is abandoned, not finalized, so nothing is sent on the parent's socket);
//  * every ESYS call runs under one process-wide mutex (pthread_atfork keeps it usable in a
//    child forked while another thread quotes);
//  * the AK is loaded for each operation and flushed right after (also on error paths), so no
//    transient handle outlives a call: a killed worker leaks no TPM object slot
//    (swtpm/simulators without a resource manager have only 3). It is created once with
//    TPM2_CreatePrimary and its context saved (TPM2_ContextSave); later operations load that
//    context (TPM2_ContextLoad), and recreate the AK if the TPM no longer accepts it;
//  * PCR values read for one quote are reused for the next while the signed pcrDigest proves
//    them current, so a steady-state quote costs three TPM commands (ContextLoad, Quote,
//    FlushContext) instead of four;
//  * tpm2-tss's own stderr logging is silenced (TSS2_LOG=all+NONE) unless the user set
//    TSS2_LOG; errors are reported through Result with Tss2_RC_Decode'd codes instead.
// Any TCTI/ESYS failure is kAttesterUnavailable with a detail naming the TCTI and the fix.
class Tpm2Attester : public Attester {
 public:
  explicit Tpm2Attester(Tpm2Config config);
  ~Tpm2Attester() override;
  Tpm2Attester(const Tpm2Attester&) = delete;
  Tpm2Attester& operator=(const Tpm2Attester&) = delete;

  // The CMW record (PROTOCOL.md §6) of a quote over config().pcrs for this one binding: a
  // binding tree of one, key 7 = [0, 1, []], qualifyingData = SHA-256(0x00 || binding).
  Result<Bytes> evidence(ByteView binding) override;

  // One quote for all `bindings` (1..4096 of them, each 1..64 bytes): qualifyingData is the
  // PROTOCOL.md §6.1 root of the tree over them, in the given order, and the i-th record
  // carries that quote with key 7 = bindings[i]'s leaf. All fail together.
  Result<std::vector<Bytes>> evidence_batch(std::span<const ByteView> bindings);

  // The evidence parts of one quote: TPMS_ATTEST exactly as signed, TPMT_SIGNATURE, the AK's
  // TPMT_PUBLIC, and the PCR values in the quote's pcrSelect order, with key 7 for each
  // binding (quote_batch) or for a tree of one (quote). The values are always the
  // ones the signed pcrDigest covers: the previous quote's values when the digest matches
  // them, else a fresh TPM2_PCR_Read; if a PCR changed between the quote and that read, the
  // quote is retried (at most 3 attempts).
  Result<std::vector<EvidenceParts>> quote_batch(std::span<const ByteView> bindings);
  Result<EvidenceParts> quote(ByteView binding);

  // The AK's public key (cached per process after the first success).
  Result<AkInfo> ak_public();

  // Current PCR values, in selection order (bank, then ascending index).
  Result<std::vector<Bytes>> read_pcrs(const PcrSelection& selection);

  const Tpm2Config& config() const;

  // TPM commands this attester has issued in this process (a child forked after some calls
  // starts from its parent's figures). For tests and benchmarks.
  struct Counters {
    uint64_t create_primary = 0;
    uint64_t context_load = 0;
    uint64_t pcr_read = 0;
    uint64_t quote = 0;
  };
  Counters counters() const;

  // Diagnostics: the pid that opened the current ESYS context, 0 when none is open. After
  // fork(), a child's first call opens its own context, so this becomes the child's pid.
  pid_t context_pid() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace exattest::tpm2
