// Unit tests for provider/inband (PROTOCOL.md §5): frame codec, order, limits, and whole
// exchanges between two Machines over a real in-memory TLS 1.3 pair (so ea and the binding
// are real) with fake attesters and appraisers.
#include <deque>
#include <string>
#include <vector>

#include "ea/ea.h"
#include "inband/ea_crypto.h"
#include "inband/frame.h"
#include "inband/machine.h"
#include "test_support.h"
#include "tls_pair.h"
#include "wire/wire.h"

using exattest::Appraiser;
using exattest::Attester;
using exattest::Bytes;
using exattest::ByteView;
using exattest::Config;
using exattest::Error;
using exattest::make_error;
using exattest::Reason;
using exattest::Result;
using exattest::Verdict;
using exattest::test::from_hex;
using exattest::test::to_hex;
using namespace exattest::inband;

namespace {

// ---------------------------------------------------------------------------------------
// Fakes
// ---------------------------------------------------------------------------------------

// Evidence = 'E' || binding, so the appraiser can check both sides computed the same binding.
class FakeAttester : public Attester {
 public:
  Result<Bytes> evidence(ByteView binding) override {
    ++calls;
    last_binding.assign(binding.begin(), binding.end());
    if (fail) return make_error(Reason::kAttesterUnavailable, "no TPM at tcti=test");
    Bytes e{'E'};
    e.insert(e.end(), binding.begin(), binding.end());
    return e;
  }
  int calls = 0;
  bool fail = false;
  Bytes last_binding;
};

class FakeAppraiser : public Appraiser {
 public:
  Verdict appraise(ByteView cmw, ByteView binding) override {
    ++calls;
    last_cmw.assign(cmw.begin(), cmw.end());
    last_binding.assign(binding.begin(), binding.end());
    Bytes expected{'E'};
    expected.insert(expected.end(), binding.begin(), binding.end());
    Verdict v;
    if (last_cmw != expected) {
      v.reason = Reason::kBindingMismatch;
      v.detail = "fake: evidence not bound to this binding";
      return v;
    }
    if (reject != Reason::kNone) {
      v.reason = reject;
      v.detail = "fake rejection";
      return v;
    }
    v.accepted = true;
    v.ak = "sha256:00ff";
    v.pcrs = {{"sha256:7", "aa"}};
    v.detail = "fake accepted";
    return v;
  }
  int calls = 0;
  Reason reject = Reason::kNone;
  Bytes last_cmw, last_binding;
};

// A Crypto without TLS, for the frame-level tests: requests are "Q" (or "bad"), an
// authenticator is 'A' || cmw, the refusal is "R".
class FakeCrypto : public Crypto {
 public:
  Result<Bytes> make_request() override { return Bytes{'Q'}; }
  Result<bool> accept_request(ByteView r) override {
    if (Bytes(r.begin(), r.end()) == Bytes{'b', 'a', 'd'})
      return make_error(Reason::kDecodeError, "fake: malformed request");
    return true;
  }
  Result<Bytes> own_binding(ByteView) override { return Bytes(48, 0xbb); }
  Result<Bytes> make_authenticator(ByteView, ByteView cmw) override {
    Bytes a{'A'};
    a.insert(a.end(), cmw.begin(), cmw.end());
    return a;
  }
  Result<Bytes> make_empty_authenticator(ByteView) override { return Bytes{'R'}; }
  Result<Validated> validate(ByteView, ByteView auth) override {
    Validated v;
    if (auth.size() == 1 && auth[0] == 'R') {
      v.empty = true;
      return v;
    }
    if (auth.empty() || auth[0] != 'A') return make_error(Reason::kBadFinished, "fake: bad");
    if (auth.size() > 1) v.cmw = Bytes(auth.begin() + 1, auth.end());
    v.binding = Bytes(48, 0xbb);
    return v;
  }
};

// ---------------------------------------------------------------------------------------
// Driving helpers
// ---------------------------------------------------------------------------------------

struct Pipe {
  std::deque<uint8_t> q;
  bool closed = false;
  Bytes all;  // everything ever written, for frame-level assertions
};

struct Side {
  Machine* m;
  Pipe* out;
  Pipe* in;
  std::vector<size_t> reads;  // every read_max asked for, in order
  bool terminal = false;
  Bytes app;  // application bytes written as soon as this side is done
};

// Runs both machines until neither makes progress. Writes go out `write_chunk` bytes at a
// time and reads take at most `read_chunk` bytes, to exercise partial I/O. A failed side
// closes its connection (the peer sees EOF), as an application would.
void pump(Side& a, Side& b, size_t write_chunk = SIZE_MAX, size_t read_chunk = SIZE_MAX) {
  for (int i = 0; i < 100000; ++i) {
    bool progress = false;
    for (Side* s : {&a, &b}) {
      if (s->terminal) continue;
      Action act = s->m->next();
      switch (act.kind) {
        case Action::Kind::kWrite: {
          size_t n = std::min(write_chunk, act.write.size());
          s->out->q.insert(s->out->q.end(), act.write.begin(), act.write.begin() + n);
          s->out->all.insert(s->out->all.end(), act.write.begin(), act.write.begin() + n);
          s->m->wrote(n);
          progress = true;
          break;
        }
        case Action::Kind::kRead: {
          if (!s->in->q.empty()) {
            size_t n = std::min({act.read_max, read_chunk, s->in->q.size()});
            s->reads.push_back(act.read_max);
            Bytes chunk(s->in->q.begin(), s->in->q.begin() + n);
            s->in->q.erase(s->in->q.begin(), s->in->q.begin() + n);
            (void)s->m->feed(chunk);
            progress = true;
          } else if (s->in->closed) {
            s->m->eof();
            progress = true;
          }
          break;
        }
        case Action::Kind::kDone:
          s->terminal = true;
          s->out->q.insert(s->out->q.end(), s->app.begin(), s->app.end());
          progress = true;
          break;
        case Action::Kind::kFailed:
          s->terminal = true;
          s->out->closed = true;
          progress = true;
          break;
      }
    }
    if (!progress) return;
  }
  FAIL("pump did not settle");
}

// The frames in a byte stream: (type, body).
std::vector<std::pair<uint8_t, Bytes>> frames_of(const Bytes& stream) {
  std::vector<std::pair<uint8_t, Bytes>> out;
  size_t i = 0;
  while (i + 4 <= stream.size()) {
    size_t len = size_t{stream[i + 1]} << 16 | size_t{stream[i + 2]} << 8 | stream[i + 3];
    REQUIRE(i + 4 + len <= stream.size());
    out.emplace_back(stream[i], Bytes(stream.begin() + i + 4, stream.begin() + i + 4 + len));
    i += 4 + len;
  }
  REQUIRE(i == stream.size());
  return out;
}

std::vector<uint8_t> types_of(const Bytes& stream) {
  std::vector<uint8_t> t;
  for (auto& f : frames_of(stream)) t.push_back(f.first);
  return t;
}

// What a reader that asks for exactly the current frame's needs must ask for, given the
// peer's whole stream delivered in full: 4 for each header, then the body length (if any).
std::vector<size_t> exact_reads(const Bytes& stream) {
  std::vector<size_t> r;
  for (auto& f : frames_of(stream)) {
    r.push_back(4);
    if (!f.second.empty()) r.push_back(f.second.size());
  }
  return r;
}

Bytes frame(uint8_t type, const Bytes& body) {
  exattest::wire::Writer w;
  w.u8(type);
  w.u24(static_cast<uint32_t>(body.size()));
  w.bytes(body);
  REQUIRE(w.ok());
  return w.take();
}

Bytes result_frame(uint8_t status, uint16_t reason, const std::string& text) {
  exattest::wire::Writer w;
  w.u8(status);
  w.u16(reason);
  w.u8(static_cast<uint8_t>(text.size()));
  w.bytes(Bytes(text.begin(), text.end()));
  return frame(3, w.take());
}

// Writes everything the machine wants to write now; returns it.
Bytes drain(Machine& m) {
  Bytes out;
  for (;;) {
    Action a = m.next();
    if (a.kind != Action::Kind::kWrite) return out;
    out.insert(out.end(), a.write.begin(), a.write.end());
    m.wrote(a.write.size());
  }
}

// Feeds `bytes` honouring read_max; stops when the machine no longer reads.
void feed_all(Machine& m, const Bytes& bytes) {
  size_t i = 0;
  while (i < bytes.size()) {
    Action a = m.next();
    if (a.kind != Action::Kind::kRead) return;
    size_t n = std::min(a.read_max, bytes.size() - i);
    (void)m.feed(ByteView(bytes).subspan(i, n));
    i += n;
  }
}

Deps fake_deps(Role role, Config::Request req, Config::Attest att, Crypto* c, Attester* at,
               Appraiser* ap) {
  Deps d;
  d.role = role;
  d.request = req;
  d.attest = att;
  d.crypto = c;
  d.attester = at;
  d.appraiser = ap;
  return d;
}

// A machine that has sent its REQUEST and waits for the peer's.
struct Lone {
  FakeCrypto crypto;
  FakeAttester attester;
  FakeAppraiser appraiser;
  std::unique_ptr<Machine> m;
  Lone(Role role, Config::Request req, Config::Attest att) {
    m = std::make_unique<Machine>(fake_deps(role, req, att, &crypto, &attester, &appraiser));
    Bytes sent = drain(*m);
    REQUIRE(types_of(sent) == std::vector<uint8_t>{1});
  }
};

// Expect: the machine writes exactly RESULT(rejected, reason) then fails with `reason`.
void expect_rejects_with(Machine& m, Reason reason) {
  Bytes sent = drain(m);
  auto frames = frames_of(sent);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].first == 3);
  REQUIRE(frames[0].second.size() >= 4);
  CHECK(to_hex(Bytes(frames[0].second.begin(), frames[0].second.begin() + 3)) ==
        to_hex(Bytes{1, 0, static_cast<uint8_t>(reason)}));
  Action a = m.next();
  REQUIRE(a.kind == Action::Kind::kFailed);
  CHECK(a.error.reason == reason);
}

// ---------------------------------------------------------------------------------------
// Two Machines over one real TLS 1.3 connection.
// ---------------------------------------------------------------------------------------

struct Peer {
  Config::Request request = Config::Request::kOff;
  Config::Attest attest = Config::Attest::kNone;
};

struct Duo {
  std::unique_ptr<exattest::test::TlsPair> tls;
  Config config;
  std::unique_ptr<EaCrypto> ccrypto, scrypto;
  FakeAttester catt, satt;
  FakeAppraiser capp, sapp;
  std::unique_ptr<Machine> client, server;
  Pipe c2s, s2c;
  Side cs{nullptr, &c2s, &s2c, {}, false, {}};
  Side ss{nullptr, &s2c, &c2s, {}, false, {}};

  explicit Duo(bool client_cert = false) {
    exattest::test::PairOptions o;
    o.client_cert = client_cert;
    tls = exattest::test::TlsPair::make(o);
    ccrypto = std::make_unique<EaCrypto>(tls->client.get(), config);
    scrypto = std::make_unique<EaCrypto>(tls->server.get(), config);
  }
  void start(Peer c, Peer s) {
    client = std::make_unique<Machine>(
        fake_deps(Role::kClient, c.request, c.attest, ccrypto.get(), &catt, &capp));
    server = std::make_unique<Machine>(
        fake_deps(Role::kServer, s.request, s.attest, scrypto.get(), &satt, &sapp));
    cs.m = client.get();
    ss.m = server.get();
  }
  void run(size_t write_chunk = SIZE_MAX, size_t read_chunk = SIZE_MAX) {
    pump(cs, ss, write_chunk, read_chunk);
  }
};

const Peer kRequire{Config::Request::kRequire, Config::Attest::kNone};
const Peer kOptional{Config::Request::kOptional, Config::Attest::kNone};
const Peer kAttest{Config::Request::kOff, Config::Attest::kTpm2};
const Peer kRefuse{Config::Request::kOff, Config::Attest::kNone};
const Peer kBoth{Config::Request::kRequire, Config::Attest::kTpm2};

std::vector<std::string> events(const Machine& m) {
  std::vector<std::string> e;
  for (auto& r : m.records())
    e.push_back(r.event + ":" + r.outcome + ":" + std::string(exattest::reason_name(r.reason)));
  return e;
}

}  // namespace

// =======================================================================================
// Frame codec
// =======================================================================================

TEST_CASE("RESULT bodies encode to exact bytes", "[inband]") {
  CHECK(to_hex(encode_result({true, Reason::kNone, ""})) == "00000000");
  CHECK(to_hex(encode_result({false, Reason::kPcrMismatch, "pcr 7"})) ==
        "01000b05" + to_hex(Bytes{'p', 'c', 'r', ' ', '7'}));
  // Text is cut to 255 bytes and made printable: the frame never exceeds 259 bytes.
  Bytes long_text = encode_result({false, Reason::kProtocolError, std::string(400, 'x') + "\n"});
  CHECK(long_text.size() == 259);
  CHECK(long_text[3] == 255);
  CHECK(encode_result({false, Reason::kDecodeError, "a\nb"})[5] == '?');
}

TEST_CASE("RESULT bodies decode exactly and reject every malformation", "[inband]") {
  auto ok = decode_result(from_hex("01 000c 02 6869"));
  REQUIRE(ok.ok());
  CHECK_FALSE(ok->accepted);
  CHECK(ok->reason == Reason::kNoEvidence);
  CHECK(ok->text == "hi");
  auto acc = decode_result(from_hex("00 0000 00"));
  REQUIRE(acc.ok());
  CHECK(acc->accepted);
  CHECK(acc->reason == Reason::kNone);

  // PROTOCOL.md §5: status other than 0/1, reason 0 or >15 on rejected -> decode_error.
  CHECK(decode_result(from_hex("02 0000 00")).reason() == Reason::kDecodeError);
  CHECK(decode_result(from_hex("01 0000 00")).reason() == Reason::kDecodeError);
  CHECK(decode_result(from_hex("01 0010 00")).reason() == Reason::kDecodeError);
  CHECK(decode_result(from_hex("01 000f 00")).ok());  // 15 is the last valid code
  CHECK(decode_result(from_hex("00 0003 00")).reason() == Reason::kDecodeError);
  // Exact length: trailing byte, short text, truncated header.
  CHECK(decode_result(from_hex("00 0000 00 ff")).reason() == Reason::kDecodeError);
  CHECK(decode_result(from_hex("01 0002 03 6869")).reason() == Reason::kDecodeError);
  CHECK(decode_result(from_hex("01 00")).reason() == Reason::kDecodeError);
}

TEST_CASE("Frame headers enforce type and per-type limits", "[inband]") {
  CHECK(parse_header(from_hex("01 004000")).ok());  // 16 KiB
  CHECK(parse_header(from_hex("01 004001")).reason() == Reason::kProtocolError);
  CHECK(parse_header(from_hex("02 100000")).ok());  // 1 MiB
  CHECK(parse_header(from_hex("02 100001")).reason() == Reason::kProtocolError);
  CHECK(parse_header(from_hex("03 000103")).ok());  // 259
  CHECK(parse_header(from_hex("03 000104")).reason() == Reason::kProtocolError);
  CHECK(parse_header(from_hex("00 000000")).reason() == Reason::kProtocolError);
  CHECK(parse_header(from_hex("04 000000")).reason() == Reason::kProtocolError);
  auto h = parse_header(from_hex("02 0001f4"));
  REQUIRE(h.ok());
  CHECK(h->type == FrameType::kAuthenticator);
  CHECK(h->length == 500);
  CHECK(to_hex(encode_frame(FrameType::kRequest, {}).value()) == "01000000");
  CHECK(encode_frame(FrameType::kRequest, Bytes(kMaxRequest + 1)).reason() ==
        Reason::kProtocolError);
}

// =======================================================================================
// Order, limits and malformed frames (Machine with a fake ea layer)
// =======================================================================================

TEST_CASE("A side that requests nothing sends an empty REQUEST and reads 4 bytes", "[inband]") {
  FakeCrypto c;
  Machine m(
      fake_deps(Role::kServer, Config::Request::kOff, Config::Attest::kNone, &c, nullptr, nullptr));
  CHECK(to_hex(drain(m)) == "01000000");
  Action a = m.next();
  REQUIRE(a.kind == Action::Kind::kRead);
  CHECK(a.read_max == 4);
  REQUIRE(m.feed(from_hex("0100")).ok());
  CHECK(m.next().read_max == 2);  // only the rest of the header
  REQUIRE(m.feed(from_hex("0000")).ok());
  CHECK(m.next().kind == Action::Kind::kDone);
  CHECK(m.done());
}

TEST_CASE("A REQUEST header over 16 KiB fails before any body byte", "[inband]") {
  Lone l(Role::kServer, Config::Request::kOff, Config::Attest::kTpm2);
  REQUIRE(l.m->next().read_max == 4);
  REQUIRE(l.m->feed(from_hex("01 004001")).ok());  // RESULT goes out first
  expect_rejects_with(*l.m, Reason::kProtocolError);
  // Nothing more is read: the body was never asked for.
  CHECK(l.m->feed(Bytes(16, 0)).reason() == Reason::kProtocolError);
  CHECK(l.m->records().back().reason == Reason::kProtocolError);
}

TEST_CASE("An AUTHENTICATOR header over 1 MiB fails before any body byte", "[inband]") {
  Lone l(Role::kClient, Config::Request::kRequire, Config::Attest::kNone);
  feed_all(*l.m, from_hex("01 000000"));  // server requests nothing
  Action a = l.m->next();
  REQUIRE(a.kind == Action::Kind::kRead);
  REQUIRE(a.read_max == 4);
  REQUIRE(l.m->feed(from_hex("02 100001")).ok());
  expect_rejects_with(*l.m, Reason::kProtocolError);
  CHECK(l.appraiser.calls == 0);
}

TEST_CASE("A RESULT header announcing 260 bytes fails", "[inband]") {
  Lone l(Role::kServer, Config::Request::kOff, Config::Attest::kTpm2);
  feed_all(*l.m, frame(1, {'Q'}));  // the client requests
  Bytes sent = drain(*l.m);
  REQUIRE(types_of(sent) == std::vector<uint8_t>{2});
  REQUIRE(l.m->next().read_max == 4);
  REQUIRE(l.m->feed(from_hex("03 000104")).ok());
  // We have not sent a RESULT: ours goes out, then the failure.
  expect_rejects_with(*l.m, Reason::kProtocolError);
}

TEST_CASE("An unknown frame type is a protocol error", "[inband]") {
  Lone l(Role::kClient, Config::Request::kOff, Config::Attest::kNone);
  REQUIRE(l.m->feed(from_hex("07 000000")).ok());
  expect_rejects_with(*l.m, Reason::kProtocolError);
}

TEST_CASE("An AUTHENTICATOR before the REQUEST is a protocol error", "[inband]") {
  Lone l(Role::kClient, Config::Request::kRequire, Config::Attest::kNone);
  REQUIRE(l.m->feed(from_hex("02 000001")).ok());
  expect_rejects_with(*l.m, Reason::kProtocolError);
  CHECK(l.appraiser.calls == 0);
}

TEST_CASE("A RESULT(accepted) first is a protocol error", "[inband]") {
  Lone l(Role::kServer, Config::Request::kOff, Config::Attest::kTpm2);
  feed_all(*l.m, result_frame(0, 0, ""));
  expect_rejects_with(*l.m, Reason::kProtocolError);
}

TEST_CASE("A RESULT(rejected) at any point fails with the peer's reason, unanswered", "[inband]") {
  Lone l(Role::kServer, Config::Request::kOff, Config::Attest::kTpm2);
  feed_all(*l.m, result_frame(1, 10, "ak"));
  // The peer already failed: nothing is written back.
  Action a = l.m->next();
  REQUIRE(a.kind == Action::Kind::kFailed);
  CHECK(a.error.reason == Reason::kUntrustedAk);
  CHECK(a.error.detail == "peer rejected: ak");
}

TEST_CASE("A second REQUEST where an AUTHENTICATOR is due is a protocol error", "[inband]") {
  Lone l(Role::kClient, Config::Request::kRequire, Config::Attest::kNone);
  feed_all(*l.m, frame(1, {}));
  REQUIRE(l.m->feed(from_hex("01 000000")).ok());
  expect_rejects_with(*l.m, Reason::kProtocolError);
}

TEST_CASE("Malformed RESULT bodies in turn are decode_error", "[inband]") {
  struct Case {
    const char* name;
    Bytes frame;
  };
  auto c = GENERATE(Case{"status 2", result_frame(2, 0, "")},
                    Case{"rejected with reason 0", result_frame(1, 0, "")},
                    Case{"rejected with reason 16", result_frame(1, 16, "")},
                    Case{"text_len past the end", frame(3, from_hex("01 0002 05 61"))});
  INFO(c.name);
  Lone l(Role::kServer, Config::Request::kOff, Config::Attest::kTpm2);
  feed_all(*l.m, frame(1, {'Q'}));
  REQUIRE(types_of(drain(*l.m)) == std::vector<uint8_t>{2});
  feed_all(*l.m, c.frame);
  // We never sent a RESULT (we only attest): ours carries decode_error.
  expect_rejects_with(*l.m, Reason::kDecodeError);
}

TEST_CASE("Peer EOF mid-frame is a protocol error and nothing is written", "[inband]") {
  Lone l(Role::kClient, Config::Request::kRequire, Config::Attest::kNone);
  feed_all(*l.m, frame(1, {}));
  REQUIRE(l.m->feed(from_hex("02 000010")).ok());
  REQUIRE(l.m->feed(Bytes(5, 'A')).ok());
  CHECK(l.m->next().read_max == 11);
  l.m->eof();
  Action a = l.m->next();
  REQUIRE(a.kind == Action::Kind::kFailed);
  CHECK(a.error.reason == Reason::kProtocolError);
  CHECK(a.error.detail.find("middle of an in-band frame") != std::string::npos);
}

TEST_CASE("Peer EOF between frames before done is a protocol error", "[inband]") {
  Lone l(Role::kServer, Config::Request::kOff, Config::Attest::kNone);
  l.m->eof();
  Action a = l.m->next();
  REQUIRE(a.kind == Action::Kind::kFailed);
  CHECK(a.error.reason == Reason::kProtocolError);
  CHECK(l.m->records().back().event == "exchange");
}

TEST_CASE("Feeding more than read_max is refused", "[inband]") {
  Lone l(Role::kServer, Config::Request::kOff, Config::Attest::kNone);
  REQUIRE(l.m->next().read_max == 4);
  CHECK_FALSE(l.m->feed(from_hex("01 000000 17")).ok());
  expect_rejects_with(*l.m, Reason::kProtocolError);
}

TEST_CASE("A malformed REQUEST is answered with RESULT(rejected) and a close", "[inband]") {
  Lone l(Role::kServer, Config::Request::kOff, Config::Attest::kTpm2);
  feed_all(*l.m, frame(1, {'b', 'a', 'd'}));
  expect_rejects_with(*l.m, Reason::kDecodeError);
  CHECK(l.attester.calls == 0);
}

TEST_CASE("Reads ask for the header, then exactly the body, byte by byte too", "[inband]") {
  Lone l(Role::kClient, Config::Request::kRequire, Config::Attest::kNone);
  // 'A' || 'E' || binding: what FakeAttester + FakeCrypto would produce.
  Bytes body{'A', 'E'};
  Bytes binding(48, 0xbb);
  body.insert(body.end(), binding.begin(), binding.end());
  Bytes stream = frame(1, {});
  Bytes a2 = frame(2, body);
  stream.insert(stream.end(), a2.begin(), a2.end());
  std::vector<size_t> asked;
  for (uint8_t b : stream) {
    Action a = l.m->next();
    REQUIRE(a.kind == Action::Kind::kRead);
    asked.push_back(a.read_max);
    REQUIRE(l.m->feed(Bytes{b}).ok());
  }
  std::vector<size_t> want = {4, 3, 2, 1, 4, 3, 2, 1};
  for (size_t n = body.size(); n > 0; --n) want.push_back(n);
  CHECK(asked == want);
  // Then our RESULT(accepted), and done.
  CHECK(to_hex(drain(*l.m)) == to_hex(result_frame(0, 0, "evidence accepted")));
  CHECK(l.m->next().kind == Action::Kind::kDone);
  CHECK(l.appraiser.calls == 1);
}

TEST_CASE("A requesting side without a policy fails with policy_error and tells the peer",
          "[inband]") {
  FakeCrypto c;
  Deps d = fake_deps(Role::kClient, Config::Request::kRequire, Config::Attest::kNone, &c, nullptr,
                     nullptr);
  d.appraiser_error = make_error(Reason::kPolicyError, "policy file /x.json: bad");
  Machine m(std::move(d));
  expect_rejects_with(m, Reason::kPolicyError);
  CHECK(m.error().detail == "policy file /x.json: bad");
}

// =======================================================================================
// Whole exchanges over a real TLS 1.3 connection
// =======================================================================================

TEST_CASE("Server-only attestation: both sides done, binding agrees", "[inband]") {
  Duo d;
  d.start(kRequire, kAttest);
  d.run();
  REQUIRE(d.client->done());
  REQUIRE(d.server->done());
  CHECK(types_of(d.c2s.all) == std::vector<uint8_t>{1, 3});
  CHECK(types_of(d.s2c.all) == std::vector<uint8_t>{1, 2});
  CHECK(frames_of(d.s2c.all)[0].second.empty());  // the server requests nothing
  // TLS_AES_256_GCM_SHA384: the binding is 48 bytes (PROTOCOL.md §4), and the attester's
  // view equals the relying party's (FakeAppraiser rejects otherwise).
  CHECK(d.satt.calls == 1);
  CHECK(d.satt.last_binding.size() == 48);
  CHECK(d.capp.last_binding == d.satt.last_binding);
  CHECK(events(*d.client) == std::vector<std::string>{"appraisal:accepted:none"});
  CHECK(d.client->records()[0].ak == "sha256:00ff");
  CHECK(events(*d.server) == std::vector<std::string>{"attestation:accepted:none"});
  // Reads never asked beyond the current frame.
  CHECK(d.cs.reads == exact_reads(d.s2c.all));
  CHECK(d.ss.reads == exact_reads(d.c2s.all));
}

TEST_CASE("Client-only attestation with a client certificate", "[inband]") {
  Duo d(true);
  d.start(kAttest, kRequire);
  d.run();
  REQUIRE(d.client->done());
  REQUIRE(d.server->done());
  CHECK(types_of(d.c2s.all) == std::vector<uint8_t>{1, 2});
  CHECK(types_of(d.s2c.all) == std::vector<uint8_t>{1, 3});
  CHECK(d.catt.calls == 1);
  CHECK(d.sapp.last_binding == d.catt.last_binding);
  CHECK(events(*d.server) == std::vector<std::string>{"appraisal:accepted:none"});
  CHECK(events(*d.client) == std::vector<std::string>{"attestation:accepted:none"});
}

TEST_CASE("Mutual attestation follows the order table", "[inband]") {
  Duo d(true);
  d.start(kBoth, kBoth);
  // Byte-sized writes and reads: the half-duplex order must still complete.
  d.run(/*write_chunk=*/7, /*read_chunk=*/5);
  REQUIRE(d.client->done());
  REQUIRE(d.server->done());
  // PROTOCOL.md §5: server REQUEST, AUTHENTICATOR, RESULT; client REQUEST, RESULT, AUTH.
  CHECK(types_of(d.s2c.all) == std::vector<uint8_t>{1, 2, 3});
  CHECK(types_of(d.c2s.all) == std::vector<uint8_t>{1, 3, 2});
  CHECK(d.catt.calls == 1);
  CHECK(d.satt.calls == 1);
  CHECK(d.catt.last_binding != d.satt.last_binding);  // different leaves and contexts
  CHECK(events(*d.client) ==
        std::vector<std::string>{"appraisal:accepted:none", "attestation:accepted:none"});
  CHECK(events(*d.server) ==
        std::vector<std::string>{"attestation:accepted:none", "appraisal:accepted:none"});
}

TEST_CASE("Neither side requests: two empty REQUESTs, both done", "[inband]") {
  Duo d;
  d.start(kRefuse, kRefuse);
  d.run();
  REQUIRE(d.client->done());
  REQUIRE(d.server->done());
  CHECK(to_hex(d.c2s.all) == "01000000");
  CHECK(to_hex(d.s2c.all) == "01000000");
  CHECK(d.cs.reads == std::vector<size_t>{4});
  CHECK(d.ss.reads == std::vector<size_t>{4});
  CHECK(d.client->records().empty());
}

TEST_CASE("Application bytes behind the exchange are left for the application", "[inband]") {
  Duo d(true);
  d.start(kBoth, kBoth);
  // Each application writes as soon as its side is done, while the peer still reads frames.
  d.cs.app = {'G', 'E', 'T'};
  d.ss.app = {'2', '0', '0'};
  d.run(/*write_chunk=*/SIZE_MAX, /*read_chunk=*/SIZE_MAX);
  REQUIRE(d.client->done());
  REQUIRE(d.server->done());
  CHECK(Bytes(d.c2s.q.begin(), d.c2s.q.end()) == d.cs.app);
  CHECK(Bytes(d.s2c.q.begin(), d.s2c.q.end()) == d.ss.app);
  CHECK(d.cs.reads == exact_reads(d.s2c.all));
  CHECK(d.ss.reads == exact_reads(d.c2s.all));
}

TEST_CASE("Refusal under require: no_evidence on both sides", "[inband]") {
  Duo d;
  d.start(kRequire, kRefuse);
  d.run();
  REQUIRE(d.client->failed());
  REQUIRE(d.server->failed());
  CHECK(d.client->error().reason == Reason::kNoEvidence);
  // The attesting side learns it through RESULT carrying 12.
  auto sent = frames_of(d.c2s.all);
  REQUIRE(sent.size() == 2);
  CHECK(sent[1].first == 3);
  CHECK(to_hex(Bytes(sent[1].second.begin(), sent[1].second.begin() + 3)) == "01000c");
  CHECK(d.server->error().reason == Reason::kNoEvidence);
  CHECK(d.capp.calls == 0);
  CHECK(events(*d.client) == std::vector<std::string>{"appraisal:rejected:no_evidence"});
  CHECK(events(*d.server) == std::vector<std::string>{"attestation:rejected:no_evidence"});
}

TEST_CASE("Optional: an empty authenticator is logged and the connection goes on", "[inband]") {
  Duo d;
  d.start(kOptional, kRefuse);
  d.run();
  REQUIRE(d.client->done());
  REQUIRE(d.server->done());
  CHECK(events(*d.client) == std::vector<std::string>{"appraisal:none:no_evidence"});
  CHECK(events(*d.server) == std::vector<std::string>{"attestation:accepted:none"});
}

TEST_CASE("Optional: Evidence that fails the policy still fails", "[inband]") {
  Duo d;
  d.start(kOptional, kAttest);
  d.capp.reject = Reason::kPcrMismatch;
  d.run();
  CHECK(d.client->error().reason == Reason::kPcrMismatch);
  CHECK(d.server->error().reason == Reason::kPcrMismatch);
}

TEST_CASE("Every appraisal failure reaches both sides with its reason", "[inband]") {
  Reason r = GENERATE(Reason::kDecodeError, Reason::kBadSignature, Reason::kBindingMismatch,
                      Reason::kUntrustedAk, Reason::kPcrMismatch, Reason::kPolicyViolation);
  INFO(exattest::reason_name(r));
  Duo d;
  d.start(kRequire, kAttest);
  d.capp.reject = r;
  d.run();
  REQUIRE(d.client->failed());
  REQUIRE(d.server->failed());
  CHECK(d.client->error().reason == r);
  CHECK(d.server->error().reason == r);
  CHECK(d.server->error().detail == "peer rejected: fake rejection");
  CHECK(events(*d.client) ==
        std::vector<std::string>{"appraisal:rejected:" + std::string(exattest::reason_name(r))});
}

TEST_CASE("An attester failure is answered with an empty authenticator", "[inband]") {
  Duo d;
  d.start(kRequire, kAttest);
  d.satt.fail = true;
  d.run();
  CHECK(d.client->error().reason == Reason::kNoEvidence);
  CHECK(d.server->error().reason == Reason::kNoEvidence);
  // PROTOCOL.md §5: "`attester_unavailable` is then logged locally".
  CHECK(events(*d.server) == std::vector<std::string>{"attester:none:attester_unavailable",
                                                      "attestation:rejected:no_evidence"});
}

TEST_CASE("A policy that failed to load fails the requiring side and tells the attester",
          "[inband]") {
  Duo d;
  Deps cd = fake_deps(Role::kClient, Config::Request::kRequire, Config::Attest::kNone,
                      d.ccrypto.get(), nullptr, nullptr);
  cd.appraiser_error = make_error(Reason::kPolicyError, "policy file /etc/p.json unreadable");
  d.client = std::make_unique<Machine>(std::move(cd));
  d.server = std::make_unique<Machine>(fake_deps(Role::kServer, Config::Request::kOff,
                                                 Config::Attest::kTpm2, d.scrypto.get(), &d.satt,
                                                 nullptr));
  d.cs.m = d.client.get();
  d.ss.m = d.server.get();
  d.run();
  CHECK(d.client->error().reason == Reason::kPolicyError);
  CHECK(d.server->error().reason == Reason::kPolicyError);
  CHECK(d.satt.calls == 0);
}

TEST_CASE("Real ea: a request with a 16-byte context is decode_error", "[inband]") {
  Duo d;
  d.start(kRefuse, kAttest);
  Bytes bad = exattest::ea::encode_request(exattest::ea::kClientCertificateRequest, Bytes(16, 7),
                                           {0x0403}, true)
                  .value();
  REQUIRE(types_of(drain(*d.server)) == std::vector<uint8_t>{1});
  feed_all(*d.server, frame(1, bad));
  expect_rejects_with(*d.server, Reason::kDecodeError);
  CHECK(d.satt.calls == 0);
}

TEST_CASE("Real ea: no common signature scheme gives an empty authenticator", "[inband]") {
  Duo d;
  d.start(kRefuse, kAttest);
  // rsa_pss_rsae_sha256 only; the server key is P-256.
  Bytes req = exattest::ea::encode_request(exattest::ea::kClientCertificateRequest, Bytes(32, 7),
                                           {0x0804}, true)
                  .value();
  REQUIRE(types_of(drain(*d.server)) == std::vector<uint8_t>{1});
  feed_all(*d.server, frame(1, req));
  auto out = frames_of(drain(*d.server));
  REQUIRE(out.size() == 1);
  CHECK(out[0].first == 2);
  // Finished alone: type 20, 48-byte MAC (SHA-384 suite).
  CHECK(out[0].second.size() == 4 + 48);
  CHECK(out[0].second[0] == exattest::ea::kFinished);
  CHECK(events(*d.server) == std::vector<std::string>{"attester:none:attester_unavailable"});
}

TEST_CASE("Real ea: a tampered AUTHENTICATOR fails validation on both sides", "[inband]") {
  Duo t;
  t.start(kRequire, kAttest);
  Bytes creq = drain(*t.client);
  Bytes sreq = drain(*t.server);
  feed_all(*t.server, creq);
  feed_all(*t.client, sreq);
  Bytes auth = drain(*t.server);
  REQUIRE(types_of(auth) == std::vector<uint8_t>{2});
  auth.back() ^= 1;  // Finished MAC
  feed_all(*t.client, auth);
  expect_rejects_with(*t.client, Reason::kBadFinished);
  CHECK(t.capp.calls == 0);
}
