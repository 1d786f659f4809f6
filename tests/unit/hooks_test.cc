// Unit tests for provider/hooks: the tls_flags extension (PROTOCOL.md §2) in real in-memory
// TLS handshakes, with the SSL_CTX ex_data constructor installed by hooks::init.
#include "hooks.h"

#include <openssl/err.h>

#include <algorithm>
#include <string>
#include <vector>

#include "config.h"
#include "errors.h"
#include "test_support.h"
#include "tls_pair.h"
#include "wire/wire.h"

using exattest::Bytes;
using exattest::ByteView;
using exattest::Config;
using exattest::Reason;
using exattest::test::from_hex;
using exattest::test::PairOptions;
using exattest::test::TlsPair;
namespace hooks = exattest::hooks;

namespace {

constexpr uint16_t kExt = 62;
const char* const kFlags6465 = "09 00 00 00 00 00 00 00 00 03";

Config active_config() {
  Config c;
  c.request = Config::Request::kRequire;
  c.attest = Config::Attest::kTpm2;
  c.policy = "/nonexistent/policy.json";  // never read by the hooks
  return c;
}

// Everything one side wrote or read, as libssl reports it (handshake messages in clear).
struct Transcript {
  std::vector<Bytes> sent_handshake;
  std::vector<Bytes> received_handshake;
  std::vector<uint8_t> sent_alerts;  // AlertDescription values

  const Bytes* sent(uint8_t type) const {
    for (const auto& m : sent_handshake)
      if (!m.empty() && m[0] == type) return &m;
    return nullptr;
  }
  const Bytes* received(uint8_t type) const {
    for (const auto& m : received_handshake)
      if (!m.empty() && m[0] == type) return &m;
    return nullptr;
  }
  int count_received(uint8_t type) const {
    return static_cast<int>(
        std::count_if(received_handshake.begin(), received_handshake.end(),
                      [&](const Bytes& m) { return !m.empty() && m[0] == type; }));
  }
};

void on_msg(int write_p, int version, int content_type, const void* buf, size_t len, SSL* ssl,
            void* arg) {
  auto* t = static_cast<Transcript*>(arg);
  const auto* p = static_cast<const uint8_t*>(buf);
  if (content_type == SSL3_RT_HANDSHAKE) {
    (write_p ? t->sent_handshake : t->received_handshake).emplace_back(p, p + len);
  } else if (content_type == SSL3_RT_ALERT && write_p && len == 2) {
    t->sent_alerts.push_back(p[1]);
  }
}

void record(SSL* ssl, Transcript& t) {
  SSL_set_msg_callback(ssl, on_msg);
  SSL_set_msg_callback_arg(ssl, &t);
}

using Extensions = std::vector<std::pair<uint16_t, Bytes>>;

// The extensions of a ClientHello (type 1) or EncryptedExtensions (type 8) message.
Extensions extensions_of(const Bytes& msg) {
  exattest::wire::Reader r{exattest::view(msg)};
  uint8_t type;
  exattest::wire::Reader body;
  REQUIRE(r.u8(type));
  REQUIRE(r.prefixed_u24(body));
  REQUIRE(r.empty());
  if (type == SSL3_MT_CLIENT_HELLO) {
    uint16_t version;
    ByteView skip;
    exattest::wire::Reader v;
    REQUIRE(body.u16(version));
    REQUIRE(body.bytes(32, skip));
    REQUIRE(body.prefixed_u8(skip));   // legacy_session_id
    REQUIRE(body.prefixed_u16(skip));  // cipher_suites
    REQUIRE(body.prefixed_u8(skip));   // legacy_compression_methods
  } else {
    REQUIRE(type == SSL3_MT_ENCRYPTED_EXTENSIONS);
  }
  exattest::wire::Reader list;
  REQUIRE(body.prefixed_u16(list));
  REQUIRE(body.empty());
  Extensions out;
  while (!list.empty()) {
    uint16_t ext_type;
    ByteView data;
    REQUIRE(list.u16(ext_type));
    REQUIRE(list.prefixed_u16(data));
    out.emplace_back(ext_type, Bytes(data.begin(), data.end()));
  }
  return out;
}

const Bytes* find_ext(const Extensions& exts, uint16_t type) {
  for (const auto& [t, data] : exts)
    if (t == type) return &data;
  return nullptr;
}

std::vector<uint16_t> ext_types(const Extensions& exts) {
  std::vector<uint16_t> out;
  for (const auto& e : exts) out.push_back(e.first);
  return out;
}

// A pair whose contexts were created under the given hooks settings; SSLs not connected
// to a handshake yet (PairOptions.handshake = false), so callbacks can be set first.
std::unique_ptr<TlsPair> make_pair(const Config& c, bool advertise, PairOptions o = {}) {
  REQUIRE(hooks::init(c, advertise).ok());
  o.handshake = false;
  return TlsPair::make(o);
}

// An SSL_CTX like the pair's client/server one, made under the current hooks settings.
exattest::UniquePtr<SSL_CTX> plain_ctx(const SSL_METHOD* method) {
  exattest::UniquePtr<SSL_CTX> ctx(SSL_CTX_new(method));
  REQUIRE(ctx);
  REQUIRE(SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION) == 1);
  return ctx;
}

// A raw tls_flags extension with a fixed body, registered by the test itself on a context
// made while the hooks were set up without the shim (no extension of ours there), to play
// a misbehaving peer.
struct RawExt {
  Bytes body;
};

int raw_add(SSL*, unsigned int, unsigned int context, const unsigned char** out, size_t* outlen,
            X509*, size_t, int*, void* arg) {
  const auto* raw = static_cast<const RawExt*>(arg);
  *out = raw->body.data();
  *outlen = raw->body.size();
  return 1;
}

int raw_parse(SSL*, unsigned int, unsigned int, const unsigned char*, size_t, X509*, size_t, int*,
              void*) {
  return 1;
}

void add_raw_ext(SSL_CTX* ctx, RawExt* raw) {
  REQUIRE(SSL_CTX_add_custom_ext(ctx, kExt,
                                 SSL_EXT_CLIENT_HELLO | SSL_EXT_TLS1_3_ENCRYPTED_EXTENSIONS,
                                 raw_add, nullptr, raw, raw_parse, nullptr) == 1);
}

// Drives the handshake until it completes or one side fails; on failure the error queue
// still holds that side's errors (TlsPair::handshake steps the other side once more, and
// libssl clears the queue when a handshake step starts). Returns true on success.
bool handshake_keeping_errors(TlsPair& pair) {
  bool done[2] = {false, false};
  SSL* sides[2] = {pair.client.get(), pair.server.get()};
  for (int i = 0; i < 64 && !(done[0] && done[1]); ++i) {
    for (int s = 0; s < 2; ++s) {
      if (done[s]) continue;
      int r = SSL_do_handshake(sides[s]);
      if (r == 1) {
        done[s] = true;
        continue;
      }
      int e = SSL_get_error(sides[s], r);
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) return false;
    }
  }
  return done[0] && done[1];
}

bool queue_has_exattest(Reason r) {
  unsigned long e;
  bool found = false;
  while ((e = ERR_get_error()) != 0)
    if (ERR_GET_LIB(e) == exattest::error_library() && ERR_GET_REASON(e) == static_cast<int>(r))
      found = true;
  return found;
}

}  // namespace

TEST_CASE("tls_flags codec: the PROTOCOL.md §2 encoding of bits 64 and 65", "[hooks]") {
  CHECK(hooks::encode_flags({64, 65}) == from_hex(kFlags6465));
  CHECK(hooks::encode_flags({0}) == from_hex("01 01"));
  CHECK(hooks::encode_flags({7, 8}) == from_hex("02 80 01"));
  auto flags = hooks::decode_flags(exattest::view(from_hex(kFlags6465)));
  REQUIRE(flags.ok());
  CHECK(flags.value() == from_hex("00 00 00 00 00 00 00 00 03"));
  CHECK(hooks::flag_set(exattest::view(flags.value()), 64));
  CHECK(hooks::flag_set(exattest::view(flags.value()), 65));
  CHECK_FALSE(hooks::flag_set(exattest::view(flags.value()), 66));
  CHECK_FALSE(hooks::flag_set(exattest::view(flags.value()), 63));
  CHECK_FALSE(hooks::flag_set(exattest::view(flags.value()), 1000));
}

TEST_CASE("tls_flags codec rejects non-minimal and malformed bodies", "[hooks]") {
  const char* bad[] = {
      "",                                  // no flags_len
      "00",                                // empty flags
      "0a 00 00 00 00 00 00 00 00 03 00",  // trailing zero octet
      "01 00",                             // all-zero
      "02 00 00",                          // all-zero, longer
      "09 00 00",                          // flags_len larger than the body
      "01 01 ff",                          // bytes after flags
  };
  for (const char* hex : bad) {
    INFO("body " << hex);
    auto r = hooks::decode_flags(exattest::view(from_hex(hex)));
    REQUIRE_FALSE(r.ok());
    CHECK(r.reason() == Reason::kDecodeError);
  }
}

TEST_CASE("Both sides active: bits 64 and 65 negotiated, exact ClientHello bytes", "[hooks]") {
  auto pair = make_pair(active_config(), true);
  Transcript ct, st;
  pair->connect(nullptr);
  record(pair->client.get(), ct);
  record(pair->server.get(), st);
  REQUIRE(pair->handshake());

  const Bytes* ch = ct.sent(SSL3_MT_CLIENT_HELLO);
  REQUIRE(ch != nullptr);
  Extensions exts = extensions_of(*ch);
  const Bytes* body = find_ext(exts, kExt);
  REQUIRE(body != nullptr);
  CHECK(*body == from_hex(kFlags6465));
  // PROTOCOL.md §2: "Bits 64 and 65 set → 00 3e 00 0a 09 00 00 00 00 00 00 00 00 03"
  auto pos = std::search(ch->begin(), ch->end(), body->begin(), body->end());
  REQUIRE(pos - ch->begin() >= 4);
  CHECK(Bytes(pos - 4, pos + body->size()) ==
        from_hex("00 3e 00 0a 09 00 00 00 00 00 00 00 00 03"));

  const Bytes* ee = ct.received(SSL3_MT_ENCRYPTED_EXTENSIONS);
  REQUIRE(ee != nullptr);
  Extensions ee_exts = extensions_of(*ee);
  const Bytes* echo = find_ext(ee_exts, kExt);
  REQUIRE(echo != nullptr);
  CHECK(*echo == from_hex(kFlags6465));

  for (SSL* s : {pair->client.get(), pair->server.get()}) {
    CHECK(hooks::negotiated(s, 64));
    CHECK(hooks::negotiated(s, 65));
    CHECK_FALSE(hooks::negotiated(s, 66));
    CHECK(hooks::peer_sent_flags(s));
  }
}

TEST_CASE("Configured code points are used on the wire", "[hooks]") {
  Config c = active_config();
  c.tls_flags_ext = 0xfe01;
  c.flag_cmw = 3;
  c.flag_inband = 12;
  auto pair = make_pair(c, true);
  Transcript ct;
  pair->connect(nullptr);
  record(pair->client.get(), ct);
  REQUIRE(pair->handshake());
  Extensions exts = extensions_of(*ct.sent(SSL3_MT_CLIENT_HELLO));
  CHECK(find_ext(exts, kExt) == nullptr);
  const Bytes* body = find_ext(exts, 0xfe01);
  REQUIRE(body != nullptr);
  CHECK(*body == from_hex("02 08 10"));
  CHECK(hooks::negotiated(pair->client.get(), 3));
  CHECK(hooks::negotiated(pair->server.get(), 12));
  CHECK_FALSE(hooks::negotiated(pair->server.get(), 64));
}

TEST_CASE("Inactive or driverless processes send no extension at all", "[hooks]") {
  // Reference: the ClientHello extension types of an active client.
  auto active = make_pair(active_config(), true);
  Transcript at;
  active->connect(nullptr);
  record(active->client.get(), at);
  REQUIRE(active->handshake());
  std::vector<uint16_t> with_flags = ext_types(extensions_of(*at.sent(SSL3_MT_CLIENT_HELLO)));
  std::vector<uint16_t> without_flags = with_flags;
  without_flags.erase(std::remove(without_flags.begin(), without_flags.end(), kExt),
                      without_flags.end());
  REQUIRE(without_flags.size() + 1 == with_flags.size());

  struct Case {
    const char* name;
    Config config;
    bool advertise;
  };
  Config off;  // request = off, attest = none
  Config attest_only;
  attest_only.attest = Config::Attest::kTpm2;
  for (const Case& k : {Case{"request=off attest=none, shim present", off, true},
                        Case{"active config, no shim", active_config(), false},
                        Case{"attest=tpm2 only, no shim", attest_only, false}}) {
    INFO(k.name);
    auto pair = make_pair(k.config, k.advertise);
    Transcript ct, st;
    pair->connect(nullptr);
    record(pair->client.get(), ct);
    record(pair->server.get(), st);
    REQUIRE(pair->handshake());
    // PROTOCOL.md §2: "A process whose configuration is off sends nothing: its handshakes
    // stay byte-for-byte unchanged." Same extension list as without exattest.
    Extensions exts = extensions_of(*ct.sent(SSL3_MT_CLIENT_HELLO));
    CHECK(find_ext(exts, kExt) == nullptr);
    CHECK(ext_types(exts) == without_flags);
    CHECK(find_ext(extensions_of(*ct.received(SSL3_MT_ENCRYPTED_EXTENSIONS)), kExt) == nullptr);
    CHECK_FALSE(hooks::negotiated(pair->client.get(), 64));
    CHECK_FALSE(hooks::negotiated(pair->server.get(), 64));
    CHECK_FALSE(hooks::peer_sent_flags(pair->server.get()));
  }
}

TEST_CASE("An attesting server with an inactive client: nothing echoed", "[hooks]") {
  auto pair = make_pair(active_config(), true);
  REQUIRE(hooks::init(Config{}, true).ok());
  pair->client_ctx = plain_ctx(TLS_client_method());
  Transcript ct;
  pair->connect(nullptr);
  record(pair->client.get(), ct);
  REQUIRE(pair->handshake());
  CHECK(find_ext(extensions_of(*ct.sent(SSL3_MT_CLIENT_HELLO)), kExt) == nullptr);
  CHECK(find_ext(extensions_of(*ct.received(SSL3_MT_ENCRYPTED_EXTENSIONS)), kExt) == nullptr);
  CHECK_FALSE(hooks::negotiated(pair->server.get(), 64));
  CHECK_FALSE(hooks::peer_sent_flags(pair->server.get()));
}

TEST_CASE("TLS 1.2: the server does not echo, nothing is negotiated", "[hooks]") {
  auto pair = make_pair(active_config(), true);
  REQUIRE(SSL_CTX_set_max_proto_version(pair->server_ctx.get(), TLS1_2_VERSION) == 1);
  Transcript ct;
  pair->connect(nullptr);
  record(pair->client.get(), ct);
  REQUIRE(pair->handshake());
  REQUIRE(SSL_version(pair->client.get()) == TLS1_2_VERSION);
  // The client offered (it supports 1.3), the 1.2 server ignored it.
  CHECK(find_ext(extensions_of(*ct.sent(SSL3_MT_CLIENT_HELLO)), kExt) != nullptr);
  CHECK(ct.received(SSL3_MT_ENCRYPTED_EXTENSIONS) == nullptr);
  for (SSL* s : {pair->client.get(), pair->server.get()}) {
    CHECK_FALSE(hooks::negotiated(s, 64));
    CHECK_FALSE(hooks::negotiated(s, 65));
  }
  CHECK_FALSE(hooks::peer_sent_flags(pair->server.get()));
}

TEST_CASE("A client limited to TLS 1.2 does not send the extension", "[hooks]") {
  PairOptions o;
  o.max_version = TLS1_2_VERSION;
  auto pair = make_pair(active_config(), true, o);
  Transcript ct;
  pair->connect(nullptr);
  record(pair->client.get(), ct);
  REQUIRE(pair->handshake());
  CHECK(find_ext(extensions_of(*ct.sent(SSL3_MT_CLIENT_HELLO)), kExt) == nullptr);
}

TEST_CASE("Negotiated connections get no NewSessionTicket, plain ones do", "[hooks]") {
  PairOptions o;
  o.num_tickets = 2;
  SECTION("negotiated: 0 tickets") {
    auto pair = make_pair(active_config(), true, o);
    Transcript ct;
    pair->connect(nullptr);
    record(pair->client.get(), ct);
    REQUIRE(pair->handshake());
    REQUIRE(hooks::negotiated(pair->client.get(), 64));
    (void)pair->client_session();  // reads whatever the server sent after Finished
    CHECK(ct.count_received(SSL3_MT_NEWSESSION_TICKET) == 0);
  }
  SECTION("control, not negotiated: the server's 2 tickets arrive") {
    auto pair = make_pair(active_config(), true, o);
    REQUIRE(hooks::init(Config{}, true).ok());
    pair->client_ctx = plain_ctx(TLS_client_method());
    Transcript ct;
    pair->connect(nullptr);
    record(pair->client.get(), ct);
    REQUIRE(pair->handshake());
    (void)pair->client_session();
    CHECK(ct.count_received(SSL3_MT_NEWSESSION_TICKET) == 2);
  }
}

TEST_CASE("A resumed session is not echoed", "[hooks]") {
  PairOptions o;
  o.num_tickets = 1;
  o.client_verifies = false;
  auto pair = make_pair(active_config(), true, o);  // attesting server
  // A ticket from a connection that did not negotiate (client not opted in).
  REQUIRE(hooks::init(Config{}, true).ok());
  auto active_client = std::move(pair->client_ctx);
  pair->client_ctx = plain_ctx(TLS_client_method());
  pair->connect(nullptr);
  REQUIRE(pair->handshake());
  auto session = pair->client_session();
  REQUIRE(session);
  REQUIRE(SSL_SESSION_is_resumable(session.get()) == 1);

  // The opted-in client resumes it.
  pair->client_ctx = std::move(active_client);
  Transcript ct;
  pair->connect(session.get());
  record(pair->client.get(), ct);
  REQUIRE(pair->handshake());
  REQUIRE(SSL_session_reused(pair->client.get()) == 1);
  CHECK(find_ext(extensions_of(*ct.sent(SSL3_MT_CLIENT_HELLO)), kExt) != nullptr);
  CHECK(find_ext(extensions_of(*ct.received(SSL3_MT_ENCRYPTED_EXTENSIONS)), kExt) == nullptr);
  CHECK_FALSE(hooks::negotiated(pair->client.get(), 64));
  CHECK_FALSE(hooks::negotiated(pair->server.get(), 64));
}

TEST_CASE("Negotiation survives a HelloRetryRequest", "[hooks]") {
  auto pair = make_pair(active_config(), true);
  REQUIRE(SSL_CTX_set1_groups_list(pair->server_ctx.get(), "P-384") == 1);
  REQUIRE(SSL_CTX_set1_groups_list(pair->client_ctx.get(), "X25519:P-384") == 1);
  Transcript ct;
  pair->connect(nullptr);
  record(pair->client.get(), ct);
  REQUIRE(pair->handshake());
  int hellos =
      static_cast<int>(std::count_if(ct.sent_handshake.begin(), ct.sent_handshake.end(),
                                     [](const Bytes& m) { return m[0] == SSL3_MT_CLIENT_HELLO; }));
  REQUIRE(hellos == 2);
  CHECK(hooks::negotiated(pair->client.get(), 65));
  CHECK(hooks::negotiated(pair->server.get(), 65));
}

TEST_CASE("Server echoes only the intersection, never 65 without 64", "[hooks]") {
  struct Case {
    const char* client_body;
    const char* echo;  // nullptr: no extension in EE
  };
  const Case cases[] = {
      {"09 00 00 00 00 00 00 00 00 02", nullptr},                          // 65 alone
      {"09 00 00 00 00 00 00 00 00 01", "09 00 00 00 00 00 00 00 00 01"},  // 64 alone
      {"09 08 00 00 00 00 00 00 00 07", kFlags6465},                       // + 3 and 66, unknown
      {"01 01", nullptr},                                                  // only an unknown flag
  };
  for (const Case& k : cases) {
    INFO("client flags " << k.client_body);
    auto pair = make_pair(active_config(), true);
    REQUIRE(hooks::init(Config{}, false).ok());
    pair->client_ctx = plain_ctx(TLS_client_method());
    RawExt raw{from_hex(k.client_body)};
    add_raw_ext(pair->client_ctx.get(), &raw);
    Transcript ct;
    pair->connect(nullptr);
    record(pair->client.get(), ct);
    REQUIRE(pair->handshake());
    Extensions ee_exts = extensions_of(*ct.received(SSL3_MT_ENCRYPTED_EXTENSIONS));
    const Bytes* echo = find_ext(ee_exts, kExt);
    if (k.echo == nullptr) {
      CHECK(echo == nullptr);
    } else {
      REQUIRE(echo != nullptr);
      CHECK(*echo == from_hex(k.echo));
    }
    CHECK(hooks::peer_sent_flags(pair->server.get()));
    CHECK(hooks::negotiated(pair->server.get(), 64) == (k.echo != nullptr));
    CHECK_FALSE(hooks::negotiated(pair->server.get(), 3));
    CHECK_FALSE(hooks::negotiated(pair->server.get(), 66));
  }
}

TEST_CASE("A malformed ClientHello extension is illegal_parameter", "[hooks]") {
  const char* bodies[] = {
      "",                                  // empty extension
      "00",                                // empty flags
      "0a 00 00 00 00 00 00 00 00 03 00",  // trailing zero octet
      "09 00 00 00 00 00 00 00 00 00",     // all-zero
      "0a 00 00 00 00 00 00 00 00 03",     // flags_len 10, 9 octets follow
      "01 01 01",                          // trailing byte
  };
  for (const char* hex : bodies) {
    INFO("ClientHello tls_flags body \"" << hex << "\"");
    auto pair = make_pair(active_config(), true);
    REQUIRE(hooks::init(Config{}, false).ok());
    pair->client_ctx = plain_ctx(TLS_client_method());
    RawExt raw{from_hex(hex)};
    add_raw_ext(pair->client_ctx.get(), &raw);
    Transcript st;
    ERR_clear_error();
    pair->connect(nullptr);
    record(pair->server.get(), st);
    CHECK_FALSE(handshake_keeping_errors(*pair));
    CHECK(st.sent_alerts == std::vector<uint8_t>{SSL_AD_ILLEGAL_PARAMETER});
    CHECK(queue_has_exattest(Reason::kDecodeError));
    CHECK_FALSE(hooks::negotiated(pair->server.get(), 64));
  }
}

TEST_CASE("A bad EncryptedExtensions echo is illegal_parameter at the client", "[hooks]") {
  const char* bodies[] = {
      "",                                  // empty extension
      "00",                                // empty flags
      "0a 00 00 00 00 00 00 00 00 03 00",  // trailing zero octet
      "09 00 00 00 00 00 00 00 00 00",     // all-zero
      "05 00 00 00 00",                    // all-zero
      "09 00 00 00 00 00 00 00 00",        // length mismatch
      "09 00 00 00 00 00 00 00 00 07",     // bit 66: the client did not send it
      "01 01",                             // bit 0: the client did not send it
      "09 00 00 00 00 00 00 00 00 02",     // 65 without 64
  };
  for (const char* hex : bodies) {
    INFO("EncryptedExtensions tls_flags body \"" << hex << "\"");
    auto pair = make_pair(Config{}, false);  // server without the shim: no hooks
    RawExt raw{from_hex(hex)};
    add_raw_ext(pair->server_ctx.get(), &raw);
    REQUIRE(hooks::init(active_config(), true).ok());
    pair->client_ctx = plain_ctx(TLS_client_method());
    Transcript ct;
    ERR_clear_error();
    pair->connect(nullptr);
    record(pair->client.get(), ct);
    CHECK_FALSE(handshake_keeping_errors(*pair));
    CHECK(ct.sent_alerts == std::vector<uint8_t>{SSL_AD_ILLEGAL_PARAMETER});
    CHECK(queue_has_exattest(Reason::kDecodeError));
    CHECK_FALSE(hooks::negotiated(pair->client.get(), 64));
  }
}

TEST_CASE("A reused server SSL forgets the previous handshake's flags", "[hooks]") {
  auto pair = make_pair(active_config(), true);
  pair->connect(nullptr);
  REQUIRE(pair->handshake());
  REQUIRE(hooks::negotiated(pair->server.get(), 64));

  // Same server SSL object, new handshake with a client that does not opt in.
  REQUIRE(hooks::init(Config{}, true).ok());
  auto plain = plain_ctx(TLS_client_method());
  SSL_shutdown(pair->client.get());
  REQUIRE(SSL_clear(pair->server.get()) == 1);
  pair->client.reset(SSL_new(plain.get()));
  BIO* a = nullptr;
  BIO* b = nullptr;
  REQUIRE(BIO_new_bio_pair(&a, 0, &b, 0) == 1);
  SSL_set_bio(pair->client.get(), a, a);
  SSL_set_bio(pair->server.get(), b, b);
  SSL_set_connect_state(pair->client.get());
  SSL_set_accept_state(pair->server.get());
  REQUIRE(pair->handshake());
  CHECK_FALSE(hooks::negotiated(pair->server.get(), 64));
  CHECK_FALSE(hooks::peer_sent_flags(pair->server.get()));
}
