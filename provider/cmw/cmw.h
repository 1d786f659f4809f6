// RFC 9999 Conceptual Message Wrapper codec: records, tag CMWs, collections; CBOR and JSON.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "cmw/cbor_util.h"
#include "common/bytes.h"
#include "common/result.h"

namespace exattest::cmw {

// PROTOCOL.md §1/§6: the evidence media type of the TPM 2.0 quote record.
inline constexpr std::string_view kTpm2QuoteMediaType = "application/vnd.exattest.tpm2-quote+cbor";

// RFC 9999 indicator bits (cm-ind = uint .bits cm-type).
inline constexpr uint32_t kIndReferenceValues = 1;
inline constexpr uint32_t kIndEndorsements = 2;
inline constexpr uint32_t kIndEvidence = 4;
inline constexpr uint32_t kIndAttestationResults = 8;
inline constexpr uint32_t kIndAppraisalPolicy = 16;
inline constexpr uint32_t kIndDefinedBits = 31;

// RFC 9277 §4.3 / RFC 9999 tag CMW: TN(cf) = 1668546817 + (cf / 255) * 256 + cf % 255, so
// neither of the two low bytes is ever 0. C-F 0..65024 map onto [kTnMin, kTnMax].
inline constexpr uint64_t kTnMin = 1668546817;  // 0x63740101
inline constexpr uint64_t kTnMax = 1668612095;  // 0x6374ffff
inline constexpr uint32_t kTnMaxCf = 65024;
// nullopt when cf > 65024 (no tag number exists for it).
std::optional<uint64_t> tn_from_cf(uint32_t cf);
// nullopt outside the TN range or when a low byte is 0x00 (not the image of any C-F).
std::optional<uint16_t> cf_from_tn(uint64_t tn);

// Collection label: CBOR int or text; JSON text only.
using Label = std::variant<int64_t, std::string>;

// [type, value, ind?]: type is a CoAP Content-Format (CBOR only) or a media type string.
struct Record {
  std::variant<uint16_t, std::string> type;
  Bytes value;
  std::optional<uint32_t> ind;
  friend bool operator==(const Record&, const Record&) = default;
};

// #6.TN(bstr): CBOR only.
struct TagCmw {
  uint64_t tag = 0;
  Bytes value;
  friend bool operator==(const TagCmw&, const TagCmw&) = default;
};

struct Cmw;

// { ? "__cmwc_t": uri/oid, + label => CMW }; items keep the order they were decoded in.
struct Collection {
  std::optional<std::string> ctype;  // "__cmwc_t"
  std::vector<std::pair<Label, Cmw>> items;
  friend bool operator==(const Collection&, const Collection&);
};

struct Cmw : std::variant<Record, TagCmw, Collection> {
  using Base = std::variant<Record, TagCmw, Collection>;
  using Base::Base;
  using Base::operator=;
  const Base& base() const { return *this; }
  bool is_record() const { return index() == 0; }
  bool is_tag() const { return index() == 1; }
  bool is_collection() const { return index() == 2; }
  const Record& record() const { return std::get<Record>(base()); }
  const TagCmw& tag() const { return std::get<TagCmw>(base()); }
  const Collection& collection() const { return std::get<Collection>(base()); }
  friend bool operator==(const Cmw& a, const Cmw& b) { return a.base() == b.base(); }
};

inline bool operator==(const Collection& a, const Collection& b) {
  return a.ctype == b.ctype && a.items == b.items;
}

struct DecodeLimits {
  CborLimits cbor{};                // also bounds JSON: max_input, max_depth, max_items
  size_t max_collection_depth = 4;  // collections nested in collections
};

// RFC 9999 CBOR forms. Fails with kDecodeError and a detail naming the rule.
Result<Cmw> decode_cbor(ByteView in, const DecodeLimits& limits = {});
// RFC 9999 JSON forms (record array, collection object). Duplicate keys are rejected.
Result<Cmw> decode_json(std::string_view in, const DecodeLimits& limits = {});
// JSON when the first non-whitespace byte is '[' or '{', CBOR otherwise.
Result<Cmw> decode(ByteView in, const DecodeLimits& limits = {});
// The CMW in an X.509 certificate's extension 1.3.6.1.5.5.7.1.35 (extnValue is an OCTET
// STRING holding CBOR or a UTF8String holding JSON).
Result<Cmw> decode_from_x509_extension(ByteView der_cert, const DecodeLimits& limits = {});

enum class MapOrder {
  kDeterministic,  // RFC 8949 §4.2.1: keys sorted bytewise by encoding
  kAsGiven,        // the Collection's item order ("__cmwc_t" first), e.g. to reproduce input
};
// Validates (same rules as decoding) then encodes; definite lengths, shortest heads.
Result<Bytes> encode_cbor(const Cmw& cmw, MapOrder order = MapOrder::kDeterministic);
// Compact JSON, base64url without padding. Fails for forms JSON cannot carry: tag CMWs,
// C-F record types, integer labels.
Result<std::string> encode_json(const Cmw& cmw);
// Structure for `exattest cmw`: kinds, types, C-Fs, hex values, indicator names.
nlohmann::ordered_json describe(const Cmw& cmw);
// "evidence", "reference-values|evidence", ... ("bit<N>" for undefined bits).
std::string ind_names(uint32_t ind);

// PROTOCOL.md §6: [ media_type, bstr value, 4 ], deterministic.
Bytes encode_evidence_record(std::string_view media_type, ByteView value);
// PROTOCOL.md §6: "exactly this shape is accepted: a 3-element array, text type equal to the
// media type, indicator 4"; deterministic encoding, no trailing bytes; else kDecodeError.
// Returns the value bytes.
Result<Bytes> decode_evidence_record(ByteView in, std::string_view expected_media_type);

// Strict base64url without padding (RFC 4648 §5); non-zero unused bits are rejected.
std::string base64url_encode(ByteView in);
bool base64url_decode(std::string_view in, Bytes& out);

}  // namespace exattest::cmw
