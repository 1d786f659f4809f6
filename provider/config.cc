// PROTOCOL.md §8: the provider section's keys and EXATTEST_<KEY> overrides -> Config.
#include "config.h"

#include "attesters/tpm2/pcr_selection.h"

#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <functional>
#include <optional>

namespace exattest {
namespace {

// PROTOCOL.md §8: "OpenSSL's own keys — module, activate, identity, soft_load — are ignored".
constexpr std::array<std::string_view, 4> kOpensslKeys = {"module", "activate", "identity",
                                                          "soft_load"};

// The draft-ietf-tls-tlsflags vector is flags<1..255>, so the highest flag is 255*8-1.
constexpr unsigned kMaxFlagBit = 255 * 8 - 1;

// RFC 8446 §7.1: HkdfLabel.label is opaque<7..255> and carries "tls13 " + label.
constexpr size_t kMaxExporterLabel = 255 - 6;

// Where a value came from, so the error says what to fix.
struct Source {
  std::string_view key;
  bool from_env;
};

Error bad(const Source& src, std::string_view value, std::string_view why) {
  std::string where = src.from_env ? "environment variable " + config_env_name(src.key) +
                                         " (overriding `" + std::string(src.key) + "`)"
                                   : "key `" + std::string(src.key) + "`";
  return make_error(Reason::kPolicyError, "exattest config: " + where + " = \"" +
                                              std::string(value) + "\": " + std::string(why));
}

// Unsigned decimal, or hexadecimal with a 0x prefix; no sign, no spaces, no overflow.
std::optional<uint64_t> parse_uint(std::string_view s) {
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  }
  if (s.empty() || s.size() > 16) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (base == 16 && c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (base == 16 && c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return std::nullopt;
    }
    v = v * base + d;
  }
  return v;
}

bool printable_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

// RFC 6838 §4.2 restricted-name: 1..127 chars, first alphanumeric.
bool restricted_name(std::string_view s) {
  if (s.empty() || s.size() > 127) return false;
  if (!std::isalnum(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("!#$&-^_.+").find(c) != std::string_view::npos;
  });
}

using Setter = std::function<Status(Config&, const Source&, const std::string&)>;

Status set_ext_type(uint16_t& out, const Source& src, const std::string& v) {
  auto n = parse_uint(v);
  if (!n || *n > 0xffff) return bad(src, v, "expected an extension type 0..65535");
  // An extension libssl implements itself cannot be added as a custom extension
  // (SSL_CTX_add_custom_ext refuses it), nor appear as a second extension of that type.
  if (SSL_extension_supported(static_cast<unsigned>(*n)))
    return bad(src, v, "extension type is already used by TLS itself (OpenSSL implements it)");
  out = static_cast<uint16_t>(*n);
  return Status::Ok();
}

Status set_flag(unsigned& out, const Source& src, const std::string& v) {
  auto n = parse_uint(v);
  if (!n || *n > kMaxFlagBit) return bad(src, v, "expected a tls_flags bit number 0..2039");
  out = static_cast<unsigned>(*n);
  return Status::Ok();
}

struct KeySpec {
  std::string name;
  Setter set;
};

const std::vector<KeySpec>& key_specs() {
  static const std::vector<KeySpec> specs = {
      {"request",
       [](Config& c, const Source& s, const std::string& v) -> Status {
         // PROTOCOL.md §8: "off | optional | require"
         if (v == "off")
           c.request = Config::Request::kOff;
         else if (v == "optional")
           c.request = Config::Request::kOptional;
         else if (v == "require")
           c.request = Config::Request::kRequire;
         else
           return bad(s, v, "expected off, optional or require");
         return Status::Ok();
       }},
      {"attest",
       [](Config& c, const Source& s, const std::string& v) -> Status {
         // PROTOCOL.md §8: "none | tpm2"
         if (v == "none")
           c.attest = Config::Attest::kNone;
         else if (v == "tpm2")
           c.attest = Config::Attest::kTpm2;
         else
           return bad(s, v, "expected none or tpm2");
         return Status::Ok();
       }},
      {"tcti",
       [](Config& c, const Source& s, const std::string& v) -> Status {
         // tpm2-tss TCTI syntax "name[:conf]"; the name picks libtss2-tcti-<name>.so.
         std::string_view name = std::string_view(v).substr(0, v.find(':'));
         bool ok = !name.empty() && std::all_of(name.begin(), name.end(), [](char ch) {
           return std::islower(static_cast<unsigned char>(ch)) ||
                  std::isdigit(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_';
         });
         if (!ok || !printable_ascii(v))
           return bad(s, v, "expected a TCTI \"name[:conf]\", e.g. swtpm:host=127.0.0.1,port=2321");
         c.tcti = v;
         return Status::Ok();
       }},
      {"pcrs",
       [](Config& c, const Source& s, const std::string& v) -> Status {
         // The attester's own grammar ("sha256:0,1,2-7"); one bank, because a policy
         // judges the values of one bank (PROTOCOL.md §9 `pcr_bank`).
         auto sel = tpm2::parse_pcr_selection(v);
         if (!sel.ok()) return bad(s, v, sel.error().detail);
         if (sel->banks.size() != 1)
           return bad(s, v, "expected one bank, e.g. sha256:0,1,2,3,4,5,6,7");
         c.pcrs = v;
         return Status::Ok();
       }},
      {"policy",
       [](Config& c, const Source& s, const std::string& v) -> Status {
         // No I/O here: the file is read lazily (PROTOCOL.md §9 "read once per process").
         if (v.empty()) return bad(s, v, "expected the path of the policy file");
         c.policy = v;
         return Status::Ok();
       }},
      {"log",
       [](Config& c, const Source&, const std::string& v) -> Status {
         c.log = v;  // "" = off, "stderr", or a path opened lazily
         return Status::Ok();
       }},
      {"tls_flags_ext", [](Config& c, const Source& s,
                           const std::string& v) { return set_ext_type(c.tls_flags_ext, s, v); }},
      {"flag_cmw",
       [](Config& c, const Source& s, const std::string& v) { return set_flag(c.flag_cmw, s, v); }},
      {"flag_inband", [](Config& c, const Source& s,
                         const std::string& v) { return set_flag(c.flag_inband, s, v); }},
      {"cmw_ext", [](Config& c, const Source& s,
                     const std::string& v) { return set_ext_type(c.cmw_ext, s, v); }},
      {"binder_label",
       [](Config& c, const Source& s, const std::string& v) -> Status {
         if (v.empty() || v.size() > kMaxExporterLabel || !printable_ascii(v))
           return bad(s, v, "expected 1..249 printable ASCII characters (a TLS exporter label)");
         c.binder_label = v;
         return Status::Ok();
       }},
      {"binder_length",
       [](Config& c, const Source& s, const std::string& v) -> Status {
         auto n = parse_uint(v);
         if (!n || *n < 1 || *n > 255) return bad(s, v, "expected an exporter length 1..255");
         c.binder_length = static_cast<unsigned>(*n);
         return Status::Ok();
       }},
      {"media_type",
       [](Config& c, const Source& s, const std::string& v) -> Status {
         auto slash = v.find('/');
         if (slash == std::string::npos || !restricted_name(std::string_view(v).substr(0, slash)) ||
             !restricted_name(std::string_view(v).substr(slash + 1)))
           return bad(s, v, "expected a media type \"type/subtype\" (RFC 6838, no parameters)");
         c.media_type = v;
         return Status::Ok();
       }},
  };
  return specs;
}

std::string known_keys_list() {
  std::string out;
  for (const auto& k : config_keys()) out += (out.empty() ? "" : ", ") + k;
  return out;
}

}  // namespace

const std::vector<std::string>& config_keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> k;
    for (const auto& spec : key_specs()) k.push_back(spec.name);
    return k;
  }();
  return keys;
}

bool is_openssl_provider_key(std::string_view key) {
  return std::find(kOpensslKeys.begin(), kOpensslKeys.end(), key) != kOpensslKeys.end();
}

std::string config_env_name(std::string_view key) {
  std::string out = "EXATTEST_";
  for (char c : key) out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return out;
}

Result<Config> parse_config(const std::map<std::string, std::string>& section,
                            const std::map<std::string, std::string>& environment) {
  // PROTOCOL.md §8: "an unknown key or a bad value is an error at load, naming the key".
  for (const auto& [key, value] : section) {
    if (is_openssl_provider_key(key)) continue;
    if (std::find(config_keys().begin(), config_keys().end(), key) == config_keys().end())
      return make_error(Reason::kPolicyError,
                        "exattest config: unknown key `" + key +
                            "` in the exattest provider section (known keys: " + known_keys_list() +
                            ")");
  }

  Config config;
  for (const auto& spec : key_specs()) {
    // PROTOCOL.md §8: "Environment variables EXATTEST_<KEY> override the file".
    if (auto env = environment.find(config_env_name(spec.name)); env != environment.end()) {
      EXATTEST_RETURN_IF_ERROR(spec.set(config, Source{spec.name, true}, env->second));
    } else if (auto it = section.find(spec.name); it != section.end()) {
      EXATTEST_RETURN_IF_ERROR(spec.set(config, Source{spec.name, false}, it->second));
    }
  }
  // An empty environment override of a key whose value may not be empty is caught by its
  // setter; `log` alone accepts "" (= no log).

  // PROTOCOL.md §2: the two flags are distinct bits of one tls_flags vector.
  if (config.flag_cmw == config.flag_inband)
    return make_error(Reason::kPolicyError, "exattest config: key `flag_inband` (" +
                                                std::to_string(config.flag_inband) +
                                                ") must differ from key `flag_cmw`");
  // Both are TLS ExtensionType values; one number cannot mean both.
  if (config.tls_flags_ext == config.cmw_ext)
    return make_error(Reason::kPolicyError, "exattest config: key `cmw_ext` (" +
                                                std::to_string(config.cmw_ext) +
                                                ") must differ from key `tls_flags_ext`");
  // PROTOCOL.md §8 "request = require ... the Evidence passed the policy": asking for
  // Evidence without a policy to appraise it against is a configuration error.
  if (config.request != Config::Request::kOff && config.policy.empty())
    return make_error(Reason::kPolicyError,
                      "exattest config: key `policy` is required when request is not off; set "
                      "`policy = /path/to/policy.json` in the exattest provider section or "
                      "EXATTEST_POLICY");
  return config;
}

}  // namespace exattest
