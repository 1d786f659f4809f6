// Fuzz target: the PROTOCOL.md §5 in-band frame stream, fed to a real inband::Machine as the
// peer's bytes (provider/inband machine + frame codec). The ea layer is a small fake whose
// request check is the real parser (ea::parse_request with the 32-byte context rule), so the
// fuzzer drives the machine's order, limits and RESULT handling, not RFC 9261 crypto (that is
// ea_authenticator_fuzz's job).
//
// Input: byte 0 = configuration (role, request, attest, whether the attester fails), byte 1 =
// read chunk size (0 = as much as the machine asks), then the peer's byte stream.
// Invariants: the machine never asks for more than a frame needs; everything it writes is
// well-formed frames within the §5 limits; after the stream ends (EOF) it settles in done or
// failed within a bounded number of steps, failures carry a §7 reason; a RESULT body that
// decodes re-encodes to the same bytes when its text is printable.
#include <algorithm>
#include <string>

#include "ea/ea.h"
#include "fuzz_support.h"
#include "inband/frame.h"
#include "inband/machine.h"

using namespace exattest;
using namespace exattest::inband;

namespace {

class FuzzCrypto : public Crypto {
 public:
  explicit FuzzCrypto(Role role) : role_(role) {}
  Result<Bytes> make_request() override {
    uint8_t type = role_ == Role::kServer ? ea::kCertificateRequest : ea::kClientCertificateRequest;
    return ea::encode_request(type, view(Bytes(ea::kContextLen, 0x5a)), ea::supported_schemes(),
                              true);
  }
  Result<bool> accept_request(ByteView r) override {
    ea::ParseOptions o;
    o.require_32_byte_context = true;
    uint8_t type = role_ == Role::kServer ? ea::kClientCertificateRequest : ea::kCertificateRequest;
    auto q = ea::parse_request(r, type, o);
    if (!q.ok()) return q.error();
    return q->cmw_offered;
  }
  Result<Bytes> own_binding(ByteView) override { return Bytes(48, 0xbb); }
  Result<Bytes> make_authenticator(ByteView, ByteView cmw) override {
    Bytes a{'A'};
    a.insert(a.end(), cmw.begin(), cmw.end());
    return a;
  }
  Result<Bytes> make_empty_authenticator(ByteView) override { return Bytes{'R'}; }
  // 'R' = refusal, 'A' || cmw = authenticator, anything else bad_finished.
  Result<Validated> validate(ByteView, ByteView auth) override {
    Validated v;
    if (auth.size() == 1 && auth[0] == 'R') {
      v.empty = true;
      return v;
    }
    if (auth.empty() || auth[0] != 'A') return make_error(Reason::kBadFinished, "fuzz: bad");
    if (auth.size() > 1) v.cmw = Bytes(auth.begin() + 1, auth.end());
    v.binding = Bytes(48, 0xbb);
    return v;
  }

 private:
  Role role_;
};

class FuzzAttester : public Attester {
 public:
  bool fail = false;
  Result<Bytes> evidence(ByteView binding) override {
    if (fail) return make_error(Reason::kAttesterUnavailable, "fuzz: no TPM");
    Bytes e{'E'};
    e.insert(e.end(), binding.begin(), binding.end());
    return e;
  }
};

// Accepts 'E' || binding; anything else is pcr_mismatch.
class FuzzAppraiser : public Appraiser {
 public:
  Verdict appraise(ByteView cmw, ByteView binding) override {
    Verdict v;
    Bytes want{'E'};
    want.insert(want.end(), binding.begin(), binding.end());
    if (Bytes(cmw.begin(), cmw.end()) == want) {
      v.accepted = true;
    } else {
      v.reason = Reason::kPcrMismatch;
      v.detail = "fuzz: evidence differs";
    }
    return v;
  }
};

// Checks one frame stream we wrote: every frame well-formed and within its limit.
void check_written(const Bytes& out) {
  size_t i = 0;
  while (i < out.size()) {
    FUZZ_CHECK(i + kHeaderLen <= out.size());
    auto h = parse_header(ByteView(out).subspan(i, kHeaderLen));
    FUZZ_CHECK(h.ok());
    FUZZ_CHECK(i + kHeaderLen + h->length <= out.size());
    ByteView body = ByteView(out).subspan(i + kHeaderLen, h->length);
    if (h->type == FrameType::kResult) FUZZ_CHECK(decode_result(body).ok());
    i += kHeaderLen + h->length;
  }
}

void check_result_codec(ByteView body) {
  auto r = decode_result(body);
  if (!r.ok()) {
    FUZZ_CHECK(r.reason() == Reason::kDecodeError);
    return;
  }
  Bytes enc = encode_result(*r);
  auto again = decode_result(view(enc));
  FUZZ_CHECK(again.ok() && again->accepted == r->accepted && again->reason == r->reason);
  bool printable = std::all_of(r->text.begin(), r->text.end(),
                               [](char c) { return c >= 0x20 && c < 0x7f; });
  if (printable) FUZZ_CHECK(enc == Bytes(body.begin(), body.end()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  uint8_t cfg = data[0];
  size_t chunk = data[1];
  ByteView stream(data + 2, size - 2);
  check_result_codec(stream);
  if (stream.size() >= kHeaderLen) {
    auto h = parse_header(stream.first(kHeaderLen));
    FUZZ_CHECK(h.ok() || h.reason() == Reason::kProtocolError);
  }

  Role role = (cfg & 1) ? Role::kServer : Role::kClient;
  static const Config::Request kReq[] = {Config::Request::kOff, Config::Request::kOptional,
                                         Config::Request::kRequire, Config::Request::kRequire};
  FuzzCrypto crypto(role);
  FuzzAttester attester;
  attester.fail = (cfg & 16) != 0;
  FuzzAppraiser appraiser;
  Deps d;
  d.role = role;
  d.request = kReq[(cfg >> 1) & 3];
  d.attest = (cfg & 8) ? Config::Attest::kTpm2 : Config::Attest::kNone;
  d.crypto = &crypto;
  d.attester = (cfg & 32) ? nullptr : &attester;
  d.appraiser = (cfg & 64) ? nullptr : &appraiser;
  Machine m(std::move(d));

  Bytes written;
  size_t off = 0;
  bool eof_sent = false;
  // Each iteration writes, reads or ends; 4 steps per input byte is far more than needed.
  for (size_t steps = 0;; ++steps) {
    FUZZ_CHECK(steps < 4 * size + 64);
    Action a = m.next();
    if (a.kind == Action::Kind::kWrite) {
      FUZZ_CHECK(!a.write.empty());
      // Partial writes too: half of it, at least one byte.
      size_t n = (chunk & 1) ? std::max<size_t>(1, a.write.size() / 2) : a.write.size();
      written.insert(written.end(), a.write.begin(), a.write.begin() + n);
      m.wrote(n);
      continue;
    }
    if (a.kind == Action::Kind::kRead) {
      FUZZ_CHECK(a.read_max > 0 && a.read_max <= kMaxAuthenticator);
      FUZZ_CHECK(!eof_sent);  // after EOF the machine must not wait for bytes
      if (off == stream.size()) {
        m.eof();
        eof_sent = true;
        continue;
      }
      size_t n = std::min(a.read_max, stream.size() - off);
      if (chunk > 1) n = std::min(n, chunk);
      Status st = m.feed(stream.subspan(off, n));
      if (!st.ok()) FUZZ_CHECK(fuzz::valid_failure(st.error()));
      off += n;
      continue;
    }
    if (a.kind == Action::Kind::kFailed) {
      FUZZ_CHECK(m.failed());
      FUZZ_CHECK(fuzz::valid_failure(a.error));
    } else {
      FUZZ_CHECK(m.done() && !m.failed());
    }
    break;
  }
  check_written(written);
  for (const Record& r : m.records()) {
    FUZZ_CHECK(r.outcome == "accepted" || r.outcome == "rejected" || r.outcome == "none");
    FUZZ_CHECK(static_cast<unsigned>(r.reason) <= kMaxReason);
  }
  return 0;
}
