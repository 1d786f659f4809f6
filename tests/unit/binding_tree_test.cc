// Unit tests for attesters/tpm2/binding_tree (PROTOCOL.md §6.1, RFC 9162 §2.1) and the
// decoding of evidence key 7: known answers against a reference implementation written here
// from RFC 9162's definitions, roots computed independently with Python's hashlib, and every
// malformed key 7 with its reason.
#include "attesters/tpm2/binding_tree.h"

#include <openssl/sha.h>

#include <algorithm>
#include <string>
#include <vector>

#include "attesters/tpm2/evidence.h"
#include "cmw/cbor_util.h"
#include "test_support.h"

using exattest::Bytes;
using exattest::ByteView;
using exattest::Reason;
using exattest::view;
using exattest::test::from_hex;
using exattest::test::to_hex;
namespace tpm2 = exattest::tpm2;

namespace {

// ---- Reference: RFC 9162 §2.1.1 and §2.1.3.1 transcribed literally, recursion on D. ----
Bytes ref_hash(uint8_t prefix, const Bytes& a, const Bytes& b = {}) {
  Bytes in{prefix};
  in.insert(in.end(), a.begin(), a.end());
  in.insert(in.end(), b.begin(), b.end());
  Bytes out(32);
  SHA256(in.data(), in.size(), out.data());
  return out;
}
size_t ref_k(size_t n) {  // largest power of two smaller than n
  size_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
std::vector<Bytes> slice(const std::vector<Bytes>& d, size_t lo, size_t hi) {
  return std::vector<Bytes>(d.begin() + static_cast<long>(lo), d.begin() + static_cast<long>(hi));
}
Bytes ref_mth(const std::vector<Bytes>& d) {
  if (d.size() == 1) return ref_hash(0x00, d[0]);
  size_t k = ref_k(d.size());
  return ref_hash(0x01, ref_mth(slice(d, 0, k)), ref_mth(slice(d, k, d.size())));
}
std::vector<Bytes> ref_path(size_t m, const std::vector<Bytes>& d) {
  if (d.size() == 1) return {};
  size_t k = ref_k(d.size());
  std::vector<Bytes> p;
  if (m < k) {
    p = ref_path(m, slice(d, 0, k));
    p.push_back(ref_mth(slice(d, k, d.size())));
  } else {
    p = ref_path(m - k, slice(d, k, d.size()));
    p.push_back(ref_mth(slice(d, 0, k)));
  }
  return p;
}

// d_i = i as 4 bytes big-endian || 28 x 0x5a (the same leaves as the Python one-liner below).
std::vector<Bytes> leaves(size_t n) {
  std::vector<Bytes> d;
  for (size_t i = 0; i < n; ++i) {
    Bytes b{static_cast<uint8_t>(i >> 24), static_cast<uint8_t>(i >> 16),
            static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)};
    b.resize(32, 0x5a);
    d.push_back(std::move(b));
  }
  return d;
}
std::vector<ByteView> views(const std::vector<Bytes>& d) {
  return std::vector<ByteView>(d.begin(), d.end());
}

}  // namespace

// Python, independent of both implementations above and in attesters/tpm2:
//   import hashlib; H=lambda b: hashlib.sha256(b).digest()
//   def mth(D):
//     if len(D)==1: return H(b'\0'+D[0])
//     k=1
//     while 2*k<len(D): k*=2
//     return H(b'\1'+mth(D[:k])+mth(D[k:]))
//   [mth([i.to_bytes(4,'big')+b'Z'*28 for i in range(n)]).hex() for n in (1,2,3,5,7,8,4096)]
TEST_CASE("binding tree: known roots for 1, 2, 3, 5, 7, 8 and 4096 leaves", "[binding_tree]") {
  const std::vector<std::pair<size_t, const char*>> known = {
      {1, "7e03a32d8ed3fa9e2f3721c5a13f182340bf48d80fc1d015e880112773aa1f96"},
      {2, "7c0273cde954bcdda9fd7bc6a51faaffb98e17c2cbbba7c8a25acaceb2cecfca"},
      {3, "b8732e5525fc3bcd41815b9919eee5f653797319a52936a6f7ac6f20d15a66df"},
      {5, "ac61c3b21370012ee8a312446e17e6e1d4913fb73c78915b5c36b0f20325f276"},
      {7, "9a18f5b874cf0626810832ece31de122163aeed2b9d5f928224c515e5a3abd8b"},
      {8, "8aaf369562be2a5393d9dd85f4aa1a7c5ee56a6cb973461a59dd5a8924930aed"},
      {4096, "ef897f8bbff2286d35a6c3eb34f06333652dd22e79bfe524876113857c5cc2e9"},
  };
  for (const auto& [n, hex] : known) {
    INFO("n = " << n);
    auto d = leaves(n);
    auto v = views(d);
    CHECK(to_hex(tpm2::merkle_tree_hash(v)) == hex);
    CHECK(to_hex(ref_mth(d)) == hex);
    auto tree = tpm2::build_binding_tree(v);
    REQUIRE(tree.ok());
    CHECK(to_hex(tree->root) == hex);
  }
  // A lone 48-byte binding: "[0, 1, []] and qualifyingData = SHA-256(0x00 || binding)".
  // python3 -c "import hashlib;print(hashlib.sha256(b'\0'+b'Z'*48).hexdigest())"
  Bytes b48(48, 0x5a);
  std::vector<ByteView> one{view(b48)};
  auto tree = tpm2::build_binding_tree(one);
  REQUIRE(tree.ok());
  CHECK(to_hex(tree->root) == "13485ae3e9ed733892202aed2ce0a6ef0bd6a33242d8d73499c323bd79034bc1");
  CHECK(tree->root == tpm2::leaf_hash(view(b48)));
  REQUIRE(tree->positions.size() == 1);
  CHECK(tree->positions[0] == tpm2::TreePosition{0, 1, {}});
}

TEST_CASE("binding tree: known audit paths of a tree of 5", "[binding_tree]") {
  // Python: path(m, D) per RFC 9162 §2.1.3.1 over the same leaves.
  auto d = leaves(5);
  auto tree = tpm2::build_binding_tree(views(d));
  REQUIRE(tree.ok());
  const auto& p4 = tree->positions[4].path;
  REQUIRE(p4.size() == 1);
  CHECK(to_hex(p4[0]) == "1e608c79e63e2ba837c53601d1bb6597c06f442b1e625d9b6a38537315fd8c05");
  const auto& p2 = tree->positions[2].path;
  REQUIRE(p2.size() == 3);
  CHECK(to_hex(p2[0]) == "0375218ccd868eb83e05a87c7113fb2aa802f62ed04d2ddb3382682f9106417c");
  CHECK(to_hex(p2[1]) == "7c0273cde954bcdda9fd7bc6a51faaffb98e17c2cbbba7c8a25acaceb2cecfca");
  CHECK(to_hex(p2[2]) == "191cbbf780064ecf709d75cf4b47d3ad2a21c89f153783d4aecfcb6799b2f684");
}

TEST_CASE("binding tree: every edge index of 1, 2, 3, 5, 7, 8, 4096 leaves", "[binding_tree]") {
  for (size_t n : {1, 2, 3, 5, 7, 8, 4096}) {
    auto d = leaves(n);
    auto v = views(d);
    Bytes root = ref_mth(d);
    auto tree = tpm2::build_binding_tree(v);
    REQUIRE(tree.ok());
    REQUIRE(tree->positions.size() == n);
    size_t k = ref_k(n);
    std::vector<size_t> edges = {0, 1, n - 2, n - 1, k - 1, k};
    for (size_t m : edges) {
      if (m >= n) continue;  // n - 2 wraps for n = 1; 1 and k do not exist in tiny trees
      INFO("n = " << n << ", m = " << m);
      const tpm2::TreePosition& pos = tree->positions[m];
      CHECK(pos.leaf_index == m);
      CHECK(pos.tree_size == n);
      std::vector<Bytes> want = ref_path(m, d);
      CHECK(pos.path == want);
      CHECK(tpm2::audit_path(m, v) == want);
      CHECK(tpm2::audit_path_length(m, n) == want.size());
      CHECK(tpm2::check_tree_position(pos).ok());
      // RFC 9162 §2.1.3.2 gives back the root from the leaf's own binding.
      auto got = tpm2::root_from_path(v[m], pos);
      REQUIRE(got.has_value());
      CHECK(*got == root);
      // Another binding at that position, any flipped path bit, or another index: another
      // root (or a failed proof).
      Bytes other = d[m];
      other[31] ^= 0x01;
      CHECK(tpm2::root_from_path(view(other), pos) != std::optional<Bytes>(root));
      for (size_t e = 0; e < pos.path.size(); ++e) {
        tpm2::TreePosition flipped = pos;
        flipped.path[e][e % 32] ^= 0x80;
        CHECK(tpm2::root_from_path(v[m], flipped) != std::optional<Bytes>(root));
      }
      if (n > 1) {
        tpm2::TreePosition moved = pos;
        moved.leaf_index = (m + 1) % n;
        CHECK(tpm2::root_from_path(v[m], moved) != std::optional<Bytes>(root));
      }
    }
  }
}

TEST_CASE("binding tree: path lengths agree with PATH for every leaf up to 70, at most 12",
          "[binding_tree]") {
  for (size_t n = 1; n <= 70; ++n) {
    auto d = leaves(n);
    auto tree = tpm2::build_binding_tree(views(d));
    REQUIRE(tree.ok());
    for (size_t m = 0; m < n; ++m) {
      INFO("n = " << n << ", m = " << m);
      CHECK(tpm2::audit_path_length(m, n) == ref_path(m, d).size());
      CHECK(tree->positions[m].path.size() == tpm2::audit_path_length(m, n));
      CHECK(tpm2::root_from_path(view(d[m]), tree->positions[m]) == std::optional(ref_mth(d)));
    }
  }
  for (uint64_t n : {4095, 4096}) {
    size_t longest = 0;
    for (uint64_t m = 0; m < n; ++m) longest = std::max(longest, tpm2::audit_path_length(m, n));
    CHECK(longest == tpm2::kMaxAuditPath);
  }
  CHECK(tpm2::audit_path_length(4094, 4095) == 11);  // the lone right subtree of 2046 + ...
  CHECK(tpm2::audit_path_length(0, 1) == 0);
}

TEST_CASE("binding tree: the attester builds 1..4096 leaves, never 0 or 4097", "[binding_tree]") {
  CHECK(tpm2::build_binding_tree({}).reason() == Reason::kAttesterUnavailable);
  auto d = leaves(4097);
  auto v = views(d);
  CHECK(tpm2::build_binding_tree(std::span(v).first(4096)).ok());
  CHECK(tpm2::build_binding_tree(v).reason() == Reason::kAttesterUnavailable);
}

TEST_CASE("binding tree: a swapped leaf or a stale tree is a different root", "[binding_tree]") {
  auto d = leaves(7);
  auto tree = tpm2::build_binding_tree(views(d));
  REQUIRE(tree.ok());
  // Leaf 3's Evidence presented by the connection whose binding is leaf 4: the root differs.
  auto wrong = tpm2::root_from_path(view(d[4]), tree->positions[3]);
  REQUIRE(wrong.has_value());
  CHECK(*wrong != tree->root);
  // The same bindings in another order: another tree (the order is the attester's choice, but
  // each path fits only its own tree).
  std::swap(d[3], d[4]);
  auto swapped = tpm2::build_binding_tree(views(d));
  REQUIRE(swapped.ok());
  CHECK(swapped->root != tree->root);
  CHECK(tpm2::root_from_path(view(d[3]), swapped->positions[3]) == std::optional(swapped->root));
}

// ---------------------------------------------------------------------------------------------
// Key 7 in the evidence map (PROTOCOL.md §6, §6.1): "anything else is decode_error".

namespace {

// Keys 1-4 of a minimal map, then key 7 given as hex; a5 = five entries.
const char* kMapKeys1To4 = "01 41 01 02 41 02 03 41 03 04 81 41 04";

exattest::Result<tpm2::EvidenceParts> decode_with_key7(const std::string& key7_hex) {
  return tpm2::decode_evidence(
      view(from_hex("a5 " + std::string(kMapKeys1To4) + " 07 " + key7_hex)));
}

std::string h32(uint8_t b) { return "5820 " + to_hex(Bytes(32, b)); }

void check_rejected(const std::string& key7_hex, const std::string& detail) {
  INFO("key 7 = " << key7_hex);
  auto r = decode_with_key7(key7_hex);
  REQUIRE_FALSE(r.ok());
  CHECK(r.reason() == Reason::kDecodeError);
  CHECK_THAT(r.error().detail, Catch::Contains(detail));
}

}  // namespace

TEST_CASE("key 7: valid forms decode, encode deterministically, round-trip", "[binding_tree]") {
  auto one = decode_with_key7("83 00 01 80");
  REQUIRE(one.ok());
  REQUIRE(one->tree.has_value());
  CHECK(*one->tree == tpm2::TreePosition{0, 1, {}});
  auto two = decode_with_key7("83 01 02 81 " + h32(0xab));
  REQUIRE(two.ok());
  CHECK(*two->tree == tpm2::TreePosition{1, 2, {Bytes(32, 0xab)}});
  // Encoder output: shortest integer heads (24 → 18 18, 4095 → 19 0fff), keys sorted.
  auto d = leaves(4096);
  auto tree = tpm2::build_binding_tree(views(d));
  REQUIRE(tree.ok());
  tpm2::EvidenceParts p;
  p.attest = {1};
  p.signature = {2};
  p.ak_public = {3};
  p.pcr_values = {{4}};
  p.tree = tree->positions[4095];
  Bytes enc = tpm2::encode_evidence(p);
  std::string path_hex;
  for (const Bytes& h : p.tree->path) path_hex += "5820" + to_hex(h);
  CHECK(to_hex(enc) == to_hex(from_hex("a5 01 41 01 02 41 02 03 41 03 04 81 41 04 07 83 19 0fff "
                                       "19 1000 8c " +
                                       path_hex)));
  CHECK(exattest::is_deterministic(view(enc)));
  auto back = tpm2::decode_evidence(view(enc));
  REQUIRE(back.ok());
  CHECK(back->tree == p.tree);
  p.tree = tree->positions[24];
  auto enc24 = tpm2::encode_evidence(p);
  CHECK(to_hex(enc24).find("0783181819100") != std::string::npos);
  // Unknown keys after 7 are still skipped.
  auto r = tpm2::decode_evidence(
      view(from_hex("a6 " + std::string(kMapKeys1To4) + " 07 83 00 01 80 08 a1 01 02")));
  CHECK(r.ok());
}

TEST_CASE("key 7: missing (version-1 Evidence) is decode_error", "[binding_tree]") {
  auto v1 = tpm2::decode_evidence(view(from_hex("a4 " + std::string(kMapKeys1To4))));
  REQUIRE_FALSE(v1.ok());
  CHECK(v1.reason() == Reason::kDecodeError);
  CHECK_THAT(v1.error().detail, Catch::Contains("required key 7"));
  CHECK_THAT(v1.error().detail, Catch::Contains("version-1"));
  // Through the CMW record too (what the appraiser decodes).
  Bytes rec = tpm2::wrap_cmw(view(from_hex("a4 " + std::string(kMapKeys1To4))));
  CHECK(tpm2::unwrap_cmw(view(rec)).reason() == Reason::kDecodeError);
  // The lenient decoder tools use for version-1 vectors takes it, without a tree.
  auto lenient = tpm2::decode_evidence(view(from_hex("a4 " + std::string(kMapKeys1To4))),
                                       tpm2::TreeKey::kOptional);
  REQUIRE(lenient.ok());
  CHECK_FALSE(lenient->tree.has_value());
  // ... but a malformed key 7 is malformed for it as well.
  auto bad = tpm2::decode_evidence(view(from_hex("a5 " + std::string(kMapKeys1To4) + " 07 01")),
                                   tpm2::TreeKey::kOptional);
  CHECK(bad.reason() == Reason::kDecodeError);
}

TEST_CASE("key 7: every malformed form is decode_error with its reason", "[binding_tree]") {
  // Not an array.
  check_rejected("01", "not a 3-element array");
  check_rejected("40", "not a 3-element array");
  check_rejected("a1 00 01", "not a 3-element array");
  // Wrong arity.
  check_rejected("80", "not a 3-element array");
  check_rejected("82 00 01", "not a 3-element array");
  check_rejected("84 00 01 80 00", "not a 3-element array");
  // Indefinite length (the deterministic pre-scan refuses it).
  check_rejected("9f 00 01 80 ff", "indefinite-length");
  check_rejected("83 00 01 9f ff", "indefinite-length");
  // Integers that are not unsigned.
  check_rejected("83 20 01 80", "leaf_index is not an unsigned integer");
  check_rejected("83 00 20 80", "tree_size is not an unsigned integer");
  check_rejected("83 41 00 01 80", "leaf_index is not an unsigned integer");
  check_rejected("83 00 f5 80", "tree_size is not an unsigned integer");
  // Non-canonical integers: 0 and 1 in two-byte form; 24 in three-byte form.
  check_rejected("83 18 00 01 80", "non-shortest");
  check_rejected("83 00 18 01 80", "non-shortest");
  check_rejected(
      "83 00 19 0018 "
      "85 " +
          h32(1) + h32(2) + h32(3) + h32(4) + h32(5),
      "non-shortest");
  // tree_size 0 and 4097, and 2^64 - 1.
  check_rejected("83 00 00 80", "tree_size 0 is outside 1..4096");
  check_rejected("83 00 19 1001 80", "tree_size 4097 is outside 1..4096");
  check_rejected("83 00 1b ffffffffffffffff 80", "tree_size 18446744073709551615 is outside");
  // leaf_index ≥ tree_size.
  check_rejected("83 01 01 80", "leaf_index 1 is not below tree_size 1");
  check_rejected("83 05 05 83 " + h32(1) + h32(2) + h32(3),
                 "leaf_index 5 is not below tree_size 5");
  check_rejected("83 1b ffffffffffffffff 02 81 " + h32(1), "leaf_index 18446744073709551615");
  // Path too short / too long.
  check_rejected("83 00 02 80", "path length is 0; leaf 0 of a tree of 2 needs exactly 1");
  check_rejected("83 00 01 81 " + h32(1),
                 "path length is 1; leaf 0 of a tree of 1 needs exactly 0");
  check_rejected("83 02 05 82 " + h32(1) + h32(2),
                 "path length is 2; leaf 2 of a tree of 5 needs exactly 3");
  check_rejected("83 04 05 82 " + h32(1) + h32(2),
                 "path length is 2; leaf 4 of a tree of 5 needs exactly 1");
  // Path not an array.
  check_rejected("83 00 01 40", "path is not an array");
  check_rejected("83 00 01 a0", "path is not an array");
  // Elements of the wrong size or type.
  check_rejected("83 00 02 81 581f " + to_hex(Bytes(31, 1)), "path element 0 is 31 bytes, not 32");
  check_rejected("83 00 02 81 5821 " + to_hex(Bytes(33, 1)), "path element 0 is 33 bytes, not 32");
  check_rejected("83 00 02 81 40", "path element 0 is 0 bytes, not 32");
  check_rejected("83 00 02 81 7820 " + to_hex(Bytes(32, 0x61)), "path element 0 is not a bstr");
  check_rejected("83 00 02 81 00", "path element 0 is not a bstr");
  check_rejected("83 02 05 83 " + h32(1) + " 81 " + h32(2) + h32(3),
                 "path element 1 is not a bstr");
  // Key 7 present twice (duplicate keys) is refused by the map rules.
  auto dup = tpm2::decode_evidence(
      view(from_hex("a6 " + std::string(kMapKeys1To4) + " 07 83 00 01 80 07 83 00 01 80")));
  CHECK(dup.reason() == Reason::kDecodeError);
}

TEST_CASE("key 7: limits are judged before hashing (check_tree_position)", "[binding_tree]") {
  CHECK(tpm2::check_tree_position({0, 1, {}}).ok());
  CHECK(tpm2::check_tree_position({0, 0, {}}).reason() == Reason::kDecodeError);
  CHECK(tpm2::check_tree_position({0, 4097, {}}).reason() == Reason::kDecodeError);
  CHECK(tpm2::check_tree_position({3, 3, {}}).reason() == Reason::kDecodeError);
  CHECK(tpm2::check_tree_position({0, 2, {Bytes(31, 0)}}).reason() == Reason::kDecodeError);
  CHECK(tpm2::check_tree_position({0, 2, {Bytes(32, 0)}}).ok());
  // root_from_path fails (rather than guessing) on a path of the wrong length.
  Bytes b(32, 1);
  CHECK_FALSE(tpm2::root_from_path(view(b), {0, 2, {}}).has_value());
  CHECK_FALSE(tpm2::root_from_path(view(b), {0, 1, {Bytes(32, 0)}}).has_value());
  CHECK_FALSE(tpm2::root_from_path(view(b), {1, 1, {}}).has_value());
}
