// `exattest doctor`: checks everything an attested TLS process needs, one line per check,
// each "ok" or "FAIL" with the fix (or "skip" when the configuration does not need it).
#include <dlfcn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/provider.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "attesters/tpm2/policy.h"
#include "config.h"
#include "exattest_shim.h"
#include "openssl_conf.h"
#include "tpm_common.h"

extern char** environ;

namespace exattest::cli {

namespace {

const CommandSpec& spec() {
  static const CommandSpec s{
      .name = "doctor",
      .usage = {"doctor [--tcti TCTI] [--nginx CONF]"},
      .summary =
          "Check that this process would attest as configured: OPENSSL_CONF, the module\n"
          "path, the default provider, the exattest settings, exattest-tpm2.so beside the\n"
          "module (attest = tpm2), the TPM, the policy and the LD_PRELOAD shim. One line\n"
          "per check: ok, FAIL (with the fix), WARN (works, but weaker than it may look)\n"
          "or skip.",
      .description =
          "Run it with the environment of the program you want to attest, e.g.\n"
          "  OPENSSL_CONF=conf/server.cnf LD_PRELOAD=build/lib/libexattest-shim.so \\\n"
          "    exattest doctor\n"
          "The config is read with OpenSSL's NCONF API: openssl_conf -> [init] providers ->\n"
          "the provider whose module is exattest*.so (else the one named exattest); its keys\n"
          "and EXATTEST_<KEY> variables go through the provider's own parse_config.\n"
          "With --nginx CONF it also reads that nginx.conf (not its `include`s) and WARNs\n"
          "for every `server` block with ssl whose ssl_protocols (its own, else the http\n"
          "block's, else nginx 1.22's default TLSv1 TLSv1.1 TLSv1.2) lacks TLSv1.3, and\n"
          "every proxy_pass https:// whose proxy_ssl_protocols lacks it: such connections\n"
          "never attest.",
      .options = {tcti_option(),
                  {"--nginx", "", "CONF",
                   "also check this nginx.conf for TLS 1.3 in ssl_protocols and\n"
                   "proxy_ssl_protocols (WARN lines; an unreadable file is a FAIL)"}},
      .exit_codes =
          "  0  every needed check is ok\n"
          "  1  at least one FAIL\n"
          "  2  usage error\n",
  };
  return s;
}

class Report {
 public:
  void ok(const std::string& what) { line("ok  ", what); }
  void fail(const std::string& what) {
    line("FAIL", what);
    failed_ = true;
  }
  void skip(const std::string& what) { line("skip", what); }
  // Works, but weaker than the user may think; never changes the exit code.
  void warn(const std::string& what) { line("WARN", what); }
  bool failed() const { return failed_; }

 private:
  void line(const char* tag, const std::string& what) { std::cout << tag << "  " << what << "\n"; }
  bool failed_ = false;
};

std::map<std::string, std::string> exattest_environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv = *e;
    if (kv.rfind("EXATTEST_", 0) != 0) continue;
    size_t eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
  }
  return env;
}

// Where OpenSSL's provider loader looks for `module` (provider_core.c: an absolute path as
// is, a relative one or none under OPENSSL_MODULES / the built-in modules dir).
std::string resolve_module(const OpensslConf& conf) {
  auto it = conf.exattest_section.find("module");
  std::string module = it != conf.exattest_section.end() ? it->second : conf.exattest_name + ".so";
  if (!module.empty() && module[0] == '/') return module;
  const char* env = std::getenv("OPENSSL_MODULES");
  std::string dir = env != nullptr ? env : OPENSSL_info(OPENSSL_INFO_MODULES_DIR);
  return (std::filesystem::path(dir) / module).string();
}

bool provider_loads(const OpensslConf& conf, std::string& out_why) {
  ERR_clear_error();
  OSSL_LIB_CTX* ctx = OSSL_LIB_CTX_new();
  if (ctx == nullptr) {
    out_why = "OSSL_LIB_CTX_new failed";
    return false;
  }
  bool ok = OSSL_LIB_CTX_load_config(ctx, conf.path.c_str()) == 1 &&
            OSSL_PROVIDER_available(ctx, conf.exattest_name.c_str()) == 1;
  if (!ok) {
    unsigned long e = ERR_peek_last_error();
    const char* data = nullptr;
    int flags = 0;
    ERR_peek_last_error_data(&data, &flags);
    char buf[256] = {0};
    if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
    out_why = e != 0 ? std::string(buf) : std::string("provider not available after loading");
    if (data != nullptr && (flags & ERR_TXT_STRING) != 0 && *data != '\0') {
      out_why += " (" + std::string(data) + ")";
    }
  }
  ERR_clear_error();
  OSSL_LIB_CTX_free(ctx);
  return ok;
}

const char* request_name(Config::Request r) {
  switch (r) {
    case Config::Request::kOff:
      return "off";
    case Config::Request::kOptional:
      return "optional";
    case Config::Request::kRequire:
      return "require";
  }
  return "?";
}

// `--nginx CONF`: nginx.conf's directives as a tree (comments dropped, quotes kept simple).
struct NginxBlock {
  std::string name;  // "http", "server", "location", ... ("" for the file)
  int line = 0;
  std::vector<std::pair<std::vector<std::string>, int>> directives;  // words, line
  std::vector<NginxBlock> children;
};

bool parse_nginx(const std::string& text, NginxBlock& root, std::string& out_why) {
  std::vector<NginxBlock*> stack{&root};
  std::vector<std::string> words;
  int line = 1, words_line = 1;
  std::string word;
  auto flush_word = [&] {
    if (word.empty()) return;
    if (words.empty()) words_line = line;
    words.push_back(word);
    word.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '#') {
      flush_word();
      while (i < text.size() && text[i] != '\n') ++i;
      ++line;
      continue;
    }
    if (c == '"' || c == '\'') {
      size_t end = text.find(c, i + 1);
      if (end == std::string::npos) end = text.size();
      for (size_t k = i + 1; k < end; ++k) line += text[k] == '\n' ? 1 : 0;
      word += text.substr(i + 1, end - i - 1);
      i = end;
      continue;
    }
    if (c == '\n') ++line;
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      flush_word();
    } else if (c == ';') {
      flush_word();
      if (!words.empty()) stack.back()->directives.push_back({words, words_line});
      words.clear();
    } else if (c == '{') {
      flush_word();
      NginxBlock b;
      b.name = words.empty() ? "" : words.front();
      b.line = words.empty() ? line : words_line;
      stack.back()->children.push_back(std::move(b));
      stack.push_back(&stack.back()->children.back());
      words.clear();
    } else if (c == '}') {
      flush_word();
      if (stack.size() == 1) {
        out_why = "unexpected `}` at line " + std::to_string(line);
        return false;
      }
      stack.pop_back();
      words.clear();
    } else {
      word += c;
    }
  }
  if (stack.size() != 1) {
    out_why = "unclosed `{` (block `" + stack.back()->name + "` at line " +
              std::to_string(stack.back()->line) + ")";
    return false;
  }
  return true;
}

// The words of `name` in this block, or nullopt when the block does not set it.
std::optional<std::vector<std::string>> nginx_directive(const NginxBlock& b,
                                                        const std::string& name) {
  std::optional<std::vector<std::string>> found;
  for (const auto& [words, line] : b.directives) {
    if (words.front() == name) found = std::vector<std::string>(words.begin() + 1, words.end());
  }
  return found;
}

bool has_tls13(const std::vector<std::string>& protocols) {
  return std::find(protocols.begin(), protocols.end(), "TLSv1.3") != protocols.end();
}

// nginx 1.22 (Debian 12): "ssl_protocols TLSv1 TLSv1.1 TLSv1.2" by default, for both.
const std::vector<std::string>& nginx_default_protocols() {
  static const std::vector<std::string> d{"TLSv1", "TLSv1.1", "TLSv1.2"};
  return d;
}

std::string join_words(const std::vector<std::string>& w) {
  std::string s;
  for (const auto& x : w) s += (s.empty() ? "" : " ") + x;
  return s;
}

void check_nginx_proxies(const NginxBlock& b, std::vector<std::string> inherited,
                         const std::string& conf, Report& r) {
  if (auto own = nginx_directive(b, "proxy_ssl_protocols")) inherited = *own;
  for (const auto& [words, line] : b.directives) {
    if (words.front() != "proxy_pass" || words.size() < 2 || words[1].rfind("https://", 0) != 0) {
      continue;
    }
    if (!has_tls13(inherited)) {
      r.warn("nginx: " + conf + ":" + std::to_string(line) + ": proxy_pass " + words[1] +
             " uses proxy_ssl_protocols " + join_words(inherited) +
             " (no TLSv1.3): that upstream connection never attests; add "
             "`proxy_ssl_protocols TLSv1.3;`");
    }
  }
  for (const auto& child : b.children) check_nginx_proxies(child, inherited, conf, r);
}

void check_nginx(const std::string& conf, Report& r) {
  std::ifstream in(conf);
  std::stringstream text;
  if (in) text << in.rdbuf();
  if (!in) {
    r.fail("nginx: cannot read " + conf);
    return;
  }
  NginxBlock root;
  std::string why;
  if (!parse_nginx(text.str(), root, why)) {
    r.fail("nginx: " + conf + ": " + why);
    return;
  }
  int ssl_servers = 0, warnings = 0;
  for (const auto& http : root.children) {
    if (http.name != "http") continue;
    std::vector<std::string> http_protocols =
        nginx_directive(http, "ssl_protocols").value_or(nginx_default_protocols());
    for (const auto& server : http.children) {
      if (server.name != "server") continue;
      bool ssl = nginx_directive(server, "ssl") == std::vector<std::string>{"on"};
      for (const auto& [words, line] : server.directives) {
        if (words.front() == "listen" &&
            std::find(words.begin() + 1, words.end(), "ssl") != words.end()) {
          ssl = true;
        }
      }
      if (!ssl) continue;
      ++ssl_servers;
      std::vector<std::string> protocols =
          nginx_directive(server, "ssl_protocols").value_or(http_protocols);
      if (!has_tls13(protocols)) {
        ++warnings;
        r.warn("nginx: " + conf + ":" + std::to_string(server.line) +
               ": server block with ssl has ssl_protocols " + join_words(protocols) +
               " (no TLSv1.3): its connections never attest; add `ssl_protocols TLSv1.3;`");
      }
    }
    check_nginx_proxies(
        http, nginx_directive(http, "proxy_ssl_protocols").value_or(nginx_default_protocols()),
        conf, r);
  }
  if (warnings == 0) {
    r.ok("nginx: " + conf + ": " + std::to_string(ssl_servers) +
         " server block(s) with ssl, each with TLSv1.3 in ssl_protocols");
  }
}

}  // namespace

int cmd_doctor(const std::vector<std::string>& argv) {
  int exit_code = 0;
  auto args = parse_or_exit(spec(), argv, exit_code);
  if (!args) return exit_code;
  Report r;

  // 1. The config file and its provider structure.
  OpensslConf conf = load_openssl_conf();
  bool have_section = false;
  if (!conf.loaded) {
    r.fail("config: " + conf.problem + (conf.from_env ? "" : "; set OPENSSL_CONF=/path/to/cnf"));
  } else if (!conf.problem.empty()) {
    r.fail("config: " + conf.problem);
  } else {
    have_section = true;
    r.ok("config: " + conf.path + (conf.from_env ? " (OPENSSL_CONF)" : " (OpenSSL default)") +
         ", exattest provider `" + conf.exattest_name + "` in [" + conf.exattest_section_name +
         "]");
  }

  // 2. The module file: OpenSSL skips a missing `module =` silently (no error, no provider).
  bool module_exists = false;
  if (have_section) {
    std::string module = resolve_module(conf);
    std::error_code ec;
    if (std::filesystem::is_regular_file(module, ec)) {
      module_exists = true;
      r.ok("module: " + module + " exists");
      // Load the config into a private library context, as an application would: this runs
      // OSSL_provider_init, which rejects bad keys and reports unresolved symbols.
      std::string why;
      if (provider_loads(conf, why)) {
        r.ok("load: OpenSSL loads the exattest provider from " + conf.path);
      } else {
        r.fail("load: OpenSSL cannot load the exattest provider: " + why);
      }
    } else {
      r.fail("module: " + module + " does not exist; OpenSSL would silently run without " +
             "exattest. Fix `module =` in [" + conf.exattest_section_name +
             "] or build it (cmake --build build)");
    }
    if (conf.exattest_activated) {
      r.ok("activate: the exattest provider is activated");
    } else {
      r.fail("activate: [" + conf.exattest_section_name +
             "] has no `activate = 1`; OpenSSL would not load exattest");
    }
    // config(5): "If you add a section explicitly activating any other provider(s), you most
    // probably need to explicitly activate the default provider".
    if (conf.default_activated) {
      r.ok("default provider: activated");
    } else {
      r.fail(std::string("default provider: ") +
             (conf.default_present ? "present but not activated" : "not configured") +
             "; add `default = default_sect` to [" + conf.providers_section +
             "] and [default_sect] activate = 1, or TLS has no algorithms");
    }
  } else {
    r.skip("module, activate, default provider: no exattest provider section to check");
  }

  // 3. The exattest keys, exactly as the provider parses them.
  std::optional<Config> config;
  auto env = exattest_environment();
  auto parsed = parse_config(
      have_section ? conf.exattest_section : std::map<std::string, std::string>{}, env);
  if (!parsed) {
    r.fail("settings: " + parsed.error().detail);
  } else {
    config = std::move(parsed).value();
    std::string s = "settings: request = " + std::string(request_name(config->request)) +
                    ", attest = " + (config->attest == Config::Attest::kTpm2 ? "tpm2" : "none") +
                    ", tcti = " + config->tcti + ", pcrs = " + config->pcrs +
                    ", policy = " + (config->policy.empty() ? "(none)" : config->policy) +
                    ", log = " + (config->log.empty() ? "(none)" : config->log);
    if (!env.empty()) {
      s += " (environment overrides:";
      for (const auto& [k, v] : env) s += " " + k;
      s += ")";
    }
    if (!have_section) s += " [defaults: no config section]";
    r.ok(s);
  }

  // 4. The TPM: needed when this side answers requests with quotes (attest = tpm2).
  std::string tcti = args->get("--tcti").value_or(config ? config->tcti : resolve_tcti(*args));
  bool tpm_needed = config && config->attest == Config::Attest::kTpm2;
  // exattest.so loads the TPM attester (and tpm2-tss with it) from exattest-tpm2.so in its own
  // directory on the first quote (provider/tpm2_loader.cc): without it every quote fails.
  if (module_exists && tpm_needed) {
    std::error_code ec;
    std::string tpm2_module =
        (std::filesystem::path(resolve_module(conf)).parent_path() / "exattest-tpm2.so").string();
    if (std::filesystem::is_regular_file(tpm2_module, ec)) {
      r.ok("tpm2 module: " + tpm2_module + " exists (loaded on the first quote)");
    } else {
      r.fail("tpm2 module: " + tpm2_module + " does not exist; with attest = tpm2 every quote " +
             "would fail (attester_unavailable). Install exattest-tpm2.so in the same " +
             "directory as exattest.so (cmake --build build builds both)");
    }
  }
  {
    tpm2::Tpm2Config tc;
    tc.tcti = tcti;
    tpm2::Tpm2Attester attester(tc);
    auto ak = attester.ak_public();
    if (ak) {
      r.ok("tpm: reachable at tcti=" + tcti + "; AK " + ak->spki_sha256);
    } else if (tpm_needed || args->has("--tcti")) {
      r.fail("tpm: no TPM at tcti=" + tcti + " (" + describe(ak.error()) +
             "); start swtpm (scripts/swtpm.sh start DIR) or set `tcti` / EXATTEST_TCTI");
    } else {
      r.skip("tpm: not reachable at tcti=" + tcti + ", not needed (attest = none)");
    }
  }

  // 5. The policy: needed when this side asks for Evidence (request != off).
  if (config && !config->policy.empty()) {
    auto policy = tpm2::load_policy_file(config->policy);
    if (policy) {
      r.ok("policy: " + config->policy + " loads (" + std::to_string(policy->trusted_aks.size()) +
           " trusted AK(s), " + std::to_string(policy->pcrs.size()) + " PCR reference(s))");
      if (policy->pcrs_any) {
        r.warn(
            "policy: \"pcrs\": \"any\" accepts any boot state (no PCR is judged); give "
            "reference values (`exattest policy create` writes them) to judge the boot");
      }
    } else {
      r.fail("policy: " + policy.error().detail);
    }
  } else if (config) {
    r.skip("policy: none configured, not needed (request = off)");
  } else {
    r.skip("policy: settings invalid, not checked");
  }

  // 6. The shim: the provider advertises nothing without it (ARCHITECTURE.md).
  const char* preload = std::getenv("LD_PRELOAD");
  bool named = preload != nullptr &&
               std::string_view(preload).find("libexattest-shim") != std::string_view::npos;
  bool loaded = dlsym(RTLD_DEFAULT, EXATTEST_SHIM_REGISTER_SYMBOL) != nullptr;
  bool active = config && config->active();
  if (named && loaded) {
    r.ok("shim: libexattest-shim is preloaded in this process");
    if (!have_section) {
      r.fail(
          "shim: preloaded without an exattest provider; every handshake would fail. "
          "Set OPENSSL_CONF to a config that loads exattest.so, or drop LD_PRELOAD");
    }
  } else if (active) {
    r.fail(std::string("shim: ") +
           (named ? "LD_PRELOAD names libexattest-shim but it did not load (wrong path?)"
                  : "not preloaded") +
           "; run the program with LD_PRELOAD=/path/to/libexattest-shim.so, otherwise "
           "the provider advertises nothing and connections are not attested");
  } else if (config) {
    r.skip("shim: not preloaded, not needed (request = off, attest = none)");
  } else {
    r.skip("shim: not preloaded; settings invalid, not judged");
  }

  // 7. nginx.conf (issue #11 item 6): TLS 1.3 must be enabled where nginx should attest.
  if (auto nginx = args->get("--nginx")) check_nginx(*nginx, r);

  return r.failed() ? kExitRejected : kExitOk;
}

}  // namespace exattest::cli
