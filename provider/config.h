// The provider's configuration: openssl.cnf keys of PROTOCOL.md §8 plus EXATTEST_<KEY>
// environment overrides, validated into one Config.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace exattest {

struct Config {
  enum class Request { kOff, kOptional, kRequire };
  enum class Attest { kNone, kTpm2 };

  // PROTOCOL.md §8
  Request request = Request::kOff;
  Attest attest = Attest::kNone;
  std::string tcti = "swtpm:host=127.0.0.1,port=2321";
  std::string pcrs = "sha256:0,1,2,3,4,5,6,7";
  std::string policy;  // path; required when request != off
  std::string log;     // "" = no log, "stderr", or a file path

  // PROTOCOL.md §1: every code point is configurable because none is assigned yet.
  uint16_t tls_flags_ext = 62;
  unsigned flag_cmw = 64;
  unsigned flag_inband = 65;
  uint16_t cmw_ext = 0xff00;
  std::string binder_label = "Attestation";
  unsigned binder_length = 32;
  std::string media_type = "application/vnd.exattest.tpm2-quote+cbor";

  // Whether this process takes part at all (asks or answers).
  bool active() const { return request != Request::kOff || attest != Attest::kNone; }
};

// Builds a Config from the provider section's key/value pairs (OpenSSL's own keys —
// module, activate, identity, soft_load — are ignored) and then EXATTEST_<KEY> environment
// overrides. An unknown key or a bad value is an error whose detail names the key.
//
// `environment` maps variable names ("EXATTEST_REQUEST") to values; only the variables of
// known keys are consulted (other EXATTEST_* variables belong to other components). A set
// variable wins even when empty ("EXATTEST_LOG=" turns logging off). Every error is
// Reason::kPolicyError (PROTOCOL.md §7 "policy_error": configuration unreadable or invalid).
Result<Config> parse_config(const std::map<std::string, std::string>& section,
                            const std::map<std::string, std::string>& environment);

// The exattest keys of the provider section (PROTOCOL.md §8 and the §1 code points), in
// documentation order: what OSSL_provider_init asks the core for.
const std::vector<std::string>& config_keys();

// Whether `key` is one of OpenSSL's own provider keys (module, activate, ...).
bool is_openssl_provider_key(std::string_view key);

// "tcti" -> "EXATTEST_TCTI".
std::string config_env_name(std::string_view key);

}  // namespace exattest
