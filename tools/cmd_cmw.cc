// `exattest cmw FILE`: decode and validate any RFC 9999 CMW (CBOR, JSON, or in an X.509
// certificate extension) and print its structure as JSON.
#include <iostream>

#include "cli.h"
#include "cmw/cmw.h"
#include "cmw_input.h"

namespace exattest::cli {

namespace {

const CommandSpec& spec() {
  static const CommandSpec s{
      .name = "cmw",
      .usage = {"cmw FILE"},
      .summary = "Decode and validate a CMW (RFC 9999) and print its structure as JSON.",
      .description =
          "FILE ('-' = stdin) is sniffed: JSON when it starts with '[' or '{', an X.509\n"
          "certificate (DER) carrying the CMW extension 1.3.6.1.5.5.7.1.35 when it starts\n"
          "with a DER SEQUENCE, CBOR otherwise. A JSON object that is not a collection but\n"
          "holds a \"cmw\" claim (an EAT claims set) is judged by that claim. Every RFC 9999\n"
          "form is accepted: records, tag CMWs, collections.\n"
          "Output: {\"valid\":true,\"format\":...,\"cmw\":{...}} or\n"
          "{\"valid\":false,\"reason\":\"decode_error\",\"detail\":...}.",
      .options = {},
      .exit_codes =
          "  0  valid CMW\n"
          "  1  invalid CMW (reason and detail in the JSON)\n"
          "  2  usage error or unreadable FILE\n",
      .positional = "FILE",
      .min_positional = 1,
      .max_positional = 1,
  };
  return s;
}

}  // namespace

int cmd_cmw(const std::vector<std::string>& argv) {
  int exit_code = 0;
  auto args = parse_or_exit(spec(), argv, exit_code);
  if (!args) return exit_code;
  const std::string& path = args->positional()[0];
  auto in = read_file(path);
  if (!in) return fail("cmw", in.error().detail, kExitUsage);

  SniffedCmw sniffed;
  Status st = decode_any_cmw(view(*in), sniffed);
  if (!st) {
    nlohmann::ordered_json out;
    out["valid"] = false;
    out["format"] = sniffed.format;
    out["reason"] = reason_name(st.reason());
    out["detail"] = st.error().detail;
    print_json(out);
    return kExitRejected;
  }
  nlohmann::ordered_json out;
  out["valid"] = true;
  out["format"] = sniffed.format;
  if (!sniffed.container.empty()) out["container"] = sniffed.container;
  out["cmw"] = cmw::describe(sniffed.cmw);
  print_json(out);
  return kExitOk;
}

}  // namespace exattest::cli
