// Fuzz target: RFC 9261 authenticator requests (provider/ea parse_request, get_context).
// Invariants: every rejection is decode_error (PROTOCOL.md §3: "A missing
// signature_algorithms, a duplicate extension, ... is `decode_error`"); an accepted request
// re-encodes (encode_request) to one that parses to the same fields, byte for byte when it
// carried only signature_algorithms and the cmw offer, in that order.
#include <algorithm>

#include "ea/ea.h"
#include "fuzz_support.h"

using namespace exattest;

namespace {

void check_one(ByteView in, uint8_t type, bool require_32) {
  ea::ParseOptions o;
  o.require_32_byte_context = require_32;
  auto r = ea::parse_request(in, type, o);
  if (!r.ok()) {
    // PROTOCOL.md §3: malformed requests are decode_error, nothing else.
    FUZZ_CHECK(r.reason() == Reason::kDecodeError);
    return;
  }
  const ea::Request& q = *r;
  FUZZ_CHECK(q.type == type);
  FUZZ_CHECK(!q.sigalgs.empty());
  FUZZ_CHECK(!require_32 || q.context.size() == ea::kContextLen);
  FUZZ_CHECK(q.raw.size() == in.size() && std::equal(q.raw.begin(), q.raw.end(), in.begin()));
  // RFC 9261 §6 get context agrees with the parser.
  auto ctx = ea::get_context(in);
  FUZZ_CHECK(ctx.ok() && *ctx == q.context);

  auto enc = ea::encode_request(q.type, view(q.context), q.sigalgs, q.cmw_offered);
  FUZZ_CHECK(enc.ok());
  auto again = ea::parse_request(view(*enc), type, o);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->context == q.context && again->sigalgs == q.sigalgs &&
             again->cmw_offered == q.cmw_offered);
  std::vector<uint16_t> plain = {ea::kExtSignatureAlgorithms};
  if (q.cmw_offered) plain.push_back(ea::kDefaultCmwExtension);
  if (q.extension_types == plain) FUZZ_CHECK(*enc == q.raw);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteView in(data, size);
  for (uint8_t type : {ea::kCertificateRequest, ea::kClientCertificateRequest}) {
    check_one(in, type, false);
    check_one(in, type, true);
  }
  return 0;
}
