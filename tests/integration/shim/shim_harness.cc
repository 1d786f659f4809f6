// shim_harness: real TLS 1.3 connections through libexattest-shim.so (LD_PRELOADed) with a
// FAKE provider table, checking the shim's byte pumping, error reporting and entry points.
//
// It links OpenSSL only, never the shim: ctest runs it with LD_PRELOAD (tests/integration/
// shim.cmake). The fake exchange has the byte-level properties of PROTOCOL.md §5: framed
// type(1) | length(3) | body, both REQUESTs first, then half-duplex; an AUTHENTICATOR spans many
// TLS records; each READ asks for exactly what the frame still needs (header, then body).
#include <dlfcn.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "exattest_shim.h"

namespace {

// ---------------------------------------------------------------------------------------
// The fake provider.

enum FakeReason : int {
  kFakeCorrupt = 1,
  kFakeRejected = 2,
  kFakeBeginRefused = 3,
  kFakeViolation = 4,
  kFakePeerClosed = 5,
};

int fake_err_lib() {
  static ERR_STRING_DATA reasons[] = {
      {ERR_PACK(0, 0, kFakeCorrupt), "fake reason: authenticator body corrupt"},
      {ERR_PACK(0, 0, kFakeRejected), "fake reason: peer rejected the exchange"},
      {ERR_PACK(0, 0, kFakeBeginRefused), "fake reason: begin refused"},
      {ERR_PACK(0, 0, kFakeViolation), "fake reason: shim broke the contract"},
      {ERR_PACK(0, 0, kFakePeerClosed), "fake reason: peer closed during the exchange"},
      {0, nullptr},
  };
  static ERR_STRING_DATA name[] = {{0, "fake exattest"}, {0, nullptr}};
  static const int lib = [] {
    int l = ERR_get_next_error_library();
    ERR_load_strings(l, reasons);
    name[0].error = ERR_PACK(l, 0, 0);
    ERR_load_strings(l, name);
    return l;
  }();
  return lib;
}

void fake_raise(FakeReason r) { ERR_raise_data(fake_err_lib(), r, "fake detail %d", r); }

enum class BeginMode { kExchange, kPlain, kRefuse };

// A post-handshake message the server queues in begin(), i.e. after its handshake and before
// its first exchange frame (issue #11 item 15): libssl sends it ahead of the REQUEST.
enum class PostHandshake { kNone, kKeyUpdate, kKeyUpdateRequested, kTicket, kCertRequest };

struct Options {
  BeginMode begin = BeginMode::kExchange;
  bool corrupt_auth = false;  // the server's AUTHENTICATOR body has one byte flipped
  int session_allowed = 1;
  size_t req_len = 16 * 1024;               // PROTOCOL.md §5: "REQUEST ≤ 16 KiB"
  size_t auth_len = 100 * 1024;             // many TLS records
  bool server_stops_after_request = false;  // the server's exchange is just its REQUEST
  // Per side, instead of `begin` (e.g. a requiring server and a client that does not offer).
  std::optional<BeginMode> client_begin;
  std::optional<BeginMode> server_begin;
  PostHandshake server_post_handshake = PostHandshake::kNone;
};

Options g_opt;
std::atomic<int> g_begin_calls{0};
std::atomic<int> g_step_calls{0};
std::atomic<int> g_reset_calls{0};
std::atomic<int> g_session_calls{0};
std::atomic<int> g_frames_verified{0};
std::atomic<int> g_violations{0};
std::atomic<int> g_eof_feeds{0};
std::atomic<SSL_SESSION*> g_last_session_arg{nullptr};
std::atomic<int> g_post_handshake_queued{0};

void reset_counters() {
  g_begin_calls = 0;
  g_step_calls = 0;
  g_reset_calls = 0;
  g_session_calls = 0;
  g_frames_verified = 0;
  g_violations = 0;
  g_eof_feeds = 0;
  g_last_session_arg = nullptr;
  g_post_handshake_queued = 0;
}

uint8_t pattern(size_t i, uint8_t seed) {
  return static_cast<uint8_t>(i * 31 + seed * 7 + (i >> 8));
}

std::vector<uint8_t> make_pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = pattern(i, seed);
  return v;
}

struct Action {
  bool write;
  uint8_t type;  // 1 REQUEST, 2 AUTHENTICATOR, 3 RESULT
  size_t len;
  uint8_t seed;
};

constexpr uint8_t kResultAccepted[4] = {0, 0, 0, 0};
constexpr uint8_t kResultRejected[4] = {1, 0, 3, 0};  // decode_error, no text

struct FakeConn {
  std::vector<Action> script;
  size_t idx = 0;
  std::vector<uint8_t> out;
  size_t out_off = 0;
  std::vector<uint8_t> in;
  size_t asked = 0;
  bool fail_after_write = false;
  FakeReason fail_reason = kFakeViolation;
  bool failed = false;
};

std::mutex g_mu;
std::map<const SSL*, FakeConn> g_conns;

// The fake's per-connection state is keyed by SSL*: it must go when the SSL is freed, or a
// later SSL allocated at the same address (parallel tests) would inherit a finished script
// and skip its exchange. The real provider keeps its state in ex_data for the same reason.
void fake_conn_free(void* parent, void*, CRYPTO_EX_DATA*, int, long, void*) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_conns.erase(static_cast<const SSL*>(parent));
}
int fake_conn_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, fake_conn_free);
  return index;
}

std::vector<Action> script_for(bool server) {
  const size_t rq = g_opt.req_len, au = g_opt.auth_len;
  if (server && g_opt.server_stops_after_request) return {{true, 1, rq, 2}};
  if (server) return {{true, 1, rq, 2}, {false, 1, rq, 1}, {true, 2, au, 3}, {false, 3, 4, 0}};
  return {{true, 1, rq, 1}, {false, 1, rq, 2}, {false, 2, au, 3}, {true, 3, 4, 0}};
}

// Queues the server's post-handshake message; 1 when libssl took it.
int queue_post_handshake(SSL* ssl) {
  switch (g_opt.server_post_handshake) {
    case PostHandshake::kNone:
      return 0;
    case PostHandshake::kKeyUpdate:
      return SSL_key_update(ssl, SSL_KEY_UPDATE_NOT_REQUESTED);
    case PostHandshake::kKeyUpdateRequested:
      return SSL_key_update(ssl, SSL_KEY_UPDATE_REQUESTED);
    case PostHandshake::kTicket:
      return SSL_new_session_ticket(ssl);
    case PostHandshake::kCertRequest:
      SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
      return SSL_verify_client_post_handshake(ssl);
  }
  return 0;
}

int fake_begin(SSL* ssl) {
  ++g_begin_calls;
  if (!SSL_is_init_finished(ssl)) ++g_violations;  // begin before the handshake finished
  const bool server = SSL_is_server(ssl) != 0;
  const BeginMode mode =
      server ? g_opt.server_begin.value_or(g_opt.begin) : g_opt.client_begin.value_or(g_opt.begin);
  if (mode == BeginMode::kPlain) return 0;
  if (mode == BeginMode::kRefuse) {
    fake_raise(kFakeBeginRefused);
    return -1;
  }
  if (server && queue_post_handshake(ssl) == 1) ++g_post_handshake_queued;
  SSL_set_ex_data(ssl, fake_conn_index(), ssl);  // so fake_conn_free runs at SSL_free
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_conns.find(ssl) == g_conns.end()) g_conns[ssl].script = script_for(SSL_is_server(ssl));
  return 1;
}

int fake_step(SSL* ssl, const unsigned char** out, size_t* out_len) {
  ++g_step_calls;
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = g_conns.find(ssl);
  if (it == g_conns.end()) {
    ++g_violations;
    fake_raise(kFakeViolation);
    return EXATTEST_STEP_FAIL;
  }
  FakeConn& c = it->second;
  if (c.failed) {
    fake_raise(c.fail_reason);
    return EXATTEST_STEP_FAIL;
  }
  if (c.idx == c.script.size()) return EXATTEST_STEP_DONE;
  const Action& a = c.script[c.idx];
  if (a.write) {
    if (c.out.empty()) {
      c.out = {a.type, static_cast<uint8_t>(a.len >> 16), static_cast<uint8_t>(a.len >> 8),
               static_cast<uint8_t>(a.len)};
      if (a.type == 3) {
        const uint8_t* r = c.fail_after_write ? kResultRejected : kResultAccepted;
        c.out.insert(c.out.end(), r, r + 4);
      } else {
        std::vector<uint8_t> body = make_pattern(a.len, a.seed);
        if (a.type == 2 && g_opt.corrupt_auth) body[a.len / 2] ^= 0x01;
        c.out.insert(c.out.end(), body.begin(), body.end());
      }
      c.out_off = 0;
    }
    *out = c.out.data() + c.out_off;
    *out_len = c.out.size() - c.out_off;
    return EXATTEST_STEP_WRITE;
  }
  c.asked = c.in.size() < 4 ? 4 - c.in.size() : 4 + a.len - c.in.size();
  *out = nullptr;
  *out_len = c.asked;
  return EXATTEST_STEP_READ;
}

void fake_wrote(SSL* ssl, size_t n) {
  std::lock_guard<std::mutex> lock(g_mu);
  FakeConn& c = g_conns[ssl];
  if (n == 0 || n > c.out.size() - c.out_off) {
    ++g_violations;
    c.failed = true;
    return;
  }
  c.out_off += n;
  if (c.out_off == c.out.size()) {
    c.out.clear();
    c.out_off = 0;
    ++c.idx;
    if (c.fail_after_write) {
      c.failed = true;  // PROTOCOL.md §5: send RESULT(rejected), then fail
      c.fail_reason = kFakeCorrupt;
    }
  }
}

int fake_feed(SSL* ssl, const unsigned char* in, size_t len) {
  std::lock_guard<std::mutex> lock(g_mu);
  FakeConn& c = g_conns[ssl];
  if (in == nullptr && len == 0) {  // exattest_shim.h: the connection ended mid-exchange
    ++g_eof_feeds;
    c.failed = true;
    c.fail_reason = kFakePeerClosed;
    fake_raise(kFakePeerClosed);
    return 0;
  }
  if (len == 0 || len > c.asked || c.idx >= c.script.size() || c.script[c.idx].write) {
    ++g_violations;  // the shim read more than asked: it would have eaten application bytes
    c.failed = true;
    c.fail_reason = kFakeViolation;
    fake_raise(kFakeViolation);
    return 0;
  }
  c.in.insert(c.in.end(), in, in + len);
  c.asked -= len;
  const Action a = c.script[c.idx];
  if (c.in.size() == 4) {
    size_t flen = (size_t{c.in[1]} << 16) | (size_t{c.in[2]} << 8) | c.in[3];
    if (c.in[0] != a.type || flen != a.len) {
      ++g_violations;
      c.failed = true;
      c.fail_reason = kFakeViolation;
      fake_raise(kFakeViolation);
      return 0;
    }
  }
  if (c.in.size() < 4 + a.len) return 1;
  std::vector<uint8_t> body(c.in.begin() + 4, c.in.end());
  c.in.clear();
  ++c.idx;
  if (a.type == 3) {
    if (std::memcmp(body.data(), kResultAccepted, 4) == 0) {
      ++g_frames_verified;
      return 1;
    }
    c.failed = true;
    c.fail_reason = kFakeRejected;
    fake_raise(kFakeRejected);
    return 0;
  }
  if (body != make_pattern(a.len, a.seed)) {
    // The client detected a bad authenticator: RESULT(rejected), then fail.
    c.script.resize(c.idx);
    c.script.push_back({true, 3, 4, 0});
    c.fail_after_write = true;
    return 1;
  }
  ++g_frames_verified;
  return 1;
}

// Whether the fake exchange on `ssl` has completed all its steps.
bool fake_exchange_complete(const SSL* ssl) {
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = g_conns.find(ssl);
  return it != g_conns.end() && it->second.idx == it->second.script.size() && !it->second.failed;
}

int fake_session_allowed(SSL*, SSL_SESSION* sess) {
  // (NULL, NULL) asks whether the process attests (exattest_shim.h): not an SSL_set_session.
  if (sess != nullptr) {
    ++g_session_calls;
    g_last_session_arg = sess;
  }
  return g_opt.session_allowed;
}

void fake_reset(SSL* ssl) {
  ++g_reset_calls;
  std::lock_guard<std::mutex> lock(g_mu);
  g_conns.erase(ssl);
}

const exattest_shim_ops kFakeOps = {
    EXATTEST_SHIM_ABI_VERSION, fake_begin, fake_step, fake_wrote, fake_feed,
    fake_session_allowed,      fake_reset,
};

exattest_shim_register_fn shim_register() {
  return reinterpret_cast<exattest_shim_register_fn>(
      dlsym(RTLD_DEFAULT, EXATTEST_SHIM_REGISTER_SYMBOL));
}

void register_fake() {
  exattest_shim_register_fn reg = shim_register();
  REQUIRE(reg != nullptr);  // run under LD_PRELOAD=libexattest-shim.so
  REQUIRE(reg(&kFakeOps) == 1);
}

// ---------------------------------------------------------------------------------------
// TLS plumbing.

struct Contexts {
  SSL_CTX* server = nullptr;
  SSL_CTX* client = nullptr;
};

const Contexts& contexts() {
  static const Contexts c = [] {
    Contexts x;
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* cert = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("shim-harness"), -1, -1, 0);
    X509_set_issuer_name(cert, name);
    X509_set_pubkey(cert, key);
    X509_sign(cert, key, EVP_sha256());
    x.server = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate(x.server, cert);
    SSL_CTX_use_PrivateKey(x.server, key);
    SSL_CTX_set_min_proto_version(x.server, TLS1_3_VERSION);
    x.client = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(x.client, TLS1_3_VERSION);
    SSL_CTX_set_verify(x.client, SSL_VERIFY_NONE, nullptr);
    SSL_CTX_set_session_cache_mode(x.client, SSL_SESS_CACHE_CLIENT);
    X509_free(cert);
    EVP_PKEY_free(key);
    return x;
  }();
  REQUIRE(c.server != nullptr);
  REQUIRE(c.client != nullptr);
  return c;
}

struct SocketPair {
  int fd[2] = {-1, -1};
  explicit SocketPair(bool nonblocking, int sndbuf = 0) {
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, fd) == 0);
    for (int f : fd) {
      // A hang in blocking mode becomes an error, not a stuck test.
      timeval tv{10, 0};
      setsockopt(f, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      setsockopt(f, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      if (sndbuf > 0) setsockopt(f, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
      if (nonblocking) fcntl(f, F_SETFL, fcntl(f, F_GETFL) | O_NONBLOCK);
    }
  }
  ~SocketPair() {
    for (int f : fd)
      if (f >= 0) close(f);
  }
  SocketPair(const SocketPair&) = delete;
  SocketPair& operator=(const SocketPair&) = delete;
};

// What one side observed; collected in its own thread (the error queue is per thread).
struct Side {
  bool ok = false;     // handshake (incl. exchange) and application data all succeeded
  int ssl_error = -1;  // SSL_get_error of the first failing call
  std::string errors;  // the error queue at that point, one line per error
  std::string note;    // what failed
  int wants = 0;       // WANT_READ/WANT_WRITE seen (non-blocking)
  // The handshake call returned success only once the exchange was complete
  // (PROTOCOL.md §5: "only then does the application see the handshake as finished").
  bool exchange_done_at_handshake = false;
  bool data_intact = false;
};

// Error lines including their data ("...:detail"), as ERR_print_errors shows them.
std::string drain_errors_with_data() {
  std::string s;
  const char* data = nullptr;
  int flags = 0;
  unsigned long e;
  char buf[512];
  while ((e = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) != 0) {
    ERR_error_string_n(e, buf, sizeof buf);
    s += buf;
    if (data != nullptr && (flags & ERR_TXT_STRING)) {
      s += ':';
      s += data;
    }
    s += '\n';
  }
  return s;
}

void record_failure(Side& s, SSL* ssl, int ret, const char* what) {
  s.ssl_error = SSL_get_error(ssl, ret);
  s.errors = drain_errors_with_data();
  s.note = what;
}

// Retries `op` (returns >0 on success) on a non-blocking fd until done or a hard error;
// WANT_* must come with a poll that makes progress.
bool nb_loop(Side& s, SSL* ssl, int fd, const std::function<int()>& op, const char* what) {
  for (;;) {
    int ret = op();
    if (ret > 0) return true;
    int e = SSL_get_error(ssl, ret);
    short ev;
    if (e == SSL_ERROR_WANT_READ) {
      ev = POLLIN;
    } else if (e == SSL_ERROR_WANT_WRITE) {
      ev = POLLOUT;
    } else {
      s.ssl_error = e;
      s.errors = drain_errors_with_data();
      s.note = what;
      return false;
    }
    ++s.wants;
    pollfd p{fd, ev, 0};
    if (poll(&p, 1, 10000) != 1) {
      s.ssl_error = e;
      s.note = std::string(what) + ": timed out waiting for the socket";
      return false;
    }
  }
}

enum class Io { kInt, kEx, kPeekThenRead };

// Writes all of `data`, blocking or not.
bool write_all(Side& s, SSL* ssl, int fd, bool nb, Io io, const std::vector<uint8_t>& data) {
  size_t off = 0;
  while (off < data.size()) {
    size_t chunk = std::min<size_t>(data.size() - off, 20000);
    size_t written = 0;
    auto op = [&]() -> int {
      if (io == Io::kEx) return SSL_write_ex(ssl, data.data() + off, chunk, &written);
      int r = SSL_write(ssl, data.data() + off, static_cast<int>(chunk));
      if (r > 0) written = static_cast<size_t>(r);
      return r;
    };
    if (nb) {
      if (!nb_loop(s, ssl, fd, op, "write application data")) return false;
    } else {
      int r = op();
      if (r <= 0) {
        record_failure(s, ssl, r, "write application data");
        return false;
      }
    }
    off += written;
  }
  return true;
}

// Reads exactly n bytes.
bool read_exact(Side& s, SSL* ssl, int fd, bool nb, Io io, size_t n, std::vector<uint8_t>& out) {
  out.clear();
  std::vector<uint8_t> buf(16384);
  bool peek_first = io == Io::kPeekThenRead;
  while (out.size() < n) {
    size_t want = std::min(buf.size(), n - out.size());
    size_t got = 0;
    auto op = [&]() -> int {
      if (peek_first) return SSL_peek_ex(ssl, buf.data(), want, &got);
      if (io == Io::kEx) return SSL_read_ex(ssl, buf.data(), want, &got);
      int r = SSL_read(ssl, buf.data(), static_cast<int>(want));
      if (r > 0) got = static_cast<size_t>(r);
      return r;
    };
    if (nb) {
      if (!nb_loop(s, ssl, fd, op, "read application data")) return false;
    } else {
      int r = op();
      if (r <= 0) {
        record_failure(s, ssl, r, "read application data");
        return false;
      }
    }
    if (peek_first) {
      // The peeked bytes must be the ones SSL_read then returns.
      std::vector<uint8_t> peeked(buf.begin(), buf.begin() + static_cast<long>(got));
      size_t got2 = 0;
      if (SSL_read_ex(ssl, buf.data(), got, &got2) != 1 || got2 != got ||
          !std::equal(peeked.begin(), peeked.end(), buf.begin())) {
        s.note = "SSL_read after SSL_peek returned other bytes";
        return false;
      }
      peek_first = false;
    }
    out.insert(out.end(), buf.begin(), buf.begin() + static_cast<long>(got));
  }
  return true;
}

constexpr size_t kAppFromClient = 50000;
constexpr size_t kAppFromServer = 70000;

enum class Start {
  kConnectAccept,  // SSL_connect / SSL_accept
  kDoHandshake,    // SSL_set_*_state + SSL_do_handshake
  kFirstIo,        // no handshake call: the first SSL_write (client) / SSL_read (server)
};

struct SideConfig {
  Start start = Start::kConnectAccept;
  bool nonblocking = false;
  Io io = Io::kInt;
};

// One side of a connection: handshake (with the exchange inside), then the client sends
// kAppFromClient bytes RIGHT AFTER its exchange (while the server still reads RESULT), the
// server checks them and answers kAppFromServer bytes.
Side run_side(SSL* ssl, int fd, bool server, const SideConfig& cfg) {
  Side s;
  const bool nb = cfg.nonblocking;
  if (cfg.start != Start::kFirstIo) {
    auto hs = [&]() -> int {
      if (cfg.start == Start::kConnectAccept) return server ? SSL_accept(ssl) : SSL_connect(ssl);
      return SSL_do_handshake(ssl);
    };
    if (cfg.start == Start::kDoHandshake) {
      if (server)
        SSL_set_accept_state(ssl);
      else
        SSL_set_connect_state(ssl);
    }
    if (nb) {
      if (!nb_loop(s, ssl, fd, hs, "handshake")) return s;
    } else {
      int r = hs();
      if (r <= 0) {
        record_failure(s, ssl, r, "handshake");
        return s;
      }
    }
    s.exchange_done_at_handshake = fake_exchange_complete(ssl);
  } else if (server) {
    SSL_set_accept_state(ssl);
  } else {
    SSL_set_connect_state(ssl);
  }
  std::vector<uint8_t> got;
  if (server) {
    if (!read_exact(s, ssl, fd, nb, cfg.io, kAppFromClient, got)) return s;
    if (cfg.start == Start::kFirstIo) s.exchange_done_at_handshake = fake_exchange_complete(ssl);
    s.data_intact = got == make_pattern(kAppFromClient, 101);
    if (!write_all(s, ssl, fd, nb, cfg.io, make_pattern(kAppFromServer, 202))) return s;
  } else {
    if (!write_all(s, ssl, fd, nb, cfg.io, make_pattern(kAppFromClient, 101))) return s;
    if (cfg.start == Start::kFirstIo) s.exchange_done_at_handshake = fake_exchange_complete(ssl);
    if (!read_exact(s, ssl, fd, nb, cfg.io, kAppFromServer, got)) return s;
    s.data_intact = got == make_pattern(kAppFromServer, 202);
  }
  s.ok = true;
  return s;
}

struct PairResult {
  Side client;
  Side server;
};

PairResult run_pair(const SideConfig& ccfg, const SideConfig& scfg, int sndbuf = 0) {
  const Contexts& ctx = contexts();
  SocketPair sp(ccfg.nonblocking || scfg.nonblocking, sndbuf);
  if (!ccfg.nonblocking) fcntl(sp.fd[0], F_SETFL, fcntl(sp.fd[0], F_GETFL) & ~O_NONBLOCK);
  if (!scfg.nonblocking) fcntl(sp.fd[1], F_SETFL, fcntl(sp.fd[1], F_GETFL) & ~O_NONBLOCK);
  SSL* c = SSL_new(ctx.client);
  SSL* s = SSL_new(ctx.server);
  REQUIRE(c != nullptr);
  REQUIRE(s != nullptr);
  SSL_set_fd(c, sp.fd[0]);
  SSL_set_fd(s, sp.fd[1]);
  PairResult pr;
  std::thread st([&] { pr.server = run_side(s, sp.fd[1], true, scfg); });
  pr.client = run_side(c, sp.fd[0], false, ccfg);
  if (!pr.client.ok)
    shutdown(sp.fd[0], SHUT_RDWR);  // a failed side must not leave the peer waiting
  st.join();
  SSL_free(c);
  SSL_free(s);
  return pr;
}

void require_success(const PairResult& pr) {
  INFO("client: " << pr.client.note << " ssl_error=" << pr.client.ssl_error << "\n"
                  << pr.client.errors);
  INFO("server: " << pr.server.note << " ssl_error=" << pr.server.ssl_error << "\n"
                  << pr.server.errors);
  REQUIRE(pr.client.ok);
  REQUIRE(pr.server.ok);
  REQUIRE(pr.client.data_intact);
  REQUIRE(pr.server.data_intact);
  REQUIRE(g_violations == 0);
  if (g_opt.begin == BeginMode::kExchange) {
    REQUIRE(pr.client.exchange_done_at_handshake);
    REQUIRE(pr.server.exchange_done_at_handshake);
  }
}

void require_exchange_ran(int connections) {
  REQUIRE(g_begin_calls == 2 * connections);
  // Client verifies REQUEST + AUTHENTICATOR, server REQUEST + RESULT(accepted).
  REQUIRE(g_frames_verified == 4 * connections);
}

struct Fixture {
  Fixture() {
    // Hermetic: no openssl.cnf is read, so no real exattest provider can register over the
    // fake (the shim's own lazy OPENSSL_INIT_LOAD_CONFIG is then a no-op).
    OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG, nullptr);
    // Like nginx and curl: a peer that closed first must give EPIPE, not kill the process.
    signal(SIGPIPE, SIG_IGN);
    g_opt = Options();
    reset_counters();
    std::lock_guard<std::mutex> lock(g_mu);
    g_conns.clear();
  }
};

}  // namespace

// ---------------------------------------------------------------------------------------

TEST_CASE("blocking SSL_connect/SSL_accept run the exchange, app data intact", "[shim]") {
  Fixture f;
  register_fake();
  PairResult pr =
      run_pair({Start::kConnectAccept, false, Io::kInt}, {Start::kConnectAccept, false, Io::kInt});
  require_success(pr);
  require_exchange_ran(1);
}

TEST_CASE("blocking SSL_do_handshake runs the exchange", "[shim]") {
  Fixture f;
  register_fake();
  PairResult pr =
      run_pair({Start::kDoHandshake, false, Io::kEx}, {Start::kDoHandshake, false, Io::kEx});
  require_success(pr);
  require_exchange_ran(1);
}

TEST_CASE("first SSL_write/SSL_read drive handshake and exchange", "[shim]") {
  Fixture f;
  register_fake();
  SECTION("int forms") {
    require_success(
        run_pair({Start::kFirstIo, false, Io::kInt}, {Start::kFirstIo, false, Io::kInt}));
  }
  SECTION("_ex forms") {
    require_success(run_pair({Start::kFirstIo, false, Io::kEx}, {Start::kFirstIo, false, Io::kEx}));
  }
  SECTION("SSL_peek_ex first on the server") {
    require_success(
        run_pair({Start::kFirstIo, false, Io::kEx}, {Start::kFirstIo, false, Io::kPeekThenRead}));
  }
  require_exchange_ran(1);
}

TEST_CASE("SSL_peek (int) first drives handshake and exchange", "[shim]") {
  Fixture f;
  register_fake();
  const Contexts& ctx = contexts();
  SocketPair sp(false);
  SSL* c = SSL_new(ctx.client);
  SSL* s = SSL_new(ctx.server);
  SSL_set_fd(c, sp.fd[0]);
  SSL_set_fd(s, sp.fd[1]);
  SSL_set_accept_state(s);
  int peeked = -1;
  unsigned char buf[8] = {};
  std::thread st([&] { peeked = SSL_peek(s, buf, sizeof buf); });
  int connected = SSL_connect(c);
  int written = connected == 1 ? SSL_write(c, "appdata!", 8) : -1;
  if (written != 8) shutdown(sp.fd[0], SHUT_RDWR);
  st.join();
  REQUIRE(connected == 1);
  REQUIRE(written == 8);
  REQUIRE(peeked == 8);
  REQUIRE(std::memcmp(buf, "appdata!", 8) == 0);
  REQUIRE(SSL_read(s, buf, sizeof buf) == 8);  // the peeked bytes are still there
  REQUIRE(std::memcmp(buf, "appdata!", 8) == 0);
  SSL_free(c);
  SSL_free(s);
  require_exchange_ran(1);
  REQUIRE(g_violations == 0);
}

TEST_CASE("non-blocking SSL_connect/SSL_accept with WANT_READ/WANT_WRITE", "[shim]") {
  Fixture f;
  g_opt.auth_len = 300 * 1024;  // larger than the socket buffer: forces WANT_WRITE mid-frame
  register_fake();
  PairResult pr = run_pair({Start::kConnectAccept, true, Io::kInt},
                           {Start::kConnectAccept, true, Io::kInt}, 64 * 1024);
  require_success(pr);
  require_exchange_ran(1);
  REQUIRE(pr.client.wants > 0);
  REQUIRE(pr.server.wants > 0);
}

TEST_CASE("non-blocking first SSL_write/SSL_read drive handshake and exchange", "[shim]") {
  Fixture f;
  g_opt.auth_len = 300 * 1024;
  register_fake();
  PairResult pr =
      run_pair({Start::kFirstIo, true, Io::kEx}, {Start::kFirstIo, true, Io::kInt}, 64 * 1024);
  require_success(pr);
  require_exchange_ran(1);
  REQUIRE(pr.client.wants > 0);
  REQUIRE(pr.server.wants > 0);
}

TEST_CASE("non-blocking SSL_do_handshake", "[shim]") {
  Fixture f;
  g_opt.auth_len = 300 * 1024;
  register_fake();
  PairResult pr = run_pair({Start::kDoHandshake, true, Io::kEx},
                           {Start::kDoHandshake, true, Io::kEx}, 64 * 1024);
  require_success(pr);
  require_exchange_ran(1);
}

TEST_CASE("BIO_f_ssl: BIO_do_handshake (client), first BIO_read non-blocking (server)", "[shim]") {
  Fixture f;
  g_opt.auth_len = 300 * 1024;
  register_fake();
  const Contexts& ctx = contexts();
  SocketPair sp(false, 64 * 1024);
  fcntl(sp.fd[1], F_SETFL, fcntl(sp.fd[1], F_GETFL) | O_NONBLOCK);

  BIO* b = BIO_new_ssl(ctx.client, 1);  // libssl calls BIO_f_ssl itself here
  REQUIRE(b != nullptr);
  SSL* c = nullptr;
  BIO_get_ssl(b, &c);
  REQUIRE(c != nullptr);
  SSL_set_fd(c, sp.fd[0]);

  Side server;
  std::thread st([&] {
    SSL* s = SSL_new(ctx.server);
    SSL_set_fd(s, sp.fd[1]);
    SSL_set_accept_state(s);
    BIO* sb = BIO_new(BIO_f_ssl());
    if (sb == nullptr) {
      server.note = "BIO_new(BIO_f_ssl()) failed";
      SSL_free(s);
      return;
    }
    BIO_set_ssl(sb, s, BIO_CLOSE);
    std::vector<uint8_t> got;
    std::vector<uint8_t> buf(16384);
    while (got.size() < kAppFromClient) {
      int n = BIO_read(sb, buf.data(), static_cast<int>(buf.size()));
      if (n > 0) {
        got.insert(got.end(), buf.begin(), buf.begin() + n);
        continue;
      }
      if (!BIO_should_retry(sb)) {
        record_failure(server, s, n, "BIO_read");
        BIO_free_all(sb);
        return;
      }
      ++server.wants;
      pollfd p{sp.fd[1], static_cast<short>(BIO_should_read(sb) ? POLLIN : POLLOUT), 0};
      if (poll(&p, 1, 10000) != 1) {
        server.note = "BIO_read: timed out";
        BIO_free_all(sb);
        return;
      }
    }
    server.data_intact = got == make_pattern(kAppFromClient, 101);
    std::vector<uint8_t> reply = make_pattern(kAppFromServer, 202);
    size_t off = 0;
    while (off < reply.size()) {
      int n = BIO_write(sb, reply.data() + off, static_cast<int>(reply.size() - off));
      if (n > 0) {
        off += static_cast<size_t>(n);
        continue;
      }
      if (!BIO_should_retry(sb)) {
        record_failure(server, s, n, "BIO_write");
        BIO_free_all(sb);
        return;
      }
      pollfd p{sp.fd[1], POLLOUT, 0};
      poll(&p, 1, 10000);
    }
    server.ok = true;
    BIO_free_all(sb);
  });

  long hs = BIO_do_handshake(b);
  bool client_done_at_hs = hs > 0 && fake_exchange_complete(c);
  std::string cerr = hs <= 0 ? drain_errors_with_data() : "";
  std::vector<uint8_t> data = make_pattern(kAppFromClient, 101);
  bool wrote_all = hs > 0 && BIO_write(b, data.data(), static_cast<int>(data.size())) ==
                                 static_cast<int>(data.size());
  std::vector<uint8_t> got;
  std::vector<uint8_t> buf(16384);
  while (wrote_all && got.size() < kAppFromServer) {
    int n = BIO_read(b, buf.data(), static_cast<int>(buf.size()));
    if (n <= 0) break;
    got.insert(got.end(), buf.begin(), buf.begin() + n);
  }
  if (hs <= 0) shutdown(sp.fd[0], SHUT_RDWR);
  st.join();
  BIO_free_all(b);
  INFO("client errors: " << cerr);
  INFO("server: " << server.note << " " << server.errors);
  REQUIRE(hs == 1);
  REQUIRE(client_done_at_hs);
  REQUIRE(wrote_all);
  REQUIRE(got == make_pattern(kAppFromServer, 202));
  REQUIRE(server.ok);
  REQUIRE(server.data_intact);
  REQUIRE(server.wants > 0);
  require_exchange_ran(1);
  REQUIRE(g_violations == 0);
}

TEST_CASE("a failing exchange is SSL_ERROR_SSL with the provider's reason, on both sides",
          "[shim]") {
  Fixture f;
  g_opt.corrupt_auth = true;
  register_fake();
  PairResult pr =
      run_pair({Start::kConnectAccept, false, Io::kInt}, {Start::kConnectAccept, false, Io::kInt});
  REQUIRE_FALSE(pr.client.ok);
  REQUIRE_FALSE(pr.server.ok);
  REQUIRE(pr.client.note == "handshake");
  REQUIRE(pr.server.note == "handshake");
  REQUIRE(pr.client.ssl_error == SSL_ERROR_SSL);
  REQUIRE(pr.server.ssl_error == SSL_ERROR_SSL);
  INFO(pr.client.errors << pr.server.errors);
  REQUIRE(pr.client.errors.find("fake reason: authenticator body corrupt") != std::string::npos);
  REQUIRE(pr.server.errors.find("fake reason: peer rejected the exchange") != std::string::npos);
  REQUIRE(g_violations == 0);
}

TEST_CASE("a failed connection stays failed: later calls report the same reason", "[shim]") {
  Fixture f;
  g_opt.corrupt_auth = true;
  register_fake();
  const Contexts& ctx = contexts();
  SocketPair sp(false);
  SSL* c = SSL_new(ctx.client);
  SSL* s = SSL_new(ctx.server);
  SSL_set_fd(c, sp.fd[0]);
  SSL_set_fd(s, sp.fd[1]);
  std::thread st([&] {
    (void)SSL_accept(s);
    ERR_clear_error();
  });
  int connected = SSL_connect(c);
  int first_error = SSL_get_error(c, connected);
  ERR_clear_error();
  if (connected == 1) shutdown(sp.fd[0], SHUT_RDWR);
  st.join();
  REQUIRE(connected == -1);
  REQUIRE(first_error == SSL_ERROR_SSL);
  unsigned char buf[16];
  size_t n = 99;
  int steps_before = g_step_calls;
  REQUIRE(SSL_read_ex(c, buf, sizeof buf, &n) == 0);
  REQUIRE(n == 0);
  REQUIRE(SSL_get_error(c, 0) == SSL_ERROR_SSL);
  std::string e = drain_errors_with_data();
  INFO(e);
  REQUIRE(e.find("fake reason: authenticator body corrupt") != std::string::npos);
  REQUIRE(e.find("already failed") != std::string::npos);
  REQUIRE(SSL_write(c, "x", 1) == -1);
  REQUIRE(SSL_get_error(c, -1) == SSL_ERROR_SSL);
  ERR_clear_error();
  REQUIRE(g_step_calls == steps_before);  // the provider is not asked again
  SSL_free(c);
  SSL_free(s);
}

TEST_CASE("begin() returning -1 fails the handshake with its reason", "[shim]") {
  Fixture f;
  g_opt.begin = BeginMode::kRefuse;
  register_fake();
  PairResult pr =
      run_pair({Start::kConnectAccept, false, Io::kInt}, {Start::kFirstIo, false, Io::kInt});
  REQUIRE(pr.client.ssl_error == SSL_ERROR_SSL);
  REQUIRE(pr.server.ssl_error == SSL_ERROR_SSL);
  REQUIRE(pr.client.note == "handshake");
  REQUIRE(pr.server.note == "read application data");
  REQUIRE(pr.client.errors.find("fake reason: begin refused") != std::string::npos);
  REQUIRE(pr.server.errors.find("fake reason: begin refused") != std::string::npos);
  REQUIRE(g_step_calls == 0);
}

TEST_CASE("begin() returning 0 leaves the connection plain", "[shim]") {
  Fixture f;
  g_opt.begin = BeginMode::kPlain;
  register_fake();
  SECTION("blocking") {
    require_success(run_pair({Start::kConnectAccept, false, Io::kInt},
                             {Start::kConnectAccept, false, Io::kInt}));
  }
  SECTION("non-blocking, first I/O") {
    require_success(
        run_pair({Start::kFirstIo, true, Io::kEx}, {Start::kFirstIo, true, Io::kEx}, 64 * 1024));
  }
  REQUIRE(g_begin_calls == 2);  // once per handshake, not once per call
  REQUIRE(g_step_calls == 0);
  REQUIRE(g_frames_verified == 0);
}

TEST_CASE("several connections in parallel threads", "[shim]") {
  Fixture f;
  g_opt.auth_len = 40 * 1024;
  register_fake();
  constexpr int kPairs = 4;
  std::vector<PairResult> results(kPairs);
  std::vector<std::thread> threads;
  for (int i = 0; i < kPairs; ++i) {
    threads.emplace_back([&results, i] {
      SideConfig cfg{Start::kConnectAccept, i % 2 == 1, Io::kInt};
      results[static_cast<size_t>(i)] = run_pair(cfg, cfg);
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) {
    REQUIRE(r.client.ok);
    REQUIRE(r.server.ok);
    REQUIRE(r.client.data_intact);
    REQUIRE(r.server.data_intact);
  }
  require_exchange_ran(kPairs);
  REQUIRE(g_violations == 0);
}

TEST_CASE("a reused connection object runs a new exchange (SSL_clear, SSL_set_connect_state)",
          "[shim]") {
  Fixture f;
  register_fake();
  const Contexts& ctx = contexts();
  SSL* c = SSL_new(ctx.client);
  SSL* s = SSL_new(ctx.server);
  SideConfig cfg{Start::kConnectAccept, false, Io::kInt};
  for (int round = 0; round < 2; ++round) {
    SocketPair sp(false);
    if (round == 1) {
      REQUIRE(SSL_clear(s) == 1);  // server: the explicit way
      SSL_set_connect_state(c);    // client: what s_client -reconnect does
    }
    SSL_set_fd(c, sp.fd[0]);
    SSL_set_fd(s, sp.fd[1]);
    PairResult pr;
    std::thread st([&] { pr.server = run_side(s, sp.fd[1], true, cfg); });
    pr.client = run_side(c, sp.fd[0], false, cfg);
    if (!pr.client.ok) shutdown(sp.fd[0], SHUT_RDWR);
    st.join();
    INFO("round " << round);
    require_success(pr);
    SSL_shutdown(c);
  }
  REQUIRE(g_reset_calls == 2);
  require_exchange_ran(2);
  SSL_free(c);
  SSL_free(s);
}

TEST_CASE("SSL_set_session: refused sessions are not resumed", "[shim]") {
  Fixture f;
  g_opt.begin = BeginMode::kPlain;  // resumption itself is only possible without the exchange
  register_fake();
  const Contexts& ctx = contexts();

  // Runs one blocking connection; `prepare` may call SSL_set_session on the client.
  auto connect = [&](const std::function<void(SSL*)>& prepare, SSL_SESSION** out_sess) {
    SocketPair sp(false);
    SSL* c = SSL_new(ctx.client);
    SSL* s = SSL_new(ctx.server);
    SSL_set_fd(c, sp.fd[0]);
    SSL_set_fd(s, sp.fd[1]);
    prepare(c);
    SideConfig cfg{Start::kConnectAccept, false, Io::kInt};
    PairResult pr;
    std::thread st([&] { pr.server = run_side(s, sp.fd[1], true, cfg); });
    pr.client = run_side(c, sp.fd[0], false, cfg);  // reads app data: the tickets arrive
    if (!pr.client.ok) shutdown(sp.fd[0], SHUT_RDWR);
    st.join();
    require_success(pr);
    int reused = SSL_session_reused(c);
    // Without a close_notify sent, SSL_free marks the session not resumable.
    SSL_shutdown(c);
    if (out_sess != nullptr) *out_sess = SSL_get1_session(c);
    SSL_free(c);
    SSL_free(s);
    return reused;
  };

  SSL_SESSION* sess = nullptr;
  REQUIRE(connect([](SSL*) {}, &sess) == 0);
  REQUIRE(sess != nullptr);
  INFO("has_ticket=" << SSL_SESSION_has_ticket(sess)
                     << " proto=" << SSL_SESSION_get_protocol_version(sess));
  REQUIRE(SSL_SESSION_is_resumable(sess) == 1);

  SECTION("allowed: resumed (the control)") {
    g_opt.session_allowed = 1;
    REQUIRE(connect([&](SSL* c) { REQUIRE(SSL_set_session(c, sess) == 1); }, nullptr) == 1);
    REQUIRE(g_session_calls == 1);
    REQUIRE(g_last_session_arg == sess);
  }
  SECTION("refused: returns 1 (curl, s_client go on) and the handshake is a full one") {
    g_opt.session_allowed = 0;
    REQUIRE(connect([&](SSL* c) { REQUIRE(SSL_set_session(c, sess) == 1); }, nullptr) == 0);
    REQUIRE(g_session_calls == 1);
    REQUIRE(g_last_session_arg == sess);
  }
  SECTION("refused after an allowed one: the session already set is dropped too") {
    REQUIRE(connect(
                [&](SSL* c) {
                  g_opt.session_allowed = 1;
                  REQUIRE(SSL_set_session(c, sess) == 1);
                  g_opt.session_allowed = 0;
                  REQUIRE(SSL_set_session(c, sess) == 1);
                },
                nullptr) == 0);
    REQUIRE(g_session_calls == 2);
  }
  SSL_SESSION_free(sess);
}

TEST_CASE("the peer closing mid-exchange fails with the provider's reason (feed NULL, 0)",
          "[shim]") {
  Fixture f;
  g_opt.server_stops_after_request = true;
  register_fake();
  const Contexts& ctx = contexts();
  SocketPair sp(false);
  SSL* c = SSL_new(ctx.client);
  SSL* s = SSL_new(ctx.server);
  SSL_set_fd(c, sp.fd[0]);
  SSL_set_fd(s, sp.fd[1]);
  bool close_notify = GENERATE(true, false);
  int accepted = 0;
  std::thread st([&] {
    accepted = SSL_accept(s);  // sends its REQUEST, reads nothing: then it goes away
    if (close_notify) SSL_shutdown(s);
    shutdown(sp.fd[1], SHUT_RDWR);
  });
  int connected = SSL_connect(c);
  int err = SSL_get_error(c, connected);
  std::string e = drain_errors_with_data();
  st.join();
  INFO("close_notify=" << close_notify << "\n" << e);
  REQUIRE(accepted == 1);
  REQUIRE(connected == -1);
  REQUIRE(err == SSL_ERROR_SSL);  // not ZERO_RETURN/SYSCALL: the exchange failed
  REQUIRE(e.find("fake reason: peer closed during the exchange") != std::string::npos);
  REQUIRE(g_eof_feeds == 1);
  REQUIRE(g_violations == 0);
  SSL_free(c);
  SSL_free(s);
}

TEST_CASE("an ops table with another ABI version is refused", "[shim]") {
  Fixture f;
  exattest_shim_register_fn reg = shim_register();
  REQUIRE(reg != nullptr);
  exattest_shim_ops bad = kFakeOps;
  bad.abi_version = EXATTEST_SHIM_ABI_VERSION + 1;
  REQUIRE(reg(&bad) == 0);
  exattest_shim_ops incomplete = kFakeOps;
  incomplete.feed = nullptr;
  REQUIRE(reg(&incomplete) == 0);
  REQUIRE(reg(nullptr) == 0);
}

TEST_CASE("no provider registered: every handshake fails naming OPENSSL_CONF", "[shim]") {
  Fixture f;
  REQUIRE(shim_register() != nullptr);  // the shim is preloaded, nothing registered
  SECTION("SSL_connect / SSL_accept") {
    PairResult pr = run_pair({Start::kConnectAccept, false, Io::kInt},
                             {Start::kConnectAccept, false, Io::kInt});
    REQUIRE(pr.client.ssl_error == SSL_ERROR_SSL);
    REQUIRE(pr.server.ssl_error == SSL_ERROR_SSL);
    REQUIRE(pr.client.note == "handshake");
    REQUIRE(pr.server.note == "handshake");
    INFO(pr.client.errors);
    REQUIRE(pr.client.errors.find("exattest provider not loaded") != std::string::npos);
    REQUIRE(pr.client.errors.find("set OPENSSL_CONF") != std::string::npos);
    REQUIRE(pr.server.errors.find("set OPENSSL_CONF") != std::string::npos);
  }
  SECTION("first I/O, non-blocking") {
    PairResult pr = run_pair({Start::kFirstIo, true, Io::kEx}, {Start::kFirstIo, true, Io::kInt});
    REQUIRE(pr.client.ssl_error == SSL_ERROR_SSL);
    REQUIRE(pr.server.ssl_error == SSL_ERROR_SSL);
    REQUIRE(pr.client.errors.find("set OPENSSL_CONF") != std::string::npos);
    REQUIRE(pr.server.errors.find("set OPENSSL_CONF") != std::string::npos);
  }
  SECTION("BIO_do_handshake") {
    const Contexts& ctx = contexts();
    SocketPair sp(false);
    BIO* b = BIO_new_ssl(ctx.client, 1);
    REQUIRE(b != nullptr);
    SSL* c = nullptr;
    BIO_get_ssl(b, &c);
    SSL_set_fd(c, sp.fd[0]);
    REQUIRE(BIO_do_handshake(b) <= 0);
    REQUIRE_FALSE(BIO_should_retry(b));
    std::string e = drain_errors_with_data();
    REQUIRE(e.find("set OPENSSL_CONF") != std::string::npos);
    BIO_free_all(b);
  }
  REQUIRE(g_begin_calls == 0);
}

// ---------------------------------------------------------------------------------------
// Issue #11: 0.5-RTT, data calls from libssl callbacks, post-handshake messages before the
// exchange (docs/protocol-notes.md "Tickets, resumption and early data").

// Reads whatever the peer sends until the connection ends (the peer's socket is shut down).
std::string read_until_end(SSL* ssl) {
  std::string got;
  char buf[4096];
  for (;;) {
    int n = SSL_read(ssl, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  ERR_clear_error();
  return got;
}

TEST_CASE("issue 11 item 8: a requiring server's 0.5-RTT banner never reaches a plain client",
          "[shim]") {
  Fixture f;
  g_opt.session_allowed = 0;                // the process requests attestation
  g_opt.server_begin = BeginMode::kRefuse;  // the server requires it (not_negotiated) ...
  g_opt.client_begin = BeginMode::kPlain;   // ... from a client that does not offer it
  register_fake();
  const Contexts& ctx = contexts();
  SocketPair sp(false);
  SSL* c = SSL_new(ctx.client);
  SSL* s = SSL_new(ctx.server);
  SSL_set_fd(c, sp.fd[0]);
  SSL_set_fd(s, sp.fd[1]);
  static const char kBanner[] = "BANNER-0.5-RTT";
  // SSL_read_early_data(3)'s documented server sequence: read the early data, write a banner
  // as 0.5-RTT data, then finish the handshake.
  int ed_ret = -1;
  size_t early_bytes = 0;
  int wrote = -1;
  size_t written = 99;
  int accepted = -1;
  std::string server_errors;
  std::thread st([&] {
    SSL_set_max_early_data(s, 16384);  // what the application asks for; held at 0
    char buf[1024];
    for (int i = 0; i < 100; ++i) {
      size_t n = 0;
      ed_ret = SSL_read_early_data(s, buf, sizeof buf, &n);
      early_bytes += n;
      if (ed_ret != SSL_READ_EARLY_DATA_SUCCESS) break;
    }
    wrote = SSL_write_early_data(s, kBanner, sizeof kBanner - 1, &written);
    server_errors = drain_errors_with_data();
    accepted = SSL_accept(s);
    ERR_clear_error();
    shutdown(sp.fd[1], SHUT_RDWR);  // the server application gives up on the connection
  });
  int connected = SSL_connect(c);
  std::string client_got = connected == 1 ? read_until_end(c) : "";
  if (connected != 1) shutdown(sp.fd[0], SHUT_RDWR);
  st.join();
  INFO("server errors: " << server_errors);
  REQUIRE(ed_ret == SSL_READ_EARLY_DATA_FINISH);
  REQUIRE(early_bytes == 0);
  REQUIRE(connected == 1);      // the plain client's handshake itself completes
  REQUIRE(client_got.empty());  // not one byte of the banner
  REQUIRE(wrote == 0);
  REQUIRE(written == 0);
  REQUIRE(server_errors.find("fake reason: begin refused") != std::string::npos);
  REQUIRE(accepted == -1);
  REQUIRE(g_violations == 0);
  SSL_free(c);
  SSL_free(s);
}

// The info callback of the requiring client: writes as soon as libssl says the handshake is
// done, i.e. from inside SSL_connect, before the shim could run the exchange.
struct CallbackWrite {
  int calls = 0;
  int ret = 1;
  std::string errors;
};
CallbackWrite g_cb_write;
constexpr char kCallbackBytes[] = "WRITTEN-FROM-A-CALLBACK";

void write_at_handshake_done(const SSL* ssl, int where, int) {
  if ((where & SSL_CB_HANDSHAKE_DONE) == 0) return;
  ++g_cb_write.calls;
  g_cb_write.ret = SSL_write(const_cast<SSL*>(ssl), kCallbackBytes, sizeof kCallbackBytes - 1);
  g_cb_write.errors = drain_errors_with_data();
}

TEST_CASE(
    "issue 11 item 9: SSL_write from an info callback at SSL_CB_HANDSHAKE_DONE sends "
    "nothing before the exchange",
    "[shim]") {
  Fixture f;
  g_cb_write = CallbackWrite();
  const Contexts& ctx = contexts();
  SocketPair sp(false);
  SSL* c = SSL_new(ctx.client);
  SSL* s = SSL_new(ctx.server);
  SSL_set_fd(c, sp.fd[0]);
  SSL_set_fd(s, sp.fd[1]);
  SSL_set_info_callback(c, write_at_handshake_done);

  SECTION("requiring client, plain server: the connection fails, the server reads nothing") {
    g_opt.session_allowed = 0;
    g_opt.client_begin = BeginMode::kRefuse;  // not_negotiated
    g_opt.server_begin = BeginMode::kPlain;
    register_fake();
    int accepted = -1;
    std::string server_got;
    std::thread st([&] {
      accepted = SSL_accept(s);
      if (accepted == 1) server_got = read_until_end(s);
      ERR_clear_error();
    });
    int connected = SSL_connect(c);
    std::string e = drain_errors_with_data();
    shutdown(sp.fd[0], SHUT_RDWR);
    st.join();
    INFO("callback errors: " << g_cb_write.errors << "\nconnect errors: " << e);
    REQUIRE(g_cb_write.calls == 1);
    REQUIRE(g_cb_write.ret == -1);
    // The callback's write is the call that met the finished handshake: it ran begin(),
    // which refused the connection.
    REQUIRE(g_cb_write.errors.find("fake reason: begin refused") != std::string::npos);
    REQUIRE(connected == -1);
    REQUIRE(e.find("fake reason: begin refused") != std::string::npos);
    REQUIRE(accepted == 1);
    REQUIRE(server_got.empty());
  }
  SECTION("both attest: the callback's write is refused, the exchange and the data go on") {
    register_fake();
    PairResult pr;
    std::thread st([&] {
      pr.server = run_side(s, sp.fd[1], true, {Start::kConnectAccept, false, Io::kInt});
    });
    pr.client = run_side(c, sp.fd[0], false, {Start::kConnectAccept, false, Io::kInt});
    if (!pr.client.ok) shutdown(sp.fd[0], SHUT_RDWR);
    st.join();
    INFO("callback errors: " << g_cb_write.errors);
    REQUIRE(g_cb_write.calls == 1);
    REQUIRE(g_cb_write.ret == -1);
    REQUIRE(g_cb_write.errors.find("application data before the attestation exchange ended") !=
            std::string::npos);
    // The server's exchange read only frames (a stray byte is a violation of the fake's
    // framing) and then exactly the application's data.
    require_success(pr);
    require_exchange_ran(1);
  }
  SSL_free(c);
  SSL_free(s);
}

TEST_CASE(
    "issue 11 item 15: an s_client-like reader does not block after an exchange that a "
    "post-handshake message interrupted",
    "[shim]") {
  Fixture f;
  const PostHandshake kind = GENERATE(PostHandshake::kKeyUpdate, PostHandshake::kKeyUpdateRequested,
                                      PostHandshake::kTicket, PostHandshake::kCertRequest);
  g_opt.server_post_handshake = kind;
  register_fake();
  const Contexts& ctx = contexts();
  SocketPair sp(false);
  SSL* c = SSL_new(ctx.client);
  SSL* s = SSL_new(ctx.server);
  SSL_set_fd(c, sp.fd[0]);
  SSL_set_fd(s, sp.fd[1]);
  // Only the message under test comes before the exchange (no default tickets).
  SSL_set_num_tickets(s, 0);
  // s_client: SSL_MODE_AUTO_RETRY off, a blocking socket, select() before every read, and
  // its request (stdin) written only once it is not busy reading.
  SSL_clear_mode(c, SSL_MODE_AUTO_RETRY);
  if (kind == PostHandshake::kCertRequest) SSL_set_post_handshake_auth(c, 1);
  constexpr size_t kRequest = 1000;
  static const char kStalled[] = "STALLED";
  // The server answers only the client's request, as an HTTP server does. If the client has
  // sent nothing 5 s after the exchange, it is stuck in a read: the server then sends a
  // marker, which unblocks it and shows in the bytes it got.
  Side server;
  bool stalled = false;
  std::thread st([&] {
    int a = SSL_accept(s);
    if (a != 1) {
      record_failure(server, s, a, "SSL_accept");
      return;
    }
    pollfd p{sp.fd[1], POLLIN, 0};
    if (SSL_has_pending(s) == 0 && poll(&p, 1, 5000) == 0) {
      stalled = true;
      SSL_write(s, kStalled, sizeof kStalled - 1);
    }
    std::vector<uint8_t> got;
    if (!read_exact(server, s, sp.fd[1], false, Io::kInt, kRequest, got)) return;
    server.data_intact = got == make_pattern(kRequest, 101);
    if (!write_all(server, s, sp.fd[1], false, Io::kInt, make_pattern(kAppFromServer, 202))) return;
    server.ok = true;
  });

  SSL_set_connect_state(c);
  int hs = SSL_do_handshake(c);
  int hs_err = SSL_get_error(c, hs);
  std::string hs_errors = drain_errors_with_data();
  // The post-handshake message came first: the exchange's read returned WANT_READ, as libssl
  // does with AUTO_RETRY off, so the exchange goes on in a later call.
  bool interrupted = hs == -1 && hs_err == SSL_ERROR_WANT_READ;
  std::vector<uint8_t> got;
  std::string note;
  bool sent = false;
  bool ended_in_read = false;  // the exchange ended inside an SSL_read (the stalling case)
  bool wait_readable = true;   // like s_client's select() on the socket alone
  std::vector<uint8_t> buf(16384);
  for (int i = 0; interrupted && i < 10000 && got.size() < kAppFromServer; ++i) {
    pollfd p{sp.fd[0], POLLIN, 0};
    bool readable = SSL_has_pending(c) != 0 || poll(&p, 1, wait_readable ? 10000 : 0) == 1;
    if (readable) {
      bool before = fake_exchange_complete(c);
      int n = SSL_read(c, buf.data(), static_cast<int>(buf.size()));
      if (!before && fake_exchange_complete(c)) ended_in_read = true;
      if (n > 0) {
        got.insert(got.end(), buf.begin(), buf.begin() + n);
        continue;
      }
      int e = SSL_get_error(c, n);
      if (e != SSL_ERROR_WANT_READ) {
        note = "SSL_read: error " + std::to_string(e) + " " + drain_errors_with_data();
        break;
      }
      wait_readable = sent;  // else s_client's select() also sees its request on stdin
      continue;
    }
    if (wait_readable) {
      note = sent ? "no answer within 10 s" : "nothing to read within 10 s";
      break;
    }
    std::vector<uint8_t> req = make_pattern(kRequest, 101);
    int w = SSL_write(c, req.data(), static_cast<int>(req.size()));
    if (w <= 0 && SSL_get_error(c, w) == SSL_ERROR_WANT_READ) {
      wait_readable = true;  // s_client: "write R BLOCK", then it reads
      continue;
    }
    if (w != static_cast<int>(req.size())) {
      note = "SSL_write: " + std::to_string(w) + " " + drain_errors_with_data();
      break;
    }
    sent = true;
    wait_readable = true;
  }
  if (got.size() != kAppFromServer) shutdown(sp.fd[0], SHUT_RDWR);
  st.join();
  INFO("kind " << static_cast<int>(kind) << " hs=" << hs << " err=" << hs_err << " " << hs_errors
               << "\nclient: " << note << "\nserver: " << server.note << " " << server.errors);
  REQUIRE(g_post_handshake_queued == 1);
  REQUIRE(interrupted);
  REQUIRE(ended_in_read);
  REQUIRE_FALSE(stalled);
  REQUIRE(sent);
  REQUIRE(got == make_pattern(kAppFromServer, 202));
  REQUIRE(server.ok);
  REQUIRE(server.data_intact);
  require_exchange_ran(1);
  REQUIRE(g_violations == 0);
  SSL_free(c);
  SSL_free(s);
}

int g_psk_use_calls = 0;
int count_psk_use(SSL*, const EVP_MD*, const unsigned char**, size_t*, SSL_SESSION** sess) {
  ++g_psk_use_calls;
  *sess = nullptr;  // no PSK: a full handshake
  return 1;
}
int no_psk_found(SSL*, const unsigned char*, size_t, SSL_SESSION** sess) {
  *sess = nullptr;
  return 1;
}
SSL_SESSION* no_cached_session(SSL*, const unsigned char*, int, int* copy) {
  *copy = 0;
  return nullptr;
}

TEST_CASE(
    "issue 11 items 1-2: an attesting process holds tickets and early data at 0 and "
    "installs no PSK or session-cache callback",
    "[shim]") {
  Fixture f;
  const bool attesting = GENERATE(true, false);
  g_opt.session_allowed = attesting ? 0 : 1;
  g_opt.begin = BeginMode::kPlain;  // the handshake below needs no exchange
  register_fake();
  g_psk_use_calls = 0;
  SSL_CTX* cctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX* sctx = SSL_CTX_new(TLS_server_method());
  REQUIRE(cctx != nullptr);
  REQUIRE(sctx != nullptr);
  const size_t tickets = attesting ? 0 : 3;
  const uint32_t early = attesting ? 0 : 4096;
  INFO("attesting " << attesting);

  REQUIRE(SSL_CTX_set_num_tickets(sctx, 3) == 1);
  REQUIRE(SSL_CTX_get_num_tickets(sctx) == tickets);
  REQUIRE(SSL_CTX_set_max_early_data(sctx, 4096) == 1);
  REQUIRE(SSL_CTX_get_max_early_data(sctx) == early);
  // Through SSL_CONF (an application's or nginx's configuration commands).
  SSL_CONF_CTX* conf = SSL_CONF_CTX_new();
  SSL_CONF_CTX_set_flags(conf, SSL_CONF_FLAG_FILE | SSL_CONF_FLAG_SERVER);
  SSL_CONF_CTX_set_ssl_ctx(conf, sctx);
  REQUIRE(SSL_CTX_set_num_tickets(sctx, 0) == 1);
  REQUIRE(SSL_CONF_cmd(conf, "NumTickets", "3") == 2);
  REQUIRE(SSL_CTX_get_num_tickets(sctx) == tickets);
  SSL_CONF_CTX_free(conf);

  SSL_CTX_sess_set_get_cb(sctx, no_cached_session);
  REQUIRE((SSL_CTX_sess_get_get_cb(sctx) == nullptr) == attesting);
  SSL_CTX_set_psk_find_session_callback(sctx, no_psk_found);
  SSL_CTX_set_psk_use_session_callback(cctx, count_psk_use);

  SSL* s = SSL_new(sctx);
  SSL* c = SSL_new(cctx);
  REQUIRE(SSL_set_num_tickets(s, 3) == 1);
  REQUIRE(SSL_get_num_tickets(s) == tickets);
  REQUIRE(SSL_set_max_early_data(s, 4096) == 1);
  REQUIRE(SSL_get_max_early_data(s) == early);
  SSL_set_psk_use_session_callback(c, count_psk_use);
  SSL_set_psk_find_session_callback(s, no_psk_found);

  // Whether the PSK use callback is consulted shows in a real handshake.
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 2);
  X509_gmtime_adj(X509_getm_notBefore(cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_issuer_name(cert, X509_get_subject_name(cert));
  X509_set_pubkey(cert, key);
  X509_sign(cert, key, EVP_sha256());
  REQUIRE(SSL_use_certificate(s, cert) == 1);
  REQUIRE(SSL_use_PrivateKey(s, key) == 1);
  SocketPair sp(false);
  SSL_set_fd(c, sp.fd[0]);
  SSL_set_fd(s, sp.fd[1]);
  int accepted = -1;
  std::thread st([&] { accepted = SSL_accept(s); });
  int connected = SSL_connect(c);
  if (connected != 1) shutdown(sp.fd[0], SHUT_RDWR);
  st.join();
  REQUIRE(connected == 1);
  REQUIRE(accepted == 1);
  REQUIRE(g_psk_use_calls == (attesting ? 0 : 1));
  // The shim's re-application before the handshake left the server at 0 as well.
  REQUIRE(SSL_get_num_tickets(s) == tickets);
  REQUIRE(SSL_get_max_early_data(s) == early);
  SSL_free(c);
  SSL_free(s);
  X509_free(cert);
  EVP_PKEY_free(key);
  SSL_CTX_free(cctx);
  SSL_CTX_free(sctx);
}

std::atomic<int> g_sess_new_calls{0};
int count_sess_new(SSL*, SSL_SESSION*) {
  ++g_sess_new_calls;
  return 0;  // not kept: libssl frees it
}

TEST_CASE(
    "issue 11 items 1-2: a server of an attesting process that calls SSL_new_session_ticket "
    "after the exchange sends no NewSessionTicket",
    "[shim]") {
  Fixture f;
  const bool attesting = GENERATE(true, false);
  INFO("attesting " << attesting);
  g_opt.session_allowed = attesting ? 0 : 1;
  register_fake();
  g_sess_new_calls = 0;
  const Contexts& ctx = contexts();
  SSL_CTX* cctx = SSL_CTX_new(TLS_client_method());
  REQUIRE(cctx != nullptr);
  SSL_CTX_set_min_proto_version(cctx, TLS1_3_VERSION);
  SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_session_cache_mode(cctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(cctx, count_sess_new);
  SocketPair sp(false);
  SSL* c = SSL_new(cctx);
  SSL* s = SSL_new(ctx.server);
  SSL_set_fd(c, sp.fd[0]);
  SSL_set_fd(s, sp.fd[1]);
  SSL_set_num_tickets(s, 0);  // only the explicit ticket below, in both runs
  int accepted = -1, ticket = -1, written = -1;
  std::thread st([&] {
    accepted = SSL_accept(s);
    if (accepted != 1) return;
    ticket = SSL_new_session_ticket(s);
    written = SSL_write(s, "x", 1);  // sends the queued ticket, then the byte
  });
  int connected = SSL_connect(c);
  char byte = 0;
  int got = connected == 1 ? SSL_read(c, &byte, 1) : -1;
  if (got != 1) shutdown(sp.fd[0], SHUT_RDWR);
  st.join();
  INFO("client errors: " << drain_errors_with_data());
  REQUIRE(connected == 1);
  REQUIRE(accepted == 1);
  require_exchange_ran(1);
  // The application sees success either way (PROTOCOL.md §5: no tickets on attested
  // connections; the shim makes the call a no-op rather than an error).
  REQUIRE(ticket == 1);
  REQUIRE(written == 1);
  REQUIRE(got == 1);
  REQUIRE(byte == 'x');
  REQUIRE(g_sess_new_calls == (attesting ? 0 : 1));
  REQUIRE(g_violations == 0);
  SSL_free(c);
  SSL_free(s);
  SSL_CTX_free(cctx);
}
