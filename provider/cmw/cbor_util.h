// Bounded libcbor decoding (pre-scan before cbor_load) and a deterministic CBOR encoder.
#pragma once

#include <cbor.h>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "common/bytes.h"
#include "common/ossl_ptr.h"
#include "common/result.h"

namespace exattest {

// cbor_decref takes cbor_item_t** (it nulls the caller's pointer), so wrap it.
template <>
struct Deleter<cbor_item_t> {
  void operator()(cbor_item_t* p) const { cbor_decref(&p); }
};

struct CborLimits {
  size_t max_input = 1 << 20;  // bytes
  size_t max_depth = 16;       // nesting of arrays, maps and tags (top-level item = depth 1)
  size_t max_items = 1 << 16;  // data items in total (keys and values count)
  // RFC 8949 §4.2.1 core deterministic encoding: shortest heads, definite lengths, map keys
  // sorted bytewise by their encoding, preferred (shortest) floats. PROTOCOL.md §6 needs it
  // for the evidence record and map; the general CMW codec accepts unsorted maps.
  bool require_deterministic = false;
};

// Checks that `in` is exactly one well-formed CBOR data item within `limits`, WITHOUT
// allocating per declared length: every length head is checked against the bytes that remain
// (a 6-byte input can otherwise make libcbor allocate gigabytes). Always rejected:
// indefinite lengths, reserved additional info, simple values < 32 in two-byte form, invalid
// UTF-8 in text strings, duplicate map keys (same encoding), trailing bytes. Reason
// kDecodeError, with a detail naming the offset and the rule.
Status cbor_prescan(ByteView in, const CborLimits& limits);

// cbor_prescan, then cbor_load; also checks libcbor consumed every byte.
Result<UniquePtr<cbor_item_t>> cbor_load_bounded(ByteView in, const CborLimits& limits);

// True when `in` is one well-formed item in RFC 8949 §4.2.1 core deterministic encoding.
bool is_deterministic(ByteView in);

// Emits RFC 8949 §4.2.1 core deterministic CBOR directly (no libcbor serializer): definite
// lengths and shortest heads always; use map() to get keys sorted by their encoded bytes.
class CborWriter {
 public:
  void uint(uint64_t v) { head(0, v); }
  // Major type 0 or 1 as needed.
  void int64(int64_t v);
  // Raw negative: encodes -1 - n.
  void negint(uint64_t n) { head(1, n); }
  void bstr(ByteView b);
  void tstr(std::string_view s);
  void array_header(uint64_t count) { head(4, count); }
  // Header only: the caller writes keys in sorted order itself. Prefer map().
  void map_header(uint64_t count) { head(5, count); }
  void tag(uint64_t tag_number) { head(6, tag_number); }
  void boolean(bool v) { buf_.push_back(v ? 0xf5 : 0xf4); }
  void null() { buf_.push_back(0xf6); }
  // An already encoded data item (e.g. from another CborWriter).
  void raw(ByteView item);
  // A whole map from (encoded key, encoded value) pairs: sorted bytewise by encoded key
  // (RFC 8949 §4.2.1). Two equal keys mark the writer failed.
  void map(std::vector<std::pair<Bytes, Bytes>> entries);

  [[nodiscard]] bool ok() const { return ok_; }
  const Bytes& data() const { return buf_; }
  Bytes take() { return std::move(buf_); }

 private:
  void head(uint8_t major, uint64_t arg);
  Bytes buf_;
  bool ok_ = true;
};

}  // namespace exattest
