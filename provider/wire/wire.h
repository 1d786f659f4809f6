// Bounds-checked readers and writers for TLS-style vectors (u8/u16/u24 length prefixes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "common/bytes.h"

namespace exattest::wire {

// Reads big-endian integers and length-prefixed vectors from a byte view. Every method
// fails (returns false, consumes nothing) rather than read past the end. A parser ends by
// checking empty(): "nothing left", always.
class Reader {
 public:
  Reader() = default;
  explicit Reader(ByteView in) : in_(in) {}
  Reader(const uint8_t* p, size_t n) : in_(p, n) {}

  [[nodiscard]] bool u8(uint8_t& out);
  [[nodiscard]] bool u16(uint16_t& out);
  [[nodiscard]] bool u24(uint32_t& out);
  [[nodiscard]] bool u32(uint32_t& out);
  [[nodiscard]] bool u64(uint64_t& out);
  // Little-endian integers, for TCG/UEFI structures (event logs).
  [[nodiscard]] bool u16le(uint16_t& out);
  [[nodiscard]] bool u32le(uint32_t& out);
  [[nodiscard]] bool u64le(uint64_t& out);
  // The next n bytes as a view into the input.
  [[nodiscard]] bool bytes(size_t n, ByteView& out);
  // A vector with an N-byte length prefix, as a sub-reader over its body.
  [[nodiscard]] bool prefixed_u8(Reader& out);
  [[nodiscard]] bool prefixed_u16(Reader& out);
  [[nodiscard]] bool prefixed_u24(Reader& out);
  // Like prefixed_*, as a view.
  [[nodiscard]] bool prefixed_u8(ByteView& out);
  [[nodiscard]] bool prefixed_u16(ByteView& out);
  [[nodiscard]] bool prefixed_u24(ByteView& out);
  [[nodiscard]] bool skip(size_t n);

  bool empty() const { return in_.empty(); }
  size_t remaining() const { return in_.size(); }
  ByteView rest() const { return in_; }
  // Bytes consumed so far, relative to a reader this one was copied from.
  const uint8_t* position() const { return in_.data(); }

 private:
  [[nodiscard]] bool uint_be(size_t n, uint64_t& out);
  [[nodiscard]] bool uint_le(size_t n, uint64_t& out);
  [[nodiscard]] bool prefixed(size_t len_bytes, ByteView& out);
  ByteView in_;
};

// Appends big-endian integers and length-prefixed vectors. A prefixed scope that grows
// beyond what its prefix can express marks the writer failed; ok() reports it.
class Writer {
 public:
  Writer() = default;

  void u8(uint8_t v);
  void u16(uint16_t v);
  void u24(uint32_t v);  // v must be < 2^24, else the writer fails
  void u32(uint32_t v);
  void u64(uint64_t v);
  void bytes(ByteView b);
  void bytes(const Bytes& b) { bytes(view(b)); }

  // Writes a placeholder prefix, runs fill(*this), then patches the length.
  template <class F>
  void prefixed_u8(F&& fill) { prefixed(1, fill); }
  template <class F>
  void prefixed_u16(F&& fill) { prefixed(2, fill); }
  template <class F>
  void prefixed_u24(F&& fill) { prefixed(3, fill); }

  [[nodiscard]] bool ok() const { return ok_; }
  const Bytes& data() const { return buf_; }
  Bytes take() { return std::move(buf_); }
  size_t size() const { return buf_.size(); }

 private:
  template <class F>
  void prefixed(size_t len_bytes, F& fill) {
    size_t at = buf_.size();
    buf_.insert(buf_.end(), len_bytes, 0);
    fill(*this);
    patch(at, len_bytes);
  }
  void patch(size_t at, size_t len_bytes);
  Bytes buf_;
  bool ok_ = true;
};

// A TLS handshake message: type(1) | length(3) | body.
Bytes handshake_message(uint8_t type, ByteView body);

}  // namespace exattest::wire
