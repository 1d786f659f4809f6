// TPM access shared by the subcommands that talk to a TPM (see tpm_common.h).
#include "tpm_common.h"

#include "config.h"

namespace exattest::cli {

OptionSpec tcti_option() {
  return {"--tcti", "", "TCTI",
          "TPM to use, e.g. swtpm:host=127.0.0.1,port=2321 or device:/dev/tpmrm0\n"
          "(default: EXATTEST_TCTI, else `tcti` in OPENSSL_CONF's exattest\n"
          "section, else swtpm:host=127.0.0.1,port=2321)"};
}

OptionSpec pcrs_option() {
  return {"--pcrs", "", "SEL",
          "PCR selection, e.g. sha256:0-7 or sha256:0,1,7+sha1:0 (default:\n"
          "EXATTEST_PCRS, else `pcrs` in OPENSSL_CONF, else sha256:0,1,2,3,4,5,6,7)"};
}

OptionSpec ak_alg_option() {
  return {"--ak-alg", "", "ALG", "AK template: ecc256 (PROTOCOL.md §6 default AK) or rsa2048"};
}

Result<tpm2::Tpm2Config> tpm_config(const Args& args, bool with_pcrs) {
  tpm2::Tpm2Config c;
  c.tcti = resolve_tcti(args);
  if (with_pcrs) {
    std::string source;
    std::string sel = resolve_setting(args, "--pcrs", "pcrs", Config().pcrs, &source);
    auto parsed = tpm2::parse_pcr_selection(sel);
    if (!parsed) {
      return make_error(Reason::kPolicyError, "bad PCR selection from " + source + " ('" + sel +
                                                  "'): " + parsed.error().detail);
    }
    c.pcrs = std::move(parsed).value();
  }
  if (auto alg = args.get("--ak-alg")) {
    auto a = tpm2::ak_algorithm_from_name(*alg);
    if (!a) return make_error(Reason::kPolicyError, "--ak-alg: " + a.error().detail);
    c.ak_alg = *a;
  }
  return c;
}

int tpm_failure(std::string_view cmd, const Error& e, const std::string& tcti) {
  std::string msg = describe(e);
  if (msg.find(tcti) == std::string::npos) {
    msg += " (tcti=" + tcti + "; start swtpm or pass --tcti)";
  }
  return fail(cmd, msg, kExitUsage);
}

}  // namespace exattest::cli
