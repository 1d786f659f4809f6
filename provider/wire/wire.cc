#include "wire/wire.h"

namespace exattest::wire {

bool Reader::uint_be(size_t n, uint64_t& out) {
  if (in_.size() < n) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v = v << 8 | in_[i];
  in_ = in_.subspan(n);
  out = v;
  return true;
}

bool Reader::u8(uint8_t& out) {
  uint64_t v;
  if (!uint_be(1, v)) return false;
  out = static_cast<uint8_t>(v);
  return true;
}

bool Reader::u16(uint16_t& out) {
  uint64_t v;
  if (!uint_be(2, v)) return false;
  out = static_cast<uint16_t>(v);
  return true;
}

bool Reader::u24(uint32_t& out) {
  uint64_t v;
  if (!uint_be(3, v)) return false;
  out = static_cast<uint32_t>(v);
  return true;
}

bool Reader::u32(uint32_t& out) {
  uint64_t v;
  if (!uint_be(4, v)) return false;
  out = static_cast<uint32_t>(v);
  return true;
}

bool Reader::u64(uint64_t& out) { return uint_be(8, out); }

bool Reader::uint_le(size_t n, uint64_t& out) {
  if (in_.size() < n) return false;
  uint64_t v = 0;
  for (size_t i = n; i > 0; --i) v = v << 8 | in_[i - 1];
  in_ = in_.subspan(n);
  out = v;
  return true;
}

bool Reader::u16le(uint16_t& out) {
  uint64_t v;
  if (!uint_le(2, v)) return false;
  out = static_cast<uint16_t>(v);
  return true;
}

bool Reader::u32le(uint32_t& out) {
  uint64_t v;
  if (!uint_le(4, v)) return false;
  out = static_cast<uint32_t>(v);
  return true;
}

bool Reader::u64le(uint64_t& out) { return uint_le(8, out); }

bool Reader::bytes(size_t n, ByteView& out) {
  if (in_.size() < n) return false;
  out = in_.first(n);
  in_ = in_.subspan(n);
  return true;
}

bool Reader::skip(size_t n) {
  ByteView ignored;
  return bytes(n, ignored);
}

bool Reader::prefixed(size_t len_bytes, ByteView& out) {
  Reader probe = *this;  // consume nothing on failure
  uint64_t len;
  if (!probe.uint_be(len_bytes, len)) return false;
  if (!probe.bytes(static_cast<size_t>(len), out)) return false;
  *this = probe;
  return true;
}

bool Reader::prefixed_u8(ByteView& out) { return prefixed(1, out); }
bool Reader::prefixed_u16(ByteView& out) { return prefixed(2, out); }
bool Reader::prefixed_u24(ByteView& out) { return prefixed(3, out); }

bool Reader::prefixed_u8(Reader& out) {
  ByteView v;
  if (!prefixed(1, v)) return false;
  out = Reader(v);
  return true;
}
bool Reader::prefixed_u16(Reader& out) {
  ByteView v;
  if (!prefixed(2, v)) return false;
  out = Reader(v);
  return true;
}
bool Reader::prefixed_u24(Reader& out) {
  ByteView v;
  if (!prefixed(3, v)) return false;
  out = Reader(v);
  return true;
}

void Writer::u8(uint8_t v) { buf_.push_back(v); }
void Writer::u16(uint16_t v) {
  buf_.push_back(static_cast<uint8_t>(v >> 8));
  buf_.push_back(static_cast<uint8_t>(v));
}
void Writer::u24(uint32_t v) {
  if (v >= (1u << 24)) ok_ = false;
  buf_.push_back(static_cast<uint8_t>(v >> 16));
  buf_.push_back(static_cast<uint8_t>(v >> 8));
  buf_.push_back(static_cast<uint8_t>(v));
}
void Writer::u32(uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) buf_.push_back(static_cast<uint8_t>(v >> s));
}
void Writer::u64(uint64_t v) {
  for (int s = 56; s >= 0; s -= 8) buf_.push_back(static_cast<uint8_t>(v >> s));
}
void Writer::bytes(ByteView b) { buf_.insert(buf_.end(), b.begin(), b.end()); }

void Writer::patch(size_t at, size_t len_bytes) {
  size_t len = buf_.size() - at - len_bytes;
  if (len_bytes < sizeof(size_t) && len >> (8 * len_bytes) != 0) {
    ok_ = false;
    return;
  }
  for (size_t i = 0; i < len_bytes; ++i)
    buf_[at + i] = static_cast<uint8_t>(len >> (8 * (len_bytes - 1 - i)));
}

Bytes handshake_message(uint8_t type, ByteView body) {
  Writer w;
  w.u8(type);
  w.prefixed_u24([&](Writer& b) { b.bytes(body); });
  return w.take();
}

}  // namespace exattest::wire
