// Argument parsing and --help rendering for every `exattest` subcommand.
#include <cstdio>
#include <iostream>
#include <sstream>

#include "cli.h"

namespace exattest::cli {

std::optional<std::string> Args::get(std::string_view name) const {
  auto it = values_.find(std::string(name));
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

namespace {

const OptionSpec* find_option(const CommandSpec& spec, std::string_view name) {
  for (const OptionSpec& o : spec.options) {
    if (o.name == name || (!o.short_name.empty() && o.short_name == name)) return &o;
  }
  return nullptr;
}

}  // namespace

bool parse_args(const CommandSpec& spec, const std::vector<std::string>& argv, Args& out_args,
                std::string& out_error) {
  out_args = Args();
  bool options_done = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (!options_done && (a == "--help" || a == "-h")) {
      out_args.help_ = true;
      continue;
    }
    if (!options_done && a == "--") {
      options_done = true;
      continue;
    }
    // "-" alone is a positional (stdin/stdout); anything else starting with '-' is an option.
    if (options_done || a.size() < 2 || a[0] != '-') {
      out_args.positional_.push_back(a);
      continue;
    }
    std::string name = a;
    std::optional<std::string> inline_value;
    if (a.rfind("--", 0) == 0) {
      size_t eq = a.find('=');
      if (eq != std::string::npos) {
        name = a.substr(0, eq);
        inline_value = a.substr(eq + 1);
      }
    }
    const OptionSpec* opt = find_option(spec, name);
    if (opt == nullptr) {
      out_error = "unknown option '" + name + "'";
      return false;
    }
    if (out_args.values_.count(opt->name) != 0) {
      out_error = "option " + opt->name + " given twice";
      return false;
    }
    if (opt->value.empty()) {
      if (inline_value) {
        out_error = "option " + opt->name + " takes no value";
        return false;
      }
      out_args.values_[opt->name] = "";
      continue;
    }
    if (inline_value) {
      out_args.values_[opt->name] = *inline_value;
      continue;
    }
    if (i + 1 >= argv.size()) {
      out_error = "option " + opt->name + " needs a value (" + opt->value + ")";
      return false;
    }
    // The value may be empty (--nonce "") or start with '-' ("-o -" = stdout).
    out_args.values_[opt->name] = argv[++i];
  }
  if (out_args.help_) return true;
  size_t n = out_args.positional_.size();
  if (n < spec.min_positional) {
    out_error = "missing " + (spec.positional.empty() ? std::string("argument") : spec.positional);
    return false;
  }
  if (n > spec.max_positional) {
    out_error = "unexpected argument '" + out_args.positional_[spec.max_positional] + "'";
    return false;
  }
  return true;
}

std::string help_text(const CommandSpec& spec) {
  std::ostringstream s;
  std::string prefix = "usage: ";
  for (const std::string& u : spec.usage) {
    s << prefix << "exattest " << u << "\n";
    prefix = "       ";
  }
  s << "\n" << spec.summary << "\n";
  if (!spec.description.empty()) s << "\n" << spec.description << "\n";
  s << "\noptions:\n";
  std::vector<OptionSpec> all = spec.options;
  all.push_back({"--help", "-h", "", "show this help and exit 0"});
  for (const OptionSpec& o : all) {
    std::string left = "  ";
    if (!o.short_name.empty()) left += o.short_name + ", ";
    left += o.name;
    if (!o.value.empty()) left += " " + o.value;
    s << left;
    if (left.size() < 28) {
      s << std::string(28 - left.size(), ' ');
    } else {
      s << "\n" << std::string(28, ' ');
    }
    for (char c : o.help) {
      s << c;
      if (c == '\n') s << std::string(28, ' ');
    }
    s << "\n";
  }
  if (!spec.exit_codes.empty()) s << "\nexit codes:\n" << spec.exit_codes;
  return s.str();
}

int usage_error(const CommandSpec& spec, std::string_view message) {
  std::cerr << "exattest " << spec.name << ": " << message << " (see 'exattest " << spec.name
            << " --help')\n";
  return kExitUsage;
}

int fail(std::string_view cmd, std::string_view message, int code) {
  std::cerr << "exattest " << cmd << ": " << message << "\n";
  return code;
}

std::optional<Args> parse_or_exit(const CommandSpec& spec, const std::vector<std::string>& argv,
                                  int& out_exit) {
  Args args;
  std::string err;
  if (!parse_args(spec, argv, args, err)) {
    out_exit = usage_error(spec, err);
    return std::nullopt;
  }
  if (args.help()) {
    std::optional<std::string> man = man_page_if_requested(spec);
    std::cout << (man ? *man : help_text(spec));
    out_exit = kExitOk;
    return std::nullopt;
  }
  return args;
}

}  // namespace exattest::cli
