// PROTOCOL.md §6.1: the RFC 9162 Merkle tree over the bindings one quote serves.
#include "attesters/tpm2/binding_tree.h"

#include <openssl/sha.h>

#include <string>

namespace exattest::tpm2 {
namespace {

Bytes sha256_of(uint8_t prefix, ByteView a, ByteView b = {}) {
  Bytes in;
  in.reserve(1 + a.size() + b.size());
  in.push_back(prefix);
  in.insert(in.end(), a.begin(), a.end());
  in.insert(in.end(), b.begin(), b.end());
  Bytes out(SHA256_DIGEST_LENGTH);
  SHA256(in.data(), in.size(), out.data());
  return out;
}

// RFC 9162 §2.1.1: "k be the largest power of two smaller than n (i.e., k < n <= 2k)".
uint64_t split_point(uint64_t n) {
  uint64_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

// MTH(D[lo:hi]) over the leaf hashes; on the way up appends each sibling subtree's hash to the
// paths of the leaves below it, so every path ends up leaf to root (RFC 9162 §2.1.3.1: for
// m < k, PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n]); else PATH(m - k, D[k:n]) : MTH(D[0:k])).
// n - 1 node hashes for the whole tree, not one MTH per path element.
Bytes build(const std::vector<Bytes>& leaves, size_t lo, size_t hi,
            std::vector<TreePosition>* positions) {
  if (hi - lo == 1) return leaves[lo];
  size_t k = static_cast<size_t>(split_point(hi - lo));
  Bytes left = build(leaves, lo, lo + k, positions);
  Bytes right = build(leaves, lo + k, hi, positions);
  if (positions != nullptr) {
    for (size_t i = lo; i < lo + k; ++i) (*positions)[i].path.push_back(right);
    for (size_t i = lo + k; i < hi; ++i) (*positions)[i].path.push_back(left);
  }
  return node_hash(view(left), view(right));
}

std::vector<Bytes> leaf_hashes(std::span<const ByteView> bindings) {
  std::vector<Bytes> out;
  out.reserve(bindings.size());
  for (ByteView b : bindings) out.push_back(leaf_hash(b));
  return out;
}

Error limit(std::string what) {
  return make_error(Reason::kDecodeError,
                    "tpm2 evidence: key 7 (binding tree, PROTOCOL.md §6.1): " + std::move(what));
}

}  // namespace

// RFC 9162 §2.1.1: "MTH({d(0)}) = HASH(0x00 || d(0))".
Bytes leaf_hash(ByteView binding) { return sha256_of(0x00, binding); }

// RFC 9162 §2.1.1: "MTH(D_n) = HASH(0x01 || MTH(D[0:k]) || MTH(D[k:n]))".
Bytes node_hash(ByteView left, ByteView right) { return sha256_of(0x01, left, right); }

Result<BindingTree> build_binding_tree(std::span<const ByteView> bindings) {
  // PROTOCOL.md §6.1: "1 ≤ tree_size ≤ 4096"; the attester never builds what the relying
  // party would reject.
  if (bindings.empty() || bindings.size() > kMaxTreeSize) {
    return make_error(Reason::kAttesterUnavailable,
                      "a binding tree holds 1.." + std::to_string(kMaxTreeSize) +
                          " bindings, not " + std::to_string(bindings.size()));
  }
  BindingTree tree;
  tree.positions.resize(bindings.size());
  for (size_t i = 0; i < bindings.size(); ++i) {
    tree.positions[i].leaf_index = i;
    tree.positions[i].tree_size = bindings.size();
  }
  tree.root = build(leaf_hashes(bindings), 0, bindings.size(), &tree.positions);
  return tree;
}

Bytes merkle_tree_hash(std::span<const ByteView> bindings) {
  return build(leaf_hashes(bindings), 0, bindings.size(), nullptr);
}

std::vector<Bytes> audit_path(uint64_t m, std::span<const ByteView> bindings) {
  std::vector<TreePosition> positions(bindings.size());
  build(leaf_hashes(bindings), 0, bindings.size(), &positions);
  return positions[m].path;
}

size_t audit_path_length(uint64_t m, uint64_t n) {
  size_t len = 0;
  while (n > 1) {
    uint64_t k = split_point(n);
    if (m < k) {
      n = k;
    } else {
      m -= k;
      n -= k;
    }
    ++len;
  }
  return len;
}

Status check_tree_shape(uint64_t leaf_index, uint64_t tree_size, size_t path_elements) {
  // PROTOCOL.md §6.1: "1 ≤ tree_size ≤ 4096, leaf_index < tree_size, exactly
  // len(PATH(leaf_index, D[tree_size])) path elements (≤ 12)".
  if (tree_size < 1 || tree_size > kMaxTreeSize) {
    return limit("tree_size " + std::to_string(tree_size) + " is outside 1.." +
                 std::to_string(kMaxTreeSize));
  }
  if (leaf_index >= tree_size) {
    return limit("leaf_index " + std::to_string(leaf_index) + " is not below tree_size " +
                 std::to_string(tree_size));
  }
  size_t want = audit_path_length(leaf_index, tree_size);
  if (path_elements != want) {
    return limit("path length is " + std::to_string(path_elements) + "; leaf " +
                 std::to_string(leaf_index) + " of a tree of " + std::to_string(tree_size) +
                 " needs exactly " + std::to_string(want));
  }
  return Status::Ok();
}

Status check_tree_position(const TreePosition& pos) {
  EXATTEST_RETURN_IF_ERROR(check_tree_shape(pos.leaf_index, pos.tree_size, pos.path.size()));
  // "each a 32-byte bstr".
  for (size_t i = 0; i < pos.path.size(); ++i) {
    if (pos.path[i].size() != kTreeHashSize) {
      return limit("path element " + std::to_string(i) + " is " +
                   std::to_string(pos.path[i].size()) + " bytes, not 32");
    }
  }
  return Status::Ok();
}

std::optional<Bytes> root_from_path(ByteView binding, const TreePosition& pos) {
  // RFC 9162 §2.1.3.2, step by step.
  // 1. "If leaf_index is greater than or equal to tree_size, then fail".
  if (pos.tree_size == 0 || pos.leaf_index >= pos.tree_size) return std::nullopt;
  // 2. "Set fn to leaf_index and sn to tree_size - 1." 3. "Set r to hash."
  uint64_t fn = pos.leaf_index;
  uint64_t sn = pos.tree_size - 1;
  Bytes r = leaf_hash(binding);
  // 4. "For each value p in the inclusion_path array:"
  for (const Bytes& p : pos.path) {
    // a. "If sn is 0, then stop the iteration and fail the proof verification."
    if (sn == 0) return std::nullopt;
    // b. "If LSB(fn) is set, or if fn is equal to sn, then:"
    if ((fn & 1) != 0 || fn == sn) {
      //  1. "Set r to HASH(0x01 || p || r)."
      r = node_hash(view(p), view(r));
      //  2. "If LSB(fn) is not set, then right-shift both fn and sn equally until either
      //     LSB(fn) is set or fn is 0."
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      // "Otherwise: Set r to HASH(0x01 || r || p)."
      r = node_hash(view(r), view(p));
    }
    // c. "Finally, right-shift both fn and sn one time."
    fn >>= 1;
    sn >>= 1;
  }
  // 5. "If sn is equal to 0 and r and the root_hash are equal, then the log has proven the
  // inclusion" — the root comparison is the caller's (constant time, against extraData).
  if (sn != 0) return std::nullopt;
  return r;
}

}  // namespace exattest::tpm2
