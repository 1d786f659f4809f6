#include "inband/frame.h"

#include "wire/wire.h"

namespace exattest::inband {

std::string_view frame_name(FrameType t) {
  switch (t) {
    case FrameType::kRequest:
      return "REQUEST";
    case FrameType::kAuthenticator:
      return "AUTHENTICATOR";
    case FrameType::kResult:
      return "RESULT";
  }
  return "unknown";
}

namespace {

uint32_t limit_of(FrameType t) {
  switch (t) {
    case FrameType::kRequest:
      return kMaxRequest;
    case FrameType::kAuthenticator:
      return kMaxAuthenticator;
    case FrameType::kResult:
      return kMaxResult;
  }
  return 0;
}

}  // namespace

Result<FrameHeader> parse_header(ByteView header) {
  wire::Reader r(header);
  uint8_t type;
  uint32_t length;
  if (header.size() != kHeaderLen || !r.u8(type) || !r.u24(length) || !r.empty())
    return make_error(Reason::kProtocolError, "truncated in-band frame header");
  // PROTOCOL.md §5: "an unknown type ... is a protocol error".
  if (type < 1 || type > 3)
    return make_error(Reason::kProtocolError, "unknown in-band frame type " + std::to_string(type));
  FrameHeader h{static_cast<FrameType>(type), length};
  // PROTOCOL.md §5: "A larger length (judged from the 4-byte header, before reading the
  // body) ... is a protocol error".
  if (length > limit_of(h.type))
    return make_error(Reason::kProtocolError,
                      std::string(frame_name(h.type)) + " frame of " + std::to_string(length) +
                          " bytes exceeds the limit of " + std::to_string(limit_of(h.type)));
  return h;
}

Result<Bytes> encode_frame(FrameType type, ByteView body) {
  if (body.size() > limit_of(type))
    return make_error(Reason::kProtocolError,
                      std::string(frame_name(type)) + " of " + std::to_string(body.size()) +
                          " bytes exceeds the in-band limit of " + std::to_string(limit_of(type)));
  wire::Writer w;
  w.u8(static_cast<uint8_t>(type));
  w.prefixed_u24([&](wire::Writer& b) { b.bytes(body); });
  if (!w.ok()) return make_error(Reason::kProtocolError, "in-band frame encoding failed");
  return w.take();
}

std::string printable(std::string_view text, size_t max_len) {
  std::string out;
  for (char c : text) {
    if (out.size() >= max_len) break;
    out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  }
  return out;
}

Bytes encode_result(const ResultBody& result) {
  std::string text = printable(result.text, kMaxResultText);
  wire::Writer w;
  w.u8(result.accepted ? 0 : 1);
  // PROTOCOL.md §5: "`reason` is 0 when accepted".
  w.u16(result.accepted ? 0 : static_cast<uint16_t>(result.reason));
  w.prefixed_u8([&](wire::Writer& t) {
    t.bytes(ByteView(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  });
  return w.take();  // at most 1 + 2 + 1 + 255 = 259 bytes: cannot overflow
}

Result<ResultBody> decode_result(ByteView body) {
  wire::Reader r(body);
  uint8_t status;
  uint16_t reason;
  ByteView text;
  if (!r.u8(status) || !r.u16(reason) || !r.prefixed_u8(text) || !r.empty())
    return make_error(Reason::kDecodeError, "malformed RESULT frame (bad length)");
  ResultBody out;
  if (status == 0) {
    // PROTOCOL.md §5: "`reason` is 0 when accepted".
    if (reason != 0)
      return make_error(Reason::kDecodeError,
                        "accepted RESULT with non-zero reason " + std::to_string(reason));
    out.accepted = true;
  } else if (status == 1) {
    // PROTOCOL.md §5: "a rejected RESULT with a reason outside 1..15 is `decode_error`".
    auto r15 = reason_from_code(reason);
    if (!r15)
      return make_error(Reason::kDecodeError,
                        "rejected RESULT with reason " + std::to_string(reason) + " outside 1..15");
    out.accepted = false;
    out.reason = *r15;
  } else {
    return make_error(Reason::kDecodeError,
                      "RESULT status " + std::to_string(status) + " is neither 0 nor 1");
  }
  out.text.assign(reinterpret_cast<const char*>(text.data()), text.size());
  return out;
}

}  // namespace exattest::inband
