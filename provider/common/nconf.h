// Quiet NCONF lookups over an openssl.cnf: missing names are not errors for the caller.
#pragma once

#include <openssl/conf.h>

#include <string>
#include <utility>
#include <vector>

namespace exattest {

using ConfPairs = std::vector<std::pair<std::string, std::string>>;

// The value of `name` in `section` ("" = the default section), or "" when absent.
std::string nconf_string(CONF* conf, const std::string& section, const char* name);
// The section's name=value pairs in file order; empty when there is no such section.
ConfPairs nconf_section(CONF* conf, const std::string& section);
bool nconf_has_section(CONF* conf, const std::string& section);

}  // namespace exattest
