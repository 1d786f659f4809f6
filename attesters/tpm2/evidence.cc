// PROTOCOL.md §6 evidence map and CMW record: deterministic encoding, strict decoding.
#include "attesters/tpm2/evidence.h"

#include <string>

#include "cmw/cbor_util.h"
#include "cmw/cmw.h"

namespace exattest::tpm2 {
namespace {

constexpr uint64_t kKeyAttest = 1;
constexpr uint64_t kKeySignature = 2;
constexpr uint64_t kKeyAkPublic = 3;
constexpr uint64_t kKeyPcrValues = 4;
constexpr uint64_t kKeyAkCerts = 5;
constexpr uint64_t kKeyEventLog = 6;

Error decode(std::string what) {
  return make_error(Reason::kDecodeError, "tpm2 evidence: " + std::move(what));
}

Bytes encoded_uint(uint64_t v) {
  CborWriter w;
  w.uint(v);
  return w.take();
}

Bytes encoded_bstr(ByteView b) {
  CborWriter w;
  w.bstr(b);
  return w.take();
}

Bytes encoded_bstr_array(const std::vector<Bytes>& items) {
  CborWriter w;
  w.array_header(items.size());
  for (const auto& b : items) w.bstr(view(b));
  return w.take();
}

bool bstr_value(const cbor_item_t* item, Bytes& out) {
  if (!cbor_isa_bytestring(item) || !cbor_bytestring_is_definite(item)) return false;
  const uint8_t* p = cbor_bytestring_handle(item);
  size_t n = cbor_bytestring_length(item);
  out.assign(p, p + n);
  return true;
}

// [+ bstr]
bool bstr_array(const cbor_item_t* item, std::vector<Bytes>& out) {
  if (!cbor_isa_array(item) || !cbor_array_is_definite(item)) return false;
  size_t n = cbor_array_size(item);
  if (n == 0) return false;
  cbor_item_t** handle = cbor_array_handle(item);
  out.clear();
  for (size_t i = 0; i < n; ++i) {
    Bytes b;
    if (!bstr_value(handle[i], b)) return false;
    out.push_back(std::move(b));
  }
  return true;
}

}  // namespace

Bytes encode_evidence(const EvidenceParts& parts) {
  // PROTOCOL.md §6: "RFC 8949 §4.2.1 core deterministic encoding"; map() sorts the keys.
  std::vector<std::pair<Bytes, Bytes>> entries;
  entries.emplace_back(encoded_uint(kKeyAttest), encoded_bstr(view(parts.attest)));
  entries.emplace_back(encoded_uint(kKeySignature), encoded_bstr(view(parts.signature)));
  entries.emplace_back(encoded_uint(kKeyAkPublic), encoded_bstr(view(parts.ak_public)));
  entries.emplace_back(encoded_uint(kKeyPcrValues), encoded_bstr_array(parts.pcr_values));
  if (!parts.ak_certs.empty()) {
    entries.emplace_back(encoded_uint(kKeyAkCerts), encoded_bstr_array(parts.ak_certs));
  }
  if (parts.event_log) {
    entries.emplace_back(encoded_uint(kKeyEventLog), encoded_bstr(view(*parts.event_log)));
  }
  CborWriter w;
  w.map(std::move(entries));
  return w.take();
}

Result<EvidenceParts> decode_evidence(ByteView map_cbor) {
  CborLimits limits;
  // PROTOCOL.md §6: "receivers reject anything else, as decode_error" (non-deterministic
  // encoding, duplicate keys, trailing bytes).
  limits.require_deterministic = true;
  auto loaded = cbor_load_bounded(map_cbor, limits);
  if (!loaded.ok()) return decode(loaded.error().detail);
  const cbor_item_t* root = loaded.value().get();
  if (!cbor_isa_map(root) || !cbor_map_is_definite(root)) return decode("not a CBOR map");

  EvidenceParts parts;
  bool have[7] = {};
  size_t n = cbor_map_size(root);
  cbor_pair* pairs = cbor_map_handle(root);
  for (size_t i = 0; i < n; ++i) {
    const cbor_item_t* key = pairs[i].key;
    const cbor_item_t* value = pairs[i].value;
    // PROTOCOL.md §6: "non-integer keys" are a decode_error; "Unknown integer keys are
    // skipped after a well-formedness check" (cbor_load_bounded did that check).
    if (cbor_isa_negint(key)) continue;
    if (!cbor_isa_uint(key)) return decode("map key is not an integer");
    uint64_t k = cbor_get_int(key);
    if (k < kKeyAttest || k > kKeyEventLog) continue;
    have[k] = true;
    bool ok = false;
    switch (k) {
      case kKeyAttest: ok = bstr_value(value, parts.attest); break;
      case kKeySignature: ok = bstr_value(value, parts.signature); break;
      case kKeyAkPublic: ok = bstr_value(value, parts.ak_public); break;
      case kKeyPcrValues: ok = bstr_array(value, parts.pcr_values); break;
      case kKeyAkCerts: ok = bstr_array(value, parts.ak_certs); break;
      case kKeyEventLog: {
        Bytes log;
        ok = bstr_value(value, log);
        parts.event_log = std::move(log);
        break;
      }
    }
    if (!ok) {
      return decode("key " + std::to_string(k) +
                    (k == kKeyPcrValues || k == kKeyAkCerts ? " is not a non-empty array of bstr"
                                                            : " is not a bstr"));
    }
  }
  for (uint64_t k = kKeyAttest; k <= kKeyPcrValues; ++k) {
    if (!have[k]) return decode("required key " + std::to_string(k) + " is missing");
  }
  return parts;
}

Bytes wrap_cmw(ByteView evidence_cbor, std::string_view media_type) {
  // PROTOCOL.md §6: "[ media type, bstr .cbor tpm2-quote-evidence, 4 ]".
  return cmw::encode_evidence_record(media_type, evidence_cbor);
}

Result<EvidenceParts> unwrap_cmw(ByteView cmw_bytes, std::string_view media_type) {
  auto value = cmw::decode_evidence_record(cmw_bytes, media_type);
  if (!value.ok()) return value.error();
  return decode_evidence(view(*value));
}

}  // namespace exattest::tpm2
