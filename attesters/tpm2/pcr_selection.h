// PCR selections as written in config and on the command line ("sha256:0,1,2-7+sha1:0").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <tss2/tss2_tpm2_types.h>

#include "common/bytes.h"
#include "common/result.h"

namespace exattest::tpm2 {

inline constexpr uint16_t kAlgSha1 = 0x0004;    // TPM_ALG_SHA1
inline constexpr uint16_t kAlgSha256 = 0x000B;  // TPM_ALG_SHA256
inline constexpr uint16_t kAlgSha384 = 0x000C;  // TPM_ALG_SHA384
inline constexpr uint16_t kAlgSha512 = 0x000D;  // TPM_ALG_SHA512
inline constexpr uint32_t kMaxPcrIndex = 23;    // PC Client platforms have PCRs 0..23

// One bank: a hash algorithm and its PCR indices, ascending, no duplicates.
struct PcrBank {
  uint16_t hash_alg = kAlgSha256;
  std::vector<uint32_t> pcrs;
  bool operator==(const PcrBank&) const = default;
};

// Banks in the order given (a TPM quotes them in that order, PROTOCOL.md §6 key 4).
struct PcrSelection {
  std::vector<PcrBank> banks;
  bool operator==(const PcrSelection&) const = default;
  // Number of PCR values a quote over this selection carries.
  size_t count() const;
};

// Parses "<bank>:<list>[+<bank>:<list>...]". bank = sha1 | sha256 | sha384 | sha512;
// list = comma-separated decimal indices 0..23 or inclusive ranges "a-b" (a <= b). Indices
// are sorted; a duplicate index, an empty list, a repeated bank, spaces or anything else is
// kPolicyError naming the offending part. An empty string is an error too.
Result<PcrSelection> parse_pcr_selection(std::string_view spec);

// Canonical text form: "sha256:0,1,2" (no ranges), banks joined with '+'.
std::string format_pcr_selection(const PcrSelection& sel);

// "sha256" -> kAlgSha256, ...; 0 when unknown.
uint16_t hash_alg_from_name(std::string_view name);
// kAlgSha256 -> "sha256"; "" when unknown.
std::string_view hash_alg_name(uint16_t alg);
// "sha256:7": how a PCR of a bank is named in Verdict::pcrs, logs and JSON.
std::string pcr_name(uint16_t alg, uint32_t index);
// Digest size of a TPM hash algorithm; 0 when unknown.
size_t hash_alg_digest_size(uint16_t alg);

// For ESAPI callers (TPM2_Quote, TPM2_PCR_Read): sizeofSelect = 3.
TPML_PCR_SELECTION to_tpml_pcr_selection(const PcrSelection& sel);

}  // namespace exattest::tpm2
