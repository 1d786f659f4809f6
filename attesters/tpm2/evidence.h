// TPM 2.0 Evidence codec: the PROTOCOL.md §6 CBOR map and its CMW record wrapper.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "attesters/tpm2/binding_tree.h"
#include "common/bytes.h"
#include "common/result.h"

namespace exattest::tpm2 {

// PROTOCOL.md §1/§6: the evidence media type of the CMW record.
inline constexpr std::string_view kEvidenceMediaType = "application/vnd.exattest.tpm2-quote+cbor";
// Older media type used by the proto-swtpm vectors; accepted only when passed explicitly.
inline constexpr std::string_view kLegacyEvidenceMediaType =
    "application/vnd.example.tpm2-quote+cbor";

// The parts of tpm2-quote-evidence (PROTOCOL.md §6). Bytes are exactly as marshaled by the TPM.
struct EvidenceParts {
  Bytes attest;                    // key 1: TPMS_ATTEST (no TPM2B size)
  Bytes signature;                 // key 2: TPMT_SIGNATURE
  Bytes ak_public;                 // key 3: TPMT_PUBLIC (no TPM2B size)
  std::vector<Bytes> pcr_values;   // key 4: in pcrSelect order (bank, then index); non-empty
  std::vector<Bytes> ak_certs;     // key 5: DER AK certificate first, then intermediates
  std::optional<Bytes> event_log;  // key 6: TCG crypto-agile event log
  // key 7: this connection's leaf in the quote's binding tree (PROTOCOL.md §6.1). REQUIRED in
  // version-2 Evidence; absent only when a version-1 map was decoded with TreeKey::kOptional.
  std::optional<TreePosition> tree;
};

// Whether decode_evidence accepts a map without key 7. Appraisal never does (PROTOCOL.md
// §6.1: "Evidence without it, the version-1 form, is decode_error"); kOptional exists so that
// tools and tests can still look at the quote inside version-1 Evidence (the shared vectors).
enum class TreeKey { kRequired, kOptional };

// PROTOCOL.md §6 map in RFC 8949 §4.2.1 deterministic encoding. Key 5 is omitted when
// ak_certs is empty, key 6 when event_log is absent, key 7 when tree is absent.
Bytes encode_evidence(const EvidenceParts& parts);

// Strict decoder: deterministic encoding only, no duplicate keys, no trailing bytes, integer
// keys only, keys 1-4 and 7 required; unknown integer keys are skipped after a well-formedness
// check; key 7 within PROTOCOL.md §6.1's limits. Every failure is kDecodeError.
Result<EvidenceParts> decode_evidence(ByteView map_cbor, TreeKey tree = TreeKey::kRequired);

// [media_type, bstr .cbor evidence, 4] (PROTOCOL.md §6; 4 = the Evidence indicator).
Bytes wrap_cmw(ByteView evidence_cbor, std::string_view media_type = kEvidenceMediaType);

// Accepts exactly the 3-element record with this media type and indicator 4, then decodes the
// evidence strictly (key 7 required). Anything else is kDecodeError (PROTOCOL.md §6).
Result<EvidenceParts> unwrap_cmw(ByteView cmw, std::string_view media_type = kEvidenceMediaType);

}  // namespace exattest::tpm2
