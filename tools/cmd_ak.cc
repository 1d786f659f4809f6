// `exattest ak`: the TPM's attestation key, for enrolment in a policy's trusted_aks.
#include <iostream>

#include "tpm_common.h"

namespace exattest::cli {

namespace {

const CommandSpec& spec() {
  static const CommandSpec s{
      .name = "ak",
      .usage = {"ak [--tcti TCTI] [--ak-alg ALG]"},
      .summary =
          "Print the TPM's attestation key as a PEM SubjectPublicKeyInfo, then its\n"
          "sha256:<hex> SPKI hash (the value for trusted_aks, PROTOCOL.md §9).",
      .description =
          "The AK is the endorsement-hierarchy primary key of the PROTOCOL.md §6 template:\n"
          "the same TPM always yields the same AK; nothing is stored.",
      .options = {tcti_option(), ak_alg_option()},
      .exit_codes =
          "  0  printed\n"
          "  2  usage error, or the TPM is unreachable (attester_unavailable)\n",
  };
  return s;
}

}  // namespace

int cmd_ak(const std::vector<std::string>& argv) {
  int exit_code = 0;
  auto args = parse_or_exit(spec(), argv, exit_code);
  if (!args) return exit_code;
  auto config = tpm_config(*args, /*with_pcrs=*/false);
  if (!config) return usage_error(spec(), config.error().detail);
  std::string tcti = config->tcti;
  tpm2::Tpm2Attester attester(std::move(config).value());
  auto ak = attester.ak_public();
  if (!ak) return tpm_failure("ak", ak.error(), tcti);
  std::cout << ak->spki_pem;
  if (!ak->spki_pem.empty() && ak->spki_pem.back() != '\n') std::cout << "\n";
  std::cout << ak->spki_sha256 << "\n";
  return kExitOk;
}

}  // namespace exattest::cli
