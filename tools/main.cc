// `exattest`: enrol, quote, verify and diagnose TPM-attested TLS (docs/cli.md).
#include <iostream>
#include <string>
#include <vector>

#include "cli.h"

namespace {

using exattest::cli::kExitOk;
using exattest::cli::kExitUsage;

struct Subcommand {
  const char* name;
  int (*run)(const std::vector<std::string>&);
  const char* summary;
};

const Subcommand kSubcommands[] = {
    {"ak", exattest::cli::cmd_ak, "print the TPM's attestation key (PEM) and its sha256: hash"},
    {"quote", exattest::cli::cmd_quote, "write a CMW holding a fresh TPM quote over a nonce"},
    {"verify", exattest::cli::cmd_verify, "appraise a CMW or a raw tpm2-tools quote; JSON verdict"},
    {"cmw", exattest::cli::cmd_cmw, "decode and validate a CMW (CBOR or JSON), print it as JSON"},
    {"inspect", exattest::cli::cmd_inspect, "show a CMW or evidence map with decoded TPM fields"},
    {"policy", exattest::cli::cmd_policy, "policy create: write a PROTOCOL.md §9 policy"},
    {"doctor", exattest::cli::cmd_doctor, "check TPM, OPENSSL_CONF, module, policy and shim"},
};

std::string main_help() {
  std::string s =
      "usage: exattest <command> [options]\n"
      "       exattest <command> --help\n"
      "\n"
      "Post-handshake TPM attestation for TLS 1.3 (PROTOCOL.md): tools for enrolment,\n"
      "quoting, verification and diagnosis.\n"
      "\n"
      "commands:\n";
  for (const Subcommand& c : kSubcommands) {
    std::string name = c.name;
    s += "  " + name + std::string(10 - name.size(), ' ') + c.summary + "\n";
  }
  s += "\n"
       "TPM selection (ak, quote, policy create, doctor): --tcti, else EXATTEST_TCTI, else\n"
       "`tcti` in the exattest section of OPENSSL_CONF, else swtpm:host=127.0.0.1,port=2321.\n"
       "\n"
       "exit codes:\n"
       "  0  success (accepted, valid, all checks ok)\n"
       "  1  rejected / invalid / a check failed (the reason is printed)\n"
       "  2  usage error, I/O error, or TPM unreachable\n";
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << "exattest: missing command (see 'exattest --help')\n";
    return kExitUsage;
  }
  const std::string& cmd = args[0];
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::cout << main_help();
    return kExitOk;
  }
  for (const Subcommand& c : kSubcommands) {
    if (cmd == c.name) {
      try {
        return c.run(std::vector<std::string>(args.begin() + 1, args.end()));
      } catch (const std::exception& e) {
        // Fail closed: an unexpected exception is never a success.
        std::cerr << "exattest " << cmd << ": internal error: " << e.what() << "\n";
        return kExitUsage;
      }
    }
  }
  std::cerr << "exattest: unknown command '" << cmd << "' (see 'exattest --help')\n";
  return kExitUsage;
}
