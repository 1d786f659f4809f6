// Fuzz target: RFC 9261 authenticators validated on a real TLS 1.3 connection
// (provider/ea Connection::validate), so validation runs past parsing: certificates,
// context, extensions, CertificateVerify, Finished, PKIX. The pair is built once.
//
// The first input byte selects a mode, the rest is its data:
//   0 raw:     the data is the authenticator for a fresh request; if it starts with a
//              Certificate whose context is 32 bytes, they are replaced by the request's so
//              the fuzzer gets past the context check.
//   1 mutate:  a valid authenticator (with cmw_data) edited by (offset, xor) triples from the
//              data; an edit with xor 0 truncates there.
//   2 refusal: the same edits applied to a valid EMPTY authenticator.
//   3 cmw:     the data is cmw_data; the server's authenticator carrying it must validate and
//              give back exactly those bytes (round trip).
// Invariants: every failure has a §7 reason; an unedited authenticator always validates.
#include <algorithm>
#include <memory>

#include "ea/ea.h"
#include "fuzz_support.h"

using namespace exattest;

namespace {

std::unique_ptr<fuzz::TlsPair> g_pair;

constexpr uint8_t kCmw[] = {0x83, 0x41, 0x61, 0x41, 0x62, 0x04};  // any bytes do for ea

void apply_edits(Bytes& a, ByteView edits) {
  for (size_t i = 0; i + 3 <= edits.size() && !a.empty(); i += 3) {
    size_t pos = (size_t{edits[i]} << 8 | edits[i + 1]) % a.size();
    if (edits[i + 2] == 0) {
      a.resize(pos);
    } else {
      a[pos] ^= edits[i + 2];
    }
  }
}

void check_failure(const Result<ea::Validated>& v) {
  FUZZ_CHECK(!v.ok());
  FUZZ_CHECK(fuzz::valid_failure(v.error()));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_pair = fuzz::TlsPair::make();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  uint8_t mode = data[0] % 4;
  ByteView rest(data + 1, size - 1);
  // Fresh per input: a Connection accepts one authenticator per request.
  ea::Connection client(g_pair->client.get());
  ea::Connection server(g_pair->server.get());
  auto req = client.create_request(/*offer_cmw=*/true);
  FUZZ_CHECK(req.ok());
  auto ctx = ea::get_context(view(*req));
  FUZZ_CHECK(ctx.ok() && ctx->size() == ea::kContextLen);
  X509_STORE* trust = g_pair->trust.get();

  if (mode == 0) {
    Bytes a(rest.begin(), rest.end());
    // Certificate: type 11 | len(3) | ctx_len(1) = 32 | ctx[32] ...
    if (a.size() >= 5 + ea::kContextLen && a[0] == ea::kCertificate && a[4] == ea::kContextLen)
      std::copy(ctx->begin(), ctx->end(), a.begin() + 5);
    auto v = client.validate(view(*req), view(a), trust);
    if (!v.ok()) FUZZ_CHECK(fuzz::valid_failure(v.error()));
    return 0;
  }

  auto parsed = server.parse_request(view(*req));
  FUZZ_CHECK(parsed.ok() && parsed->cmw_offered);
  if (mode == 3) {
    if (rest.empty() || rest.size() > ea::kMaxCmwData) return 0;
    auto a = server.create_authenticator(view(*req), g_pair->server_cert.get(), nullptr,
                                         g_pair->server_key.get(), rest);
    FUZZ_CHECK(a.ok());
    auto v = client.validate(view(*req), view(*a), trust);
    FUZZ_CHECK(v.ok() && !v->empty && v->cmw_data.has_value());
    FUZZ_CHECK(std::equal(v->cmw_data->begin(), v->cmw_data->end(), rest.begin(), rest.end()));
    FUZZ_CHECK(v->context == *ctx);
    return 0;
  }
  Result<Bytes> a = mode == 1 ? server.create_authenticator(view(*req), g_pair->server_cert.get(),
                                                            nullptr, g_pair->server_key.get(),
                                                            ByteView(kCmw, sizeof(kCmw)))
                              : server.create_empty_authenticator(view(*req));
  FUZZ_CHECK(a.ok());
  Bytes edited = *a;
  apply_edits(edited, rest);
  auto v = client.validate(view(*req), view(edited), trust);
  if (edited == *a) {
    // Unchanged (no edits, or edits that cancelled out): must validate as made.
    FUZZ_CHECK(v.ok());
    FUZZ_CHECK(v->empty == (mode == 2));
    return 0;
  }
  if (v.ok()) {
    // An edit that still validates can only have touched bytes no MAC covers: none exist,
    // every byte of an authenticator is under Finished (RFC 9261 §5.2.3).
    FUZZ_CHECK(!"an edited authenticator validated");
  }
  check_failure(v);
  return 0;
}
