// `exattest`: enrol, quote, verify and diagnose TPM-attested TLS (docs/cli.md).
#include <iostream>
#include <string>
#include <vector>

#include "cli.h"
#include "exattest_version.h"

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

// The text of `exattest --help`, in the pieces that exattest(1) is rendered from too.
exattest::cli::MainHelp main_help_spec() {
  exattest::cli::MainHelp h;
  h.usage = {"<command> [options]", "<command> --help", "--version"};
  h.summary =
      "Post-handshake TPM attestation for TLS 1.3 (PROTOCOL.md): tools for enrolment,\n"
      "quoting, verification and diagnosis.";
  for (const Subcommand& c : kSubcommands) h.commands.emplace_back(c.name, c.summary);
  h.notes =
      "TPM selection (ak, quote, policy create, doctor): --tcti, else EXATTEST_TCTI, else\n"
      "`tcti` in the exattest section of OPENSSL_CONF, else swtpm:host=127.0.0.1,port=2321.";
  h.exit_codes =
      "  0  success (accepted, valid, all checks ok)\n"
      "  1  rejected / invalid / a check failed (the reason is printed)\n"
      "  2  usage error, I/O error, or TPM unreachable\n";
  return h;
}

std::string main_help() {
  const exattest::cli::MainHelp h = main_help_spec();
  std::string s;
  std::string prefix = "usage: ";
  for (const std::string& u : h.usage) {
    s += prefix + "exattest " + u + "\n";
    prefix = "       ";
  }
  s += "\n" + h.summary + "\n\ncommands:\n";
  for (const auto& [name, summary] : h.commands) {
    s += "  " + name + std::string(10 - name.size(), ' ') + summary + "\n";
  }
  s += "\n" + h.notes + "\n\nexit codes:\n" + h.exit_codes;
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
  if (cmd == "--version") {
    std::cout << "exattest " << EXATTEST_VERSION << "\n";
    return kExitOk;
  }
  // Hidden (issue #14): `--man` prints exattest(1), `--man CMD` exattest-CMD(1), both
  // rendered from the very text --help prints; the build writes the installed pages so.
  if (cmd == "--man") {
    if (args.size() == 1) {
      std::cout << exattest::cli::man_main_page(main_help_spec(), EXATTEST_VERSION);
      return kExitOk;
    }
    for (const Subcommand& c : kSubcommands) {
      if (args.size() == 2 && args[1] == c.name) {
        exattest::cli::render_help_as_man(c.summary, EXATTEST_VERSION);
        return c.run({"--help"});
      }
    }
    std::cerr << "exattest: --man takes no argument or one command name\n";
    return kExitUsage;
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
