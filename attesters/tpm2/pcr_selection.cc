// PCR selection text form <-> PcrSelection <-> TPML_PCR_SELECTION.
#include "attesters/tpm2/pcr_selection.h"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace exattest::tpm2 {
namespace {

Error sel_error(std::string_view spec, std::string what) {
  return make_error(Reason::kPolicyError,
                    "pcr selection \"" + std::string(spec) + "\": " + what +
                        "; expected e.g. \"sha256:0,1,2-7\" (banks sha1|sha256|sha384|sha512, "
                        "PCRs 0..23, banks joined with '+')");
}

bool parse_index(std::string_view s, uint32_t& out) {
  if (s.empty() || s.size() > 2) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  if (s.size() == 2 && s[0] == '0') return false;  // no leading zeros
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && out <= kMaxPcrIndex;
}

}  // namespace

size_t PcrSelection::count() const {
  size_t n = 0;
  for (const auto& b : banks) n += b.pcrs.size();
  return n;
}

uint16_t hash_alg_from_name(std::string_view name) {
  if (name == "sha1") return kAlgSha1;
  if (name == "sha256") return kAlgSha256;
  if (name == "sha384") return kAlgSha384;
  if (name == "sha512") return kAlgSha512;
  return 0;
}

std::string_view hash_alg_name(uint16_t alg) {
  switch (alg) {
    case kAlgSha1: return "sha1";
    case kAlgSha256: return "sha256";
    case kAlgSha384: return "sha384";
    case kAlgSha512: return "sha512";
    default: return "";
  }
}

std::string pcr_name(uint16_t alg, uint32_t index) {
  return std::string(hash_alg_name(alg)) + ":" + std::to_string(index);
}

size_t hash_alg_digest_size(uint16_t alg) {
  switch (alg) {
    case kAlgSha1: return 20;
    case kAlgSha256: return 32;
    case kAlgSha384: return 48;
    case kAlgSha512: return 64;
    default: return 0;
  }
}

Result<PcrSelection> parse_pcr_selection(std::string_view spec) {
  if (spec.empty()) return sel_error(spec, "empty");
  PcrSelection sel;
  std::string_view rest = spec;
  while (true) {
    size_t plus = rest.find('+');
    std::string_view part = rest.substr(0, plus);
    size_t colon = part.find(':');
    if (colon == std::string_view::npos) return sel_error(spec, "missing ':' after the bank");
    std::string_view bank_name = part.substr(0, colon);
    PcrBank bank;
    bank.hash_alg = hash_alg_from_name(bank_name);
    if (bank.hash_alg == 0) {
      return sel_error(spec, "unknown bank \"" + std::string(bank_name) + "\"");
    }
    for (const auto& b : sel.banks) {
      if (b.hash_alg == bank.hash_alg) {
        return sel_error(spec, "bank \"" + std::string(bank_name) + "\" given twice");
      }
    }
    std::string_view list = part.substr(colon + 1);
    if (list.empty()) return sel_error(spec, "no PCRs for bank \"" + std::string(bank_name) + "\"");
    while (true) {
      size_t comma = list.find(',');
      std::string_view item = list.substr(0, comma);
      size_t dash = item.find('-');
      uint32_t lo, hi;
      if (dash == std::string_view::npos) {
        if (!parse_index(item, lo)) {
          return sel_error(spec, "bad PCR index \"" + std::string(item) + "\"");
        }
        hi = lo;
      } else if (!parse_index(item.substr(0, dash), lo) ||
                 !parse_index(item.substr(dash + 1), hi) || lo > hi) {
        return sel_error(spec, "bad PCR range \"" + std::string(item) + "\"");
      }
      for (uint32_t i = lo; i <= hi; ++i) {
        if (std::find(bank.pcrs.begin(), bank.pcrs.end(), i) != bank.pcrs.end()) {
          return sel_error(spec, "PCR " + std::to_string(i) + " given twice");
        }
        bank.pcrs.push_back(i);
      }
      if (comma == std::string_view::npos) break;
      list = list.substr(comma + 1);
    }
    std::sort(bank.pcrs.begin(), bank.pcrs.end());
    sel.banks.push_back(std::move(bank));
    if (plus == std::string_view::npos) break;
    rest = rest.substr(plus + 1);
  }
  if (sel.banks.size() > TPM2_NUM_PCR_BANKS) return sel_error(spec, "too many banks");
  return sel;
}

std::string format_pcr_selection(const PcrSelection& sel) {
  std::string out;
  for (const auto& b : sel.banks) {
    if (!out.empty()) out += '+';
    out += hash_alg_name(b.hash_alg);
    out += ':';
    for (size_t i = 0; i < b.pcrs.size(); ++i) {
      if (i) out += ',';
      out += std::to_string(b.pcrs[i]);
    }
  }
  return out;
}

TPML_PCR_SELECTION to_tpml_pcr_selection(const PcrSelection& sel) {
  TPML_PCR_SELECTION out;
  std::memset(&out, 0, sizeof(out));
  for (const auto& b : sel.banks) {
    if (out.count >= TPM2_NUM_PCR_BANKS) break;
    TPMS_PCR_SELECTION& s = out.pcrSelections[out.count++];
    s.hash = b.hash_alg;
    s.sizeofSelect = 3;
    for (uint32_t i : b.pcrs) {
      if (i <= kMaxPcrIndex) s.pcrSelect[i / 8] |= static_cast<uint8_t>(1u << (i % 8));
    }
  }
  return out;
}

}  // namespace exattest::tpm2
