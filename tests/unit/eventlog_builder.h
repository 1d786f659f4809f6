// Writes synthetic TCG PC Client event logs (crypto-agile or SHA-1) for tests, the fuzz corpus
// and the benchmark. Little-endian throughout, as the TCG structures are.
#pragma once

#include <openssl/evp.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace exattest::test {

class EventLogBuilder {
 public:
  using Bytes = std::vector<uint8_t>;
  struct Alg {
    uint16_t id;
    uint16_t size;
  };
  static constexpr Alg kSha1{0x0004, 20}, kSha256{0x000B, 32}, kSha384{0x000C, 48},
      kSha512{0x000D, 64};

  // A crypto-agile log whose Spec ID event declares `algs` (in this order).
  explicit EventLogBuilder(std::vector<Alg> algs, bool crypto_agile = true)
      : algs_(std::move(algs)), agile_(crypto_agile) {
    if (!agile_) return;
    Bytes spec;
    const char sig[16] = "Spec ID Event03";
    spec.insert(spec.end(), sig, sig + 16);
    le(spec, 0, 4);     // platformClass
    spec.push_back(0);  // specVersionMinor
    spec.push_back(2);  // specVersionMajor
    spec.push_back(0);  // specErrata
    spec.push_back(2);  // uintnSize
    le(spec, algs_.size(), 4);
    for (const Alg& a : algs_) {
      le(spec, a.id, 2);
      le(spec, a.size, 2);
    }
    spec.push_back(0);  // vendorInfoSize
    legacy_record(0, 0x3, Bytes(20, 0), spec);
  }

  // An event with digests H(data) in every declared bank (or the first `only` of them).
  EventLogBuilder& event(uint32_t pcr, uint32_t type, const Bytes& data, size_t only = 0) {
    if (!agile_) {
      legacy_record(pcr, type, hash(algs_[0], data), data);
      return *this;
    }
    std::vector<std::pair<Alg, Bytes>> d;
    size_t n = only == 0 ? algs_.size() : only;
    for (size_t i = 0; i < n; ++i) d.emplace_back(algs_[i], hash(algs_[i], data));
    return event_with(pcr, type, d, data);
  }
  // An event with exactly these digests (any algorithm ids and sizes).
  EventLogBuilder& event_with(uint32_t pcr, uint32_t type,
                              const std::vector<std::pair<Alg, Bytes>>& digests,
                              const Bytes& data) {
    le(out_, pcr, 4);
    le(out_, type, 4);
    le(out_, digests.size(), 4);
    for (const auto& [a, v] : digests) {
      le(out_, a.id, 2);
      out_.insert(out_.end(), v.begin(), v.end());
    }
    le(out_, data.size(), 4);
    out_.insert(out_.end(), data.begin(), data.end());
    return *this;
  }
  // A TCG_PCClientPCREvent record (the SHA-1 format).
  EventLogBuilder& legacy_record(uint32_t pcr, uint32_t type, const Bytes& sha1,
                                 const Bytes& data) {
    le(out_, pcr, 4);
    le(out_, type, 4);
    out_.insert(out_.end(), sha1.begin(), sha1.end());
    le(out_, data.size(), 4);
    out_.insert(out_.end(), data.begin(), data.end());
    return *this;
  }
  const Bytes& bytes() const { return out_; }

  static Bytes hash(Alg a, const Bytes& data) {
    const EVP_MD* md = a.id == 0x0004   ? EVP_sha1()
                       : a.id == 0x000B ? EVP_sha256()
                       : a.id == 0x000C ? EVP_sha384()
                       : a.id == 0x000D ? EVP_sha512()
                                        : nullptr;
    Bytes out(a.size, 0);
    if (md == nullptr) return out;
    unsigned int n = 0;
    EVP_Digest(data.data(), data.size(), out.data(), &n, md, nullptr);
    return out;
  }
  static void le(Bytes& b, uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  static Bytes utf16(const std::string& s) {
    Bytes b;
    for (char c : s) {
      b.push_back(static_cast<uint8_t>(c));
      b.push_back(0);
    }
    return b;
  }
  // UEFI_VARIABLE_DATA of a variable in the EFI global (SecureBoot, PK, KEK) or image
  // security database (db, dbx) namespace.
  static Bytes variable(const std::string& name, const Bytes& value) {
    static const uint8_t kGlobal[16] = {0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11,
                                        0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c};
    static const uint8_t kDb[16] = {0xcb, 0xb2, 0x19, 0xd7, 0x3a, 0x3d, 0x96, 0x45,
                                    0xa3, 0xbc, 0xda, 0xd0, 0x0e, 0x67, 0x65, 0x6f};
    const uint8_t* g = (name == "db" || name == "dbx") ? kDb : kGlobal;
    Bytes b(g, g + 16);
    le(b, name.size(), 8);
    le(b, value.size(), 8);
    Bytes n = utf16(name);
    b.insert(b.end(), n.begin(), n.end());
    b.insert(b.end(), value.begin(), value.end());
    return b;
  }
  // UEFI_IMAGE_LOAD_EVENT with a file-path device path node.
  static Bytes image(const std::string& path) {
    Bytes dp;
    Bytes p = utf16(path);
    p.push_back(0);
    p.push_back(0);
    dp.push_back(4);
    dp.push_back(4);
    le(dp, p.size() + 4, 2);
    dp.insert(dp.end(), p.begin(), p.end());
    dp.insert(dp.end(), {0x7f, 0xff, 4, 0});
    Bytes b;
    le(b, 0x1000, 8);
    le(b, 0x2000, 8);
    le(b, 0, 8);
    le(b, dp.size(), 8);
    b.insert(b.end(), dp.begin(), dp.end());
    return b;
  }
  static Bytes text(const std::string& s) { return Bytes(s.begin(), s.end()); }

  // A plausible UEFI boot: Secure Boot variables in PCR 7 (SecureBoot = secure_boot), the
  // separators, one boot application in PCR 4, a kernel command line in PCR 8; `extra`
  // EV_IPL events pad it to a real log's size.
  static EventLogBuilder uefi_boot(uint8_t secure_boot, size_t extra = 0,
                                   std::vector<Alg> algs = {kSha1, kSha256}) {
    EventLogBuilder b(std::move(algs));
    b.event(0, 0x80000008, text("firmware volume"));
    b.event(7, 0x80000001, variable("SecureBoot", {secure_boot}));
    b.event(7, 0x80000001, variable("PK", Bytes(64, 0x11)));
    b.event(7, 0x80000001, variable("KEK", Bytes(64, 0x22)));
    b.event(7, 0x80000001, variable("db", Bytes(64, 0x33)));
    b.event(7, 0x80000001, variable("dbx", Bytes(64, 0x44)));
    for (uint32_t pcr = 0; pcr < 8; ++pcr) b.event(pcr, 0x4, Bytes(4, 0));
    b.event(4, 0x80000003, image("\\EFI\\BOOT\\BOOTX64.EFI"));
    b.event(8, 0xD, text("kernel_cmdline: /vmlinuz root=/dev/sda1 ro"));
    for (size_t i = 0; i < extra; ++i) b.event(9, 0xD, text("/boot/file-" + std::to_string(i)));
    return b;
  }

 private:
  std::vector<Alg> algs_;
  bool agile_;
  Bytes out_;
};

}  // namespace exattest::test
