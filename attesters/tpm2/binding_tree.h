// PROTOCOL.md §6.1 binding tree: RFC 9162 §2.1 Merkle Tree Hash (SHA-256) over bindings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"

namespace exattest::tpm2 {

// PROTOCOL.md §6.1: "1 ≤ tree_size ≤ 4096", "exactly len(PATH(leaf_index, D[tree_size])) path
// elements (≤ 12), each a 32-byte bstr".
inline constexpr uint64_t kMaxTreeSize = 4096;
inline constexpr size_t kMaxAuditPath = 12;
inline constexpr size_t kTreeHashSize = 32;

// Evidence key 7: [leaf_index, tree_size, path] (index first, unlike COSE receipts).
struct TreePosition {
  uint64_t leaf_index = 0;
  uint64_t tree_size = 1;
  std::vector<Bytes> path;  // RFC 9162 §2.1.3.1 PATH(m, D[n]), leaf to root
  bool operator==(const TreePosition&) const = default;
};

// RFC 9162 §2.1.1: the leaf hash SHA-256(0x00 || d) and the interior node hash
// SHA-256(0x01 || left || right).
Bytes leaf_hash(ByteView binding);
Bytes node_hash(ByteView left, ByteView right);

// One quote's tree: its root (the quote's qualifyingData) and each leaf's key 7, in the order
// of the bindings given. kAttesterUnavailable when there are 0 or more than kMaxTreeSize.
struct BindingTree {
  Bytes root;
  std::vector<TreePosition> positions;
};
Result<BindingTree> build_binding_tree(std::span<const ByteView> bindings);

// MTH(D[n]) and PATH(m, D[n]) alone (preconditions: 1 ≤ n ≤ kMaxTreeSize, m < n).
Bytes merkle_tree_hash(std::span<const ByteView> bindings);
std::vector<Bytes> audit_path(uint64_t m, std::span<const ByteView> bindings);

// len(PATH(m, D[n])) for m < n, n ≥ 1: what the verifier requires of key 7's path.
size_t audit_path_length(uint64_t m, uint64_t n);

// PROTOCOL.md §6.1's limits on a decoded key 7 (checked before any hashing): kDecodeError
// with a detail naming the broken limit. check_tree_shape judges the numbers alone (tree size,
// index, path length), check_tree_position those and then each element's size.
Status check_tree_shape(uint64_t leaf_index, uint64_t tree_size, size_t path_elements);
Status check_tree_position(const TreePosition& pos);

// RFC 9162 §2.1.3.2: the root that `pos` proves for the leaf SHA-256(0x00 || binding), or
// nullopt when the algorithm fails (a path of the wrong length; check_tree_position rejects
// those first).
std::optional<Bytes> root_from_path(ByteView binding, const TreePosition& pos);

}  // namespace exattest::tpm2
