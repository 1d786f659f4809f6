// Bounded CBOR pre-scan, libcbor loading, deterministic encoder.
#include "cmw/cbor_util.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "wire/wire.h"

namespace exattest {
namespace {

Error scan_error(size_t offset, const std::string& what) {
  return make_error(Reason::kDecodeError, "CBOR: " + what + " at offset " + std::to_string(offset));
}

// True when s is valid UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF).
bool valid_utf8(ByteView s) {
  size_t i = 0;
  while (i < s.size()) {
    uint8_t c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) {
      n = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i - 1 < n) return false;
    for (size_t k = 1; k <= n; ++k) {
      uint8_t cc = s[i + k];
      if ((cc & 0xc0) != 0x80) return false;
      cp = cp << 6 | (cc & 0x3f);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

// RFC 8949 §4.2.1 preferred serialization of floats: the shortest of half/single/double
// that keeps the value.
bool float_fits_half(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  uint32_t exp = (bits >> 23) & 0xff;
  uint32_t mant = bits & 0x7fffff;
  if (exp == 0xff) return true;            // infinities and NaN have half forms
  if (exp == 0 && mant == 0) return true;  // +-0
  if (exp == 0) return false;              // single subnormals are far below half range
  int e = static_cast<int>(exp) - 127;
  if (e > 15) return false;
  if (e >= -14) return (mant & 0x1fff) == 0;  // half normal: 10 mantissa bits
  if (e < -24) return false;
  // Half subnormal k * 2^-24: the 24-bit significand must lose no bits.
  uint32_t full = mant | 0x800000;
  int drop = -(e + 1);
  return (full & ((1u << drop) - 1)) == 0;
}

bool double_fits_float(double d) {
  if (d != d) return true;  // NaN: preferred is the half form
  float f = static_cast<float>(d);
  return static_cast<double>(f) == d;
}

class Scanner {
 public:
  // All reads go through wire::Reader (STYLE.md): it never reads past the end.
  Scanner(ByteView in, const CborLimits& limits) : in_(in), r_(in), limits_(limits) {}

  Status item(size_t depth) {
    if (depth > limits_.max_depth) {
      return scan_error(pos(), "nesting deeper than " + std::to_string(limits_.max_depth));
    }
    if (++items_ > limits_.max_items) {
      return scan_error(pos(), "more than " + std::to_string(limits_.max_items) + " items");
    }
    size_t start = pos();
    uint8_t ib;
    if (!r_.u8(ib)) return scan_error(start, "truncated input (item expected)");
    uint8_t major = ib >> 5;
    uint8_t ai = ib & 0x1f;
    if (ai >= 28 && ai <= 30) return scan_error(start, "reserved additional information");
    if (ai == 31) {
      // We require definite lengths (deterministic encoding); 0xff alone is a stray break.
      if (major >= 2 && major <= 5) return scan_error(start, "indefinite-length item");
      return scan_error(start, "malformed item (additional information 31)");
    }
    uint64_t arg = ai;
    if (ai >= 24) {
      if (!read_arg(ai, arg)) return scan_error(start, "truncated head");
      if (major != 7 && limits_.require_deterministic) {
        // RFC 8949 §4.2.1: "integers must be as small as possible" (also lengths, tags).
        static constexpr uint64_t kMinFor[] = {24, 0x100, 0x10000, 0x100000000};
        if (arg < kMinFor[ai - 24]) return scan_error(start, "non-shortest integer or length head");
      }
    }
    size_t remaining = r_.remaining();
    switch (major) {
      case 0:
      case 1:
        return Status::Ok();
      case 2:
      case 3:
        if (arg > remaining) {
          return scan_error(start, "declared string length " + std::to_string(arg) +
                                       " exceeds the " + std::to_string(remaining) + " bytes left");
        }
        {
          ByteView body;
          if (!r_.bytes(static_cast<size_t>(arg), body))
            return scan_error(start, "truncated string");
          if (major == 3 && !valid_utf8(body)) {
            return scan_error(start, "text string is not valid UTF-8");
          }
        }
        return Status::Ok();
      case 4:
        // Every element takes at least one byte.
        if (arg > remaining) {
          return scan_error(start, "declared array count " + std::to_string(arg) + " exceeds the " +
                                       std::to_string(remaining) + " bytes left");
        }
        for (uint64_t k = 0; k < arg; ++k) EXATTEST_RETURN_IF_ERROR(item(depth + 1));
        return Status::Ok();
      case 5:
        return map(start, arg, remaining, depth);
      case 6:
        return item(depth + 1);
      default:
        return simple_or_float(start, ai, arg);
    }
  }

  // Additional information 24..27: a 1, 2, 4 or 8-byte big-endian argument.
  [[nodiscard]] bool read_arg(uint8_t ai, uint64_t& out) {
    uint8_t v8;
    uint16_t v16;
    uint32_t v32;
    switch (ai) {
      case 24:
        if (!r_.u8(v8)) return false;
        out = v8;
        return true;
      case 25:
        if (!r_.u16(v16)) return false;
        out = v16;
        return true;
      case 26:
        if (!r_.u32(v32)) return false;
        out = v32;
        return true;
      default:
        return r_.u64(out);
    }
  }

  size_t pos() const { return static_cast<size_t>(r_.position() - in_.data()); }

 private:
  Status map(size_t start, uint64_t count, size_t remaining, size_t depth) {
    if (count > remaining / 2) {
      return scan_error(start, "declared map size " + std::to_string(count) + " exceeds the " +
                                   std::to_string(remaining) + " bytes left");
    }
    std::vector<ByteView> keys;
    keys.reserve(count);
    for (uint64_t k = 0; k < count; ++k) {
      size_t key_start = pos();
      EXATTEST_RETURN_IF_ERROR(item(depth + 1));
      ByteView key = in_.subspan(key_start, pos() - key_start);
      if (limits_.require_deterministic && !keys.empty()) {
        // RFC 8949 §4.2.1: keys "sorted in the bytewise lexicographic order of their
        // deterministic encodings".
        const ByteView& prev = keys.back();
        if (std::equal(prev.begin(), prev.end(), key.begin(), key.end())) {
          return scan_error(key_start, "duplicate map key");
        }
        if (!std::lexicographical_compare(prev.begin(), prev.end(), key.begin(), key.end())) {
          return scan_error(key_start, "map keys not in bytewise sorted order");
        }
      }
      keys.push_back(key);
      EXATTEST_RETURN_IF_ERROR(item(depth + 1));
    }
    if (!limits_.require_deterministic && keys.size() > 1) {
      std::vector<ByteView> sorted = keys;
      auto less = [](const ByteView& a, const ByteView& b) {
        return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end());
      };
      std::sort(sorted.begin(), sorted.end(), less);
      for (size_t k = 1; k < sorted.size(); ++k) {
        if (std::equal(sorted[k - 1].begin(), sorted[k - 1].end(), sorted[k].begin(),
                       sorted[k].end())) {
          return scan_error(start, "duplicate map key");
        }
      }
    }
    return Status::Ok();
  }

  Status simple_or_float(size_t start, uint8_t ai, uint64_t arg) {
    if (ai == 24 && arg < 32) {
      // RFC 8949 §3.3: simple values 0..31 in the two-byte form are not well-formed.
      return scan_error(start, "simple value below 32 in two-byte form");
    }
    if (!limits_.require_deterministic) return Status::Ok();
    if (ai == 26) {
      uint32_t bits = static_cast<uint32_t>(arg);
      float f;
      std::memcpy(&f, &bits, 4);
      if (float_fits_half(f)) return scan_error(start, "float not in its shortest form");
    } else if (ai == 27) {
      double d;
      std::memcpy(&d, &arg, 8);
      if (double_fits_float(d)) return scan_error(start, "float not in its shortest form");
    }
    return Status::Ok();
  }

  ByteView in_;
  wire::Reader r_;
  const CborLimits& limits_;
  size_t items_ = 0;
};

}  // namespace

Status cbor_prescan(ByteView in, const CborLimits& limits) {
  if (in.empty()) return make_error(Reason::kDecodeError, "CBOR: empty input");
  if (in.size() > limits.max_input) {
    return make_error(Reason::kDecodeError, "CBOR: input of " + std::to_string(in.size()) +
                                                " bytes exceeds the limit of " +
                                                std::to_string(limits.max_input));
  }
  Scanner s(in, limits);
  EXATTEST_RETURN_IF_ERROR(s.item(1));
  if (s.pos() != in.size()) {
    return make_error(Reason::kDecodeError, "CBOR: " + std::to_string(in.size() - s.pos()) +
                                                " trailing bytes after the item at offset " +
                                                std::to_string(s.pos()));
  }
  return Status::Ok();
}

Result<UniquePtr<cbor_item_t>> cbor_load_bounded(ByteView in, const CborLimits& limits) {
  EXATTEST_RETURN_IF_ERROR(cbor_prescan(in, limits));
  struct cbor_load_result res;
  UniquePtr<cbor_item_t> item(cbor_load(in.data(), in.size(), &res));
  if (!item || res.error.code != CBOR_ERR_NONE) {
    return make_error(Reason::kDecodeError, "CBOR: libcbor rejected the input (error " +
                                                std::to_string(static_cast<int>(res.error.code)) +
                                                " at offset " + std::to_string(res.error.position) +
                                                ")");
  }
  // libcbor does not flag trailing bytes itself.
  if (res.read != in.size()) {
    return make_error(Reason::kDecodeError,
                      "CBOR: trailing bytes after the item at offset " + std::to_string(res.read));
  }
  return item;
}

bool is_deterministic(ByteView in) {
  CborLimits limits;
  limits.max_input = in.size();
  limits.require_deterministic = true;
  return cbor_prescan(in, limits).ok();
}

void CborWriter::head(uint8_t major, uint64_t arg) {
  uint8_t m = static_cast<uint8_t>(major << 5);
  if (arg < 24) {
    buf_.push_back(m | static_cast<uint8_t>(arg));
    return;
  }
  int n;
  uint8_t ai;
  if (arg <= 0xff) {
    n = 1;
    ai = 24;
  } else if (arg <= 0xffff) {
    n = 2;
    ai = 25;
  } else if (arg <= 0xffffffff) {
    n = 4;
    ai = 26;
  } else {
    n = 8;
    ai = 27;
  }
  buf_.push_back(m | ai);
  for (int k = n - 1; k >= 0; --k) buf_.push_back(static_cast<uint8_t>(arg >> (8 * k)));
}

void CborWriter::int64(int64_t v) {
  if (v >= 0) {
    head(0, static_cast<uint64_t>(v));
  } else {
    // -1 - v without overflow for INT64_MIN.
    head(1, ~static_cast<uint64_t>(v));
  }
}

void CborWriter::bstr(ByteView b) {
  head(2, b.size());
  buf_.insert(buf_.end(), b.begin(), b.end());
}

void CborWriter::tstr(std::string_view s) {
  head(3, s.size());
  buf_.insert(buf_.end(), s.begin(), s.end());
}

void CborWriter::raw(ByteView item) { buf_.insert(buf_.end(), item.begin(), item.end()); }

void CborWriter::map(std::vector<std::pair<Bytes, Bytes>> entries) {
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t k = 1; k < entries.size(); ++k) {
    if (entries[k - 1].first == entries[k].first) ok_ = false;
  }
  head(5, entries.size());
  for (const auto& [key, value] : entries) {
    raw(view(key));
    raw(view(value));
  }
}

}  // namespace exattest
