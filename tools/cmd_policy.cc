// `exattest policy create`: a PROTOCOL.md §9 policy pinning this TPM's AK and current PCRs.
#include <iostream>

#include "attesters/tpm2/boot_appraisal.h"
#include "attesters/tpm2/eventlog.h"
#include "attesters/tpm2/policy.h"
#include "tpm_common.h"

namespace exattest::cli {

namespace {

const CommandSpec& spec() {
  static const CommandSpec s{
      .name = "policy",
      .usage = {"policy create [--tcti TCTI] [--pcrs SEL] [--ak-alg ALG] -o FILE",
                "policy create [--tcti TCTI] [--ak-alg ALG] --from-eventlog LOG -o FILE"},
      .summary =
          "Write a PROTOCOL.md §9 appraisal policy for this TPM: its AK's SPKI hash in\n"
          "trusted_aks and the current values of the selected PCRs as references.",
      .description =
          "For enrolment: run it on the attesting machine, copy FILE to the relying party and\n"
          "point `policy =` (OPENSSL_CONF) or `exattest verify --policy` at it. The selection\n"
          "must name one bank (a policy has one pcr_bank). ak_primary is true (the default AK\n"
          "is an endorsement primary) and require_clock_safe false; edit the file to change.\n"
          "With --from-eventlog LOG (this machine's binary_bios_measurements) it writes a rule\n"
          "policy instead of PCR hashes: \"secure_boot\": \"required\" and \"pcrs\": \"any\",\n"
          "after checking that LOG shows Secure Boot enabled; a firmware or kernel update then\n"
          "does not break it. The peer's Evidence must carry its event log for it to pass.",
      .options = {tcti_option(),
                  pcrs_option(),
                  ak_alg_option(),
                  {"--from-eventlog", "", "LOG",
                   "write a Secure Boot rule policy judged from LOG instead of PCR values"},
                  {"--out", "-o", "FILE",
                   "where to write the policy JSON ('-' = stdout; required)"}},
      .exit_codes =
          "  0  policy written\n"
          "  1  --from-eventlog: LOG does not parse, or shows Secure Boot disabled or unmeasured\n"
          "  2  usage error, I/O error, or the TPM is unreachable (attester_unavailable)\n",
      .positional = "create",
      .min_positional = 1,
      .max_positional = 1,
  };
  return s;
}

// Writes `policy`, after checking the loader accepts it (fail closed: never a file the
// loader would refuse).
int write_policy(const tpm2::Policy& policy, const std::string& out_path,
                 const std::string& ak_hash, const std::string& what) {
  std::string text = tpm2::policy_to_json(policy).dump(2) + "\n";
  auto check = tpm2::load_policy_json(text);
  if (!check) return fail("policy", "internal: " + describe(check.error()), kExitUsage);
  Status st =
      write_file(out_path, ByteView(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  if (!st) return fail("policy", st.error().detail, kExitUsage);
  if (out_path != "-") {
    std::cerr << "exattest policy: wrote " << out_path << " (AK " << ak_hash << ", " << what
              << ")\n";
  }
  return kExitOk;
}

}  // namespace

int cmd_policy(const std::vector<std::string>& argv) {
  int exit_code = 0;
  auto args = parse_or_exit(spec(), argv, exit_code);
  if (!args) return exit_code;
  if (args->positional()[0] != "create") {
    return usage_error(spec(), "unknown policy action '" + args->positional()[0] +
                                   "'; the only action is 'create'");
  }
  auto out_path = args->get("--out");
  if (!out_path) return usage_error(spec(), "missing -o FILE");
  auto config = tpm_config(*args, /*with_pcrs=*/true);
  if (!config) return usage_error(spec(), config.error().detail);
  if (config->pcrs.banks.size() != 1) {
    return usage_error(spec(), "--pcrs must name exactly one bank (a policy has one pcr_bank)");
  }
  bool rule = false;
  if (auto log_path = args->get("--from-eventlog")) {
    if (args->get("--pcrs")) {
      return usage_error(spec(), "--pcrs and --from-eventlog exclude each other");
    }
    auto bytes = read_file(*log_path);
    if (!bytes) return fail("policy", bytes.error().detail, kExitUsage);
    auto log = tpm2::parse_event_log(view(*bytes));
    if (!log) return fail("policy", *log_path + ": " + log.error().detail, kExitRejected);
    std::vector<uint16_t> banks;
    for (const tpm2::SpecIdAlgorithm& alg : log->algorithms) banks.push_back(alg.alg);
    Status sb = tpm2::secure_boot_enabled(*log, banks);
    if (!sb) {
      return fail(
          "policy",
          *log_path + ": " + sb.error().detail + "; a secure_boot rule would reject this machine",
          kExitRejected);
    }
    rule = true;
  }
  std::string tcti = config->tcti;
  tpm2::PcrSelection selection = config->pcrs;
  tpm2::Tpm2Attester attester(std::move(config).value());

  auto ak = attester.ak_public();
  if (!ak) return tpm_failure("policy", ak.error(), tcti);
  // PROTOCOL.md §9: "writes this file from the live TPM (its AK, its current PCR values)".
  Bytes ak_hash;
  std::string_view hash_hex = ak->spki_sha256;
  if (hash_hex.rfind("sha256:", 0) != 0 || !from_hex(hash_hex.substr(7), ak_hash)) {
    return fail("policy", "attester returned a malformed AK hash", kExitUsage);
  }
  tpm2::Policy policy;
  policy.trusted_aks.push_back(ak_hash);
  if (rule) {
    policy.pcrs_any = true;
    policy.secure_boot_required = true;
    return write_policy(policy, *out_path, ak->spki_sha256, "secure_boot rule");
  }
  auto values = attester.read_pcrs(selection);
  if (!values) return tpm_failure("policy", values.error(), tcti);
  const tpm2::PcrBank& bank = selection.banks[0];
  if (values->size() != bank.pcrs.size()) {
    return fail("policy",
                "the TPM returned " + std::to_string(values->size()) + " PCR values for " +
                    std::to_string(bank.pcrs.size()) + " selected; is the " +
                    std::string(tpm2::hash_alg_name(bank.hash_alg)) + " bank allocated?",
                kExitUsage);
  }

  policy.pcr_bank = bank.hash_alg;
  for (size_t i = 0; i < bank.pcrs.size(); ++i) policy.pcrs[bank.pcrs[i]] = (*values)[i];
  policy.ak_primary = true;
  policy.require_clock_safe = false;

  return write_policy(policy, *out_path, ak->spki_sha256, tpm2::format_pcr_selection(selection));
}

}  // namespace exattest::cli
