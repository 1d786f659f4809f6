// RFC 9999 CMW codec: CBOR and JSON records, tag CMWs, collections; PROTOCOL.md §6 helpers.
#include "cmw/cmw.h"

#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <limits>
#include <memory>
#include <set>

namespace exattest::cmw {
namespace {

using ojson = nlohmann::ordered_json;

constexpr std::string_view kCtypeLabel = "__cmwc_t";
// RFC 9999 / RFC 5280 id-pe-cmw: the certificate extension that carries a CMW.
constexpr const char* kCmwExtensionOid = "1.3.6.1.5.5.7.1.35";

Error cmw_error(std::string detail) {
  return make_error(Reason::kDecodeError, "CMW: " + std::move(detail));
}

bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

size_t token(std::string_view s, size_t i) {
  while (i < s.size() && is_tchar(s[i])) ++i;
  return i;
}

// RFC 9110 §8.3.1: media-type = type "/" subtype parameters;
// parameters = *( OWS ";" OWS [ parameter ] ); parameter-value = token / quoted-string.
bool valid_media_type(std::string_view s) {
  size_t i = token(s, 0);
  if (i == 0 || i >= s.size() || s[i] != '/') return false;
  size_t j = token(s, i + 1);
  if (j == i + 1) return false;
  i = j;
  auto ows = [&] {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  };
  while (i < s.size()) {
    ows();
    if (i >= s.size() || s[i] != ';') return false;
    ++i;
    ows();
    if (i >= s.size() || s[i] == ';') continue;  // empty parameter
    j = token(s, i);
    if (j == i || j >= s.size() || s[j] != '=') return false;
    i = j + 1;
    if (i < s.size() && s[i] == '"') {
      ++i;
      bool closed = false;
      while (i < s.size()) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c == '"') {
          closed = true;
          ++i;
          break;
        }
        if (c == '\\') {
          if (i + 1 >= s.size()) return false;
          unsigned char q = static_cast<unsigned char>(s[i + 1]);
          if (q != '\t' && (q < 0x20 || q == 0x7f)) return false;
          i += 2;
          continue;
        }
        if (c != '\t' && (c < 0x20 || c == 0x7f)) return false;
        ++i;
      }
      if (!closed) return false;
    } else {
      j = token(s, i);
      if (j == i) return false;
      i = j;
    }
  }
  return true;
}

// Absolute OID in dotted decimal (X.660): at least two arcs, first 0..2, second < 40 under
// 0 and 1, no leading zeros.
bool valid_oid(std::string_view s) {
  std::vector<std::string_view> arcs;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == '.') {
      arcs.push_back(s.substr(start, i - start));
      start = i + 1;
    } else if (!is_digit(s[i])) {
      return false;
    }
  }
  if (arcs.size() < 2) return false;
  for (std::string_view a : arcs) {
    if (a.empty() || (a.size() > 1 && a[0] == '0')) return false;
  }
  if (arcs[0].size() != 1 || arcs[0][0] > '2') return false;
  if (arcs[0][0] != '2' && (arcs[1].size() > 2 || (arcs[1].size() == 2 && arcs[1][0] > '3'))) {
    return false;
  }
  return true;
}

// RFC 3986 §4.3 absolute-URI: scheme ":" followed only by URI characters.
bool valid_absolute_uri(std::string_view s) {
  size_t colon = s.find(':');
  if (colon == std::string_view::npos || colon == 0 || !is_alpha(s[0])) return false;
  for (size_t i = 1; i < colon; ++i) {
    char c = s[i];
    if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.') return false;
  }
  static constexpr std::string_view kOther = "-._~:/?#[]@!$&'()*+,;=";
  for (size_t i = colon + 1; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size() || !is_hex(s[i + 1]) || !is_hex(s[i + 2])) return false;
      i += 2;
      continue;
    }
    if (!is_alpha(c) && !is_digit(c) && kOther.find(c) == std::string_view::npos) return false;
  }
  return true;
}

Status check_media_type(std::string_view t) {
  if (!valid_media_type(t)) {
    return cmw_error("record type \"" + std::string(t.substr(0, 80)) +
                     "\" is not a media type (type/subtype[;param=value])");
  }
  return Status::Ok();
}

// RFC 9999: cm-ind = uint .bits cm-type; "MUST be non-zero" when present. Bits outside the
// five defined ones are rejected (the CDDL .bits control allows only named bits).
Status check_ind(uint64_t ind) {
  if (ind == 0) return cmw_error("record indicator must be non-zero");
  if (ind > std::numeric_limits<uint32_t>::max()) {
    return cmw_error("record indicator " + std::to_string(ind) + " exceeds 2^32-1");
  }
  if (ind & ~uint64_t{kIndDefinedBits}) {
    return cmw_error("record indicator " + std::to_string(ind) +
                     " sets undefined bits (only 1,2,4,8,16 are defined)");
  }
  return Status::Ok();
}

Status check_ctype(std::string_view t) {
  // RFC 9999: "__cmwc_t" is an absolute URI or an absolute OID.
  bool oid_like = !t.empty() && t.find_first_not_of("0123456789.") == std::string_view::npos;
  if (oid_like ? !valid_oid(t) : !valid_absolute_uri(t)) {
    return cmw_error("collection type \"" + std::string(t.substr(0, 80)) +
                     "\" is not an absolute URI or an absolute OID");
  }
  return Status::Ok();
}

Status check_text_label(std::string_view l) {
  if (l == kCtypeLabel) {
    return cmw_error("label \"__cmwc_t\" is reserved for the collection type");
  }
  if (l.find_first_not_of(" \t\r\n\v\f") == std::string_view::npos) {
    return cmw_error("empty or blank collection label");
  }
  return Status::Ok();
}

std::string label_text(const Label& l) {
  if (auto* i = std::get_if<int64_t>(&l)) return std::to_string(*i);
  return "\"" + std::get<std::string>(l).substr(0, 40) + "\"";
}

Status check_depth(size_t depth, const DecodeLimits& limits) {
  if (depth > limits.max_collection_depth) {
    return cmw_error("collections nested deeper than " +
                     std::to_string(limits.max_collection_depth));
  }
  return Status::Ok();
}

Bytes bytes_of(const cbor_item_t* bstr) {
  const uint8_t* p = cbor_bytestring_handle(bstr);
  size_t n = cbor_bytestring_length(bstr);
  return n == 0 ? Bytes{} : Bytes(p, p + n);
}

std::string text_of(const cbor_item_t* tstr) {
  const uint8_t* p = cbor_string_handle(tstr);
  size_t n = cbor_string_length(tstr);
  return n == 0 ? std::string{} : std::string(reinterpret_cast<const char*>(p), n);
}

// ---- CBOR -> Cmw --------------------------------------------------------------------------

Result<Cmw> from_cbor_item(const cbor_item_t* it, size_t depth, const DecodeLimits& limits);

Result<Cmw> record_from_cbor(const cbor_item_t* it) {
  // RFC 9999: cbor-record = [ type, value, ? ind ].
  size_t n = cbor_array_size(it);
  if (n != 2 && n != 3) {
    return cmw_error("record must have 2 or 3 entries, has " + std::to_string(n));
  }
  cbor_item_t** e = cbor_array_handle(it);
  Record r;
  if (cbor_isa_uint(e[0])) {
    uint64_t cf = cbor_get_int(e[0]);
    if (cf > 65535) {
      return cmw_error("record Content-Format " + std::to_string(cf) + " exceeds 65535");
    }
    r.type = static_cast<uint16_t>(cf);
  } else if (cbor_isa_string(e[0])) {
    std::string t = text_of(e[0]);
    EXATTEST_RETURN_IF_ERROR(check_media_type(t));
    r.type = std::move(t);
  } else {
    return cmw_error("record type must be a uint Content-Format or a text media type");
  }
  if (!cbor_isa_bytestring(e[1])) return cmw_error("record value must be a byte string");
  r.value = bytes_of(e[1]);
  if (n == 3) {
    if (!cbor_isa_uint(e[2])) return cmw_error("record indicator must be an unsigned integer");
    uint64_t ind = cbor_get_int(e[2]);
    EXATTEST_RETURN_IF_ERROR(check_ind(ind));
    r.ind = static_cast<uint32_t>(ind);
  }
  return Cmw(std::move(r));
}

Result<Cmw> tag_from_cbor(const cbor_item_t* it) {
  uint64_t tn = cbor_tag_value(it);
  if (!cf_from_tn(tn)) {
    return cmw_error("tag " + std::to_string(tn) +
                     " is not a CMW tag number (TN range 1668546817..1668612095)");
  }
  UniquePtr<cbor_item_t> content(cbor_tag_item(it));
  if (!content || !cbor_isa_bytestring(content.get())) {
    return cmw_error("tag CMW content must be a byte string");
  }
  return Cmw(TagCmw{tn, bytes_of(content.get())});
}

Result<Cmw> collection_from_cbor(const cbor_item_t* it, size_t depth, const DecodeLimits& limits) {
  EXATTEST_RETURN_IF_ERROR(check_depth(depth, limits));
  Collection c;
  std::set<Label> seen;
  size_t n = cbor_map_size(it);
  struct cbor_pair* pairs = cbor_map_handle(it);
  for (size_t k = 0; k < n; ++k) {
    const cbor_item_t* key = pairs[k].key;
    const cbor_item_t* value = pairs[k].value;
    Label label;
    if (cbor_isa_uint(key)) {
      uint64_t v = cbor_get_int(key);
      if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return cmw_error("collection label " + std::to_string(v) + " exceeds int64");
      }
      label = static_cast<int64_t>(v);
    } else if (cbor_isa_negint(key)) {
      uint64_t v = cbor_get_int(key);
      if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return cmw_error("collection label -1-" + std::to_string(v) + " below int64");
      }
      label = -1 - static_cast<int64_t>(v);
    } else if (cbor_isa_string(key)) {
      std::string t = text_of(key);
      if (t == kCtypeLabel) {
        if (!cbor_isa_string(value)) {
          return cmw_error("label \"__cmwc_t\" is reserved for the collection type");
        }
        if (c.ctype) return cmw_error("duplicate label \"__cmwc_t\"");
        std::string ct = text_of(value);
        EXATTEST_RETURN_IF_ERROR(check_ctype(ct));
        c.ctype = std::move(ct);
        continue;
      }
      EXATTEST_RETURN_IF_ERROR(check_text_label(t));
      label = std::move(t);
    } else {
      return cmw_error("collection label must be an integer or a text string");
    }
    if (!seen.insert(label).second) return cmw_error("duplicate label " + label_text(label));
    Result<Cmw> inner = from_cbor_item(value, depth + 1, limits);
    if (!inner) {
      const std::string& d = inner.error().detail;
      return cmw_error("in item " + label_text(label) + ": " +
                       d.substr(d.starts_with("CMW: ") ? 5 : 0));
    }
    c.items.emplace_back(std::move(label), std::move(inner).value());
  }
  // RFC 9999: a collection holds at least one CMW besides "__cmwc_t".
  if (c.items.empty()) return cmw_error("collection has no items (at least one is required)");
  return Cmw(std::move(c));
}

Result<Cmw> from_cbor_item(const cbor_item_t* it, size_t depth, const DecodeLimits& limits) {
  if (cbor_isa_array(it)) return record_from_cbor(it);
  if (cbor_isa_tag(it)) return tag_from_cbor(it);
  if (cbor_isa_map(it)) return collection_from_cbor(it, depth, limits);
  return cmw_error("not a CMW: expected an array (record), a tag or a map (collection)");
}

// ---- JSON -> Cmw --------------------------------------------------------------------------

// Builds an ordered_json DOM with what nlohmann's own parser lacks: duplicate keys are an
// error (nlohmann keeps the last one silently), and nesting and item counts are capped.
class BoundedJsonBuilder {
 public:
  explicit BoundedJsonBuilder(const CborLimits& limits) : limits_(limits) {}

  bool null() { return put(ojson(nullptr)); }
  bool boolean(bool v) { return put(ojson(v)); }
  bool number_integer(ojson::number_integer_t v) { return put(ojson(v)); }
  bool number_unsigned(ojson::number_unsigned_t v) { return put(ojson(v)); }
  bool number_float(ojson::number_float_t v, const ojson::string_t&) { return put(ojson(v)); }
  bool string(ojson::string_t& v) { return put(ojson(std::move(v))); }
  bool binary(ojson::binary_t&) { return fail("binary values are not JSON"); }
  bool start_object(std::size_t) {
    if (!open(ojson::object())) return false;
    keys_.emplace_back();
    return true;
  }
  bool key(ojson::string_t& k) {
    if (!keys_.back().insert(k).second) {
      return fail("duplicate object key \"" + k.substr(0, 40) + "\"");
    }
    key_ = std::move(k);
    return true;
  }
  bool end_object() {
    keys_.pop_back();
    stack_.pop_back();
    return true;
  }
  bool start_array(std::size_t) { return open(ojson::array()); }
  bool end_array() {
    stack_.pop_back();
    return true;
  }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception&) {
    return fail("malformed JSON near byte " + std::to_string(position));
  }

  ojson& root() { return root_; }
  const std::string& error() const { return error_; }

 private:
  bool fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
    return false;
  }
  // Adds v to the innermost open container; returns where it landed.
  ojson* add(ojson v) {
    if (++items_ > limits_.max_items) {
      fail("more than " + std::to_string(limits_.max_items) + " JSON values");
      return nullptr;
    }
    if (stack_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    ojson& top = *stack_.back();
    if (top.is_array()) {
      top.push_back(std::move(v));
      return &top.back();
    }
    // Only the innermost container ever grows, so pointers held in stack_ stay valid.
    ojson& slot = top[key_];
    slot = std::move(v);
    return &slot;
  }
  bool put(ojson v) { return add(std::move(v)) != nullptr; }
  bool open(ojson v) {
    if (stack_.size() + 1 > limits_.max_depth) {
      return fail("JSON nesting deeper than " + std::to_string(limits_.max_depth));
    }
    ojson* p = add(std::move(v));
    if (!p) return false;
    stack_.push_back(p);
    return true;
  }

  const CborLimits& limits_;
  ojson root_;
  std::vector<ojson*> stack_;
  std::vector<std::set<std::string>> keys_;
  std::string key_;
  size_t items_ = 0;
  std::string error_;
};

Result<Cmw> from_json_value(const ojson& j, size_t depth, const DecodeLimits& limits);

Result<Cmw> record_from_json(const ojson& j) {
  // RFC 9999: json-record = [ type: media-type, value: base64url, ? ind: uint ].
  if (j.size() != 2 && j.size() != 3) {
    return cmw_error("record must have 2 or 3 entries, has " + std::to_string(j.size()));
  }
  Record r;
  if (j[0].is_number()) {
    return cmw_error("record type in JSON must be a media type string (a C-F number is CBOR-only)");
  }
  if (!j[0].is_string()) return cmw_error("record type must be a media type string");
  std::string t = j[0].get<std::string>();
  EXATTEST_RETURN_IF_ERROR(check_media_type(t));
  r.type = std::move(t);
  if (!j[1].is_string()) return cmw_error("record value must be a base64url string");
  const std::string& v = j[1].get_ref<const std::string&>();
  if (v.find('=') != std::string::npos) {
    return cmw_error("record value must be base64url without padding ('=' found)");
  }
  if (!base64url_decode(v, r.value)) return cmw_error("record value is not valid base64url");
  if (j.size() == 3) {
    if (!j[2].is_number_unsigned()) {
      return cmw_error("record indicator must be an unsigned integer");
    }
    uint64_t ind = j[2].get<uint64_t>();
    EXATTEST_RETURN_IF_ERROR(check_ind(ind));
    r.ind = static_cast<uint32_t>(ind);
  }
  return Cmw(std::move(r));
}

Result<Cmw> collection_from_json(const ojson& j, size_t depth, const DecodeLimits& limits) {
  EXATTEST_RETURN_IF_ERROR(check_depth(depth, limits));
  Collection c;
  for (const auto& [key, value] : j.items()) {
    if (key == kCtypeLabel) {
      if (!value.is_string()) {
        return cmw_error("label \"__cmwc_t\" is reserved for the collection type");
      }
      std::string ct = value.get<std::string>();
      EXATTEST_RETURN_IF_ERROR(check_ctype(ct));
      c.ctype = std::move(ct);
      continue;
    }
    EXATTEST_RETURN_IF_ERROR(check_text_label(key));
    Result<Cmw> inner = from_json_value(value, depth + 1, limits);
    if (!inner) {
      const std::string& d = inner.error().detail;
      return cmw_error("in item \"" + key.substr(0, 40) +
                       "\": " + d.substr(d.starts_with("CMW: ") ? 5 : 0));
    }
    c.items.emplace_back(Label(key), std::move(inner).value());
  }
  if (c.items.empty()) return cmw_error("collection has no items (at least one is required)");
  return Cmw(std::move(c));
}

Result<Cmw> from_json_value(const ojson& j, size_t depth, const DecodeLimits& limits) {
  if (j.is_array()) return record_from_json(j);
  if (j.is_object()) return collection_from_json(j, depth, limits);
  return cmw_error("not a CMW: expected a JSON array (record) or object (collection)");
}

// ---- validation for encoding ----------------------------------------------------------------

Status validate(const Cmw& cmw, size_t depth, bool json) {
  if (cmw.is_record()) {
    const Record& r = cmw.record();
    if (auto* t = std::get_if<std::string>(&r.type)) {
      EXATTEST_RETURN_IF_ERROR(check_media_type(*t));
    } else if (json) {
      return cmw_error("a Content-Format record type cannot be encoded in JSON");
    }
    if (r.ind) EXATTEST_RETURN_IF_ERROR(check_ind(*r.ind));
    return Status::Ok();
  }
  if (cmw.is_tag()) {
    if (json) return cmw_error("a tag CMW has no JSON form");
    if (!cf_from_tn(cmw.tag().tag)) {
      return cmw_error("tag " + std::to_string(cmw.tag().tag) + " is not a CMW tag number");
    }
    return Status::Ok();
  }
  const Collection& c = cmw.collection();
  DecodeLimits limits;
  EXATTEST_RETURN_IF_ERROR(check_depth(depth, limits));
  if (c.ctype) EXATTEST_RETURN_IF_ERROR(check_ctype(*c.ctype));
  if (c.items.empty()) return cmw_error("collection has no items (at least one is required)");
  std::set<Label> seen;
  for (const auto& [label, item] : c.items) {
    if (auto* t = std::get_if<std::string>(&label)) {
      EXATTEST_RETURN_IF_ERROR(check_text_label(*t));
    } else if (json) {
      return cmw_error("integer label " + label_text(label) + " cannot be encoded in JSON");
    }
    if (!seen.insert(label).second) return cmw_error("duplicate label " + label_text(label));
    EXATTEST_RETURN_IF_ERROR(validate(item, depth + 1, json));
  }
  return Status::Ok();
}

void write_cbor(const Cmw& cmw, MapOrder order, CborWriter& w) {
  if (cmw.is_record()) {
    const Record& r = cmw.record();
    w.array_header(r.ind ? 3 : 2);
    if (auto* cf = std::get_if<uint16_t>(&r.type)) {
      w.uint(*cf);
    } else {
      w.tstr(std::get<std::string>(r.type));
    }
    w.bstr(view(r.value));
    if (r.ind) w.uint(*r.ind);
    return;
  }
  if (cmw.is_tag()) {
    w.tag(cmw.tag().tag);
    w.bstr(view(cmw.tag().value));
    return;
  }
  const Collection& c = cmw.collection();
  std::vector<std::pair<Bytes, Bytes>> entries;
  if (c.ctype) {
    CborWriter k, v;
    k.tstr(kCtypeLabel);
    v.tstr(*c.ctype);
    entries.emplace_back(k.take(), v.take());
  }
  for (const auto& [label, item] : c.items) {
    CborWriter k, v;
    if (auto* i = std::get_if<int64_t>(&label)) {
      k.int64(*i);
    } else {
      k.tstr(std::get<std::string>(label));
    }
    write_cbor(item, order, v);
    entries.emplace_back(k.take(), v.take());
  }
  if (order == MapOrder::kDeterministic) {
    w.map(std::move(entries));
    return;
  }
  w.map_header(entries.size());
  for (const auto& [k, v] : entries) {
    w.raw(view(k));
    w.raw(view(v));
  }
}

ojson to_json(const Cmw& cmw) {
  if (cmw.is_record()) {
    const Record& r = cmw.record();
    ojson a = ojson::array({std::get<std::string>(r.type), base64url_encode(view(r.value))});
    if (r.ind) a.push_back(*r.ind);
    return a;
  }
  const Collection& c = cmw.collection();
  ojson o = ojson::object();
  if (c.ctype) o[std::string(kCtypeLabel)] = *c.ctype;
  for (const auto& [label, item] : c.items) o[std::get<std::string>(label)] = to_json(item);
  return o;
}

struct Asn1ObjectFree {
  void operator()(ASN1_OBJECT* p) const { ASN1_OBJECT_free(p); }
};
struct Asn1TypeFree {
  void operator()(ASN1_TYPE* p) const { ASN1_TYPE_free(p); }
};

}  // namespace

std::optional<uint64_t> tn_from_cf(uint32_t cf) {
  if (cf > kTnMaxCf) return std::nullopt;
  return kTnMin + uint64_t{cf / 255} * 256 + cf % 255;
}

std::optional<uint16_t> cf_from_tn(uint64_t tn) {
  if (tn < kTnMin || tn > kTnMax) return std::nullopt;
  uint64_t off = tn - kTnMin;  // = (cf / 255) * 256 + cf % 255
  uint64_t lo = off & 0xff;
  if (lo == 0xff) return std::nullopt;  // low byte of TN would be 0x00
  return static_cast<uint16_t>((off >> 8) * 255 + lo);
}

Result<Cmw> decode_cbor(ByteView in, const DecodeLimits& limits) {
  auto item = cbor_load_bounded(in, limits.cbor);
  if (!item) return item.error();
  return from_cbor_item(item->get(), 1, limits);
}

Result<Cmw> decode_json(std::string_view in, const DecodeLimits& limits) {
  if (in.size() > limits.cbor.max_input) {
    return cmw_error("JSON input of " + std::to_string(in.size()) + " bytes exceeds the limit of " +
                     std::to_string(limits.cbor.max_input));
  }
  BoundedJsonBuilder builder(limits.cbor);
  bool ok;
  try {
    ok = ojson::sax_parse(in, &builder, ojson::input_format_t::json, /*strict=*/true);
  } catch (const std::exception&) {
    ok = false;
  }
  if (!ok) {
    return cmw_error(builder.error().empty() ? std::string("malformed JSON") : builder.error());
  }
  return from_json_value(builder.root(), 1, limits);
}

Result<Cmw> decode(ByteView in, const DecodeLimits& limits) {
  // JSON whitespace and '['/'{' never start a CBOR CMW (they would be ints or long strings).
  for (uint8_t c : in) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    if (c == '[' || c == '{') {
      return decode_json(std::string_view(reinterpret_cast<const char*>(in.data()), in.size()),
                         limits);
    }
    break;
  }
  return decode_cbor(in, limits);
}

Result<Cmw> decode_from_x509_extension(ByteView der_cert, const DecodeLimits& limits) {
  const unsigned char* p = der_cert.data();
  UniquePtr<X509> cert(d2i_X509(nullptr, &p, static_cast<long>(der_cert.size())));
  if (!cert || p != der_cert.data() + der_cert.size()) {
    return cmw_error("not a DER X.509 certificate (or trailing bytes after it)");
  }
  std::unique_ptr<ASN1_OBJECT, Asn1ObjectFree> oid(OBJ_txt2obj(kCmwExtensionOid, 1));
  if (!oid) return cmw_error("cannot build OID 1.3.6.1.5.5.7.1.35");
  int idx = X509_get_ext_by_OBJ(cert.get(), oid.get(), -1);
  if (idx < 0) return cmw_error("certificate has no CMW extension (1.3.6.1.5.5.7.1.35)");
  // RFC 5280 §4.2: "A certificate MUST NOT include more than one instance of a particular
  // extension."
  if (X509_get_ext_by_OBJ(cert.get(), oid.get(), idx) >= 0) {
    return cmw_error("certificate has more than one CMW extension");
  }
  X509_EXTENSION* ext = X509_get_ext(cert.get(), idx);
  ASN1_OCTET_STRING* data = ext ? X509_EXTENSION_get_data(ext) : nullptr;
  if (!data) return cmw_error("CMW extension has no value");
  const unsigned char* q = ASN1_STRING_get0_data(data);
  long qlen = ASN1_STRING_length(data);
  const unsigned char* qstart = q;
  std::unique_ptr<ASN1_TYPE, Asn1TypeFree> value(d2i_ASN1_TYPE(nullptr, &q, qlen));
  if (!value || q != qstart + qlen) {
    return cmw_error("CMW extension value is not one DER element");
  }
  int type = ASN1_TYPE_get(value.get());
  if (type == V_ASN1_OCTET_STRING) {
    const ASN1_STRING* s = value->value.octet_string;
    return decode_cbor(ByteView(ASN1_STRING_get0_data(s), ASN1_STRING_length(s)), limits);
  }
  if (type == V_ASN1_UTF8STRING) {
    const ASN1_STRING* s = value->value.utf8string;
    return decode_json(std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                        ASN1_STRING_length(s)),
                       limits);
  }
  return cmw_error("CMW extension value must be an OCTET STRING (CBOR) or a UTF8String (JSON)");
}

Result<Bytes> encode_cbor(const Cmw& cmw, MapOrder order) {
  EXATTEST_RETURN_IF_ERROR(validate(cmw, 1, /*json=*/false));
  CborWriter w;
  write_cbor(cmw, order, w);
  if (!w.ok()) return cmw_error("duplicate map key while encoding");
  return w.take();
}

Result<std::string> encode_json(const Cmw& cmw) {
  EXATTEST_RETURN_IF_ERROR(validate(cmw, 1, /*json=*/true));
  try {
    return to_json(cmw).dump();
  } catch (const std::exception&) {
    return cmw_error("a label or type is not valid UTF-8");
  }
}

std::string ind_names(uint32_t ind) {
  static constexpr const char* kNames[] = {"reference-values", "endorsements", "evidence",
                                           "attestation-results", "appraisal-policy"};
  std::string out;
  for (uint32_t bit = 0; bit < 32; ++bit) {
    if (!(ind >> bit & 1)) continue;
    if (!out.empty()) out += "|";
    out += bit < 5 ? std::string(kNames[bit]) : "bit" + std::to_string(bit);
  }
  return out;
}

nlohmann::ordered_json describe(const Cmw& cmw) {
  ojson d = ojson::object();
  if (cmw.is_record()) {
    const Record& r = cmw.record();
    d["kind"] = "record";
    if (auto* cf = std::get_if<uint16_t>(&r.type)) {
      d["content_format"] = *cf;
    } else {
      d["media_type"] = std::get<std::string>(r.type);
    }
    d["value"] = to_hex(view(r.value));
    if (r.ind) {
      d["ind"] = *r.ind;
      d["ind_names"] = ind_names(*r.ind);
    }
  } else if (cmw.is_tag()) {
    d["kind"] = "tag";
    d["tag"] = cmw.tag().tag;
    if (auto cf = cf_from_tn(cmw.tag().tag)) d["content_format"] = *cf;
    d["value"] = to_hex(view(cmw.tag().value));
  } else {
    const Collection& c = cmw.collection();
    d["kind"] = "collection";
    if (c.ctype) d["ctype"] = *c.ctype;
    ojson items = ojson::array();
    for (const auto& [label, item] : c.items) {
      ojson e = ojson::object();
      if (auto* i = std::get_if<int64_t>(&label)) {
        e["label"] = *i;
      } else {
        e["label"] = std::get<std::string>(label);
      }
      e["cmw"] = describe(item);
      items.push_back(std::move(e));
    }
    d["items"] = std::move(items);
  }
  return d;
}

Bytes encode_evidence_record(std::string_view media_type, ByteView value) {
  // PROTOCOL.md §6: [ "application/vnd.exattest.tpm2-quote+cbor", bstr, 4 ].
  CborWriter w;
  w.array_header(3);
  w.tstr(media_type);
  w.bstr(value);
  w.uint(kIndEvidence);
  return w.take();
}

Result<Bytes> decode_evidence_record(ByteView in, std::string_view expected_media_type) {
  CborLimits limits;
  limits.max_depth = 2;
  // PROTOCOL.md §6: "in RFC 8949 §4.2.1 core deterministic encoding ... receivers reject
  // anything else, as decode_error, like duplicate keys, trailing bytes".
  limits.require_deterministic = true;
  auto item = cbor_load_bounded(in, limits);
  if (!item) return item.error();
  const cbor_item_t* it = item->get();
  // PROTOCOL.md §6: "exactly this shape is accepted: a 3-element array, text type equal to
  // the media type, indicator 4; any other CMW form there is decode_error".
  if (!cbor_isa_array(it) || cbor_array_size(it) != 3) {
    return cmw_error("evidence must be a 3-element CMW record [type, value, 4] (PROTOCOL.md §6)");
  }
  cbor_item_t** e = cbor_array_handle(it);
  if (!cbor_isa_string(e[0])) {
    return cmw_error("evidence record type must be the text media type " +
                     std::string(expected_media_type));
  }
  std::string type = text_of(e[0]);
  if (type != expected_media_type) {
    return cmw_error("evidence record type \"" + type.substr(0, 80) + "\" is not \"" +
                     std::string(expected_media_type) + "\"");
  }
  if (!cbor_isa_bytestring(e[1])) return cmw_error("evidence record value must be a byte string");
  if (!cbor_isa_uint(e[2]) || cbor_get_int(e[2]) != kIndEvidence) {
    return cmw_error("evidence record indicator must be 4 (evidence)");
  }
  return bytes_of(e[1]);
}

std::string base64url_encode(ByteView in) {
  static constexpr char kAlpha[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((in.size() * 4 + 2) / 3);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = uint32_t{in[i]} << 16 | uint32_t{in[i + 1]} << 8 | in[i + 2];
    for (int k = 3; k >= 0; --k) out.push_back(kAlpha[(v >> (6 * k)) & 63]);
  }
  size_t rest = in.size() - i;
  if (rest == 1) {
    uint32_t v = uint32_t{in[i]} << 16;
    out.push_back(kAlpha[v >> 18 & 63]);
    out.push_back(kAlpha[v >> 12 & 63]);
  } else if (rest == 2) {
    uint32_t v = uint32_t{in[i]} << 16 | uint32_t{in[i + 1]} << 8;
    out.push_back(kAlpha[v >> 18 & 63]);
    out.push_back(kAlpha[v >> 12 & 63]);
    out.push_back(kAlpha[v >> 6 & 63]);
  }
  return out;
}

bool base64url_decode(std::string_view in, Bytes& out) {
  // RFC 4648 §5 alphabet, no padding (RFC 9999 JSON records: "base64url without padding").
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
  };
  if (in.size() % 4 == 1) return false;
  Bytes res;
  res.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = val(c);
    if (v < 0) return false;
    acc = (acc << 6 | static_cast<uint32_t>(v)) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      res.push_back(static_cast<uint8_t>(acc >> bits));
    }
  }
  // RFC 4648 §3.5: unused bits must be zero in a canonical encoding.
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return false;
  out = std::move(res);
  return true;
}

}  // namespace exattest::cmw
