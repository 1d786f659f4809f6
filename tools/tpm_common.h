// TPM access shared by `ak`, `quote`, `policy create` and `doctor`.
#pragma once

#include <string>

#include "attesters/tpm2/attester.h"
#include "cli.h"

namespace exattest::cli {

OptionSpec tcti_option();
OptionSpec pcrs_option();
OptionSpec ak_alg_option();

// TCTI, PCR selection (when `with_pcrs`) and AK algorithm from the command line, the
// environment and OPENSSL_CONF. kPolicyError (a usage error for the CLI) on a bad --pcrs or
// --ak-alg; the detail names the option.
Result<tpm2::Tpm2Config> tpm_config(const Args& args, bool with_pcrs);

// Prints a TPM failure naming the TCTI and the fix; returns kExitUsage (TPM unreachable is an
// environment error, docs/cli.md).
int tpm_failure(std::string_view cmd, const Error& e, const std::string& tcti);

}  // namespace exattest::cli
