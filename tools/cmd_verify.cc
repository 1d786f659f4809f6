// `exattest verify`: appraise a CMW (PROTOCOL.md §6) or a raw tpm2-tools quote against a
// policy (§9) and print the verdict as JSON.
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cctype>
#include <filesystem>
#include <iostream>

#include "attesters/tpm2/evidence.h"
#include "attesters/tpm2/policy.h"
#include "attesters/tpm2/tpm_structs.h"
#include "attesters/tpm2/verifier.h"
#include "cli.h"
#include "cmw/cmw.h"
#include "common/ossl_ptr.h"

namespace exattest::cli {

namespace {

const CommandSpec& spec() {
  static const CommandSpec s{
      .name = "verify",
      .usage = {"verify --cmw FILE --nonce HEX --policy FILE [--media-type TYPE]",
                "verify --quote FILE --signature FILE --ak FILE --nonce HEX\n"
                "                [--pcr-values FILE] [--policy FILE]"},
      .summary =
          "Appraise TPM 2.0 quote Evidence (PROTOCOL.md §6 steps 1-7) and print the verdict\n"
          "as JSON: {\"accepted\", \"reason\", \"detail\", \"ak\", \"pcrs\", \"mode\", ...}.",
      .description =
          "--cmw: a CMW record as `exattest quote` writes it (CBOR, or its JSON form).\n"
          "--quote/--signature: TPMS_ATTEST and TPMT_SIGNATURE exactly as tpm2_quote -m/-s\n"
          "write them. --ak: PEM SubjectPublicKeyInfo, DER SPKI, TPM2B_PUBLIC (tpm2_createak\n"
          "-u, \"tss\" format) or TPMT_PUBLIC, sniffed. --pcr-values: the PCR digests\n"
          "concatenated in the quote's selection order (tpm2_quote -o FILE -F values); without\n"
          "it the pcrDigest is not checked and a policy listing PCRs fails (pcr_mismatch).\n"
          "Without --policy (raw mode only) the given AK is trusted as is: trusted_aks = its\n"
          "hash, ak_primary = false, no PCR references.\n"
          "--cmw: --nonce is the connection's binding; the quote's extraData must be the\n"
          "binding-tree root it and evidence key 7 give (PROTOCOL.md §6.1); Evidence without\n"
          "key 7 (version 1) is decode_error. Raw mode: --nonce is compared with extraData\n"
          "itself (\"\" is the empty nonce).",
      .options = {{"--cmw", "", "FILE", "CMW record holding tpm2-quote-evidence"},
                  {"--quote", "", "FILE", "raw TPMS_ATTEST (tpm2_quote -m)"},
                  {"--signature", "", "FILE", "raw TPMT_SIGNATURE (tpm2_quote -s)"},
                  {"--ak", "", "FILE", "AK public key: PEM/DER SPKI or TPM2B_PUBLIC/TPMT_PUBLIC"},
                  {"--pcr-values", "", "FILE", "concatenated PCR values in selection order"},
                  {"--nonce", "", "HEX", "expected qualifyingData (required; \"\" = empty)"},
                  {"--policy", "", "FILE", "PROTOCOL.md §9 policy (required with --cmw)"},
                  {"--media-type", "", "TYPE",
                   "CMW media type to accept (default\n"
                   "application/vnd.exattest.tpm2-quote+cbor)"}},
      .exit_codes =
          "  0  accepted\n"
          "  1  rejected (reason: a PROTOCOL.md §7 name, e.g. pcr_mismatch;\n"
          "     an invalid policy is rejected with policy_error)\n"
          "  2  usage error or unreadable file\n",
  };
  return s;
}

nlohmann::ordered_json verdict_json(const Verdict& v) {
  nlohmann::ordered_json j;
  j["accepted"] = v.accepted;
  j["reason"] = reason_name(v.accepted ? Reason::kNone : v.reason);
  j["detail"] = v.detail;
  nlohmann::ordered_json pcrs = nlohmann::ordered_json::object();
  for (const auto& [k, val] : v.pcrs) pcrs[k] = val;
  j["pcrs"] = pcrs;
  j["ak"] = v.ak.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(v.ak);
  return j;
}

Verdict reject(Reason r, std::string detail) {
  Verdict v;
  v.accepted = false;
  v.reason = r;
  v.detail = std::move(detail);
  return v;
}

// Policy from a file: unreadable = I/O (exit 2, out_io); invalid = a policy_error verdict.
std::optional<tpm2::Policy> load_policy(const std::string& path, bool& out_io, Verdict& out_v) {
  out_io = false;
  auto text = read_file(path);
  if (!text) {
    out_io = true;
    out_v = reject(Reason::kPolicyError, text.error().detail);
    return std::nullopt;
  }
  auto p = tpm2::load_policy_json(
      std::string_view(reinterpret_cast<const char*>(text->data()), text->size()),
      std::filesystem::path(path).parent_path());
  if (!p) {
    out_v = reject(Reason::kPolicyError, path + ": " + p.error().detail);
    return std::nullopt;
  }
  return std::move(p).value();
}

struct AkInput {
  UniquePtr<EVP_PKEY> key;          // from PEM/DER SPKI
  std::optional<tpm2::Public> pub;  // from TPM2B_PUBLIC/TPMT_PUBLIC
  std::string format;
};

// PROTOCOL.md §6 step 3 needs the TPMT_PUBLIC for ak_primary; a PEM only carries the key.
Result<AkInput> read_ak(const Bytes& in) {
  AkInput ak;
  static constexpr std::string_view kPem = "-----BEGIN";
  std::string_view text(reinterpret_cast<const char*>(in.data()), in.size());
  if (text.find(kPem) != std::string_view::npos) {
    UniquePtr<BIO> bio(BIO_new_mem_buf(in.data(), static_cast<int>(in.size())));
    ak.key.reset(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
    if (!ak.key) {
      return make_error(Reason::kDecodeError,
                        "--ak: not a PEM public key (expected -----BEGIN PUBLIC KEY-----)");
    }
    ak.format = "pem";
    return ak;
  }
  if (!in.empty() && in[0] == 0x30) {
    const unsigned char* p = in.data();
    ak.key.reset(d2i_PUBKEY(nullptr, &p, static_cast<long>(in.size())));
    if (ak.key && p == in.data() + in.size()) {
      ak.format = "der";
      return ak;
    }
    ak.key.reset();
  }
  auto pub = tpm2::parse_tpm2b_public(view(in));
  if (pub) {
    ak.pub = std::move(pub).value();
    ak.format = "tpm2b_public";
    return ak;
  }
  auto tpmt = tpm2::parse_public(view(in));
  if (tpmt) {
    ak.pub = std::move(tpmt).value();
    ak.format = "tpmt_public";
    return ak;
  }
  return make_error(Reason::kDecodeError,
                    "--ak: neither a PEM/DER SubjectPublicKeyInfo nor a TPM2B_PUBLIC/TPMT_PUBLIC "
                    "(" +
                        pub.error().detail + ")");
}

// Splits --pcr-values by the quote's selection (PROTOCOL.md §6 key 4 order).
Result<std::vector<Bytes>> split_pcr_values(const tpm2::QuoteAttest& a, const Bytes& all) {
  std::vector<Bytes> out;
  size_t need = 0;
  for (const auto& s : a.pcr_select) {
    need += s.indices().size() * tpm2::hash_alg_digest_size(s.hash);
  }
  if (all.size() != need) {
    return make_error(Reason::kPcrMismatch, "--pcr-values holds " + std::to_string(all.size()) +
                                                " bytes; the quote's pcrSelect needs " +
                                                std::to_string(need));
  }
  size_t at = 0;
  for (const auto& s : a.pcr_select) {
    size_t size = tpm2::hash_alg_digest_size(s.hash);
    for (size_t i = 0; i < s.indices().size(); ++i) {
      out.emplace_back(all.begin() + static_cast<std::ptrdiff_t>(at),
                       all.begin() + static_cast<std::ptrdiff_t>(at + size));
      at += size;
    }
  }
  return out;
}

int finish(const Verdict& v, nlohmann::ordered_json extra) {
  nlohmann::ordered_json j = verdict_json(v);
  for (auto& [k, val] : extra.items()) j[k] = val;
  print_json(j);
  return v.accepted ? kExitOk : kExitRejected;
}

int verify_cmw(const CommandSpec& sp, const Args& args, const Bytes& nonce,
               nlohmann::ordered_json extra) {
  for (const char* o : {"--quote", "--signature", "--ak", "--pcr-values"}) {
    if (args.has(o)) return usage_error(sp, std::string(o) + " cannot be used with --cmw");
  }
  auto policy_path = args.get("--policy");
  if (!policy_path) return usage_error(sp, "--cmw needs --policy FILE");
  auto cmw_bytes = read_file(*args.get("--cmw"));
  if (!cmw_bytes) return fail("verify", cmw_bytes.error().detail, kExitUsage);
  bool io = false;
  Verdict v;
  auto policy = load_policy(*policy_path, io, v);
  if (io) return fail("verify", "--policy: " + v.detail, kExitUsage);
  extra["policy"] = *policy_path;
  if (!policy) return finish(v, extra);

  Bytes record = *cmw_bytes;
  // The JSON form of the record is re-encoded as the CBOR record PROTOCOL.md §6 defines;
  // the appraiser then applies the §6 shape rules to it.
  size_t first = 0;
  while (first < record.size() && std::isspace(record[first])) ++first;
  if (first < record.size() && record[first] == '[') {
    auto decoded = cmw::decode_json(
        std::string_view(reinterpret_cast<const char*>(record.data()), record.size()));
    if (!decoded) return finish(reject(decoded.error().reason, decoded.error().detail), extra);
    auto cbor = cmw::encode_cbor(*decoded);
    if (!cbor) return finish(reject(cbor.error().reason, cbor.error().detail), extra);
    record = std::move(cbor).value();
    extra["cmw_format"] = "json";
  } else {
    extra["cmw_format"] = "cbor";
  }
  std::string media_type = args.get("--media-type").value_or(std::string(tpm2::kEvidenceMediaType));
  tpm2::Tpm2Appraiser appraiser(std::move(policy).value(), media_type);
  return finish(appraiser.appraise(view(record), view(nonce)), extra);
}

int verify_raw(const CommandSpec& sp, const Args& args, const Bytes& nonce,
               nlohmann::ordered_json extra) {
  for (const char* o : {"--quote", "--signature", "--ak"}) {
    if (!args.has(o)) return usage_error(sp, std::string("raw mode needs ") + o + " FILE");
  }
  if (args.has("--media-type")) return usage_error(sp, "--media-type is for --cmw only");
  auto attest = read_file(*args.get("--quote"));
  if (!attest) return fail("verify", attest.error().detail, kExitUsage);
  auto sig = read_file(*args.get("--signature"));
  if (!sig) return fail("verify", sig.error().detail, kExitUsage);
  auto ak_bytes = read_file(*args.get("--ak"));
  if (!ak_bytes) return fail("verify", ak_bytes.error().detail, kExitUsage);
  std::optional<Bytes> pcr_file;
  if (auto p = args.get("--pcr-values")) {
    auto r = read_file(*p);
    if (!r) return fail("verify", r.error().detail, kExitUsage);
    pcr_file = std::move(r).value();
  }
  // A key file that is no key is a usage error: nothing was appraised yet.
  auto ak = read_ak(*ak_bytes);
  if (!ak) return usage_error(sp, ak.error().detail);
  extra["ak_format"] = ak->format;

  tpm2::QuoteParts parts;
  parts.attest = view(*attest);
  parts.signature = view(*sig);
  if (ak->pub) parts.ak_public = view(ak->pub->marshaled);
  parts.ak_key = ak->key.get();

  tpm2::Policy policy;
  if (auto path = args.get("--policy")) {
    bool io = false;
    Verdict v;
    auto p = load_policy(*path, io, v);
    if (io) return fail("verify", "--policy: " + v.detail, kExitUsage);
    extra["policy"] = *path;
    if (!p) return finish(v, extra);
    policy = std::move(p).value();
  } else {
    // No policy: the operator vouches for the AK they passed (docs/cli.md).
    UniquePtr<EVP_PKEY> from_pub;
    EVP_PKEY* key = ak->key.get();
    if (key == nullptr) {
      auto k = tpm2::public_to_pkey(*ak->pub);
      if (!k) return usage_error(sp, "--ak: " + k.error().detail);
      from_pub = std::move(k).value();
      key = from_pub.get();
    }
    auto hash = tpm2::spki_sha256(key);
    if (!hash) return usage_error(sp, "--ak: " + hash.error().detail);
    policy.trusted_aks.push_back(std::move(hash).value());
    policy.ak_primary = false;
    extra["policy"] = nullptr;
  }

  if (pcr_file) {
    auto a = tpm2::parse_quote_attest(view(*attest));
    // An unparsable quote is left to the verifier, which rejects it as decode_error (step 1).
    if (a) {
      auto split = split_pcr_values(*a, *pcr_file);
      if (!split) return finish(reject(split.error().reason, split.error().detail), extra);
      parts.pcr_values = std::move(split).value();
    }
  }
  extra["pcr_digest_checked"] = parts.pcr_values.has_value();
  return finish(tpm2::verify_quote(parts, view(nonce), policy), extra);
}

}  // namespace

int cmd_verify(const std::vector<std::string>& argv) {
  const CommandSpec& sp = spec();
  int exit_code = 0;
  auto args = parse_or_exit(sp, argv, exit_code);
  if (!args) return exit_code;
  auto nonce_text = args->get("--nonce");
  if (!nonce_text) return usage_error(sp, "missing --nonce HEX (use --nonce \"\" for none)");
  Bytes nonce;
  if (!parse_nonce(*nonce_text, nonce)) {
    return usage_error(sp, "--nonce is not hex: '" + *nonce_text + "'");
  }
  nlohmann::ordered_json extra;
  extra["nonce"] = to_hex(view(nonce));
  if (args->has("--cmw")) {
    extra["mode"] = "cmw";
    return verify_cmw(sp, *args, nonce, extra);
  }
  if (!args->has("--quote")) return usage_error(sp, "give --cmw FILE or --quote FILE");
  extra["mode"] = "raw";
  return verify_raw(sp, *args, nonce, extra);
}

}  // namespace exattest::cli
