// PROTOCOL.md §9 policy loading. Fail closed: every unknown field or bad value is a
// kPolicyError naming the field.
#include "attesters/tpm2/policy.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <cstdio>
#include <iterator>
#include <memory>
#include <set>

#include "common/ossl_ptr.h"

namespace exattest::tpm2 {
namespace {

using nlohmann::json;

Error perr(std::string detail) {
  return make_error(Reason::kPolicyError, "policy: " + std::move(detail));
}

constexpr std::string_view kSha256Prefix = "sha256:";
constexpr const char* kPcrsAny = "any";

// Whether the policy says something about the boot state (issue #11 item 10).
bool judges_boot(const Policy& p) { return !p.pcrs.empty() || p.pcrs_any; }

// Loads every certificate of a PEM file; at least one.
Result<std::vector<Bytes>> load_ca_file(const std::filesystem::path& path) {
  UniquePtr<BIO> bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) {
    ERR_clear_error();
    return perr("field \"ak_ca\": cannot open \"" + path.string() +
                "\"; expected a readable PEM file of AK CA certificates");
  }
  std::vector<Bytes> out;
  while (true) {
    UniquePtr<X509> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) break;
    int len = i2d_X509(cert.get(), nullptr);
    if (len <= 0) break;
    Bytes der(static_cast<size_t>(len));
    uint8_t* p = der.data();
    if (i2d_X509(cert.get(), &p) != len) break;
    out.push_back(std::move(der));
  }
  // The loop ends at EOF (PEM_R_NO_START_LINE) or at a malformed certificate: only the
  // former is fine.
  unsigned long err = ERR_peek_last_error();
  bool clean_eof =
      err == 0 || (ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE);
  ERR_clear_error();
  if (!clean_eof) {
    return perr("field \"ak_ca\": \"" + path.string() +
                "\" holds a malformed PEM certificate; expected PEM X.509 certificates");
  }
  if (out.empty()) {
    return perr("field \"ak_ca\": \"" + path.string() +
                "\" holds no certificate; expected at least one PEM X.509 certificate");
  }
  return out;
}

// "1.2.3": at least two arcs, decimal digits, no empty arc, no leading zero.
bool is_dotted_oid(const std::string& s) {
  if (s.empty() || s.size() > 128) return false;
  size_t arcs = 0, i = 0;
  while (i <= s.size()) {
    size_t end = s.find('.', i);
    if (end == std::string::npos) end = s.size();
    if (end == i || (end - i > 1 && s[i] == '0')) return false;
    for (size_t k = i; k < end; ++k)
      if (s[k] < '0' || s[k] > '9') return false;
    ++arcs;
    i = end + 1;
  }
  return arcs >= 2;
}

Result<bool> get_bool(const json& v, const char* field) {
  if (!v.is_boolean()) return perr(std::string("field \"") + field + "\" must be true or false");
  return v.get<bool>();
}

// "0".."23", no sign, no leading zero.
bool parse_pcr_index(const std::string& s, uint32_t& out) {
  if (s.empty() || s.size() > 2 || (s.size() == 2 && s[0] == '0')) return false;
  uint32_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v > kMaxPcrIndex) return false;
  out = v;
  return true;
}

// Bounds on the policy document, checked before nlohmann builds it: the DOM costs ~50
// bytes per JSON value and per nesting level, so 1 MiB of "[" or of "0," used 20-55 MB
// (tests/unit/memory_test.cc). A policy nests 2 levels deep (object -> trusted_aks/pcrs ->
// strings) and holds ~35 values plus its trusted AKs.
constexpr size_t kMaxPolicyBytes = 1 << 20;
constexpr size_t kMaxPolicyDepth = 4;
constexpr size_t kMaxPolicyValues = 4096;

// Counts nesting and values outside strings; the parser itself still judges the syntax.
Status check_policy_shape(std::string_view text) {
  if (text.size() > kMaxPolicyBytes) {
    return perr("the file is " + std::to_string(text.size()) + " bytes; at most " +
                std::to_string(kMaxPolicyBytes) + " are accepted");
  }
  size_t depth = 0, values = 1;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxPolicyDepth) {
        return perr("JSON nested deeper than " + std::to_string(kMaxPolicyDepth) +
                    " levels; a policy is an object of arrays, objects and scalars");
      }
    } else if (c == ']' || c == '}') {
      if (depth > 0) --depth;
    } else if (c == ',' || c == ':') {
      if (++values > kMaxPolicyValues) {
        return perr("more than " + std::to_string(kMaxPolicyValues) +
                    " JSON values; a policy lists at most a few thousand trusted AKs");
      }
    }
  }
  return Status::Ok();
}

}  // namespace

Result<Policy> load_policy_json(std::string_view json_text, const std::filesystem::path& base_dir) {
  // Duplicate keys would let two readers of the same file see different policies: reject.
  std::vector<std::set<std::string>> keys_at_depth;
  std::string duplicate;
  json::parser_callback_t cb = [&](int depth, json::parse_event_t ev, json& parsed) {
    size_t d = static_cast<size_t>(depth);
    if (ev == json::parse_event_t::object_start) {
      if (keys_at_depth.size() <= d + 1) keys_at_depth.resize(d + 2);
      keys_at_depth[d + 1].clear();
    } else if (ev == json::parse_event_t::key) {
      if (keys_at_depth.size() <= d) keys_at_depth.resize(d + 1);
      std::string k = parsed.get<std::string>();
      if (!keys_at_depth[d].insert(k).second && duplicate.empty()) duplicate = k;
    }
    return true;
  };
  EXATTEST_RETURN_IF_ERROR(check_policy_shape(json_text));
  json doc;
  try {
    doc = json::parse(json_text.begin(), json_text.end(), cb);
  } catch (const json::exception& e) {
    return perr(std::string("invalid JSON: ") + e.what());
  }
  if (!duplicate.empty()) return perr("field \"" + duplicate + "\" appears twice");
  if (!doc.is_object()) return perr("the document must be a JSON object");

  static const std::set<std::string> kKnown = {"version",    "trusted_aks",       "ak_ca",
                                               "ak_eku",     "pcr_bank",          "pcrs",
                                               "ak_primary", "require_clock_safe",
                                               "secure_boot"};
  for (const auto& [key, value] : doc.items()) {
    if (!kKnown.count(key)) {
      return perr("unknown field \"" + key +
                  "\"; expected only version, trusted_aks, ak_ca, ak_eku, pcr_bank, pcrs, "
                  "ak_primary, require_clock_safe, secure_boot");
    }
  }

  // PROTOCOL.md §9: "version": 1.
  if (!doc.contains("version")) return perr("field \"version\" is missing; expected 1");
  const json& version = doc["version"];
  if (!version.is_number_integer() || version.get<int64_t>() != 1) {
    return perr("field \"version\" must be the integer 1");
  }

  Policy p;
  if (doc.contains("trusted_aks")) {
    const json& aks = doc["trusted_aks"];
    if (!aks.is_array()) {
      return perr("field \"trusted_aks\" must be an array of \"sha256:<64 hex>\" strings");
    }
    for (size_t i = 0; i < aks.size(); ++i) {
      const json& a = aks[i];
      std::string where = "field \"trusted_aks\"[" + std::to_string(i) + "]";
      if (!a.is_string()) return perr(where + " must be a \"sha256:<64 hex>\" string");
      std::string s = a.get<std::string>();
      Bytes h;
      if (s.rfind(kSha256Prefix, 0) != 0 || s.size() != kSha256Prefix.size() + 64 ||
          !from_hex(std::string_view(s).substr(kSha256Prefix.size()), h) || h.size() != 32) {
        return perr(where + " is \"" + s +
                    "\"; expected \"sha256:\" + 64 hex digits (SHA-256 of the AK's DER SPKI)");
      }
      p.trusted_aks.push_back(std::move(h));
    }
  }

  if (doc.contains("ak_ca")) {
    const json& ca = doc["ak_ca"];
    if (!ca.is_string() || ca.get<std::string>().empty()) {
      return perr("field \"ak_ca\" must be a non-empty path to a PEM file");
    }
    std::filesystem::path path = ca.get<std::string>();
    if (path.is_relative() && !base_dir.empty()) path = base_dir / path;
    auto certs = load_ca_file(path);
    if (!certs.ok()) return certs.error();
    p.ak_ca_path = ca.get<std::string>();
    p.ak_ca_certs = std::move(certs.value());
  }

  // Issue #11 item 11: the EKU an AK certificate must carry; meaningless without ak_ca.
  if (doc.contains("ak_eku")) {
    const json& eku = doc["ak_eku"];
    std::string oid = eku.is_string() ? eku.get<std::string>() : "";
    if (!is_dotted_oid(oid)) {
      return perr("field \"ak_eku\" must be an OID in dotted decimal, e.g. \"" +
                  std::string(kTcgAkEku) + "\" (tcg-kp-AIKCertificate, the default)");
    }
    if (!p.ak_ca_path) return perr("field \"ak_eku\" is given without \"ak_ca\"");
    p.ak_eku = std::move(oid);
  }

  // PROTOCOL.md §9: "at least one of the two must be present".
  if (p.trusted_aks.empty() && !p.ak_ca_path) {
    return perr("no trust anchor: field \"trusted_aks\" (non-empty) or \"ak_ca\" is required");
  }

  if (doc.contains("pcr_bank")) {
    const json& bank = doc["pcr_bank"];
    std::string name = bank.is_string() ? bank.get<std::string>() : "";
    if (name != "sha256" && name != "sha384" && name != "sha1") {
      return perr("field \"pcr_bank\" must be \"sha256\", \"sha384\" or \"sha1\"");
    }
    p.pcr_bank = hash_alg_from_name(name);
  }

  if (doc.contains("pcrs")) {
    const json& pcrs = doc["pcrs"];
    if (pcrs.is_string() && pcrs.get<std::string>() == kPcrsAny) {
      p.pcrs_any = true;
    } else if (!pcrs.is_object()) {
      return perr(
          "field \"pcrs\" must be an object {\"<index 0..23>\": \"<hex>\"} or the "
          "string \"any\"");
    }
    size_t want = hash_alg_digest_size(p.pcr_bank);
    static const json kNoPcrs = json::object();
    for (const auto& [key, value] : (p.pcrs_any ? kNoPcrs : pcrs).items()) {
      uint32_t index;
      if (!parse_pcr_index(key, index)) {
        return perr("field \"pcrs\": key \"" + key + "\" must be a decimal PCR index 0..23");
      }
      Bytes v;
      if (!value.is_string() || !from_hex(value.get<std::string>(), v) || v.size() != want) {
        return perr("field \"pcrs\"[\"" + key + "\"] must be " + std::to_string(2 * want) +
                    " hex digits (a " + std::string(hash_alg_name(p.pcr_bank)) + " digest)");
      }
      p.pcrs[index] = std::move(v);
    }
  }
  // Issue #11: a policy without reference values accepted every boot state, silently. A
  // policy must judge the boot explicitly: reference values, or "pcrs": "any" to say that
  // it judges nothing. (Rules that judge the boot otherwise belong in judges_boot().)
  if (!judges_boot(p)) {
    return perr(std::string(doc.contains("pcrs") ? "field \"pcrs\" is {} and judges nothing"
                                                 : "field \"pcrs\" is missing") +
                "; a policy must judge the boot explicitly: give reference values "
                "{\"<index 0..23>\": \"<hex>\"} (`exattest policy create` writes them), or "
                "\"pcrs\": \"any\" to accept any boot state");
  }

  if (doc.contains("ak_primary")) {
    auto b = get_bool(doc["ak_primary"], "ak_primary");
    if (!b.ok()) return b.error();
    p.ak_primary = *b;
  }
  if (doc.contains("require_clock_safe")) {
    auto b = get_bool(doc["require_clock_safe"], "require_clock_safe");
    if (!b.ok()) return b.error();
    p.require_clock_safe = *b;
  }
  if (doc.contains("secure_boot")) {
    const json& sb = doc["secure_boot"];
    if (!sb.is_string() || sb.get<std::string>() != "required") {
      return perr("field \"secure_boot\" must be \"required\" (leave it out to judge nothing "
                  "about Secure Boot)");
    }
    p.secure_boot_required = true;
  }
  return p;
}

Result<Policy> load_policy_file(const std::filesystem::path& path) {
  // stdio, not <fstream>: iostreams would pull libstdc++'s locale machinery into exattest.so,
  // which every process that loads the provider pays for at start-up (issue #7).
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rbe"), &std::fclose);
  if (!f) {
    return perr("cannot read policy file \"" + path.string() +
                "\"; set `policy` in [exattest_sect] or EXATTEST_POLICY");
  }
  // Bounded read: `policy = /dev/zero` (or a huge file) must fail, not fill memory.
  std::string text;
  char buf[16384];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof(buf), f.get())) > 0) {
    text.append(buf, n);
    if (text.size() > kMaxPolicyBytes) {
      return make_error(Reason::kPolicyError, path.string() + ": policy: the file is larger than " +
                                                  std::to_string(kMaxPolicyBytes) + " bytes");
    }
  }
  if (std::ferror(f.get())) return perr("cannot read policy file \"" + path.string() + "\"");
  auto p = load_policy_json(text, path.parent_path());
  if (!p.ok()) return make_error(Reason::kPolicyError, path.string() + ": " + p.error().detail);
  return p;
}

nlohmann::json policy_to_json(const Policy& policy) {
  json j;
  j["version"] = 1;
  if (!policy.trusted_aks.empty()) {
    json aks = json::array();
    for (const auto& h : policy.trusted_aks)
      aks.push_back(std::string(kSha256Prefix) + to_hex(view(h)));
    j["trusted_aks"] = std::move(aks);
  }
  if (policy.ak_ca_path) j["ak_ca"] = *policy.ak_ca_path;
  if (policy.ak_eku) j["ak_eku"] = *policy.ak_eku;
  j["pcr_bank"] = std::string(hash_alg_name(policy.pcr_bank));
  if (policy.pcrs_any && policy.pcrs.empty()) {
    j["pcrs"] = kPcrsAny;
  } else {
    json pcrs = json::object();
    for (const auto& [index, value] : policy.pcrs)
      pcrs[std::to_string(index)] = to_hex(view(value));
    j["pcrs"] = std::move(pcrs);
  }
  j["ak_primary"] = policy.ak_primary;
  j["require_clock_safe"] = policy.require_clock_safe;
  if (policy.secure_boot_required) j["secure_boot"] = "required";
  return j;
}

}  // namespace exattest::tpm2
