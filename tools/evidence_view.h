// JSON views of TPM 2.0 Evidence (PROTOCOL.md §6) and tpm2-tools style raw files of it.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "attesters/tpm2/evidence.h"
#include "attesters/tpm2/tpm_structs.h"
#include "common/bytes.h"
#include "common/result.h"

namespace exattest::cli {

// The decoded TPMS_ATTEST fields (magic, type, qualifiedSigner, extraData, clockInfo,
// firmwareVersion, pcrSelect, pcrDigest).
nlohmann::ordered_json attest_json(const tpm2::QuoteAttest& a);

// Everything in an evidence map: attest (or attest_error), signature, ak, pcrs, certs, log.
// `ok` is false when a part does not parse (the JSON then says which and why).
nlohmann::ordered_json evidence_json(const tpm2::EvidenceParts& parts, bool& ok);

// A TCG PC Client event log (evidence key 6, or a binary_bios_measurements file), decoded:
// format, Spec ID banks, every event (index, PCR, type name, digests, and the decoded UEFI
// variable, image path or text where there is one), the Secure Boot state of PCR 7 and the
// replayed PCR values per bank. `ok` is false when it does not parse ("error" says why).
nlohmann::ordered_json event_log_json(ByteView log, bool& ok);

// "sha256:0" -> hex for each key-4 value, in pcrSelect order. Fails when the count or the
// sizes do not match the selection (kPcrMismatch would be the verifier's verdict; this is
// only a view, so kDecodeError).
Result<nlohmann::ordered_json> pcr_values_json(const tpm2::QuoteAttest& a,
                                               const std::vector<Bytes>& values);

// tpm2-tools' "serialized" PCR file for tpm2_checkquote -f (see evidence_view.cc).
Result<Bytes> tpm2_tools_serialized_pcrs(const tpm2::QuoteAttest& a,
                                         const std::vector<Bytes>& values);

// Writes the parts as tpm2-tools files into dir (created if missing):
//   quote.attest  TPMS_ATTEST (tpm2_quote -m)     quote.sig  TPMT_SIGNATURE (-s)
//   ak.tpmt       TPMT_PUBLIC                      ak.pub     TPM2B_PUBLIC ("tss", -u)
//   ak.pem        SPKI PEM (-u)                    pcrs.values concatenated PCR values (-f)
//   pcrs.sel      the selection (tpm2 -l syntax)       nonce.hex  extraData as hex (-q)
//   pcrs.ser      tpm2-tools "serialized" PCRs (tpm2_checkquote -f, no -l needed)
Status write_raw_parts(const tpm2::EvidenceParts& parts, const std::string& dir);

}  // namespace exattest::cli
