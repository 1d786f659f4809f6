// Fuzz target: RFC 9999 CMW in CBOR (provider/cmw decode_cbor, decode_evidence_record, and
// the bounded pre-scan cbor_prescan). Invariants: rejections are decode_error; a decoded CMW
// encodes (kAsGiven) to CBOR that decodes to the same value, deterministic encoding is
// idempotent and yields deterministic CBOR; PROTOCOL.md §6 records round-trip exactly.
#include "cmw/cmw.h"
#include "fuzz_support.h"

using namespace exattest;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteView in(data, size);

  Status pre = cbor_prescan(in, CborLimits{});
  FUZZ_CHECK(pre.ok() || pre.reason() == Reason::kDecodeError);

  auto c = cmw::decode_cbor(in);
  if (!c.ok()) {
    FUZZ_CHECK(c.reason() == Reason::kDecodeError);
  } else {
    FUZZ_CHECK(pre.ok());  // decode_cbor never accepts what the pre-scan rejects
    auto as_given = cmw::encode_cbor(*c, cmw::MapOrder::kAsGiven);
    FUZZ_CHECK(as_given.ok());
    auto again = cmw::decode_cbor(view(*as_given));
    FUZZ_CHECK(again.ok() && *again == *c);
    auto det = cmw::encode_cbor(*c, cmw::MapOrder::kDeterministic);
    FUZZ_CHECK(det.ok() && is_deterministic(view(*det)));
    auto det_back = cmw::decode_cbor(view(*det));
    FUZZ_CHECK(det_back.ok());
    auto det2 = cmw::encode_cbor(*det_back, cmw::MapOrder::kDeterministic);
    FUZZ_CHECK(det2.ok() && *det2 == *det);
    // JSON can carry some CBOR CMWs (media-type records, text labels): when it can, the
    // value survives the trip through JSON.
    auto js = cmw::encode_json(*c);
    if (js.ok()) {
      auto from_js = cmw::decode_json(*js);
      FUZZ_CHECK(from_js.ok() && *from_js == *c);
    }
    (void)cmw::describe(*c);
  }

  // PROTOCOL.md §6: "exactly this shape is accepted"; what is accepted re-encodes to the
  // same bytes (deterministic encoding is required on input).
  auto rec = cmw::decode_evidence_record(in, cmw::kTpm2QuoteMediaType);
  if (!rec.ok()) {
    FUZZ_CHECK(rec.reason() == Reason::kDecodeError);
  } else {
    Bytes enc = cmw::encode_evidence_record(cmw::kTpm2QuoteMediaType, view(*rec));
    FUZZ_CHECK(enc == Bytes(data, data + size));
  }
  return 0;
}
