// PROTOCOL.md §7 failure reasons: stable codes, names and human texts.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace exattest {

// PROTOCOL.md §7: the code travels in RESULT.reason and is the OpenSSL reason code.
enum class Reason : uint8_t {
  kNone = 0,
  kNotNegotiated = 1,
  kProtocolError = 2,
  kDecodeError = 3,
  kBadSignature = 4,
  kBadFinished = 5,
  kContextMismatch = 6,
  kUnsupportedExtension = 7,
  kBadCertificate = 8,
  kBindingMismatch = 9,
  kUntrustedAk = 10,
  kPcrMismatch = 11,
  kNoEvidence = 12,
  kAttesterUnavailable = 13,
  kPolicyError = 14,
  kPolicyViolation = 15,
};

inline constexpr uint8_t kMaxReason = 15;

// "pcr_mismatch"; "none" for kNone.
std::string_view reason_name(Reason r);
// Short human text, e.g. "PCR values differ from the policy".
std::string_view reason_text(Reason r);
// Code 1..15 -> Reason; nullopt outside that range.
std::optional<Reason> reason_from_code(unsigned code);
// "pcr_mismatch" -> Reason; nullopt for unknown names.
std::optional<Reason> reason_from_name(std::string_view name);

}  // namespace exattest
