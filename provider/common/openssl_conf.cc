// Reads OPENSSL_CONF with OpenSSL's NCONF API, following openssl_conf -> providers -> sections.
#include "common/openssl_conf.h"

#include <openssl/conf.h>
#include <openssl/err.h>

#include <cstdlib>
#include <filesystem>

#include "common/nconf.h"
#include "common/ossl_ptr.h"

namespace exattest {

EXATTEST_DEFINE_DELETER(CONF, NCONF_free);

namespace {

std::string module_basename(const std::string& module) {
  return std::filesystem::path(module).filename().string();
}

}  // namespace

OpensslConf load_openssl_conf() {
  OpensslConf out;
  // secure_getenv, as libcrypto reads it: a setuid program ignores the caller's OPENSSL_CONF.
  const char* env = secure_getenv("OPENSSL_CONF");
  if (env != nullptr && *env != '\0') {
    out.path = env;
    out.from_env = true;
  } else {
    char* def = CONF_get1_default_config_file();
    if (def != nullptr) out.path = def;
    OPENSSL_free(def);
  }
  if (out.path.empty()) {
    out.problem = "no OpenSSL config file; set OPENSSL_CONF to a file with an exattest section";
    return out;
  }

  UniquePtr<CONF> conf(NCONF_new(nullptr));
  long eline = -1;
  if (!conf || NCONF_load(conf.get(), out.path.c_str(), &eline) <= 0) {
    unsigned long e = ERR_peek_last_error();
    char buf[256] = {0};
    ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    out.load_error = "cannot load " + out.path +
                     (eline > 0 ? " (line " + std::to_string(eline) + ")" : std::string()) + ": " +
                     buf;
    out.problem = out.load_error;
    return out;
  }
  out.loaded = true;

  // config(5): "looks up the value of openssl_conf in the default section".
  out.init_section = nconf_string(conf.get(), "", "openssl_conf");
  if (out.init_section.empty()) {
    out.problem = out.path +
                  " has no `openssl_conf = openssl_init` line before its first section; "
                  "OpenSSL then ignores the provider configuration";
    return out;
  }
  if (!nconf_has_section(conf.get(), out.init_section)) {
    out.problem =
        out.path + ": openssl_conf names section [" + out.init_section + "], which does not exist";
    return out;
  }
  out.providers_section = nconf_string(conf.get(), out.init_section, "providers");
  if (out.providers_section.empty()) {
    out.problem = out.path + ": [" + out.init_section +
                  "] has no `providers = provider_sect` line (PROTOCOL.md §8)";
    return out;
  }
  auto providers = nconf_section(conf.get(), out.providers_section);
  if (providers.empty()) {
    out.problem =
        out.path + ": providers section [" + out.providers_section + "] is missing or empty";
    return out;
  }
  std::string by_name, by_name_section;
  for (const auto& [name, section] : providers) {
    out.provider_names.push_back(name);
    auto values = nconf_section(conf.get(), section);
    std::string module, activate;
    bool has_activate = false;
    for (const auto& [k, v] : values) {
      if (k == "module") module = v;
      if (k == "activate") has_activate = true;
    }
    if (name == "default") {
      out.default_present = true;
      out.default_activated = has_activate;
    }
    if (out.exattest_name.empty() && !module.empty() &&
        module_basename(module).rfind("exattest", 0) == 0) {
      out.exattest_name = name;
      out.exattest_section_name = section;
    }
    if (name == "exattest") {
      by_name = name;
      by_name_section = section;
    }
  }
  if (out.exattest_name.empty() && !by_name.empty()) {
    out.exattest_name = by_name;
    out.exattest_section_name = by_name_section;
  }
  if (out.exattest_name.empty()) {
    out.problem = out.path + ": no exattest provider in [" + out.providers_section +
                  "]; add `exattest = exattest_sect` (PROTOCOL.md §8)";
    return out;
  }
  if (!nconf_has_section(conf.get(), out.exattest_section_name)) {
    out.problem = out.path + ": [" + out.providers_section + "] names section [" +
                  out.exattest_section_name + "] for `" + out.exattest_name +
                  "`, which does not exist";
    return out;
  }
  for (const auto& [k, v] : nconf_section(conf.get(), out.exattest_section_name)) {
    out.exattest_section[k] = v;
    if (k == "activate") out.exattest_activated = true;
  }
  return out;
}

}  // namespace exattest
