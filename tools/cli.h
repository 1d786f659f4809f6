// The `exattest` command: shared argument parsing, help, I/O and exit-code conventions.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"

namespace exattest::cli {

// Exit codes shared by every subcommand (docs/cli.md).
inline constexpr int kExitOk = 0;        // accepted / valid / everything fine
inline constexpr int kExitRejected = 1;  // rejected / invalid / a doctor check failed
inline constexpr int kExitUsage = 2;     // usage error, I/O error, TPM unreachable

// One option of a subcommand. `value` names the argument ("HEX"); empty for a flag.
struct OptionSpec {
  std::string name;        // "--nonce"
  std::string short_name;  // "-o" or ""
  std::string value;       // "HEX", or "" for a boolean flag
  std::string help;
};

// Everything `--help` prints, and what the parser accepts.
struct CommandSpec {
  std::string name;                   // "verify"
  std::vector<std::string> usage;     // lines after "usage: exattest "
  std::string summary;                // one line
  std::string description{};          // paragraph(s), may be empty
  std::vector<OptionSpec> options{};  // --help is implicit
  std::string exit_codes{};           // lines "0  ...\n1  ...\n"
  std::string positional{};           // "FILE" or "" when none is accepted
  size_t min_positional = 0;
  size_t max_positional = 0;
};

// The parsed command line of one subcommand.
class Args {
 public:
  bool has(std::string_view name) const { return values_.count(std::string(name)) != 0; }
  // The value of an option that takes one (empty string allowed, e.g. --nonce "").
  std::optional<std::string> get(std::string_view name) const;
  const std::vector<std::string>& positional() const { return positional_; }
  bool help() const { return help_; }

 private:
  friend bool parse_args(const CommandSpec&, const std::vector<std::string>&, Args&, std::string&);
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
  bool help_ = false;
};

// Parses argv (without the program and subcommand names). false + out_error on a usage
// error: unknown option, missing value, repeated option, wrong number of positionals.
bool parse_args(const CommandSpec& spec, const std::vector<std::string>& argv, Args& out_args,
                std::string& out_error);

// The --help text of a subcommand.
std::string help_text(const CommandSpec& spec);

// Man pages (issue #14, tools/man.cc): rendered from the same specs as --help, so the
// installed pages cannot drift from the binary. The text of `exattest --help`:
struct MainHelp {
  std::vector<std::string> usage;                             // after "exattest "
  std::string summary;                                        // paragraph
  std::vector<std::pair<std::string, std::string>> commands;  // name, one-line summary
  std::string notes;                                          // paragraph
  std::string exit_codes;                                     // lines "  0  ...\n"
};
// exattest(1) as roff.
std::string man_main_page(const MainHelp& help, std::string_view version);
// exattest-<cmd>(1) as roff; `name_line` is the command's summary in exattest(1).
std::string man_page(const CommandSpec& spec, std::string_view name_line, std::string_view version);
// From now on parse_or_exit() answers --help with man_page() instead of help_text()
// (`exattest --man CMD`, which then runs CMD --help).
void render_help_as_man(std::string_view name_line, std::string_view version);
// The man page parse_or_exit() prints instead of --help; nullopt unless requested above.
std::optional<std::string> man_page_if_requested(const CommandSpec& spec);

// Prints "exattest <cmd>: <message> (see 'exattest <cmd> --help')" to stderr; returns 2.
int usage_error(const CommandSpec& spec, std::string_view message);

// Prints "exattest <cmd>: <message>" to stderr; returns `code`.
int fail(std::string_view cmd, std::string_view message, int code);

// Parses argv against `spec`; handles --help and usage errors. Returns nullopt with
// out_exit set when the subcommand must exit right away.
std::optional<Args> parse_or_exit(const CommandSpec& spec, const std::vector<std::string>& argv,
                                  int& out_exit);

// Whole-file read with a size cap (all inputs are small: quotes, CMWs, policies).
inline constexpr size_t kMaxInputFile = 4 * 1024 * 1024;
Result<Bytes> read_file(const std::string& path);
// Writes atomically enough for a CLI: truncate + write + check; "-" means stdout.
Status write_file(const std::string& path, ByteView data);

// Pretty JSON (2-space indent) on stdout with a trailing newline.
void print_json(const nlohmann::json& j);
void print_json(const nlohmann::ordered_json& j);

// --nonce HEX: "" is the empty nonce; otherwise even-length hex. Returns false on bad hex.
bool parse_nonce(const std::string& text, Bytes& out);

// TCTI resolution, first match wins: --tcti, EXATTEST_TCTI, the `tcti` key of the exattest
// provider section in OPENSSL_CONF, the PROTOCOL.md §8 default. `out_source` says which.
std::string resolve_tcti(const Args& args, std::string* out_source = nullptr);
// The same order for any PROTOCOL.md §8 key: option, EXATTEST_<KEY>, OPENSSL_CONF, fallback.
std::string resolve_setting(const Args& args, const std::string& option, const std::string& key,
                            const std::string& fallback, std::string* out_source = nullptr);

// "sha256:<hex of SHA-256(spki_der)>" (PROTOCOL.md §9 trusted_aks).
std::string spki_hash(ByteView spki_der);
// DER SubjectPublicKeyInfo as PEM ("-----BEGIN PUBLIC KEY-----").
Result<std::string> spki_pem(ByteView spki_der);

// Human-readable error line for a failed Result/Status: "<reason_name>: <detail>".
std::string describe(const Error& e);

// Subcommands: argv excludes "exattest" and the subcommand name; return the exit code.
int cmd_ak(const std::vector<std::string>& argv);
int cmd_quote(const std::vector<std::string>& argv);
int cmd_verify(const std::vector<std::string>& argv);
int cmd_cmw(const std::vector<std::string>& argv);
int cmd_inspect(const std::vector<std::string>& argv);
int cmd_policy(const std::vector<std::string>& argv);
int cmd_doctor(const std::vector<std::string>& argv);

}  // namespace exattest::cli
