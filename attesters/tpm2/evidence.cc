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
constexpr uint64_t kKeyTree = 7;

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

// PROTOCOL.md §6: "7 => [ leaf_index: uint, tree_size: uint, path: [* bstr .size 32] ]".
Bytes encoded_tree(const TreePosition& pos) {
  CborWriter w;
  w.array_header(3);
  w.uint(pos.leaf_index);
  w.uint(pos.tree_size);
  w.array_header(pos.path.size());
  for (const Bytes& h : pos.path) w.bstr(view(h));
  return w.take();
}

// Key 7's shape, then PROTOCOL.md §6.1's limits: "checked when key 7 is decoded, before any
// hashing". Non-shortest integer heads were already rejected by the deterministic pre-scan.
Result<TreePosition> tree_value(const cbor_item_t* item) {
  if (!cbor_isa_array(item) || !cbor_array_is_definite(item) || cbor_array_size(item) != 3) {
    return decode("key 7 is not a 3-element array [leaf_index, tree_size, path]");
  }
  cbor_item_t** a = cbor_array_handle(item);
  if (!cbor_isa_uint(a[0])) return decode("key 7 leaf_index is not an unsigned integer");
  if (!cbor_isa_uint(a[1])) return decode("key 7 tree_size is not an unsigned integer");
  if (!cbor_isa_array(a[2]) || !cbor_array_is_definite(a[2])) {
    return decode("key 7 path is not an array");
  }
  TreePosition pos;
  pos.leaf_index = cbor_get_int(a[0]);
  pos.tree_size = cbor_get_int(a[1]);
  size_t n = cbor_array_size(a[2]);
  // The counts are judged before any element is copied.
  Status shape = check_tree_shape(pos.leaf_index, pos.tree_size, n);
  if (!shape.ok()) return shape.error();
  cbor_item_t** path = cbor_array_handle(a[2]);
  for (size_t i = 0; i < n; ++i) {
    Bytes h;
    if (!bstr_value(path[i], h)) {
      return decode("key 7 path element " + std::to_string(i) + " is not a bstr");
    }
    pos.path.push_back(std::move(h));
  }
  Status limits = check_tree_position(pos);
  if (!limits.ok()) return limits.error();
  return pos;
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
  if (parts.tree) entries.emplace_back(encoded_uint(kKeyTree), encoded_tree(*parts.tree));
  CborWriter w;
  w.map(std::move(entries));
  return w.take();
}

Result<EvidenceParts> decode_evidence(ByteView map_cbor, TreeKey tree) {
  CborLimits limits;
  // PROTOCOL.md §6: "receivers reject anything else, as decode_error" (non-deterministic
  // encoding, duplicate keys, trailing bytes).
  limits.require_deterministic = true;
  auto loaded = cbor_load_bounded(map_cbor, limits);
  if (!loaded.ok()) return decode(loaded.error().detail);
  const cbor_item_t* root = loaded.value().get();
  if (!cbor_isa_map(root) || !cbor_map_is_definite(root)) return decode("not a CBOR map");

  EvidenceParts parts;
  bool have[kKeyTree + 1] = {};
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
    if (k < kKeyAttest || k > kKeyTree) continue;
    have[k] = true;
    if (k == kKeyTree) {
      auto pos = tree_value(value);
      if (!pos.ok()) return pos.error();
      parts.tree = std::move(pos.value());
      continue;
    }
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
  // PROTOCOL.md §6.1: "key 7 present (Evidence without it, the version-1 form, is
  // decode_error)".
  if (!have[kKeyTree] && tree == TreeKey::kRequired) {
    return decode("required key 7 (binding tree, PROTOCOL.md §6.1) is missing: version-1 "
                  "Evidence, whose qualifyingData is the raw binding, is not accepted");
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
