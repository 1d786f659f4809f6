#include "common/nconf.h"

#include <openssl/err.h>

namespace exattest {

// NCONF pushes an error for every missing name; none of that belongs in the caller's queue.
std::string nconf_string(CONF* conf, const std::string& section, const char* name) {
  ERR_set_mark();
  const char* v = NCONF_get_string(conf, section.empty() ? nullptr : section.c_str(), name);
  ERR_pop_to_mark();
  return v != nullptr ? std::string(v) : std::string();
}

ConfPairs nconf_section(CONF* conf, const std::string& section) {
  ConfPairs out;
  ERR_set_mark();
  STACK_OF(CONF_VALUE)* values = NCONF_get_section(conf, section.c_str());
  ERR_pop_to_mark();
  if (values == nullptr) return out;
  for (int i = 0; i < sk_CONF_VALUE_num(values); ++i) {
    const CONF_VALUE* v = sk_CONF_VALUE_value(values, i);
    if (v->name != nullptr && v->value != nullptr) out.emplace_back(v->name, v->value);
  }
  return out;
}

bool nconf_has_section(CONF* conf, const std::string& section) {
  ERR_set_mark();
  bool ok = NCONF_get_section(conf, section.c_str()) != nullptr;
  ERR_pop_to_mark();
  return ok;
}

}  // namespace exattest
