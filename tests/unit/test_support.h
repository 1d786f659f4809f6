// Helpers shared by unit tests: hex, file reading, vectors location.
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace exattest::test {

inline std::vector<uint8_t> from_hex(std::string_view hex) {
  std::vector<uint8_t> out;
  int hi = -1;
  for (char c : hex) {
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    else continue;  // spaces and separators are allowed in test literals
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<uint8_t>(hi << 4 | v));
      hi = -1;
    }
  }
  REQUIRE(hi < 0);
  return out;
}

inline std::string to_hex(const std::vector<uint8_t>& b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (uint8_t x : b) {
    s.push_back(d[x >> 4]);
    s.push_back(d[x & 15]);
  }
  return s;
}

inline std::vector<uint8_t> read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  REQUIRE(f.good());
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// Path of ../shared/vectors/<rel>, or nullopt when the vectors are not beside the checkout.
inline std::optional<std::filesystem::path> vector_path(const std::string& rel) {
  std::filesystem::path p = std::filesystem::path(EXATTEST_VECTORS_DIR) / rel;
  if (!std::filesystem::exists(p)) return std::nullopt;
  return p;
}

}  // namespace exattest::test

// Requires a Result/Status to be ok, printing its failure detail (details never carry
// secrets).
#define REQUIRE_OK(r)                                      \
  do {                                                     \
    auto&& ok_ = (r);                                      \
    INFO((ok_.ok() ? std::string() : ok_.error().detail)); \
    REQUIRE(ok_.ok());                                     \
  } while (0)

// Requires failure with exactly this PROTOCOL.md §7 reason.
#define REQUIRE_REASON(r, want)                                                  \
  do {                                                                           \
    auto&& rr_ = (r);                                                            \
    INFO((rr_.ok() ? std::string("succeeded") : rr_.error().detail));            \
    REQUIRE(exattest::reason_name(rr_.reason()) == exattest::reason_name(want)); \
  } while (0)

// Skips the current test case (ctest sees it as skipped: SKIP_RETURN_CODE 4) when the
// shared vectors are absent, as in a user's fresh clone.
#define EXATTEST_REQUIRE_VECTORS(rel)                                          \
  auto vec_path_ = ::exattest::test::vector_path(rel);                          \
  if (!vec_path_) {                                                            \
    WARN("vectors not found at " EXATTEST_VECTORS_DIR "/" rel "; skipping");   \
    std::exit(4);                                                              \
  }
