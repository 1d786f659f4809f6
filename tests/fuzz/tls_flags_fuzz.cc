// Fuzz target: the tls_flags extension body (provider/hooks decode_flags, PROTOCOL.md §2:
// "flags_len(1) | flags[flags_len] ... minimal: no trailing zero octet, never empty, never
// all-zero"). Invariants: rejections are decode_error; an accepted body is exactly
// len | flags with a non-zero last octet, and re-encodes (encode_flags) to itself when it
// holds only the bits this project uses.
#include "fuzz_support.h"
#include "hooks.h"

using namespace exattest;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteView in(data, size);
  auto r = hooks::decode_flags(in);
  if (!r.ok()) {
    FUZZ_CHECK(r.reason() == Reason::kDecodeError);
    return 0;
  }
  const Bytes& flags = *r;
  FUZZ_CHECK(!flags.empty() && flags.back() != 0);
  FUZZ_CHECK(size == flags.size() + 1 && data[0] == flags.size());
  FUZZ_CHECK(std::equal(flags.begin(), flags.end(), data + 1));
  // Minimal encoding means the set of bits determines the bytes: compare with the encoder
  // for every combination of the two bits PROTOCOL.md §1 defines.
  bool b64 = hooks::flag_set(view(flags), 64), b65 = hooks::flag_set(view(flags), 65);
  size_t others = 0;
  for (unsigned n = 0; n < flags.size() * 8; ++n)
    if (n != 64 && n != 65 && hooks::flag_set(view(flags), n)) ++others;
  if (others == 0) {
    Bytes enc = b64 && b65 ? hooks::encode_flags({64, 65})
                : b64      ? hooks::encode_flags({64})
                           : hooks::encode_flags({65});
    FUZZ_CHECK(enc == Bytes(data, data + size));
  }
  auto again = hooks::decode_flags(view(Bytes(data, data + size)));
  FUZZ_CHECK(again.ok() && *again == flags);
  return 0;
}
