// Sniffing CMW inputs for the CLI (see cmw_input.h).
#include "cmw_input.h"

#include <nlohmann/json.hpp>

namespace exattest::cli {

namespace {

bool looks_like_json(ByteView in) {
  for (uint8_t c : in) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    return c == '[' || c == '{';
  }
  return false;
}

}  // namespace

Status decode_any_cmw(ByteView in, SniffedCmw& out) {
  out.container.clear();
  if (looks_like_json(in)) {
    out.format = "json";
    std::string_view text(reinterpret_cast<const char*>(in.data()), in.size());
    auto r = cmw::decode_json(text);
    if (r) {
      out.cmw = std::move(r).value();
      return Status::Ok();
    }
    // An EAT claims set (e.g. draft-ietf-rats-msg-wrap's eat-example-1.json) is not itself
    // a CMW; judge its "cmw" claim. Only when the whole text is a JSON object with that key.
    nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.contains("cmw")) {
      std::string claim = j["cmw"].dump();
      auto inner = cmw::decode_json(claim);
      if (!inner) {
        return make_error(inner.error().reason, "\"cmw\" claim: " + inner.error().detail);
      }
      out.container = "eat-claims-set";
      out.cmw = std::move(inner).value();
      return Status::Ok();
    }
    return r.error();
  }
  // A DER certificate starts with SEQUENCE (0x30) and a long-form length; no CMW does (0x30
  // is the CBOR negative integer -17).
  if (in.size() >= 2 && in[0] == 0x30 && (in[1] & 0x80) != 0) {
    out.format = "x509";
    auto r = cmw::decode_from_x509_extension(in);
    if (!r) return r.error();
    out.cmw = std::move(r).value();
    return Status::Ok();
  }
  out.format = "cbor";
  auto r = cmw::decode_cbor(in);
  if (!r) return r.error();
  out.cmw = std::move(r).value();
  return Status::Ok();
}

}  // namespace exattest::cli
