// Fuzz target: RFC 9999 CMW in JSON (provider/cmw decode_json). Invariants: rejections are
// decode_error; an accepted CMW encodes to JSON (every JSON-decoded form is JSON-encodable)
// which decodes to the same value, and the encoding is a fixed point.
#include <string_view>

#include "cmw/cmw.h"
#include "fuzz_support.h"

using namespace exattest;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto c = cmw::decode_json(in);
  if (!c.ok()) {
    FUZZ_CHECK(c.reason() == Reason::kDecodeError);
    return 0;
  }
  auto js = cmw::encode_json(*c);
  FUZZ_CHECK(js.ok());
  auto again = cmw::decode_json(*js);
  FUZZ_CHECK(again.ok() && *again == *c);
  auto js2 = cmw::encode_json(*again);
  FUZZ_CHECK(js2.ok() && *js2 == *js);
  // Every JSON CMW has a CBOR form too.
  auto cb = cmw::encode_cbor(*c, cmw::MapOrder::kAsGiven);
  FUZZ_CHECK(cb.ok());
  auto from_cb = cmw::decode_cbor(view(*cb));
  FUZZ_CHECK(from_cb.ok() && *from_cb == *c);
  // decode() dispatches JSON by its first byte.
  auto any = cmw::decode(ByteView(data, size));
  FUZZ_CHECK(any.ok() && *any == *c);
  return 0;
}
