// Fuzz target: the appraisal policy file (attesters/tpm2 load_policy_json, PROTOCOL.md §9:
// "an unknown field or a bad value is a `policy_error` naming it"). Invariants: rejections
// are policy_error; an accepted policy written back (policy_to_json) loads to the same
// policy. `ak_ca` paths resolve against an empty directory, so only absolute paths can name
// a file (the fuzzer cannot make the target read the machine's files by relative name).
#include <filesystem>
#include <string_view>

#include "attesters/tpm2/policy.h"
#include "fuzz_support.h"

using namespace exattest;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  // An absolute ak_ca could name a device (/dev/zero, a FIFO) and block; the policy file
  // is the operator's, not the peer's, so such inputs are out of scope here.
  if (in.find("\"/") != std::string_view::npos || in.find("\\/") != std::string_view::npos ||
      in.find("\\u") != std::string_view::npos)
    return 0;
  static const std::filesystem::path kBase = "/nonexistent-exattest-fuzz";
  auto p = tpm2::load_policy_json(in, kBase);
  if (!p.ok()) {
    FUZZ_CHECK(p.reason() == Reason::kPolicyError);
    return 0;
  }
  FUZZ_CHECK(!p->trusted_aks.empty() || p->ak_ca_path.has_value());
  std::string text = tpm2::policy_to_json(*p).dump();
  auto again = tpm2::load_policy_json(text, kBase);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->trusted_aks == p->trusted_aks && again->ak_ca_path == p->ak_ca_path &&
             again->ak_ca_certs == p->ak_ca_certs && again->ak_eku == p->ak_eku &&
             again->pcr_bank == p->pcr_bank && again->pcrs == p->pcrs &&
             again->ak_primary == p->ak_primary &&
             again->require_clock_safe == p->require_clock_safe);
  return 0;
}
