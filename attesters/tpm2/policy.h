// The appraisal policy file (PROTOCOL.md §9): load, validate, write back.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "attesters/tpm2/pcr_selection.h"
#include "common/bytes.h"
#include "common/result.h"

namespace exattest::tpm2 {

// TCG EK Credential Profile: tcg-kp-AIKCertificate, the EKU of an AK certificate.
inline constexpr const char* kTcgAkEku = "2.23.133.8.3";

struct Policy {
  // SHA-256 of trusted AKs' DER SubjectPublicKeyInfo, 32 bytes each ("trusted_aks").
  std::vector<Bytes> trusted_aks;
  // "ak_ca": the PEM file as written in the policy, and its certificates (DER, >= 1).
  std::optional<std::string> ak_ca_path;
  std::vector<Bytes> ak_ca_certs;
  // "ak_eku": the extendedKeyUsage OID (dotted decimal) an AK certificate chaining to ak_ca
  // must carry; unset = tcg-kp-AIKCertificate (kTcgAkEku). Only with ak_ca.
  std::optional<std::string> ak_eku;
  uint16_t pcr_bank = kAlgSha256;  // "pcr_bank": sha256 | sha384 | sha1
  std::map<uint32_t, Bytes> pcrs;  // "pcrs": reference values of pcr_bank, index 0..23
  // "pcrs": "any": the policy judges nothing about the boot, and says so. The loader refuses
  // a policy that judges the boot neither way (no "pcrs", or "pcrs": {}).
  bool pcrs_any = false;
  bool ak_primary = true;           // PROTOCOL.md §6 step 3
  bool require_clock_safe = false;  // PROTOCOL.md §6 step 7
  // "secure_boot": "required" (issue #16, docs/protocol-notes.md): the Evidence's event log
  // (key 6) must replay to the quoted PCR 7 and show Secure Boot enabled.
  bool secure_boot_required = false;
};

// Parses and validates policy JSON. Relative `ak_ca` paths are resolved against base_dir
// (the current directory when empty). Every failure is kPolicyError whose detail names the
// field and what is expected. Duplicate JSON keys are rejected too.
Result<Policy> load_policy_json(std::string_view json_text,
                                const std::filesystem::path& base_dir = {});

// Reads `path` and loads it; relative `ak_ca` paths resolve against the policy's directory.
Result<Policy> load_policy_file(const std::filesystem::path& path);

// The §9 JSON form of a policy (with "version": 1), as `exattest policy create` writes it.
// load_policy_json(policy_to_json(p).dump()) yields p again.
nlohmann::json policy_to_json(const Policy& policy);

}  // namespace exattest::tpm2
