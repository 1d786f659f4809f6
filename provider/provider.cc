// OSSL_provider_init of exattest.so: validates the provider section (PROTOCOL.md §8),
// registers the reason strings (§7) and the tls_flags hooks (§2), and finds the shim.
#include <dlfcn.h>
#include <openssl/conf.h>
#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/params.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/nconf.h"
#include "common/ossl_ptr.h"
#include "config.h"
#include "errors.h"
#include "exattest_shim.h"
#include "exattest_version.h"
#include "exchange.h"
#include "hooks.h"

namespace exattest {

EXATTEST_DEFINE_DELETER(CONF, NCONF_free);

namespace {

constexpr const char* kName = "exattest";
constexpr const char* kVersion = EXATTEST_VERSION;
constexpr const char* kBuildInfo = "exattest " EXATTEST_VERSION
                                   " (PROTOCOL.md version 1, built "
                                   "with " OPENSSL_VERSION_TEXT ")";

using Pairs = ConfPairs;

// ---- Reading the provider section ------------------------------------------------------
//
// OpenSSL 3.0 hands every name=value of the provider's section to the provider as a core
// parameter (provider_conf.c), but OSSL_FUNC_core_get_params only answers for names the
// provider asks for: unknown keys cannot be enumerated through it, and 3.0 has no other
// upcall for the section (OSSL_PROVIDER_get_conf_parameters arrived in 3.5).
//
// So the values come from the core (authoritative: what OpenSSL parsed), and unknown keys
// are found by reading the config file OpenSSL reads by default (OPENSSL_CONF or the
// built-in path) with NCONF and following openssl_conf -> providers -> our section. That is
// file I/O during init — read-only, of the file OpenSSL itself has just read — and it is
// the one exception to "no I/O in OSSL_provider_init". The file is trusted only when its
// section agrees with what the core reported for every known key (and `module`); an
// application that loaded another file (OPENSSL_init_crypto settings, `openssl req -config`)
// or the provider by OSSL_PROVIDER_load() then still gets every known key validated, but
// unknown keys in a file we cannot see are not detected.

std::map<std::string, std::string> core_params(OSSL_FUNC_core_get_params_fn* get_params,
                                               const OSSL_CORE_HANDLE* handle,
                                               const std::vector<std::string>& keys) {
  std::vector<const char*> values(keys.size(), nullptr);
  std::vector<OSSL_PARAM> params;
  for (size_t i = 0; i < keys.size(); ++i)
    params.push_back(
        OSSL_PARAM_construct_utf8_ptr(keys[i].c_str(), const_cast<char**>(&values[i]), 0));
  params.push_back(OSSL_PARAM_construct_end());
  std::map<std::string, std::string> out;
  if (get_params == nullptr || !get_params(handle, params.data())) return out;
  for (size_t i = 0; i < keys.size(); ++i)
    if (values[i] != nullptr) out[keys[i]] = values[i];
  return out;
}

// "a.b" -> "b": CONF names may carry a "prefix." that libcrypto's modules skip.
std::string after_dot(const std::string& s) {
  auto dot = s.rfind('.');
  return dot == std::string::npos ? s : s.substr(dot + 1);
}

struct FileSection {
  bool found = false;
  std::string file;
  std::string name;  // section name, for messages
  Pairs entries;
  std::vector<std::string> nested;  // keys whose value names another section
};

// Our provider's section in the default config file; found = false when there is none.
FileSection read_file_section(const std::string& provider_name) {
  FileSection out;
  char* path = CONF_get1_default_config_file();
  if (path == nullptr) return out;
  out.file = path;
  OPENSSL_free(path);
  UniquePtr<CONF> conf(NCONF_new(nullptr));
  if (!conf) return out;
  long eline = 0;
  ERR_set_mark();
  bool loaded = NCONF_load(conf.get(), out.file.c_str(), &eline) > 0;
  ERR_pop_to_mark();
  if (!loaded) return out;
  std::string init = nconf_string(conf.get(), "", "openssl_conf");
  if (init.empty()) return out;
  for (const auto& [module, providers] : nconf_section(conf.get(), init)) {
    if (module != "providers" && module.rfind("providers.", 0) != 0) continue;
    for (const auto& [name, section] : nconf_section(conf.get(), providers)) {
      Pairs entries = nconf_section(conf.get(), section);
      std::string identity = after_dot(name);
      for (const auto& [k, v] : entries)
        if (after_dot(k) == "identity") identity = v;
      if (identity != provider_name) continue;
      out.found = true;
      out.name = section;
      out.entries = entries;
      for (const auto& [k, v] : entries)
        if (!is_openssl_provider_key(k) && nconf_has_section(conf.get(), v))
          out.nested.push_back(k);
      return out;
    }
  }
  return out;
}

struct Section {
  std::map<std::string, std::string> values;
  std::string where;  // " (section [x] of /path)" when known
};

Result<Section> read_section(OSSL_FUNC_core_get_params_fn* get_params,
                             const OSSL_CORE_HANDLE* handle) {
  std::vector<std::string> keys = config_keys();
  keys.push_back("module");
  Section out;
  out.values = core_params(get_params, handle, keys);
  std::map<std::string, std::string> core =
      core_params(get_params, handle, {OSSL_PROV_PARAM_CORE_PROV_NAME});
  auto name = core.find(OSSL_PROV_PARAM_CORE_PROV_NAME);
  if (name == core.end()) return out;

  FileSection file = read_file_section(name->second);
  if (!file.found) return out;
  // provider_conf.c expands a value that names a section into "key.subkey" parameters:
  // exattest keys take plain values, and the core would not show us this key at all.
  if (!file.nested.empty())
    return make_error(Reason::kPolicyError,
                      "exattest config: key `" + file.nested.front() + "` in [" + file.name +
                          "] of " + file.file +
                          " names a config section; exattest keys take plain values");
  std::map<std::string, std::string> from_file(file.entries.begin(), file.entries.end());
  for (const auto& key : keys) {
    auto f = from_file.find(key);
    auto c = out.values.find(key);
    // OpenSSL's own `module` is compared when the core passes it on (3.0 does).
    if (key == "module" && c == out.values.end()) continue;
    bool same = (f == from_file.end()) ? c == out.values.end()
                                       : c != out.values.end() && c->second == f->second;
    if (!same) return out;  // not the file OpenSSL loaded: cannot enumerate (see above)
  }
  for (const auto& [k, v] : from_file) out.values.emplace(k, v);  // adds the unknown keys
  out.where = " (section [" + file.name + "] of " + file.file + ")";
  return out;
}

std::map<std::string, std::string> read_environment() {
  std::map<std::string, std::string> env;
  for (const auto& key : config_keys()) {
    std::string var = config_env_name(key);
    // secure_getenv: a setuid/setgid program does not take its configuration from the
    // environment of whoever runs it.
    if (const char* v = secure_getenv(var.c_str()); v != nullptr) env[var] = v;
  }
  return env;
}

// ---- Process-wide setup ---------------------------------------------------------------

std::mutex g_setup_mu;
bool g_setup_done = false;

// ARCHITECTURE.md "Process model": ex_data indexes are registered once per process even
// though the provider can be loaded into several library contexts; the first valid
// configuration wins (every context reads the same openssl.cnf section in practice).
Status setup_once(const Config& config) {
  std::lock_guard<std::mutex> lock(g_setup_mu);
  if (g_setup_done) return Status::Ok();
  errors_init();
  // ARCHITECTURE.md: "If the lookup fails, the shim is absent and the provider does not
  // advertise."
  void* sym = dlsym(RTLD_DEFAULT, EXATTEST_SHIM_REGISTER_SYMBOL);
  // Issue #11 item 3: a shim that this program's own SSL functions bypass never runs the
  // exchange, so the flags are never advertised (exattest_shim.h); the shim has printed why.
  const char* bypass = nullptr;
  if (void* b = dlsym(RTLD_DEFAULT, EXATTEST_SHIM_BYPASS_SYMBOL); b != nullptr)
    bypass = reinterpret_cast<exattest_shim_bypassed_fn>(b)();
  std::string refuse;
  if (bypass != nullptr && config.request == Config::Request::kRequire)
    refuse = "this program's " + std::string(bypass) +
             ", not to the exattest shim (statically linked OpenSSL?), so no connection can be "
             "attested; request = require refuses every one";
  // With the shim present the extension is registered; a client still sends nothing
  // unless config.active() (hooks.cc).
  bool advertise = sym != nullptr && bypass == nullptr;
  if (advertise) EXATTEST_RETURN_IF_ERROR(exchange::init(config));
  EXATTEST_RETURN_IF_ERROR(hooks::init(config, advertise, refuse));
  if (sym != nullptr) {
    // Registered even when this process neither asks nor answers (request = off,
    // attest = none): the shim must see the provider, and the ops then report every
    // connection as plain.
    auto reg = reinterpret_cast<exattest_shim_register_fn>(sym);
    if (reg(exchange::shim_ops()) != 1) {
      (void)hooks::init(config, false);
      return make_error(Reason::kProtocolError,
                        "the preloaded exattest shim rejected the provider (ABI version " +
                            std::to_string(EXATTEST_SHIM_ABI_VERSION) +
                            " expected): shim and provider come from different builds");
    }
  }
  g_setup_done = true;
  return Status::Ok();
}

// ---- Provider dispatch ----------------------------------------------------------------

const OSSL_PARAM kGettable[] = {
    OSSL_PARAM_DEFN(OSSL_PROV_PARAM_NAME, OSSL_PARAM_UTF8_PTR, nullptr, 0),
    OSSL_PARAM_DEFN(OSSL_PROV_PARAM_VERSION, OSSL_PARAM_UTF8_PTR, nullptr, 0),
    OSSL_PARAM_DEFN(OSSL_PROV_PARAM_BUILDINFO, OSSL_PARAM_UTF8_PTR, nullptr, 0),
    OSSL_PARAM_DEFN(OSSL_PROV_PARAM_STATUS, OSSL_PARAM_INTEGER, nullptr, 0), OSSL_PARAM_END};

const OSSL_PARAM* gettable_params(void* provctx) noexcept { return kGettable; }

int get_params(void* provctx, OSSL_PARAM params[]) noexcept {
  OSSL_PARAM* p;
  if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_NAME)) != nullptr &&
      !OSSL_PARAM_set_utf8_ptr(p, kName))
    return 0;
  if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_VERSION)) != nullptr &&
      !OSSL_PARAM_set_utf8_ptr(p, kVersion))
    return 0;
  if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_BUILDINFO)) != nullptr &&
      !OSSL_PARAM_set_utf8_ptr(p, kBuildInfo))
    return 0;
  if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_STATUS)) != nullptr &&
      !OSSL_PARAM_set_int(p, 1))
    return 0;
  return 1;
}

// The provider offers no algorithms: it exists for the hooks it installs.
const OSSL_ALGORITHM* query_operation(void* provctx, int operation_id, int* no_cache) noexcept {
  *no_cache = 0;
  return nullptr;
}

// The hooks stay installed: SSL_CTXs created while the provider was active still point at
// them, and the module is never unloaded (-z nodelete).
void teardown(void* provctx) noexcept {}

const OSSL_DISPATCH kDispatch[] = {
    {OSSL_FUNC_PROVIDER_TEARDOWN, reinterpret_cast<void (*)(void)>(teardown)},
    {OSSL_FUNC_PROVIDER_GETTABLE_PARAMS, reinterpret_cast<void (*)(void)>(gettable_params)},
    {OSSL_FUNC_PROVIDER_GET_PARAMS, reinterpret_cast<void (*)(void)>(get_params)},
    {OSSL_FUNC_PROVIDER_QUERY_OPERATION, reinterpret_cast<void (*)(void)>(query_operation)},
    {0, nullptr}};

// OpenSSL 3.0 (checked on 3.0.22) ignores a provider whose init fails during config loading:
// the providers module still reports success and CONF_modules_load pops our error off the
// queue, so nothing reaches the application. One line on stderr is then the only way the
// operator learns why exattest is not active; it carries no secret (key names and values
// of the config section only).
int fail(Reason reason, const std::string& detail) {
  raise_error(reason, detail);
  std::fprintf(stderr, "exattest: provider not loaded: %s\n", detail.c_str());
  return 0;
}

int provider_init(const OSSL_CORE_HANDLE* handle, const OSSL_DISPATCH* in,
                  const OSSL_DISPATCH** out, void** provctx) {
  errors_init();
  OSSL_FUNC_core_get_params_fn* get_core_params = nullptr;
  for (; in != nullptr && in->function_id != 0; ++in)
    if (in->function_id == OSSL_FUNC_CORE_GET_PARAMS)
      get_core_params = OSSL_FUNC_core_get_params(in);

  Result<Section> section = read_section(get_core_params, handle);
  if (!section.ok()) return fail(section.reason(), section.error().detail);
  // PROTOCOL.md §8: "an unknown key or a bad value is an error at load, naming the key".
  Result<Config> config = parse_config(section->values, read_environment());
  if (!config.ok()) return fail(config.reason(), config.error().detail + section->where);
  Status st = setup_once(config.value());
  if (!st.ok()) return fail(st.reason(), st.error().detail);
  *out = kDispatch;
  *provctx = const_cast<OSSL_CORE_HANDLE*>(handle);
  return 1;
}

}  // namespace
}  // namespace exattest

extern "C" __attribute__((visibility("default"))) int OSSL_provider_init(
    const OSSL_CORE_HANDLE* handle, const OSSL_DISPATCH* in, const OSSL_DISPATCH** out,
    void** provctx) noexcept {
  try {
    return exattest::provider_init(handle, in, out, provctx);
  } catch (...) {
    // No allocation here: this also catches std::bad_alloc.
    exattest::raise_error(exattest::Reason::kProtocolError,
                          "exattest provider: internal error during initialisation");
    std::fputs("exattest: provider not loaded: internal error during initialisation\n", stderr);
    return 0;
  }
}
