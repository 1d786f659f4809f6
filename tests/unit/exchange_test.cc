// Unit tests for provider/exchange.cc: the shim callbacks (shim/exattest_shim.h) driven by a
// test pump doing SSL_read/SSL_write on an in-memory TLS 1.3 pair, with the real tls_flags
// negotiation of provider/hooks and fake attester/appraiser.
#include "exchange.h"

#include <openssl/err.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "audit_log.h"
#include "errors.h"
#include "exchange_testing.h"
#include "hooks.h"
#include "test_support.h"
#include "tls_pair.h"

using exattest::Appraiser;
using exattest::Attester;
using exattest::Bytes;
using exattest::ByteView;
using exattest::Config;
using exattest::make_error;
using exattest::Reason;
using exattest::Result;
using exattest::Verdict;
namespace ex = exattest::exchange;

namespace {

class FakeAttester : public Attester {
 public:
  Result<Bytes> evidence(ByteView binding) override {
    Bytes e{'E'};
    e.insert(e.end(), binding.begin(), binding.end());
    return e;
  }
};

// Accepts 'E' || binding (so both views of the binding must agree), else binding_mismatch;
// or rejects everything with `reject`.
class FakeAppraiser : public Appraiser {
 public:
  explicit FakeAppraiser(Reason reject = Reason::kNone) : reject_(reject) {}
  Verdict appraise(ByteView cmw, ByteView binding) override {
    Bytes expected{'E'};
    expected.insert(expected.end(), binding.begin(), binding.end());
    Verdict v;
    if (Bytes(cmw.begin(), cmw.end()) != expected) {
      v.reason = Reason::kBindingMismatch;
      v.detail = "fake: not bound";
    } else if (reject_ != Reason::kNone) {
      v.reason = reject_;
      v.detail = "fake rejection";
    } else {
      v.accepted = true;
      v.ak = "sha256:abcd";
      v.pcrs = {{"sha256:0", "00"}};
      v.detail = "fake accepted";
    }
    return v;
  }

 private:
  Reason reject_;
};

// Configures the process (provider side): hooks advertise when `advertise`, the exchange
// runs with `cfg`, and fakes stand in for the TPM and the policy.
void setup(const Config& cfg, bool advertise = true, Reason appraiser_reject = Reason::kNone,
           bool policy_broken = false) {
  ex::testing::reset_for_testing();
  REQUIRE(exattest::hooks::init(cfg, advertise).ok());
  REQUIRE(ex::init(cfg).ok());
  ex::testing::set_factories(
      [] { return Result<std::shared_ptr<Attester>>(std::make_shared<FakeAttester>()); },
      [appraiser_reject, policy_broken]() -> Result<std::shared_ptr<Appraiser>> {
        if (policy_broken)
          return make_error(Reason::kPolicyError, "policy file /nonexistent.json unreadable");
        return std::shared_ptr<Appraiser>(std::make_shared<FakeAppraiser>(appraiser_reject));
      });
  ERR_clear_error();
}

Config make_config(Config::Request req, Config::Attest att, const std::string& log = "") {
  Config c;
  c.request = req;
  c.attest = att;
  c.policy = "/unused/by/fakes.json";
  c.log = log;
  return c;
}

enum class Status { kRunning, kDone, kFailed };

// What the shim does for one connection: follow step(), do the real SSL_read/SSL_write.
struct Driver {
  Driver(SSL* s, const exattest_shim_ops* o) : ssl(s), ops(o) {}
  SSL* ssl;
  const exattest_shim_ops* ops;
  Status status = Status::kRunning;
  std::vector<size_t> reads;  // every READ size asked for
  unsigned long error = 0;    // the first queued error when failed

  // One step; true when something happened.
  bool once() {
    if (status != Status::kRunning) return false;
    const unsigned char* out = nullptr;
    size_t len = 0;
    int r = ops->step(ssl, &out, &len);
    switch (r) {
      case EXATTEST_STEP_DONE:
        status = Status::kDone;
        return true;
      case EXATTEST_STEP_FAIL:
        fail();
        return true;
      case EXATTEST_STEP_WRITE: {
        size_t n = 0;
        int rc = SSL_write_ex(ssl, out, len, &n);
        if (rc == 1) {
          ops->wrote(ssl, n);
          return true;
        }
        int e = SSL_get_error(ssl, rc);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return false;
        fail();
        return true;
      }
      case EXATTEST_STEP_READ: {
        reads.push_back(len);
        Bytes buf(len);
        size_t n = 0;
        int rc = SSL_read_ex(ssl, buf.data(), buf.size(), &n);
        if (rc == 1) {
          if (ops->feed(ssl, buf.data(), n) == 0) fail();
          return true;
        }
        reads.pop_back();
        int e = SSL_get_error(ssl, rc);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return false;
        if (e == SSL_ERROR_ZERO_RETURN) {
          if (ops->feed(ssl, nullptr, 0) == 0) fail();
          return true;
        }
        fail();
        return true;
      }
    }
    FAIL("unexpected step() value " << r);
    return false;
  }

  void fail() {
    status = Status::kFailed;
    error = ERR_peek_last_error();
    ERR_clear_error();
    // The application closes the failed connection: the peer sees close_notify.
    SSL_shutdown(ssl);
  }
};

void run(Driver& a, Driver& b) {
  for (int i = 0; i < 10000; ++i) {
    bool pa = a.once();
    bool pb = b.once();
    if (!pa && !pb) return;
  }
  FAIL("exchange did not settle");
}

// The shim's part for both ends of `pair`: begins the exchange on each and runs it until it
// settles.
struct Ends {
  Driver client;
  Driver server;
};
Ends exchange(exattest::test::TlsPair& pair, const exattest_shim_ops* ops) {
  REQUIRE(ops->begin(pair.client.get()) == 1);
  REQUIRE(ops->begin(pair.server.get()) == 1);
  Ends e{Driver{pair.client.get(), ops}, Driver{pair.server.get(), ops}};
  run(e.client, e.server);
  return e;
}

Reason reason_of(unsigned long err) { return static_cast<Reason>(ERR_GET_REASON(err)); }

int exattest_lib() {
  // raise_error's library: the one of an error we raise ourselves.
  ERR_clear_error();
  exattest::raise_error(Reason::kDecodeError, "probe");
  int lib = ERR_GET_LIB(ERR_peek_last_error());
  ERR_clear_error();
  return lib;
}

std::vector<nlohmann::json> log_lines(const std::filesystem::path& p) {
  std::vector<nlohmann::json> out;
  std::ifstream f(p);
  std::string line;
  while (std::getline(f, line)) out.push_back(nlohmann::json::parse(line));
  return out;
}

struct TempLog {
  std::filesystem::path path;
  TempLog() {
    path = std::filesystem::temp_directory_path() /
           ("exattest_exchange_test_" + std::to_string(getpid()) + ".jsonl");
    std::filesystem::remove(path);
  }
  ~TempLog() { std::filesystem::remove(path); }
};

// Application data after the exchange: client sends `msg`, server reads it back exactly.
void expect_app_data_flows(SSL* client, SSL* server) {
  const char msg[] = "GET / HTTP/1.0\r\n\r\n";
  size_t n = 0;
  REQUIRE(SSL_write_ex(client, msg, sizeof msg - 1, &n) == 1);
  char buf[64] = {};
  REQUIRE(SSL_read_ex(server, buf, sizeof buf, &n) == 1);
  CHECK(std::string(buf, n) == std::string(msg));
}

}  // namespace

TEST_CASE("Mutual attestation through the shim ops, then application data", "[exchange]") {
  TempLog log;
  setup(make_config(Config::Request::kRequire, Config::Attest::kTpm2, log.path.string()));
  exattest::test::PairOptions o;
  o.client_cert = true;
  auto pair = exattest::test::TlsPair::make(o);
  const exattest_shim_ops* ops = ex::shim_ops();
  REQUIRE(ops->abi_version == EXATTEST_SHIM_ABI_VERSION);
  REQUIRE(ops->begin(pair->client.get()) == 1);
  REQUIRE(ops->begin(pair->server.get()) == 1);
  CHECK(ops->begin(pair->server.get()) == 1);  // idempotent
  Driver c{pair->client.get(), ops};
  Driver s{pair->server.get(), ops};
  run(c, s);
  REQUIRE(c.status == Status::kDone);
  REQUIRE(s.status == Status::kDone);
  // Never a READ of more than a frame header (4) or the current body.
  for (size_t n : c.reads) CHECK(n > 0);
  CHECK(c.reads.front() == 4);
  expect_app_data_flows(pair->client.get(), pair->server.get());

  // PROTOCOL.md §8 log: one JSON line per outcome, RFC 3339 UTC time, no secrets.
  auto lines = log_lines(log.path);
  REQUIRE(lines.size() == 4);
  int appraisals = 0, attestations = 0;
  for (auto& j : lines) {
    CHECK(std::regex_match(j["time"].get<std::string>(),
                           std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
    CHECK((j["role"] == "client" || j["role"] == "server"));
    CHECK(j["outcome"] == "accepted");
    CHECK(j["reason"] == "none");
    CHECK_FALSE(j.contains("peer"));  // a BIO pair has no socket
    if (j["event"] == "appraisal") {
      ++appraisals;
      CHECK(j["ak"] == "sha256:abcd");
      CHECK(j["pcrs"] == nlohmann::json{{"sha256:0", "00"}});
    } else {
      CHECK(j["event"] == "attestation");
      ++attestations;
    }
  }
  CHECK(appraisals == 2);
  CHECK(attestations == 2);
}

TEST_CASE("Refusal under require fails both sides with no_evidence in the error queue",
          "[exchange]") {
  setup(make_config(Config::Request::kRequire, Config::Attest::kNone));
  auto pair = exattest::test::TlsPair::make();
  const exattest_shim_ops* ops = ex::shim_ops();
  auto [c, s] = exchange(*pair, ops);
  REQUIRE(c.status == Status::kFailed);
  REQUIRE(s.status == Status::kFailed);
  int lib = exattest_lib();
  CHECK(ERR_GET_LIB(c.error) == lib);
  CHECK(ERR_GET_LIB(s.error) == lib);
  // Both request, both refuse: whoever judges first reports no_evidence to the other.
  CHECK(reason_of(c.error) == Reason::kNoEvidence);
  CHECK(reason_of(s.error) == Reason::kNoEvidence);
}

TEST_CASE("Optional with refusals on both sides: logged, and the connection goes on",
          "[exchange]") {
  TempLog log;
  setup(make_config(Config::Request::kOptional, Config::Attest::kNone, log.path.string()));
  auto pair = exattest::test::TlsPair::make();
  const exattest_shim_ops* ops = ex::shim_ops();
  auto [c, s] = exchange(*pair, ops);
  REQUIRE(c.status == Status::kDone);
  REQUIRE(s.status == Status::kDone);
  expect_app_data_flows(pair->client.get(), pair->server.get());
  int none = 0;
  for (auto& j : log_lines(log.path))
    if (j["event"] == "appraisal" && j["outcome"] == "none" && j["reason"] == "no_evidence") ++none;
  CHECK(none == 2);
}

TEST_CASE("An appraisal failure reaches both applications with its reason", "[exchange]") {
  setup(make_config(Config::Request::kRequire, Config::Attest::kTpm2), true, Reason::kPcrMismatch);
  exattest::test::PairOptions o;
  o.client_cert = true;
  auto pair = exattest::test::TlsPair::make(o);
  const exattest_shim_ops* ops = ex::shim_ops();
  auto [c, s] = exchange(*pair, ops);
  REQUIRE(c.status == Status::kFailed);
  REQUIRE(s.status == Status::kFailed);
  CHECK(reason_of(c.error) == Reason::kPcrMismatch);
  CHECK(reason_of(s.error) == Reason::kPcrMismatch);
}

TEST_CASE("A broken policy fails requiring connections with policy_error", "[exchange]") {
  setup(make_config(Config::Request::kRequire, Config::Attest::kTpm2), true, Reason::kNone,
        /*policy_broken=*/true);
  exattest::test::PairOptions o;
  o.client_cert = true;
  auto pair = exattest::test::TlsPair::make(o);
  const exattest_shim_ops* ops = ex::shim_ops();
  auto [c, s] = exchange(*pair, ops);
  REQUIRE(c.status == Status::kFailed);
  REQUIRE(s.status == Status::kFailed);
  CHECK(reason_of(c.error) == Reason::kPolicyError);
  CHECK(reason_of(s.error) == Reason::kPolicyError);
}

TEST_CASE("A policy file that does not load is named in the error, with the fix", "[exchange]") {
  Config cfg = make_config(Config::Request::kRequire, Config::Attest::kNone);
  cfg.policy = "/nonexistent/exattest-policy.json";
  ex::testing::reset_for_testing();
  REQUIRE(exattest::hooks::init(cfg, true).ok());
  REQUIRE(ex::init(cfg).ok());
  ex::testing::set_factories(nullptr, nullptr);  // the real Tpm2Appraiser path
  auto pair = exattest::test::TlsPair::make();
  const exattest_shim_ops* ops = ex::shim_ops();
  REQUIRE(ops->begin(pair->client.get()) == 1);
  const unsigned char* out = nullptr;
  size_t len = 0;
  // The first frame is RESULT(rejected, policy_error), then FAIL with the reason queued.
  REQUIRE(ops->step(pair->client.get(), &out, &len) == EXATTEST_STEP_WRITE);
  REQUIRE(len >= 8);
  CHECK(std::vector<uint8_t>(out, out + 7) ==
        std::vector<uint8_t>{3, 0, static_cast<uint8_t>((len - 4) >> 8),
                             static_cast<uint8_t>(len - 4), 1, 0, 14});
  CHECK(len == 4 + 259);  // the long detail is cut to the 255-byte text limit
  ops->wrote(pair->client.get(), len);
  ERR_clear_error();
  REQUIRE(ops->step(pair->client.get(), &out, &len) == EXATTEST_STEP_FAIL);
  const char* data = nullptr;
  int flags = 0;
  unsigned long e = ERR_peek_last_error_data(&data, &flags);
  CHECK(reason_of(e) == Reason::kPolicyError);
  REQUIRE(data != nullptr);
  std::string detail(data);
  CHECK(detail.find("/nonexistent/exattest-policy.json") != std::string::npos);
  CHECK(detail.find("EXATTEST_POLICY") != std::string::npos);
}

TEST_CASE("Not negotiated: require fails begin(), optional goes plain and is logged",
          "[exchange]") {
  auto req = GENERATE(Config::Request::kRequire, Config::Request::kOptional);
  TempLog log;
  // The shim is "absent" for negotiation: no tls_flags extension is sent.
  setup(make_config(req, Config::Attest::kTpm2, log.path.string()), /*advertise=*/false);
  exattest::test::PairOptions o;
  o.client_cert = true;
  auto pair = exattest::test::TlsPair::make(o);
  const exattest_shim_ops* ops = ex::shim_ops();
  int r = ops->begin(pair->client.get());
  auto lines = log_lines(log.path);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0]["reason"] == "not_negotiated");
  if (req == Config::Request::kRequire) {
    CHECK(r == -1);
    unsigned long e = ERR_peek_last_error();
    CHECK(ERR_GET_LIB(e) == exattest_lib());
    CHECK(reason_of(e) == Reason::kNotNegotiated);
    CHECK(lines[0]["outcome"] == "rejected");
  } else {
    CHECK(r == 0);
    CHECK(lines[0]["outcome"] == "none");
    const unsigned char* out = nullptr;
    size_t len = 7;
    CHECK(ops->step(pair->client.get(), &out, &len) == EXATTEST_STEP_DONE);
    expect_app_data_flows(pair->client.get(), pair->server.get());
  }
}

TEST_CASE("TLS 1.2 with require fails with not_negotiated", "[exchange]") {
  setup(make_config(Config::Request::kRequire, Config::Attest::kNone));
  exattest::test::PairOptions o;
  o.max_version = TLS1_2_VERSION;
  auto pair = exattest::test::TlsPair::make(o);
  REQUIRE(SSL_version(pair->client.get()) == TLS1_2_VERSION);
  ERR_clear_error();
  CHECK(ex::shim_ops()->begin(pair->client.get()) == -1);
  CHECK(reason_of(ERR_peek_last_error()) == Reason::kNotNegotiated);
}

TEST_CASE("An inactive configuration leaves connections plain and resumable", "[exchange]") {
  setup(make_config(Config::Request::kOff, Config::Attest::kNone));
  auto pair = exattest::test::TlsPair::make();
  const exattest_shim_ops* ops = ex::shim_ops();
  CHECK(ops->begin(pair->client.get()) == 0);
  CHECK(ops->begin(pair->server.get()) == 0);
  CHECK(ops->session_allowed(pair->client.get(), nullptr) == 1);
  // An attesting configuration never resumes (PROTOCOL.md §5).
  setup(make_config(Config::Request::kOff, Config::Attest::kTpm2));
  CHECK(ops->session_allowed(pair->client.get(), nullptr) == 0);
}

TEST_CASE("reset() forgets the exchange of a connection", "[exchange]") {
  setup(make_config(Config::Request::kRequire, Config::Attest::kNone));
  auto pair = exattest::test::TlsPair::make();
  const exattest_shim_ops* ops = ex::shim_ops();
  REQUIRE(ops->begin(pair->client.get()) == 1);
  const unsigned char* out = nullptr;
  size_t len = 0;
  REQUIRE(ops->step(pair->client.get(), &out, &len) == EXATTEST_STEP_WRITE);
  ops->reset(pair->client.get());
  CHECK(ops->step(pair->client.get(), &out, &len) == EXATTEST_STEP_DONE);
}

TEST_CASE("Peer close before the exchange ends is protocol_error", "[exchange]") {
  setup(make_config(Config::Request::kRequire, Config::Attest::kTpm2));
  exattest::test::PairOptions o;
  o.client_cert = true;
  auto pair = exattest::test::TlsPair::make(o);
  const exattest_shim_ops* ops = ex::shim_ops();
  REQUIRE(ops->begin(pair->client.get()) == 1);
  // The server application closes without taking part.
  SSL_shutdown(pair->server.get());
  Driver c{pair->client.get(), ops};
  for (int i = 0; i < 100 && c.status == Status::kRunning; ++i) c.once();
  REQUIRE(c.status == Status::kFailed);
  CHECK(reason_of(c.error) == Reason::kProtocolError);
}

TEST_CASE("A connection freed during the exchange is logged, one freed after it is not",
          "[exchange]") {
  // Python's asyncio frees its SSLObject when the socket reaches EOF mid-handshake, without
  // another do_handshake() call that would report the end: before this, such an attempt left
  // no line in the log at all.
  TempLog log;
  setup(make_config(Config::Request::kRequire, Config::Attest::kTpm2, log.path.string()));
  exattest::test::PairOptions o;
  o.client_cert = true;
  auto pair = exattest::test::TlsPair::make(o);
  const exattest_shim_ops* ops = ex::shim_ops();
  REQUIRE(ops->begin(pair->server.get()) == 1);
  const unsigned char* out = nullptr;
  size_t len = 0;
  REQUIRE(ops->step(pair->server.get(), &out, &len) == EXATTEST_STEP_WRITE);
  pair->server.reset();  // SSL_free in the middle of the exchange
  auto lines = log_lines(log.path);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0]["role"] == "server");
  CHECK(lines[0]["event"] == "exchange");
  CHECK(lines[0]["outcome"] == "rejected");
  CHECK(lines[0]["reason"] == "protocol_error");
  CHECK(lines[0]["detail"].get<std::string>().find("closed the connection during the attestation "
                                                   "exchange") != std::string::npos);

  // A finished exchange: freeing both ends adds nothing to its four lines.
  auto pair2 = exattest::test::TlsPair::make(o);
  auto [c, s] = exchange(*pair2, ops);
  REQUIRE(c.status == Status::kDone);
  REQUIRE(s.status == Status::kDone);
  pair2.reset();
  CHECK(log_lines(log.path).size() == 5);
}

TEST_CASE("A READ step asks for the frame header first", "[exchange]") {
  setup(make_config(Config::Request::kOff, Config::Attest::kTpm2));
  auto pair = exattest::test::TlsPair::make();
  const exattest_shim_ops* ops = ex::shim_ops();
  REQUIRE(ops->begin(pair->server.get()) == 1);
  const unsigned char* out = nullptr;
  size_t len = 0;
  REQUIRE(ops->step(pair->server.get(), &out, &len) == EXATTEST_STEP_WRITE);
  REQUIRE(len == 4);
  CHECK(std::vector<uint8_t>(out, out + len) == std::vector<uint8_t>{1, 0, 0, 0});
  ops->wrote(pair->server.get(), 2);  // partial write: the rest stays at the same place
  REQUIRE(ops->step(pair->server.get(), &out, &len) == EXATTEST_STEP_WRITE);
  REQUIRE(len == 2);
  ops->wrote(pair->server.get(), 2);
  REQUIRE(ops->step(pair->server.get(), &out, &len) == EXATTEST_STEP_READ);
  CHECK(len == 4);
  // An oversized REQUEST header: RESULT(rejected, protocol_error) goes out, then FAIL.
  const unsigned char hdr[] = {1, 0, 0x40, 0x01};
  CHECK(ops->feed(pair->server.get(), hdr, 4) == 1);
  REQUIRE(ops->step(pair->server.get(), &out, &len) == EXATTEST_STEP_WRITE);
  REQUIRE(len >= 8);
  CHECK(std::vector<uint8_t>(out, out + 7) ==
        std::vector<uint8_t>{3, 0, 0, static_cast<uint8_t>(len - 4), 1, 0, 2});
  ops->wrote(pair->server.get(), len);
  ERR_clear_error();
  CHECK(ops->step(pair->server.get(), &out, &len) == EXATTEST_STEP_FAIL);
  CHECK(reason_of(ERR_peek_last_error()) == Reason::kProtocolError);
}

TEST_CASE("Audit log lines are single JSON objects with escaped details", "[exchange]") {
  exattest::inband::Record r{"appraisal",          "rejected",
                             Reason::kPcrMismatch, "pcr \"7\"\ndiffers \xff",
                             "sha256:ab",          {{"sha256:7", "cd"}}};
  auto when = std::chrono::system_clock::time_point(std::chrono::milliseconds(1700000000123));
  std::string line = exattest::audit::format_line(when, {"server", "127.0.0.1:443"}, r);
  REQUIRE(line.back() == '\n');
  CHECK(line.find('\n') == line.size() - 1);
  auto j = nlohmann::json::parse(line);
  CHECK(j["time"] == "2023-11-14T22:13:20.123Z");
  CHECK(j["role"] == "server");
  CHECK(j["peer"] == "127.0.0.1:443");
  CHECK(j["reason"] == "pcr_mismatch");
  CHECK(j["ak"] == "sha256:ab");
  CHECK(j["pcrs"]["sha256:7"] == "cd");
  // Invalid UTF-8 from a peer is replaced (U+FFFD), never thrown on.
  CHECK(j["detail"] == "pcr \"7\"\ndiffers \xef\xbf\xbd");
}
