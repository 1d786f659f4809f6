// Unit tests for provider/config (PROTOCOL.md §8 keys, §1 code points, EXATTEST_* overrides)
// and provider/errors (§7 reasons in the OpenSSL error queue).
#include "config.h"

#include <openssl/err.h>

#include <cstdio>
#include <map>
#include <string>

#include "errors.h"
#include "test_support.h"

using exattest::Config;
using exattest::parse_config;
using exattest::Reason;
using Map = std::map<std::string, std::string>;

namespace {

// Parses `section` (+ env) expecting failure; returns the detail after checking the reason.
std::string error_of(const Map& section, const Map& env = {}) {
  auto r = parse_config(section, env);
  REQUIRE_FALSE(r.ok());
  CHECK(r.reason() == Reason::kPolicyError);
  return r.error().detail;
}

Config ok_of(const Map& section, const Map& env = {}) {
  auto r = parse_config(section, env);
  if (!r.ok()) FAIL("unexpected error: " << r.error().detail);
  return r.value();
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("An empty section gives the PROTOCOL.md §1/§8 defaults, inactive", "[config]") {
  Config c = ok_of({});
  CHECK(c.request == Config::Request::kOff);
  CHECK(c.attest == Config::Attest::kNone);
  CHECK_FALSE(c.active());
  CHECK(c.tcti == "swtpm:host=127.0.0.1,port=2321");
  CHECK(c.pcrs == "sha256:0,1,2,3,4,5,6,7");
  CHECK(c.policy.empty());
  CHECK(c.log.empty());
  CHECK(c.tls_flags_ext == 62);
  CHECK(c.flag_cmw == 64);
  CHECK(c.flag_inband == 65);
  CHECK(c.cmw_ext == 0xff00);
  CHECK(c.binder_label == "Attestation");
  CHECK(c.binder_length == 32);
  CHECK(c.media_type == "application/vnd.exattest.tpm2-quote+cbor");
}

TEST_CASE("Every key is parsed", "[config]") {
  Config c = ok_of({{"request", "require"},
                    {"attest", "tpm2"},
                    {"tcti", "device:/dev/tpmrm0"},
                    {"pcrs", "sha384:0,7,23"},
                    {"policy", "/etc/exattest/policy.json"},
                    {"log", "/var/log/exattest.jsonl"},
                    {"tls_flags_ext", "0xfe00"},
                    {"flag_cmw", "8"},
                    {"flag_inband", "2039"},
                    {"cmw_ext", "65535"},
                    {"binder_label", "EXPORTER-test"},
                    {"binder_length", "48"},
                    {"media_type", "application/x.test+cbor"}});
  CHECK(c.request == Config::Request::kRequire);
  CHECK(c.attest == Config::Attest::kTpm2);
  CHECK(c.active());
  CHECK(c.tcti == "device:/dev/tpmrm0");
  CHECK(c.pcrs == "sha384:0,7,23");
  CHECK(c.policy == "/etc/exattest/policy.json");
  CHECK(c.log == "/var/log/exattest.jsonl");
  CHECK(c.tls_flags_ext == 0xfe00);
  CHECK(c.flag_cmw == 8);
  CHECK(c.flag_inband == 2039);
  CHECK(c.cmw_ext == 65535);
  CHECK(c.binder_label == "EXPORTER-test");
  CHECK(c.binder_length == 48);
  CHECK(c.media_type == "application/x.test+cbor");
}

TEST_CASE("request and attest enums", "[config]") {
  const Map policy = {{"policy", "/p.json"}};
  auto with = [&](Map m) {
    m.insert(policy.begin(), policy.end());
    return m;
  };
  CHECK(ok_of(with({{"request", "off"}})).request == Config::Request::kOff);
  CHECK(ok_of(with({{"request", "optional"}})).request == Config::Request::kOptional);
  CHECK(ok_of(with({{"request", "require"}})).request == Config::Request::kRequire);
  CHECK(ok_of({{"attest", "none"}}).attest == Config::Attest::kNone);
  Config a = ok_of({{"attest", "tpm2"}});
  CHECK(a.attest == Config::Attest::kTpm2);
  CHECK(a.active());  // attest alone makes the process take part
  CHECK(ok_of(with({{"request", "optional"}})).active());

  for (const char* v : {"", "on", "Require", "required", "1", " off"})
    CHECK(contains(error_of(with({{"request", v}})), "`request`"));
  for (const char* v : {"", "tpm", "TPM2", "tpm2 ", "yes"})
    CHECK(contains(error_of({{"attest", v}}), "`attest`"));
}

TEST_CASE("request other than off requires policy, naming `policy`", "[config]") {
  for (const char* r : {"optional", "require"}) {
    std::string d = error_of({{"request", r}});
    CHECK(contains(d, "`policy`"));
  }
  CHECK(ok_of({{"request", "off"}, {"attest", "tpm2"}}).policy.empty());
  CHECK(contains(error_of({{"request", "require"}, {"policy", ""}}), "`policy`"));
}

TEST_CASE("tcti, log and policy values", "[config]") {
  CHECK(ok_of({{"tcti", "swtpm:host=10.0.0.1,port=2400"}}).tcti == "swtpm:host=10.0.0.1,port=2400");
  CHECK(ok_of({{"tcti", "mssim"}}).tcti == "mssim");
  CHECK(ok_of({{"tcti", "tabrmd:bus_type=system"}}).tcti == "tabrmd:bus_type=system");
  for (const char* v : {"", ":port=1", "SWTPM:port=1", "sw tpm", "swtpm:\x01"})
    CHECK(contains(error_of({{"tcti", v}}), "`tcti`"));

  CHECK(ok_of({{"log", "stderr"}}).log == "stderr");
  CHECK(ok_of({{"log", ""}}).log.empty());
  CHECK(ok_of({{"policy", "relative/policy.json"}}).policy == "relative/policy.json");
}

TEST_CASE("pcrs must be a one-bank PCR selection bank:n,n,... with n 0..23", "[config]") {
  for (const char* v : {"sha256:0", "sha1:23", "sha256:7,0,16", "sha512:0,1,2,3,4,5,6,7,8,9,10"})
    CHECK(ok_of({{"pcrs", v}}).pcrs == v);
  for (const char* v : {"", "sha256", "sha256:", "sha256:24", "sha256:1,,2", "sha256:1,", "md5:1",
                        "SHA256:1", "sha256:1,1", "sha256:01", "sha256:-1", "sha256: 1",
                        "sha256:0x1", "sha256:100", ":1", "sha1:0+sha256:0"})
    CHECK(contains(error_of({{"pcrs", v}}), "`pcrs`"));

  CHECK(ok_of({{"pcrs", "sha256:0-7"}}).pcrs == "sha256:0-7");  // the attester's range form
}

TEST_CASE("Code-point keys are range checked", "[config]") {
  CHECK(ok_of({{"tls_flags_ext", "62"}}).tls_flags_ext == 62);
  CHECK(ok_of({{"tls_flags_ext", "0x003E"}}).tls_flags_ext == 62);
  CHECK(ok_of({{"tls_flags_ext", "1234"}}).tls_flags_ext == 1234);
  CHECK(contains(error_of({{"tls_flags_ext", "0"}}), "`tls_flags_ext`"));  // server_name
  for (const char* v :
       {"", "65536", "-1", "0x", "0x10000", "abc", "6 2", "+62", "99999999999999999999"})
    CHECK(contains(error_of({{"tls_flags_ext", v}}), "`tls_flags_ext`"));
  // Extension types libssl implements itself (signature_algorithms, key_share, ...).
  for (const char* v : {"13", "51", "43"})
    CHECK(contains(error_of({{"tls_flags_ext", v}}), "`tls_flags_ext`"));
  for (const char* v : {"65536", "13", "x"})
    CHECK(contains(error_of({{"cmw_ext", v}}), "`cmw_ext`"));
  CHECK(contains(error_of({{"cmw_ext", "62"}}), "`cmw_ext`"));  // = tls_flags_ext
  CHECK(contains(error_of({{"tls_flags_ext", "0xff00"}}), "`tls_flags_ext`"));

  CHECK(ok_of({{"flag_cmw", "0"}, {"flag_inband", "1"}}).flag_cmw == 0);
  for (const char* v : {"2040", "-1", "", "64.0"}) {
    CHECK(contains(error_of({{"flag_cmw", v}}), "`flag_cmw`"));
    CHECK(contains(error_of({{"flag_inband", v}}), "`flag_inband`"));
  }
  std::string same = error_of({{"flag_cmw", "65"}});  // = default flag_inband
  CHECK(contains(same, "`flag_inband`"));
  CHECK(contains(same, "`flag_cmw`"));

  CHECK(ok_of({{"binder_length", "1"}}).binder_length == 1);
  CHECK(ok_of({{"binder_length", "255"}}).binder_length == 255);
  for (const char* v : {"0", "256", "", "32 "})
    CHECK(contains(error_of({{"binder_length", v}}), "`binder_length`"));

  CHECK(ok_of({{"binder_label", std::string(249, 'a')}}).binder_label.size() == 249);
  for (const std::string& v :
       {std::string(), std::string(250, 'a'), std::string("a\x01"), std::string("caf\xc3\xa9")})
    CHECK(contains(error_of({{"binder_label", v}}), "`binder_label`"));

  CHECK(ok_of({{"media_type", "application/cbor"}}).media_type == "application/cbor");
  for (const char* v :
       {"", "application", "application/", "/cbor", "a/b; x=y", "a/b/c", "a b/c", "application/.x"})
    CHECK(contains(error_of({{"media_type", v}}), "`media_type`"));
}

TEST_CASE("Unknown keys are rejected by name, OpenSSL own keys are ignored", "[config]") {
  std::string d = error_of({{"request", "off"}, {"requets", "require"}});
  CHECK(contains(d, "unknown key `requets`"));
  CHECK(contains(error_of({{"Request", "off"}}), "`Request`"));
  CHECK(contains(error_of({{"policy.x", "1"}}), "`policy.x`"));

  Config c = ok_of({{"module", "/usr/lib/ossl-modules/exattest.so"},
                    {"activate", "1"},
                    {"identity", "exattest"},
                    {"soft_load", "1"},
                    {"attest", "tpm2"}});
  CHECK(c.attest == Config::Attest::kTpm2);
  CHECK(exattest::is_openssl_provider_key("activate"));
  CHECK_FALSE(exattest::is_openssl_provider_key("request"));
}

TEST_CASE("EXATTEST_<KEY> environment overrides win over the file", "[config]") {
  Map file = {
      {"request", "require"}, {"policy", "/file.json"}, {"log", "stderr"}, {"binder_length", "32"}};
  Config c = ok_of(file, {{"EXATTEST_REQUEST", "optional"},
                          {"EXATTEST_POLICY", "/env.json"},
                          {"EXATTEST_LOG", ""},
                          {"EXATTEST_BINDER_LENGTH", "48"},
                          {"EXATTEST_ATTEST", "tpm2"},
                          {"EXATTEST_UNRELATED", "whatever"}});  // not a key: not ours
  CHECK(c.request == Config::Request::kOptional);
  CHECK(c.policy == "/env.json");
  CHECK(c.log.empty());  // a set-but-empty variable overrides too
  CHECK(c.binder_length == 48);
  CHECK(c.attest == Config::Attest::kTpm2);

  // A bad override names the variable and the key, even when the file's value is fine.
  std::string d = error_of(file, {{"EXATTEST_REQUEST", "always"}});
  CHECK(contains(d, "EXATTEST_REQUEST"));
  CHECK(contains(d, "`request`"));
  // An override can also make the configuration valid (policy supplied by env).
  CHECK(ok_of({{"request", "require"}}, {{"EXATTEST_POLICY", "/p.json"}}).policy == "/p.json");
  // ... or invalid (policy emptied while request = require).
  CHECK(contains(error_of(file, {{"EXATTEST_POLICY", ""}}), "`policy`"));

  CHECK(exattest::config_env_name("tls_flags_ext") == "EXATTEST_TLS_FLAGS_EXT");
  CHECK(exattest::config_keys().size() == 13);
}

TEST_CASE("§7 reasons print as error:XXXXXXXX:exattest::<reason text>", "[config][errors]") {
  exattest::errors_init();
  ERR_clear_error();
  exattest::raise_error(Reason::kPcrMismatch, "PCR 7 differs");
  unsigned long e = ERR_peek_last_error();
  REQUIRE(e != 0);
  CHECK(ERR_GET_LIB(e) == exattest::error_library());
  CHECK(ERR_GET_REASON(e) == 11);
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  char expected[256];
  std::snprintf(expected, sizeof(expected),
                "error:%08lX:exattest::PCR values differ from the policy", e);
  CHECK(std::string(buf) == expected);
  const char* data = nullptr;
  int flags = 0;
  REQUIRE(ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags) == e);
  CHECK(std::string(data) == "PCR 7 differs");

  for (unsigned code = 1; code <= exattest::kMaxReason; ++code) {
    auto r = static_cast<Reason>(code);
    exattest::raise_error(r, "x");
    unsigned long err = ERR_get_error();
    CHECK(ERR_GET_REASON(err) == static_cast<int>(code));
    CHECK(std::string(ERR_reason_error_string(err)) == exattest::reason_text(r));
    CHECK(std::string(ERR_lib_error_string(err)) == "exattest");
  }
  CHECK(ERR_get_error() == 0);
}
