// Reads OPENSSL_CONF the way OpenSSL's provider module does, to find the exattest section.
// Shared by the CLI (`exattest doctor`, settings resolution) and the shim (which reads
// `request` itself in a process whose SSL calls bypass it): public OpenSSL API only.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace exattest {

// What OpenSSL would see in the config file: openssl_conf -> init section -> providers ->
// one section per provider (PROTOCOL.md §8).
struct OpensslConf {
  std::string path;          // OPENSSL_CONF or OpenSSL's default file
  bool from_env = false;     // path came from OPENSSL_CONF
  bool loaded = false;       // NCONF_load succeeded
  std::string load_error;    // why not, naming the line
  std::string init_section;  // value of `openssl_conf` ("" when missing)
  std::string providers_section;
  std::vector<std::string> provider_names;  // in file order
  // The exattest provider: the provider whose module basename starts with "exattest",
  // else the one named "exattest". Empty name when there is none.
  std::string exattest_name;
  std::string exattest_section_name;
  std::map<std::string, std::string> exattest_section;
  bool exattest_activated = false;  // `activate` present in its section
  bool default_present = false;
  bool default_activated = false;  // `activate` present in the default provider's section
  std::string problem;             // first structural problem found, with the fix
};

// Never fails: problems are reported in the fields above.
OpensslConf load_openssl_conf();

}  // namespace exattest
