// JSON views of TPM 2.0 Evidence and its tpm2-tools raw files (see evidence_view.h).
#include "evidence_view.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <system_error>

#include "attesters/tpm2/eventlog.h"
#include "attesters/tpm2/pcr_selection.h"
#include "cli.h"

namespace exattest::cli {

namespace {

std::string hex32(uint32_t v) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%08x", v);
  return b;
}
std::string hex16(uint16_t v) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%04x", v);
  return b;
}
std::string hex64(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%016llx", static_cast<unsigned long long>(v));
  return b;
}

std::string alg_name(uint16_t alg) {
  std::string_view h = tpm2::hash_alg_name(alg);
  if (!h.empty()) return std::string(h);
  switch (alg) {
    case tpm2::kAlgRsa:
      return "rsa";
    case tpm2::kAlgEcc:
      return "ecc";
    case tpm2::kAlgEcdsa:
      return "ecdsa";
    case tpm2::kAlgRsassa:
      return "rsassa";
    case tpm2::kAlgRsapss:
      return "rsapss";
    case tpm2::kAlgNull:
      return "null";
    default:
      return hex16(alg);
  }
}

std::string curve_name(uint16_t c) {
  switch (c) {
    case tpm2::kEccNistP256:
      return "nist_p256";
    case tpm2::kEccNistP384:
      return "nist_p384";
    case tpm2::kEccNistP521:
      return "nist_p521";
    default:
      return hex16(c);
  }
}

nlohmann::ordered_json error_json(const Error& e) {
  return {{"reason", reason_name(e.reason)}, {"detail", e.detail}};
}

}  // namespace

nlohmann::ordered_json attest_json(const tpm2::QuoteAttest& a) {
  nlohmann::ordered_json j;
  j["magic"] = hex32(a.magic);
  j["type"] = hex16(a.type) + (a.type == tpm2::kStAttestQuote ? " (TPM_ST_ATTEST_QUOTE)" : "");
  j["qualifiedSigner"] = to_hex(view(a.qualified_signer));
  j["extraData"] = to_hex(view(a.extra_data));
  j["clockInfo"] = {{"clock", a.clock_info.clock},
                    {"resetCount", a.clock_info.reset_count},
                    {"restartCount", a.clock_info.restart_count},
                    {"safe", a.clock_info.safe != 0}};
  j["firmwareVersion"] = hex64(a.firmware_version);
  nlohmann::ordered_json sel = nlohmann::ordered_json::array();
  for (const tpm2::TpmsPcrSelection& s : a.pcr_select) {
    sel.push_back({{"hash", alg_name(s.hash)}, {"pcrs", s.indices()}});
  }
  j["pcrSelect"] = sel;
  j["pcrDigest"] = to_hex(view(a.pcr_digest));
  return j;
}

Result<nlohmann::ordered_json> pcr_values_json(const tpm2::QuoteAttest& a,
                                               const std::vector<Bytes>& values) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  size_t i = 0;
  // PROTOCOL.md §6 key 4: "in the order of the quote's pcrSelect (bank, then index)".
  for (const tpm2::TpmsPcrSelection& s : a.pcr_select) {
    size_t size = tpm2::hash_alg_digest_size(s.hash);
    for (uint32_t idx : s.indices()) {
      if (i >= values.size()) {
        return make_error(
            Reason::kDecodeError,
            "fewer PCR values (" + std::to_string(values.size()) + ") than pcrSelect lists");
      }
      if (values[i].size() != size) {
        return make_error(Reason::kDecodeError, "PCR value " + std::to_string(i) + " has " +
                                                    std::to_string(values[i].size()) +
                                                    " bytes; the bank needs " +
                                                    std::to_string(size));
      }
      j[alg_name(s.hash) + ":" + std::to_string(idx)] = to_hex(view(values[i]));
      ++i;
    }
  }
  if (i != values.size()) {
    return make_error(Reason::kDecodeError, "more PCR values (" + std::to_string(values.size()) +
                                                ") than pcrSelect lists (" + std::to_string(i) +
                                                ")");
  }
  return j;
}

nlohmann::ordered_json evidence_json(const tpm2::EvidenceParts& parts, bool& ok) {
  ok = true;
  nlohmann::ordered_json j;
  auto attest = tpm2::parse_quote_attest(view(parts.attest));
  if (attest) {
    j["attest"] = attest_json(*attest);
  } else {
    ok = false;
    j["attest_error"] = error_json(attest.error());
    j["attest_hex"] = to_hex(view(parts.attest));
  }

  auto sig = tpm2::parse_signature(view(parts.signature));
  if (sig) {
    j["signature"] = {{"sigAlg", alg_name(sig->sig_alg)}, {"hashAlg", alg_name(sig->hash_alg)}};
  } else {
    ok = false;
    j["signature_error"] = error_json(sig.error());
  }

  auto pub = tpm2::parse_public(view(parts.ak_public));
  if (pub) {
    nlohmann::ordered_json ak;
    ak["type"] = alg_name(pub->type);
    ak["nameAlg"] = alg_name(pub->name_alg);
    ak["objectAttributes"] = hex32(pub->attributes);
    ak["scheme"] = alg_name(pub->scheme);
    if (pub->scheme_hash != 0) ak["schemeHash"] = alg_name(pub->scheme_hash);
    if (pub->type == tpm2::kAlgEcc) ak["curve"] = curve_name(pub->curve);
    if (pub->type == tpm2::kAlgRsa) ak["keyBits"] = pub->rsa_key_bits;
    if (auto name = tpm2::public_name(*pub)) ak["name"] = to_hex(view(*name));
    auto pkey = tpm2::public_to_pkey(*pub);
    if (pkey) {
      if (auto spki = tpm2::spki_der(pkey->get())) ak["spki_hash"] = spki_hash(view(*spki));
    } else {
      ok = false;
      ak["key_error"] = error_json(pkey.error());
    }
    j["ak"] = ak;
  } else {
    ok = false;
    j["ak_error"] = error_json(pub.error());
  }

  if (attest) {
    auto pcrs = pcr_values_json(*attest, parts.pcr_values);
    if (pcrs) {
      j["pcrs"] = *pcrs;
    } else {
      ok = false;
      j["pcrs_error"] = error_json(pcrs.error());
    }
  } else {
    nlohmann::ordered_json raw = nlohmann::ordered_json::array();
    for (const Bytes& v : parts.pcr_values) raw.push_back(to_hex(view(v)));
    j["pcr_values"] = raw;
  }
  j["ak_certs"] = parts.ak_certs.size();
  if (parts.event_log) {
    j["event_log_bytes"] = parts.event_log->size();
    bool log_ok = true;
    j["event_log"] = event_log_json(view(*parts.event_log), log_ok);
    ok = ok && log_ok;
  }
  // PROTOCOL.md §6.1 key 7; absent = version-1 Evidence, which appraisal rejects.
  if (parts.tree) {
    nlohmann::ordered_json path = nlohmann::ordered_json::array();
    for (const Bytes& h : parts.tree->path) path.push_back(to_hex(view(h)));
    j["binding_tree"] = {{"leaf_index", parts.tree->leaf_index},
                         {"tree_size", parts.tree->tree_size},
                         {"path", path}};
  } else {
    j["binding_tree"] = nullptr;
    j["binding_tree_note"] =
        "no key 7: version-1 Evidence, rejected by appraisal as decode_error (PROTOCOL.md §6.1)";
  }
  return j;
}

nlohmann::ordered_json event_log_json(ByteView bytes, bool& ok) {
  nlohmann::ordered_json j;
  auto log = tpm2::parse_event_log(bytes);
  if (!log) {
    ok = false;
    j["error"] = error_json(log.error());
    return j;
  }
  j["format"] = log->crypto_agile ? "crypto-agile" : "sha1";
  nlohmann::ordered_json banks = nlohmann::ordered_json::array();
  for (const auto& a : log->algorithms) banks.push_back(tpm2::hash_alg_name(a.alg));
  j["banks"] = banks;
  nlohmann::ordered_json events = nlohmann::ordered_json::array();
  for (const tpm2::Event& e : log->events) {
    nlohmann::ordered_json ev;
    ev["index"] = e.index;
    ev["pcr"] = e.pcr;
    ev["type"] = tpm2::event_type_name(e.type);
    nlohmann::ordered_json digests = nlohmann::ordered_json::object();
    for (const auto& d : e.digests) digests[tpm2::hash_alg_name(d.alg)] = to_hex(view(d.value));
    ev["digests"] = digests;
    if (e.variable) {
      ev["variable"] = {{"guid", e.variable->guid},
                        {"name", e.variable->name},
                        {"bytes", e.variable->data.size()}};
      if (e.variable->data.size() <= 16) ev["variable"]["value"] = to_hex(view(e.variable->data));
    }
    if (e.image && !e.image->path_text.empty()) ev["image_path"] = e.image->path_text;
    if (e.text) ev["text"] = *e.text;
    events.push_back(std::move(ev));
  }
  j["events"] = std::move(events);
  tpm2::SecureBootState sb = tpm2::secure_boot_state(*log);
  nlohmann::ordered_json sbj;
  sbj["measured"] = sb.measured;
  sbj["value"] = sb.value ? nlohmann::ordered_json(*sb.value) : nlohmann::ordered_json(nullptr);
  sbj["pk"] = sb.pk;
  sbj["kek"] = sb.kek;
  sbj["db"] = sb.db;
  sbj["dbx"] = sb.dbx;
  j["secure_boot"] = sbj;
  auto replay = tpm2::replay_event_log(*log);
  if (replay) {
    nlohmann::ordered_json r = nlohmann::ordered_json::object();
    for (const auto& [alg, pcrs] : *replay) {
      for (const auto& [index, value] : pcrs) {
        r[tpm2::pcr_name(alg, index)] = to_hex(view(value));
      }
    }
    j["replay"] = r;
  } else {
    ok = false;
    j["replay_error"] = error_json(replay.error());
  }
  return j;
}

namespace {

void le16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v));
  b.push_back(static_cast<uint8_t>(v >> 8));
}
void le32(Bytes& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

}  // namespace

// tpm2-tools' "serialized" PCR file (tpm2_quote -F serialized, what tpm2_checkquote -f reads
// without -l): the host-order C structs TPML_PCR_SELECTION (count + 16 x 8-byte
// TPMS_PCR_SELECTION), a uint32 count of TPML_DIGESTs, then that many TPML_DIGEST (count + 8 x
// TPM2B_DIGEST of 2 + 64 bytes), 8 values per TPML_DIGEST. Little-endian x86-64 layout, the
// one tpm2-tools 5.4 uses on Debian 12 amd64.
Result<Bytes> tpm2_tools_serialized_pcrs(const tpm2::QuoteAttest& a,
                                         const std::vector<Bytes>& values) {
  constexpr size_t kMaxBanks = 16, kDigestsPerList = 8, kMaxDigest = 64;
  if (a.pcr_select.size() > kMaxBanks) {
    return make_error(Reason::kDecodeError, "more than 16 PCR banks in pcrSelect");
  }
  Bytes out;
  le32(out, static_cast<uint32_t>(a.pcr_select.size()));
  for (size_t i = 0; i < kMaxBanks; ++i) {
    Bytes select(4, 0);
    uint16_t hash = 0;
    uint8_t size = 0;
    if (i < a.pcr_select.size()) {
      hash = a.pcr_select[i].hash;
      size = static_cast<uint8_t>(a.pcr_select[i].select.size());
      for (size_t k = 0; k < a.pcr_select[i].select.size() && k < 4; ++k) {
        select[k] = a.pcr_select[i].select[k];
      }
    }
    le16(out, hash);
    out.push_back(size);
    out.insert(out.end(), select.begin(), select.end());
    out.push_back(0);  // struct padding to 8 bytes
  }
  size_t lists = (values.size() + kDigestsPerList - 1) / kDigestsPerList;
  le32(out, static_cast<uint32_t>(lists));
  for (size_t l = 0; l < lists; ++l) {
    size_t n = std::min(kDigestsPerList, values.size() - l * kDigestsPerList);
    le32(out, static_cast<uint32_t>(n));
    for (size_t k = 0; k < kDigestsPerList; ++k) {
      Bytes digest(kMaxDigest, 0);
      uint16_t len = 0;
      if (k < n) {
        const Bytes& v = values[l * kDigestsPerList + k];
        if (v.size() > kMaxDigest) return make_error(Reason::kDecodeError, "PCR value too long");
        len = static_cast<uint16_t>(v.size());
        std::copy(v.begin(), v.end(), digest.begin());
      }
      le16(out, len);
      out.insert(out.end(), digest.begin(), digest.end());
    }
  }
  return out;
}

Status write_raw_parts(const tpm2::EvidenceParts& parts, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error(Reason::kProtocolError, "cannot create " + dir + ": " + ec.message());
  auto path = [&](const char* name) { return (std::filesystem::path(dir) / name).string(); };

  EXATTEST_RETURN_IF_ERROR(write_file(path("quote.attest"), view(parts.attest)));
  EXATTEST_RETURN_IF_ERROR(write_file(path("quote.sig"), view(parts.signature)));
  EXATTEST_RETURN_IF_ERROR(write_file(path("ak.tpmt"), view(parts.ak_public)));
  if (parts.ak_public.size() > 0xffff) {
    return make_error(Reason::kDecodeError, "AK public area too large for a TPM2B_PUBLIC");
  }
  Bytes tpm2b;
  tpm2b.push_back(static_cast<uint8_t>(parts.ak_public.size() >> 8));
  tpm2b.push_back(static_cast<uint8_t>(parts.ak_public.size() & 0xff));
  tpm2b.insert(tpm2b.end(), parts.ak_public.begin(), parts.ak_public.end());
  EXATTEST_RETURN_IF_ERROR(write_file(path("ak.pub"), view(tpm2b)));

  auto pub = tpm2::parse_public(view(parts.ak_public));
  if (!pub) return pub.error();
  auto pkey = tpm2::public_to_pkey(*pub);
  if (!pkey) return pkey.error();
  auto spki = tpm2::spki_der(pkey->get());
  if (!spki) return spki.error();
  auto pem = spki_pem(view(*spki));
  if (!pem) return pem.error();
  EXATTEST_RETURN_IF_ERROR(write_file(
      path("ak.pem"), ByteView(reinterpret_cast<const uint8_t*>(pem->data()), pem->size())));

  Bytes values;
  for (const Bytes& v : parts.pcr_values) values.insert(values.end(), v.begin(), v.end());
  EXATTEST_RETURN_IF_ERROR(write_file(path("pcrs.values"), view(values)));

  auto attest = tpm2::parse_quote_attest(view(parts.attest));
  if (!attest) return attest.error();
  tpm2::PcrSelection sel;
  for (const tpm2::TpmsPcrSelection& s : attest->pcr_select) {
    sel.banks.push_back({s.hash, s.indices()});
  }
  std::string sel_text = tpm2::format_pcr_selection(sel) + "\n";
  EXATTEST_RETURN_IF_ERROR(
      write_file(path("pcrs.sel"),
                 ByteView(reinterpret_cast<const uint8_t*>(sel_text.data()), sel_text.size())));
  auto ser = tpm2_tools_serialized_pcrs(*attest, parts.pcr_values);
  if (!ser) return ser.error();
  EXATTEST_RETURN_IF_ERROR(write_file(path("pcrs.ser"), view(*ser)));
  std::string nonce = to_hex(view(attest->extra_data)) + "\n";
  EXATTEST_RETURN_IF_ERROR(write_file(
      path("nonce.hex"), ByteView(reinterpret_cast<const uint8_t*>(nonce.data()), nonce.size())));
  return Status::Ok();
}

}  // namespace exattest::cli
