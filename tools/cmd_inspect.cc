// `exattest inspect FILE`: a CMW, an evidence map or a raw TPMS_ATTEST, with the TPM fields
// decoded, as JSON. Optionally splits the evidence into tpm2-tools files (--raw-out).
#include <iostream>

#include "attesters/tpm2/evidence.h"
#include "attesters/tpm2/tpm_structs.h"
#include "cli.h"
#include "cmw/cmw.h"
#include "cmw_input.h"
#include "evidence_view.h"

namespace exattest::cli {

namespace {

const CommandSpec& spec() {
  static const CommandSpec s{
      .name = "inspect",
      .usage = {"inspect FILE [--raw-out DIR]"},
      .summary = "Pretty-print a CMW or an evidence map with the TPM 2.0 quote fields decoded.",
      .description =
          "FILE ('-' = stdin) may be: a CMW record (CBOR or JSON) or collection whose records\n"
          "carry tpm2-quote-evidence (PROTOCOL.md §6), the evidence map itself, or a raw\n"
          "TPMS_ATTEST (as tpm2_quote -m writes it), or a TCG PC Client event log\n"
          "(binary_bios_measurements, crypto-agile or SHA-1). TPMS_ATTEST fields are shown\n"
          "with their TPM 2.0 Part 2 names: magic, type, qualifiedSigner, extraData, clockInfo,\n"
          "firmwareVersion, pcrSelect, pcrDigest. An event log (also evidence key 6) is shown\n"
          "event by event with its Secure Boot state and replayed PCR values.\n"
          "Nothing is verified: use `exattest verify`.",
      .options = {{"--raw-out", "", "DIR",
                   "also write the evidence as tpm2-tools files into DIR:\n"
                   "quote.attest, quote.sig, ak.pub, ak.pem, ak.tpmt, pcrs.values,\n"
                   "pcrs.sel, nonce.hex (see docs/cli.md)"}},
      .exit_codes =
          "  0  decoded completely\n"
          "  1  malformed input (the JSON names the part and the reason)\n"
          "  2  usage error, unreadable FILE, or --raw-out not writable\n",
      .positional = "FILE",
      .min_positional = 1,
      .max_positional = 1,
  };
  return s;
}

bool is_raw_attest(ByteView in) {
  return in.size() >= 4 && in[0] == 0xff && in[1] == 0x54 && in[2] == 0x43 && in[3] == 0x47;
}

// CBOR map whose first key is an unsigned integer: the evidence map (PROTOCOL.md §6).
bool is_evidence_map(ByteView in) {
  return in.size() >= 2 && (in[0] & 0xe0) == 0xa0 && (in[1] & 0xe0) == 0x00;
}

// A TCG event log starts with a record whose first field is a little-endian PCR index
// (0..23): three zero bytes, which no CBOR or JSON CMW, evidence map or TPMS_ATTEST has.
bool is_event_log(ByteView in) {
  return in.size() >= 8 && in[0] < 24 && in[1] == 0 && in[2] == 0 && in[3] == 0;
}

struct Found {
  const tpm2::EvidenceParts* first = nullptr;
  std::vector<std::unique_ptr<tpm2::EvidenceParts>> storage;
};

nlohmann::ordered_json inspect_cmw(const cmw::Cmw& c, bool& ok, Found& found) {
  nlohmann::ordered_json j;
  if (c.is_collection()) {
    j["kind"] = "collection";
    if (c.collection().ctype) j["__cmwc_t"] = *c.collection().ctype;
    nlohmann::ordered_json items = nlohmann::ordered_json::object();
    for (const auto& [label, item] : c.collection().items) {
      std::string key = std::holds_alternative<std::string>(label)
                            ? std::get<std::string>(label)
                            : std::to_string(std::get<int64_t>(label));
      items[key] = inspect_cmw(item, ok, found);
    }
    j["items"] = items;
    return j;
  }
  const Bytes* value = nullptr;
  if (c.is_tag()) {
    j["kind"] = "tag";
    j["tag"] = c.tag().tag;
    value = &c.tag().value;
  } else {
    const cmw::Record& r = c.record();
    j["kind"] = "record";
    if (std::holds_alternative<std::string>(r.type)) {
      j["type"] = std::get<std::string>(r.type);
    } else {
      j["content_format"] = std::get<uint16_t>(r.type);
    }
    if (r.ind) j["ind"] = cmw::ind_names(*r.ind);
    value = &r.value;
  }
  // Decode the value as tpm2-quote-evidence whatever the media type says: inspect shows,
  // it does not judge (the proto-swtpm vectors carry an older media type).
  auto parts = tpm2::decode_evidence(view(*value), tpm2::TreeKey::kOptional);
  if (!parts) {
    j["value_bytes"] = value->size();
    j["evidence_error"] = {{"reason", reason_name(parts.error().reason)},
                           {"detail", parts.error().detail}};
    return j;
  }
  bool part_ok = true;
  j["evidence"] = evidence_json(*parts, part_ok);
  ok = ok && part_ok;
  found.storage.push_back(std::make_unique<tpm2::EvidenceParts>(std::move(parts).value()));
  if (found.first == nullptr) found.first = found.storage.back().get();
  return j;
}

}  // namespace

int cmd_inspect(const std::vector<std::string>& argv) {
  int exit_code = 0;
  auto args = parse_or_exit(spec(), argv, exit_code);
  if (!args) return exit_code;
  auto in = read_file(args->positional()[0]);
  if (!in) return fail("inspect", in.error().detail, kExitUsage);
  ByteView data = view(*in);

  nlohmann::ordered_json out;
  bool ok = true;
  Found found;
  std::optional<tpm2::EvidenceParts> map_parts;
  if (is_raw_attest(data)) {
    out["format"] = "tpms_attest";
    auto a = tpm2::parse_quote_attest(data);
    if (a) {
      out["attest"] = attest_json(*a);
    } else {
      ok = false;
      out["reason"] = reason_name(a.error().reason);
      out["detail"] = a.error().detail;
    }
  } else if (is_evidence_map(data)) {
    out["format"] = "evidence";
    auto parts = tpm2::decode_evidence(data, tpm2::TreeKey::kOptional);
    if (parts) {
      bool part_ok = true;
      out["evidence"] = evidence_json(*parts, part_ok);
      ok = part_ok;
      map_parts = std::move(parts).value();
      found.first = &*map_parts;
    } else {
      ok = false;
      out["reason"] = reason_name(parts.error().reason);
      out["detail"] = parts.error().detail;
    }
  } else if (is_event_log(data)) {
    out["format"] = "tcg_event_log";
    out["event_log"] = event_log_json(data, ok);
  } else {
    SniffedCmw sniffed;
    Status st = decode_any_cmw(data, sniffed);
    out["format"] = sniffed.format;
    if (st) {
      if (!sniffed.container.empty()) out["container"] = sniffed.container;
      out["cmw"] = inspect_cmw(sniffed.cmw, ok, found);
      if (found.first == nullptr) ok = false;  // a CMW without TPM evidence in it
    } else {
      ok = false;
      out["reason"] = reason_name(st.reason());
      out["detail"] = st.error().detail;
    }
  }
  print_json(out);

  if (auto dir = args->get("--raw-out")) {
    if (found.first == nullptr) {
      return fail("inspect",
                  "--raw-out: " + args->positional()[0] + " holds no decodable tpm2-quote-evidence",
                  kExitRejected);
    }
    Status st = write_raw_parts(*found.first, *dir);
    if (!st) return fail("inspect", "--raw-out: " + describe(st.error()), kExitUsage);
  }
  return ok ? kExitOk : kExitRejected;
}

}  // namespace exattest::cli
