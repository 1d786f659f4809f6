// PROTOCOL.md §2: the tls_flags extension, added to every SSL_CTX from an ex_data
// constructor, and the per-connection record of what was negotiated.
#include "hooks.h"

#include <openssl/err.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <forward_list>
#include <mutex>
#include <new>
#include <string>

#include "errors.h"
#include "wire/wire.h"

namespace exattest::hooks {
namespace {

// What the extension callbacks need; one immutable snapshot per init() call.
struct Settings {
  bool advertise = false;
  bool active = false;
  uint16_t ext_type = 62;
  unsigned flag_cmw = 64;
  unsigned flag_inband = 65;
  // Non-empty: fail every handshake with this not_negotiated detail (refuse_all).
  std::string refuse;
};

// The callbacks' arg points at a Settings that every SSL made from the SSL_CTX keeps
// using, for as long as it lives; OpenSSL gives no hook to release it. So snapshots are
// never freed (one per init() call: once per process in production), and stay reachable
// from this list so leak checkers do not report them.
std::forward_list<Settings>& all_settings() {
  static auto* list = new std::forward_list<Settings>;
  return *list;
}

std::mutex g_mu;  // init()
std::atomic<const Settings*> g_settings{nullptr};
std::atomic<int> g_ssl_index{-1};
int g_ctx_index = -1;

// The handshake a record belongs to: an SSL object can be reused (SSL_clear) for a new
// handshake, and the server gets no callback when a later ClientHello lacks the extension.
// The client random is fixed before any extension callback runs and survives a
// HelloRetryRequest, so it identifies the handshake.
using HandshakeId = std::array<uint8_t, SSL3_RANDOM_SIZE>;

HandshakeId handshake_id(const SSL* ssl) {
  HandshakeId id{};
  SSL_get_client_random(ssl, id.data(), id.size());
  return id;
}

struct ConnState {
  HandshakeId id{};
  Bytes sent;  // flags[] this side sent (client: ClientHello; server: EE)
  Bytes peer;  // flags[] the peer sent
  bool peer_sent = false;
  Bytes negotiated;  // flags[] both sides set
};

ConnState* raw_state(const SSL* ssl) {
  int idx = g_ssl_index.load(std::memory_order_acquire);
  if (idx < 0) return nullptr;
  return static_cast<ConnState*>(SSL_get_ex_data(ssl, idx));
}

// This handshake's record, or null (none, or one left from an earlier handshake).
const ConnState* current_state(const SSL* ssl) {
  const ConnState* st = raw_state(ssl);
  if (st == nullptr || st->id != handshake_id(ssl)) return nullptr;
  return st;
}

// This handshake's record, created or restarted as needed; null when out of memory.
ConnState* begin_state(SSL* ssl) {
  ConnState* st = raw_state(ssl);
  if (st == nullptr) {
    st = new (std::nothrow) ConnState;
    if (st == nullptr) return nullptr;
    if (!SSL_set_ex_data(ssl, g_ssl_index.load(std::memory_order_acquire), st)) {
      delete st;
      return nullptr;
    }
  }
  HandshakeId id = handshake_id(ssl);
  if (st->id != id) {
    *st = ConnState{};
    st->id = id;
  }
  return st;
}

// The rule of docs/protocol-notes.md "Tickets, resumption and early data": a process whose
// configuration requests or offers attestation, with the shim present, issues no ticket and
// accepts no early data on ANY connection, negotiated or not. A plain connection's ticket
// would let its client resume and send 0-RTT data that the server application reads before
// any handshake completes, i.e. before the exchange could refuse it (PROTOCOL.md §5: "neither
// side resumes or uses 0-RTT"). SSL_OP_NO_TICKET also makes a TLS 1.3 server look PSK
// identities up in its session cache instead of decrypting them, and nothing reaches that
// cache without a ticket. The shim holds the values against an application that raises them
// again (SSL_CTX_set_num_tickets, SSL_set_max_early_data, ...).
bool attesting(const Settings* s) { return s != nullptr && s->advertise && s->active; }

// SSL_OP_NO_TICKET only on a server SSL (ssl_new): on a client it would drop the TLS 1.2
// session_ticket extension and change the ClientHello of every handshake.
void deny_tickets_and_early_data(SSL_CTX* ctx) {
  SSL_CTX_set_num_tickets(ctx, 0);
  SSL_CTX_set_max_early_data(ctx, 0);
}

// SSL ex_data constructor: runs inside SSL_new after libssl copied the SSL_CTX's ticket and
// early-data settings into the SSL, so an SSL_CTX the application configured after
// SSL_CTX_new (s_server -early_data, nginx ssl_early_data on) still yields a denying SSL.
void ssl_new(void* parent, void* ptr, CRYPTO_EX_DATA* ad, int idx, long argl, void* argp) noexcept {
  auto* ssl = static_cast<SSL*>(parent);
  if (ssl == nullptr || !attesting(g_settings.load(std::memory_order_acquire))) return;
  if (SSL_is_server(ssl)) SSL_set_options(ssl, SSL_OP_NO_TICKET);
  SSL_set_num_tickets(ssl, 0);
  SSL_set_max_early_data(ssl, 0);
}

void ssl_free(void* parent, void* ptr, CRYPTO_EX_DATA* ad, int idx, long argl,
              void* argp) noexcept {
  delete static_cast<ConnState*>(ptr);
}

// CRYPTO_dup_ex_data copies the pointer into the duplicate after this returns: give the
// duplicate its own copy, or both SSLs would free the same record.
int ssl_dup(CRYPTO_EX_DATA* to, const CRYPTO_EX_DATA* from, void** from_d, int idx, long argl,
            void* argp) noexcept {
  auto* src = static_cast<ConnState*>(*from_d);
  if (src == nullptr) return 1;
  try {
    *from_d = new ConnState(*src);
    return 1;
  } catch (...) {
    *from_d = nullptr;
    return 0;
  }
}

// flags[] with trailing zero octets removed (PROTOCOL.md §2 "no trailing zero octet").
void trim(Bytes& flags) {
  while (!flags.empty() && flags.back() == 0) flags.pop_back();
}

Bytes intersect(ByteView a, ByteView b) {
  Bytes out(std::min(a.size(), b.size()));
  for (size_t i = 0; i < out.size(); ++i) out[i] = a[i] & b[i];
  trim(out);
  return out;
}

// `flags_len(1) | flags` as a malloc'ed buffer for OpenSSL (freed by ext_free).
int emit(ByteView flags, const unsigned char** out, size_t* outlen) {
  auto* buf = static_cast<unsigned char*>(OPENSSL_malloc(flags.size() + 1));
  if (buf == nullptr) return 0;
  buf[0] = static_cast<unsigned char>(flags.size());
  std::copy(flags.begin(), flags.end(), buf + 1);
  *out = buf;
  *outlen = flags.size() + 1;
  return 1;
}

Bytes own_flags(const Settings& s) {
  Bytes body = encode_flags({s.flag_cmw, s.flag_inband});
  return Bytes(body.begin() + 1, body.end());
}

int client_add_hello(SSL* ssl, const Settings& s, const unsigned char** out, size_t* outlen,
                     int* al) {
  // PROTOCOL.md §2: "sends the extension in ClientHello only when its configuration asks
  // for or offers attestation AND the in-band driver ... is present".
  if (!s.advertise || !s.active) return 0;
  ConnState* st = begin_state(ssl);
  Bytes flags = own_flags(s);
  if (st == nullptr || !emit(flags, out, outlen)) {
    *al = SSL_AD_INTERNAL_ERROR;
    return -1;
  }
  st->sent = std::move(flags);
  return 1;
}

int server_add_ee(SSL* ssl, const Settings& s, const unsigned char** out, size_t* outlen, int* al) {
  ConnState* st = raw_state(ssl);
  if (st == nullptr || st->id != handshake_id(ssl) || !st->peer_sent) return 0;
  // PROTOCOL.md §2: "echoes ... only if TLS 1.3 was negotiated and the session is not
  // resumed". 0-RTT needs a resumed session, so an echoed connection never carries early
  // data; the last test is a guard should a future libssl accept it otherwise.
  if (SSL_version(ssl) != TLS1_3_VERSION || SSL_session_reused(ssl) ||
      SSL_get_early_data_status(ssl) == SSL_EARLY_DATA_ACCEPTED)
    return 0;
  // "the intersection of the client's flags and its own ... It never sends a flag the
  // client did not send."
  Bytes echo = intersect(view(st->peer), view(own_flags(s)));
  // "a server never echoes 65 without 64": without the CMW flag nothing is in common.
  if (!flag_set(view(echo), s.flag_cmw)) return 0;
  if (!emit(view(echo), out, outlen)) {
    *al = SSL_AD_INTERNAL_ERROR;
    return -1;
  }
  // PROTOCOL.md §5: "Connections with §5 in effect: the server sends no NewSessionTicket".
  // libssl reads num_tickets after the client's Finished, so setting it now takes effect.
  SSL_set_num_tickets(ssl, 0);
  st->sent = echo;
  st->negotiated = std::move(echo);
  return 1;
}

int server_parse_hello(SSL* ssl, const unsigned char* in, size_t inlen, int* al) {
  Result<Bytes> flags = decode_flags(ByteView(in, inlen));
  if (!flags.ok()) {
    // PROTOCOL.md §2: "A malformed extension (rules above) is `illegal_parameter`."
    raise_error(Reason::kDecodeError, "tls_flags in the ClientHello: " + flags.error().detail);
    *al = SSL_AD_ILLEGAL_PARAMETER;
    return 0;
  }
  ConnState* st = begin_state(ssl);
  if (st == nullptr) {
    *al = SSL_AD_INTERNAL_ERROR;
    return 0;
  }
  st->peer_sent = true;
  st->peer = std::move(flags.value());
  st->negotiated.clear();
  return 1;
}

int client_parse_ee(SSL* ssl, const Settings& s, const unsigned char* in, size_t inlen, int* al) {
  ConnState* st = raw_state(ssl);
  // libssl already rejects an EE extension the ClientHello did not carry; this also
  // covers a record left from an earlier handshake on a reused SSL.
  if (st == nullptr || st->id != handshake_id(ssl) || st->sent.empty()) {
    *al = SSL_AD_UNSUPPORTED_EXTENSION;
    return 0;
  }
  Result<Bytes> flags = decode_flags(ByteView(in, inlen));
  if (!flags.ok()) {
    raise_error(Reason::kDecodeError, "tls_flags from the server: " + flags.error().detail);
    *al = SSL_AD_ILLEGAL_PARAMETER;
    return 0;
  }
  const Bytes& echo = flags.value();
  // PROTOCOL.md §2: the server "never sends a flag the client did not send".
  if (intersect(view(echo), view(st->sent)) != echo) {
    raise_error(Reason::kDecodeError, "tls_flags from the server: a flag the client did not send");
    *al = SSL_AD_ILLEGAL_PARAMETER;
    return 0;
  }
  // "a server never echoes 65 without 64": a server that does is broken; fail closed.
  if (flag_set(view(echo), s.flag_inband) && !flag_set(view(echo), s.flag_cmw)) {
    raise_error(Reason::kDecodeError,
                "tls_flags from the server: in-band flag without the CMW flag");
    *al = SSL_AD_ILLEGAL_PARAMETER;
    return 0;
  }
  st->peer_sent = true;
  st->peer = echo;
  st->negotiated = echo;
  return 1;
}

int ext_add(SSL* ssl, unsigned int ext_type, unsigned int context, const unsigned char** out,
            size_t* outlen, X509* x, size_t chainidx, int* al, void* arg) noexcept {
  try {
    const auto& s = *static_cast<const Settings*>(arg);
    if ((context & SSL_EXT_CLIENT_HELLO) != 0 && !SSL_is_server(ssl))
      return client_add_hello(ssl, s, out, outlen, al);
    if ((context & SSL_EXT_TLS1_3_ENCRYPTED_EXTENSIONS) != 0 && SSL_is_server(ssl))
      return server_add_ee(ssl, s, out, outlen, al);
    return 0;
  } catch (...) {
    *al = SSL_AD_INTERNAL_ERROR;
    return -1;
  }
}

void ext_free(SSL* ssl, unsigned int ext_type, unsigned int context, const unsigned char* out,
              void* arg) noexcept {
  OPENSSL_free(const_cast<unsigned char*>(out));
}

int ext_parse(SSL* ssl, unsigned int ext_type, unsigned int context, const unsigned char* in,
              size_t inlen, X509* x, size_t chainidx, int* al, void* arg) noexcept {
  try {
    const auto& s = *static_cast<const Settings*>(arg);
    if ((context & SSL_EXT_CLIENT_HELLO) != 0 && SSL_is_server(ssl))
      return server_parse_hello(ssl, in, inlen, al);
    if ((context & SSL_EXT_TLS1_3_ENCRYPTED_EXTENSIONS) != 0 && !SSL_is_server(ssl))
      return client_parse_ee(ssl, s, in, inlen, al);
    return 1;
  } catch (...) {
    *al = SSL_AD_INTERNAL_ERROR;
    return 0;
  }
}

// PROTOCOL.md §1 "TLS 1.3 only": TLS1_3_ONLY keeps the extension out of a ClientHello
// whose highest version is below 1.3 and makes a server ignore it unless 1.3 was
// negotiated. TLS_IMPLEMENTATION_ONLY: never over DTLS. IGNORE_ON_RESUMPTION: a resumed
// session never negotiates (§2 "the session is not resumed"); server_add_ee checks again.
constexpr unsigned kContext = SSL_EXT_TLS_IMPLEMENTATION_ONLY | SSL_EXT_TLS1_3_ONLY |
                              SSL_EXT_CLIENT_HELLO | SSL_EXT_TLS1_3_ENCRYPTED_EXTENSIONS |
                              SSL_EXT_IGNORE_ON_RESUMPTION;

// Issue #11 item 3: this process's SSL functions bypass the shim (exattest_shim.h,
// exattest_shim_bypassed) and request = require: nothing can be attested, so every
// handshake on an SSL_CTX the provider sees fails, with the reason in the error queue. As a
// client from the ClientHello extension callback (any version: no TLS1_3_ONLY), as a server
// from a ClientHello callback (custom extensions are only called for what the client sent).
// An application that installs its own ClientHello callback replaces ours; the shim has
// already refused to start such a process unless the operator set EXATTEST_ALLOW_BYPASS=1.
int refuse_add(SSL* ssl, unsigned int ext_type, unsigned int context, const unsigned char** out,
               size_t* outlen, X509* x, size_t chainidx, int* al, void* arg) noexcept {
  if (SSL_is_server(ssl)) return 0;
  raise_error(Reason::kNotNegotiated, static_cast<const Settings*>(arg)->refuse);
  *al = SSL_AD_INTERNAL_ERROR;
  return -1;
}

int refuse_hello(SSL* ssl, int* al, void* arg) noexcept {
  raise_error(Reason::kNotNegotiated, static_cast<const Settings*>(arg)->refuse);
  *al = SSL_AD_INTERNAL_ERROR;
  return SSL_CLIENT_HELLO_ERROR;
}

void refuse_all(SSL_CTX* ctx, const Settings* s) {
  auto* arg = const_cast<Settings*>(s);
  ERR_set_mark();
  SSL_CTX_add_custom_ext(ctx, s->ext_type, SSL_EXT_TLS_IMPLEMENTATION_ONLY | SSL_EXT_CLIENT_HELLO,
                         refuse_add, nullptr, arg, nullptr, nullptr);
  ERR_pop_to_mark();
  SSL_CTX_set_client_hello_cb(ctx, refuse_hello, arg);
}

// Runs inside SSL_CTX_new of every application, after the SSL_CTX (and its cert, which
// holds the custom extensions) is set up.
void ctx_new(void* parent, void* ptr, CRYPTO_EX_DATA* ad, int idx, long argl, void* argp) noexcept {
  auto* ctx = static_cast<SSL_CTX*>(parent);
  const Settings* s = g_settings.load(std::memory_order_acquire);
  // Without the driver nothing is added. With it, the extension is registered even when
  // this process neither asks nor answers: as a server it must still understand a client's
  // offer, so that `attest = none` answers with a refusal (the requiring peer then sees
  // no_evidence, PROTOCOL.md §8) instead of looking like a peer without exattest. As a
  // client an inactive process sends nothing (client_add_hello), and a server only echoes
  // what a client sent, so PROTOCOL.md §2 "A process whose configuration is off sends
  // nothing" still holds byte for byte.
  if (ctx != nullptr && s != nullptr && !s->refuse.empty()) return refuse_all(ctx, s);
  if (ctx == nullptr || s == nullptr || !s->advertise) return;
  if (attesting(s)) deny_tickets_and_early_data(ctx);
  auto* arg = const_cast<Settings*>(s);
  // Fails only if the application registered the same extension type itself; then this
  // context stays plain, and no error is left behind in the application's queue.
  ERR_set_mark();
  SSL_CTX_add_custom_ext(ctx, s->ext_type, kContext, ext_add, ext_free, arg, ext_parse, arg);
  ERR_pop_to_mark();
}

}  // namespace

Bytes encode_flags(std::initializer_list<unsigned> bits) {
  Bytes flags;
  for (unsigned n : bits) {
    if (flags.size() <= n / 8) flags.resize(n / 8 + 1, 0);
    flags[n / 8] |= static_cast<uint8_t>(1u << (n % 8));
  }
  Bytes body;
  body.reserve(flags.size() + 1);
  body.push_back(static_cast<uint8_t>(flags.size()));
  body.insert(body.end(), flags.begin(), flags.end());
  return body;
}

Result<Bytes> decode_flags(ByteView body) {
  // PROTOCOL.md §2: "flags_len(1) | flags[flags_len] ... minimal: no trailing zero octet,
  // never empty, never all-zero."
  wire::Reader r(body);
  ByteView flags;
  if (!r.prefixed_u8(flags) || !r.empty())
    return make_error(Reason::kDecodeError, "flags_len does not match the extension length");
  if (flags.empty()) return make_error(Reason::kDecodeError, "empty flags");
  if (std::all_of(flags.begin(), flags.end(), [](uint8_t b) { return b == 0; }))
    return make_error(Reason::kDecodeError, "all-zero flags");
  if (flags.back() == 0)
    return make_error(Reason::kDecodeError, "not minimal (trailing zero octet)");
  return Bytes(flags.begin(), flags.end());
}

bool flag_set(ByteView flags, unsigned n) {
  // PROTOCOL.md §2: "flag n is bit (n mod 8), counted from the least significant bit, of
  // octet n/8".
  return n / 8 < flags.size() && (flags[n / 8] >> (n % 8) & 1) != 0;
}

Status init(const Config& config, bool advertise, const std::string& refuse) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_ctx_index < 0) {
    int ssl_index = SSL_get_ex_new_index(0, nullptr, ssl_new, ssl_dup, ssl_free);
    if (ssl_index < 0)
      return make_error(Reason::kProtocolError, "cannot register the SSL ex_data index");
    g_ssl_index.store(ssl_index, std::memory_order_release);
    int ctx_index = SSL_CTX_get_ex_new_index(0, nullptr, ctx_new, nullptr, nullptr);
    if (ctx_index < 0)
      return make_error(Reason::kProtocolError, "cannot register the SSL_CTX ex_data index");
    g_ctx_index = ctx_index;
  }
  Settings s;
  s.advertise = advertise;
  s.refuse = refuse;
  s.active = config.active();
  s.ext_type = config.tls_flags_ext;
  s.flag_cmw = config.flag_cmw;
  s.flag_inband = config.flag_inband;
  all_settings().push_front(s);
  g_settings.store(&all_settings().front(), std::memory_order_release);
  return Status::Ok();
}

bool negotiated(const SSL* ssl, unsigned bit) {
  const ConnState* st = current_state(ssl);
  return st != nullptr && SSL_version(ssl) == TLS1_3_VERSION && flag_set(view(st->negotiated), bit);
}

bool peer_sent_flags(const SSL* ssl) {
  const ConnState* st = current_state(ssl);
  return st != nullptr && st->peer_sent;
}

}  // namespace exattest::hooks
