#include "common/reason.h"

#include <array>

namespace exattest {
namespace {

struct Entry {
  std::string_view name;
  std::string_view text;
};

// Index = code. PROTOCOL.md §7.
constexpr std::array<Entry, kMaxReason + 1> kTable = {{
    {"none", "no error"},
    {"not_negotiated", "peer did not negotiate attestation"},
    {"protocol_error", "attestation exchange protocol error"},
    {"decode_error", "malformed attestation message"},
    {"bad_signature", "signature verification failed"},
    {"bad_finished", "authenticator Finished MAC mismatch"},
    {"context_mismatch", "wrong or reused certificate_request_context"},
    {"unsupported_extension", "unsupported or misplaced extension"},
    {"bad_certificate", "authenticator certificate chain not trusted"},
    {"binding_mismatch", "evidence is not bound to this connection"},
    {"untrusted_ak", "attestation key not trusted by policy"},
    {"pcr_mismatch", "PCR values differ from the policy"},
    {"no_evidence", "peer sent no attestation evidence"},
    {"attester_unavailable", "attester (TPM) unavailable"},
    {"policy_error", "attestation policy unreadable or invalid"},
    {"policy_violation", "evidence violates the attestation policy"},
}};

}  // namespace

std::string_view reason_name(Reason r) {
  auto i = static_cast<unsigned>(r);
  return i < kTable.size() ? kTable[i].name : "unknown";
}

std::string_view reason_text(Reason r) {
  auto i = static_cast<unsigned>(r);
  return i < kTable.size() ? kTable[i].text : "unknown reason";
}

std::optional<Reason> reason_from_code(unsigned code) {
  if (code < 1 || code > kMaxReason) return std::nullopt;
  return static_cast<Reason>(code);
}

std::optional<Reason> reason_from_name(std::string_view name) {
  for (unsigned i = 1; i <= kMaxReason; ++i)
    if (kTable[i].name == name) return static_cast<Reason>(i);
  return std::nullopt;
}

}  // namespace exattest
