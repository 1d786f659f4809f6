// PROTOCOL.md §5 frames: type(1) | length(3) | body, with per-type size limits, and the
// RESULT body codec.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/bytes.h"
#include "common/result.h"

namespace exattest::inband {

// PROTOCOL.md §5: "1 REQUEST", "2 AUTHENTICATOR", "3 RESULT".
enum class FrameType : uint8_t { kRequest = 1, kAuthenticator = 2, kResult = 3 };

inline constexpr size_t kHeaderLen = 4;
// PROTOCOL.md §5: "Limits: REQUEST ≤ 16 KiB, AUTHENTICATOR ≤ 1 MiB, RESULT ≤ 259 bytes."
inline constexpr uint32_t kMaxRequest = 16 * 1024;
inline constexpr uint32_t kMaxAuthenticator = 1024 * 1024;
inline constexpr uint32_t kMaxResult = 259;
// RESULT text is prefixed by one length octet.
inline constexpr size_t kMaxResultText = 255;

std::string_view frame_name(FrameType t);

struct FrameHeader {
  FrameType type = FrameType::kRequest;
  uint32_t length = 0;
};

// Parses exactly kHeaderLen bytes. An unknown type or a length beyond the type's limit is
// protocol_error, judged before any body byte is read.
Result<FrameHeader> parse_header(ByteView header);

// type | length(3) | body. The caller keeps body within the type's limit.
Result<Bytes> encode_frame(FrameType type, ByteView body);

// RESULT body: status(1: 0 accepted, 1 rejected) | reason(2) | text_len(1) | text.
struct ResultBody {
  bool accepted = false;
  Reason reason = Reason::kNone;  // kNone exactly when accepted
  std::string text;
};

// Encodes a RESULT body; text is cut to 255 bytes and made printable ASCII.
Bytes encode_result(const ResultBody& result);

// Decodes a RESULT body exactly (nothing may follow the text). decode_error on a status other
// than 0/1, a rejected reason outside 1..15, an accepted reason other than 0, or bad lengths.
Result<ResultBody> decode_result(ByteView body);

// Printable ASCII copy of untrusted text, for logs and error details.
std::string printable(std::string_view text, size_t max_len);

}  // namespace exattest::inband
