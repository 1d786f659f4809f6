// Byte containers: Bytes, and SecureBytes that wipes itself (exporters, finished keys).
#pragma once

#include <openssl/crypto.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace exattest {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

// Holds secrets. Never logged; cleansed on destruction and on resize.
class SecureBytes {
 public:
  SecureBytes() = default;
  explicit SecureBytes(size_t n) : b_(n) {}
  SecureBytes(const SecureBytes&) = delete;
  SecureBytes& operator=(const SecureBytes&) = delete;
  SecureBytes(SecureBytes&& o) noexcept : b_(std::move(o.b_)) {}
  SecureBytes& operator=(SecureBytes&& o) noexcept {
    wipe();
    b_ = std::move(o.b_);
    return *this;
  }
  ~SecureBytes() { wipe(); }
  void resize(size_t n) {
    wipe();
    b_.assign(n, 0);
  }
  uint8_t* data() { return b_.data(); }
  const uint8_t* data() const { return b_.data(); }
  size_t size() const { return b_.size(); }
  ByteView view() const { return {b_.data(), b_.size()}; }

 private:
  void wipe() {
    if (!b_.empty()) OPENSSL_cleanse(b_.data(), b_.size());
  }
  std::vector<uint8_t> b_;
};

inline ByteView view(const Bytes& b) { return {b.data(), b.size()}; }

// Lower-case hex; for public values only (digests, PCRs), never for secrets.
std::string to_hex(ByteView b);
// Parses hex (even length, [0-9a-fA-F]); false on anything else.
bool from_hex(std::string_view hex, Bytes& out);

}  // namespace exattest
