// `exattest` settings resolution on top of the shared OPENSSL_CONF reader.
#include "openssl_conf.h"

#include <cstdlib>

#include "cli.h"
#include "config.h"

namespace exattest::cli {

std::string resolve_setting(const Args& args, const std::string& option, const std::string& key,
                            const std::string& fallback, std::string* out_source) {
  auto set = [&](const std::string& s) {
    if (out_source != nullptr) *out_source = s;
  };
  if (auto v = args.get(option)) {
    set(option);
    return *v;
  }
  // PROTOCOL.md §8: "Environment variables `EXATTEST_<KEY>` override the file".
  std::string env_name = config_env_name(key);
  const char* env = std::getenv(env_name.c_str());
  if (env != nullptr) {  // config.h: "A set variable wins even when empty"
    set(env_name);
    return env;
  }
  OpensslConf conf = load_openssl_conf();
  auto it = conf.exattest_section.find(key);
  if (it != conf.exattest_section.end() && !it->second.empty()) {
    set("OPENSSL_CONF [" + conf.exattest_section_name + "]");
    return it->second;
  }
  set("default");
  return fallback;
}

std::string resolve_tcti(const Args& args, std::string* out_source) {
  return resolve_setting(args, "--tcti", "tcti", Config().tcti, out_source);  // §8 default
}

}  // namespace exattest::cli
