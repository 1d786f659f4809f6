// libexattest-shim.so: the LD_PRELOAD interposer that runs the in-band exchange
// (PROTOCOL.md §5) between an unmodified application's SSL calls and the provider.
//
// ARCHITECTURE.md "Why two loadable pieces": the shim wraps the data path (SSL_do_handshake,
// SSL_connect, SSL_accept, SSL_read(_ex), SSL_write(_ex), SSL_peek(_ex), SSL_sendfile,
// BIO_f_ssl) and filters SSL_set_session. It never wraps SSL_in_init, SSL_is_init_finished or
// SSL_version, does no policy and no crypto, and reaches libssl only through its public API:
// the real entry points come from dlsym(RTLD_NEXT, ...).
//
// Facts about Debian 12's libssl.so.3 (OpenSSL 3.0.19) this file relies on, checked with
// objdump: libssl reaches some of its own exported functions through the PLT, i.e. through
// these wrappers: SSL_connect and SSL_accept tail-call SSL_do_handshake; bio_ssl.c's
// BIO_C_DO_STATE_MACHINE ctrl calls SSL_do_handshake and its BIO_CTRL_RESET SSL_clear;
// BIO_new_ssl calls BIO_f_ssl; SSL_read_early_data calls SSL_accept and SSL_read_ex,
// SSL_write_early_data SSL_connect and SSL_write_ex; SSL_stateless SSL_accept and SSL_clear;
// SSL_new SSL_clear; SSL_copy_session_id SSL_set_session. Other builds (-Bsymbolic, LTO) may
// bind those calls internally, so SSL_connect and SSL_accept are wrapped themselves too. The
// SSL BIO's read and write use libssl-internal functions, never the PLT: hence the BIO_f_ssl
// wrapper. SSL_do_handshake itself calls SSL_in_init/SSL_in_before through the PLT, which is
// one reason those must never be wrapped. A thread-local depth counter sends handshake calls
// made from inside a wrapper straight to libssl; a data call made there is judged by its
// connection's state (nested_gate): libssl's own, from inside the 0-RTT functions of a process
// that does not attest, passes; the application's, from a libssl callback, passes only once
// the connection's exchange is done or when it has none.
//
// The exported names are declared by <openssl/ssl.h> without noexcept, so they cannot carry
// it; each is a one-line forwarder into noexcept code that cannot throw (no allocation that
// throws: state is allocated with new (std::nothrow), text lives in fixed buffers).

#include <dlfcn.h>
#include <errno.h>  // program_invocation_name
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <new>

#include "common/openssl_conf.h"
#include "exattest_shim.h"

#define EXATTEST_EXPORT __attribute__((visibility("default")))

namespace {

// ---------------------------------------------------------------------------------------
// Errors: the shim's own OpenSSL error library, so messages read
// "error:...:exattest shim::<reason>:<detail>".

enum ShimReason : int {
  kReasonProviderNotLoaded = 1,
  kReasonExchangeFailed = 2,
  kReasonInternal = 3,
  kReasonTooEarly = 4,
};

// The detail of the misconfiguration error. ARCHITECTURE.md: the shim without the provider
// "fails every handshake with an error that says so and names OPENSSL_CONF".
constexpr char kNoProviderDetail[] =
    "exattest shim is preloaded but the exattest provider is not loaded: set OPENSSL_CONF to "
    "a config that loads exattest.so (see conf/client.cnf or conf/server.cnf)";

int g_err_lib = 0;  // written once under g_err_once

ERR_STRING_DATA g_err_reasons[] = {
    {ERR_PACK(0, 0, kReasonProviderNotLoaded), "exattest provider not loaded"},
    {ERR_PACK(0, 0, kReasonExchangeFailed), "attestation exchange failed"},
    {ERR_PACK(0, 0, kReasonInternal), "exattest shim internal error"},
    {ERR_PACK(0, 0, kReasonTooEarly), "application data before the attestation exchange ended"},
    {0, nullptr},
};
ERR_STRING_DATA g_err_libname[] = {
    {0, "exattest shim"},
    {0, nullptr},
};

int err_lib() noexcept {
  static std::once_flag once;
  std::call_once(once, [] {
    g_err_lib = ERR_get_next_error_library();
    ERR_load_strings(g_err_lib, g_err_reasons);
    g_err_libname[0].error = ERR_PACK(g_err_lib, 0, 0);
    ERR_load_strings(g_err_lib, g_err_libname);
  });
  return g_err_lib;
}

void raise(ShimReason reason, const char* detail) noexcept {
  ERR_raise_data(err_lib(), reason, "%s", detail);
}

// ---------------------------------------------------------------------------------------
// The real libssl entry points, resolved once (C++ guarantees thread-safe initialisation of
// a function-local static).

struct Real {
  int (*do_handshake)(SSL*);
  int (*connect)(SSL*);
  int (*accept)(SSL*);
  int (*read)(SSL*, void*, int);
  int (*read_ex)(SSL*, void*, size_t, size_t*);
  int (*write)(SSL*, const void*, int);
  int (*write_ex)(SSL*, const void*, size_t, size_t*);
  int (*peek)(SSL*, void*, int);
  int (*peek_ex)(SSL*, void*, size_t, size_t*);
  ossl_ssize_t (*sendfile)(SSL*, int, off_t, size_t, int);
  int (*set_session)(SSL*, SSL_SESSION*);
  int (*clear)(SSL*);
  int (*read_early_data)(SSL*, void*, size_t, size_t*);
  int (*write_early_data)(SSL*, const void*, size_t, size_t*);
  int (*stateless)(SSL*);
  const BIO_METHOD* (*f_ssl)();
  // Tickets, resumption and early data (docs/protocol-notes.md "Tickets, resumption and
  // early data"): held at "none" in a process that attests.
  int (*ctx_set_num_tickets)(SSL_CTX*, size_t);
  int (*set_num_tickets)(SSL*, size_t);
  int (*new_session_ticket)(SSL*);
  int (*ctx_set_max_early_data)(SSL_CTX*, uint32_t);
  int (*set_max_early_data)(SSL*, uint32_t);
  void (*ctx_set_psk_use_session_cb)(SSL_CTX*, SSL_psk_use_session_cb_func);
  void (*set_psk_use_session_cb)(SSL*, SSL_psk_use_session_cb_func);
  void (*ctx_set_psk_find_session_cb)(SSL_CTX*, SSL_psk_find_session_cb_func);
  void (*set_psk_find_session_cb)(SSL*, SSL_psk_find_session_cb_func);
  void (*ctx_sess_set_get_cb)(SSL_CTX*, SSL_SESSION* (*)(SSL*, const unsigned char*, int, int*));
};

template <typename F>
void resolve(F& out, const char* name) noexcept {
  out = reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}

const Real& real() noexcept {
  static const Real r = [] {
    Real x{};
    resolve(x.do_handshake, "SSL_do_handshake");
    resolve(x.connect, "SSL_connect");
    resolve(x.accept, "SSL_accept");
    resolve(x.read, "SSL_read");
    resolve(x.read_ex, "SSL_read_ex");
    resolve(x.write, "SSL_write");
    resolve(x.write_ex, "SSL_write_ex");
    resolve(x.peek, "SSL_peek");
    resolve(x.peek_ex, "SSL_peek_ex");
    resolve(x.sendfile, "SSL_sendfile");
    resolve(x.set_session, "SSL_set_session");
    resolve(x.clear, "SSL_clear");
    resolve(x.read_early_data, "SSL_read_early_data");
    resolve(x.write_early_data, "SSL_write_early_data");
    resolve(x.stateless, "SSL_stateless");
    resolve(x.f_ssl, "BIO_f_ssl");
    resolve(x.ctx_set_num_tickets, "SSL_CTX_set_num_tickets");
    resolve(x.set_num_tickets, "SSL_set_num_tickets");
    resolve(x.new_session_ticket, "SSL_new_session_ticket");
    resolve(x.ctx_set_max_early_data, "SSL_CTX_set_max_early_data");
    resolve(x.set_max_early_data, "SSL_set_max_early_data");
    resolve(x.ctx_set_psk_use_session_cb, "SSL_CTX_set_psk_use_session_callback");
    resolve(x.set_psk_use_session_cb, "SSL_set_psk_use_session_callback");
    resolve(x.ctx_set_psk_find_session_cb, "SSL_CTX_set_psk_find_session_callback");
    resolve(x.set_psk_find_session_cb, "SSL_set_psk_find_session_callback");
    resolve(x.ctx_sess_set_get_cb, "SSL_CTX_sess_set_get_cb");
    return x;
  }();
  return r;
}

// A wrapper whose real function is missing cannot do anything safe: fail the call.
bool missing(const void* fn, const char* name) noexcept {
  if (fn != nullptr) return false;
  char detail[128];
  std::snprintf(detail, sizeof detail, "dlsym(RTLD_NEXT, \"%s\") found nothing", name);
  raise(kReasonInternal, detail);
  return true;
}

// Calls made while a wrapper (or a 0-RTT function) is on this thread's stack are libssl's or
// the provider's own: they go straight to the real function.
thread_local int t_depth = 0;

struct DepthGuard {
  DepthGuard() noexcept { ++t_depth; }
  ~DepthGuard() { --t_depth; }
  DepthGuard(const DepthGuard&) = delete;
  DepthGuard& operator=(const DepthGuard&) = delete;
};

// The connection whose real 0-RTT function (in a process that does not attest) or
// SSL_stateless is running on this thread: libssl's own nested SSL_read_ex/SSL_write_ex on
// it go straight to libssl. Every other data call made at depth > 0 is the application's,
// from inside a libssl callback, and is judged by the connection's state (nested_gate).
thread_local const SSL* t_passthrough = nullptr;

struct PassThrough {
  explicit PassThrough(const SSL* s) noexcept : saved_(t_passthrough) {
    t_passthrough = s;
    ++t_depth;
  }
  ~PassThrough() {
    --t_depth;
    t_passthrough = saved_;
  }
  PassThrough(const PassThrough&) = delete;
  PassThrough& operator=(const PassThrough&) = delete;

 private:
  const SSL* saved_;
};

// ---------------------------------------------------------------------------------------
// The provider's table (exattest_shim_register).

std::atomic<const exattest_shim_ops*> g_ops{nullptr};

// The provider registers from OSSL_provider_init, i.e. while the configuration is loaded.
// SSL_CTX_new already loads it, but an application may create its SSL objects in ways that
// did not; loading it here is idempotent and respects an application that asked for
// OPENSSL_INIT_NO_LOAD_CONFIG (that marks the config step as done).
const exattest_shim_ops* ops() noexcept {
  const exattest_shim_ops* o = g_ops.load(std::memory_order_acquire);
  if (o != nullptr) return o;
  OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, nullptr);
  return g_ops.load(std::memory_order_acquire);
}

// Whether this process's configuration requests or offers attestation (exattest_shim.h:
// session_allowed(NULL, NULL) is 0 then). Such a process issues no ticket, resumes nothing
// and sends or accepts no early data, on any connection (docs/protocol-notes.md "Tickets,
// resumption and early data"). Without a provider nothing attests, but every handshake fails.
bool attesting(const exattest_shim_ops* o) noexcept {
  return o != nullptr && o->session_allowed(nullptr, nullptr) == 0;
}

// ---------------------------------------------------------------------------------------
// Per-connection state, in an SSL ex_data slot of the shim's own (freed with the SSL).

struct ConnState {
  bool begun = false;   // begin() was called for the current handshake
  bool plain = false;   // begin() said: no exchange on this connection
  bool done = false;    // step() said DONE
  bool failed = false;  // begin() -1 or step() FAIL: every later call fails too
  int fail_lib = 0;     // the error that failed it, re-raised on later calls
  int fail_reason = 0;
  char fail_detail[256] = {};
};

void state_free(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) noexcept {
  delete static_cast<ConnState*>(ptr);
}

// SSL_dup copies ex_data pointers unless told otherwise: the copy starts without state.
int state_dup(CRYPTO_EX_DATA*, const CRYPTO_EX_DATA*, void** from_d, int, long, void*) noexcept {
  *from_d = nullptr;
  return 1;
}

int state_index() noexcept {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, state_dup, state_free);
  return index;
}

ConnState* find_state(const SSL* ssl) noexcept {
  int idx = state_index();
  if (idx < 0) return nullptr;
  return static_cast<ConnState*>(SSL_get_ex_data(ssl, idx));
}

ConnState* get_or_create_state(SSL* ssl) noexcept {
  ConnState* st = find_state(ssl);
  if (st != nullptr) return st;
  int idx = state_index();
  if (idx < 0) return nullptr;
  st = new (std::nothrow) ConnState();
  if (st == nullptr) return nullptr;
  if (SSL_set_ex_data(ssl, idx, st) != 1) {
    delete st;
    return nullptr;
  }
  return st;
}

// The connection object is being reused for a new handshake: forget its exchange.
void reset_state(SSL* ssl, ConnState* st) noexcept {
  if (st == nullptr) return;
  const exattest_shim_ops* o = g_ops.load(std::memory_order_acquire);
  if ((st->begun || st->failed) && o != nullptr) o->reset(ssl);
  *st = ConnState();
}

// Marks the connection failed and remembers the reason the provider queued (or queues one),
// so that SSL_get_error reports SSL_ERROR_SSL now and on every later call.
int fail(ConnState* st, const char* fallback) noexcept {
  const char* data = nullptr;
  int flags = 0;
  unsigned long code = ERR_peek_last_error_data(&data, &flags);
  if (code == 0) {
    raise(kReasonExchangeFailed, fallback);
    code = ERR_peek_last_error_data(&data, &flags);
  }
  st->failed = true;
  st->fail_lib = ERR_GET_LIB(code);
  st->fail_reason = ERR_GET_REASON(code);
  std::snprintf(st->fail_detail, sizeof st->fail_detail, "%s",
                (data != nullptr && (flags & ERR_TXT_STRING) != 0) ? data : "");
  return -1;
}

int refail(const ConnState* st) noexcept {
  ERR_raise_data(st->fail_lib, st->fail_reason,
                 "%s (the attestation exchange already failed "
                 "on this connection)",
                 st->fail_detail);
  return -1;
}

// kRead: SSL_read/SSL_peek (and the SSL BIO's read); kData: every other data call.
enum class Entry { kConnect, kAccept, kHandshake, kData, kRead };

// A real read or write of the exchange returned `ret` ≤ 0. WANT_* (and the other retryable
// results) are returned unchanged, so SSL_get_error sees the rwstate the real call set. The end
// of the connection or a fatal error fails the exchange: PROTOCOL.md §5 "a peer MUST treat a
// plain close the same way" as a protocol error. feed(ssl, NULL, 0) tells the provider
// (exattest_shim.h), which queues its reason; the application then gets SSL_ERROR_SSL.
// `sys_errno` is errno right after the real call; the provider reads errno in feed() to name
// the system error (exattest_shim.h), so it is set to that error or to 0.
int connection_ended(SSL* ssl, ConnState* st, const exattest_shim_ops* o, int ret,
                     int sys_errno) noexcept {
  int e = SSL_get_error(ssl, ret);
  if (e != SSL_ERROR_ZERO_RETURN && e != SSL_ERROR_SYSCALL && e != SSL_ERROR_SSL) return ret;
  errno = e == SSL_ERROR_SYSCALL ? sys_errno : 0;
  (void)o->feed(ssl, nullptr, 0);
  return fail(st, "the connection ended during the attestation exchange");
}

// A real write of the exchange succeeded: push its bytes on. libssl flushes its write BIO at
// the end of every handshake flight (statem_flush) but SSL_write never does, and some write
// BIOs hold small writes until a flush: mod_ssl's hands them to Apache's output filter chain,
// so without this the frame never leaves and both sides wait until Apache's Timeout. A flush
// that asks to be retried cannot be reported as SSL_ERROR_WANT_WRITE (SSL_get_error reads a
// want-state only libssl sets, and a completed SSL_write cleared it), so it fails closed with
// a reason of ours rather than stall; the write BIOs of socket, fd, memory and BIO-pair kind,
// mod_ssl's, haproxy's and Python's MemoryBIO never ask.
int flush_written(SSL* ssl, ConnState* st, const exattest_shim_ops* o) noexcept {
  BIO* wbio = SSL_get_wbio(ssl);
  if (wbio == nullptr || BIO_flush(wbio) > 0) return 1;
  if (BIO_should_retry(wbio)) {
    raise(kReasonInternal,
          "the write BIO asked to retry a flush of the attestation exchange, which the shim "
          "cannot report through SSL_get_error");
    return fail(st, "");
  }
  (void)o->feed(ssl, nullptr, 0);
  return fail(st, "flushing the write BIO failed during the attestation exchange");
}

// Drives the exchange with real reads and writes. Returns 1 when it is done (or not needed),
// else the ≤0 result to hand back: a real read/write's own result (so SSL_get_error sees the
// rwstate it set: WANT_* only right after a real read/write returned them), or -1 with an
// error queued.
// *did_read: a real read of the exchange succeeded in this call.
int drive(SSL* ssl, ConnState* st, const exattest_shim_ops* o, bool* did_read) noexcept {
  const Real& r = real();
  if (missing(reinterpret_cast<void*>(r.read), "SSL_read") ||
      missing(reinterpret_cast<void*>(r.write), "SSL_write")) {
    return -1;
  }
  // A READ never asks for more than the exchange needs; reading in chunks of one TLS
  // record's worth keeps the buffer on the stack.
  unsigned char buf[SSL3_RT_MAX_PLAIN_LENGTH];
  for (;;) {
    const unsigned char* out = nullptr;
    size_t out_len = 0;
    switch (o->step(ssl, &out, &out_len)) {
      case EXATTEST_STEP_DONE:
        st->done = true;
        return 1;
      case EXATTEST_STEP_FAIL:
        return fail(st, "the exattest provider failed the exchange without a reason");
      case EXATTEST_STEP_WRITE: {
        if (out == nullptr || out_len == 0) {
          raise(kReasonInternal, "provider asked to write nothing");
          return fail(st, "");
        }
        // The provider's buffer is stable until wrote(): a retry after WANT_WRITE passes the
        // same pointer and length, as SSL_write requires.
        int n = static_cast<int>(std::min<size_t>(out_len, INT_MAX));
        errno = 0;
        int w = r.write(ssl, out, n);
        if (w <= 0) return connection_ended(ssl, st, o, w, errno);
        o->wrote(ssl, static_cast<size_t>(w));
        if (int f = flush_written(ssl, st, o); f <= 0) return f;
        break;
      }
      case EXATTEST_STEP_READ: {
        if (out_len == 0) {
          raise(kReasonInternal, "provider asked to read nothing");
          return fail(st, "");
        }
        // PROTOCOL.md §5: frames come "before ANY application byte"; reading at most what
        // the provider asks for leaves the application's bytes inside libssl.
        int n = static_cast<int>(std::min<size_t>(out_len, sizeof buf));
        errno = 0;
        int got = r.read(ssl, buf, n);
        if (got <= 0) return connection_ended(ssl, st, o, got, errno);
        *did_read = true;
        // feed() 0: the reason is queued (the next step() would only repeat it).
        if (o->feed(ssl, buf, static_cast<size_t>(got)) == 0) {
          return fail(st, "the exattest provider rejected the bytes without a reason");
        }
        break;
      }
      default:
        raise(kReasonInternal, "provider step() returned an unknown action");
        return fail(st, "");
    }
  }
}

// begin() once per handshake; ≤0 (error queued) when it failed the connection.
int begin_once(SSL* ssl, ConnState* st, const exattest_shim_ops* o) noexcept {
  if (st->begun) return 1;
  // PROTOCOL.md §5: "Right after the handshake completes and before ANY application byte".
  int b = o->begin(ssl);
  if (b < 0) return fail(st, "the exattest provider refused the connection without a reason");
  st->begun = true;
  st->plain = (b == 0);
  return 1;
}

// Before a handshake of a process that attests: no ticket, no early data on this connection,
// whatever its SSL_CTX said (the provider's SSL ex_data constructor did the same at SSL_new;
// this also covers an SSL made before the provider registered).
void deny_tickets_and_early_data(SSL* ssl) noexcept {
  const Real& r = real();
  if (SSL_is_server(ssl)) SSL_set_options(ssl, SSL_OP_NO_TICKET);
  if (r.set_num_tickets != nullptr) r.set_num_tickets(ssl, 0);
  if (r.set_max_early_data != nullptr) r.set_max_early_data(ssl, 0);
}

// -1 with SSL_get_error() = SSL_ERROR_WANT_READ and nothing read. SSL_get_error takes that
// from libssl's rwstate, which only a real read sets: one is made to read from an empty
// memory BIO, then the application's BIO is put back with the retry flag libssl itself
// leaves on it in this case. Falls back to 1 (do the real read) when a BIO cannot be made.
int want_read(SSL* ssl) noexcept {
  const Real& r = real();
  BIO* rbio = SSL_get_rbio(ssl);
  if (rbio == nullptr) return 1;
  BIO* empty = BIO_new(BIO_s_mem());
  if (empty == nullptr) return 1;
  if (BIO_up_ref(rbio) != 1) {
    BIO_free(empty);
    return 1;
  }
  BIO_set_mem_eof_return(empty, -1);
  SSL_set0_rbio(ssl, empty);  // drops the SSL's reference to rbio; ours keeps it alive
  unsigned char byte;
  int got = r.read(ssl, &byte, 1);
  int err = SSL_get_error(ssl, got);  // judged with `empty` still in place
  SSL_set0_rbio(ssl, rbio);           // frees `empty`; our reference goes back to the SSL
  if (got > 0 || err != SSL_ERROR_WANT_READ) {
    // Cannot happen (nothing was pending); never lose a byte or hide an error.
    raise(kReasonInternal, "reading from an empty buffer after the exchange did not block");
    return -1;
  }
  BIO_clear_retry_flags(rbio);
  BIO_set_retry_read(rbio);
  return -1;
}

// The exchange ended inside an application's read, after reading frames. libssl, when a read
// processed only records that carry no application data and SSL_MODE_AUTO_RETRY is off (as
// s_client and s_server set it), returns -1 with SSL_ERROR_WANT_READ instead of waiting; the
// exchange's frames are such records to the application. Going on to the real read would
// block on a blocking socket for data the peer sends only after this side wrote (s_client,
// which selects before each read, with a request still waiting on its stdin). Only when
// nothing is buffered in libssl and nothing waits on the socket: otherwise the real read
// does not block, and an edge-triggered poller is never told to wait for bytes already there.
int after_exchange_read(SSL* ssl) noexcept {
  if ((SSL_get_mode(ssl) & SSL_MODE_AUTO_RETRY) != 0 || SSL_has_pending(ssl) != 0) return 1;
  int fd = SSL_get_rfd(ssl);
  if (fd < 0) return 1;
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, 0) != 0) return 1;
  return want_read(ssl);
}

// The state of a connection whose data call is being gated, or nullptr with the error
// raised: no provider (ARCHITECTURE.md: "never a silent plain connection"), or no memory.
ConnState* gated_state(SSL* ssl, const exattest_shim_ops* o) noexcept {
  if (o == nullptr) {
    raise(kReasonProviderNotLoaded, kNoProviderDetail);
    return nullptr;
  }
  ConnState* st = get_or_create_state(ssl);
  if (st == nullptr) raise(kReasonInternal, "cannot allocate the shim's connection state");
  return st;
}

// The gate every wrapped call passes: finishes the handshake if the application's call is
// the one that drives it, then runs the exchange. Returns 1 when the application's own
// operation may proceed, else the ≤0 result to return.
int gate(SSL* ssl, Entry entry) noexcept {
  DepthGuard guard;
  const exattest_shim_ops* o = ops();
  ConnState* st = gated_state(ssl, o);
  if (st == nullptr) return -1;
  // A connection object taken back to the start of a handshake (SSL_clear,
  // SSL_set_connect_state, SSL_set_accept_state) runs a new exchange.
  if ((st->begun || st->failed) && SSL_get_state(ssl) == TLS_ST_BEFORE) reset_state(ssl, st);
  if (st->failed) return refail(st);

  if (!st->begun) {
    if (!SSL_is_init_finished(ssl)) {
      if (SSL_get_state(ssl) == TLS_ST_BEFORE && attesting(o)) deny_tickets_and_early_data(ssl);
      const Real& r = real();
      int (*hs)(SSL*) = entry == Entry::kConnect  ? r.connect
                        : entry == Entry::kAccept ? r.accept
                                                  : r.do_handshake;
      if (missing(reinterpret_cast<void*>(hs), "SSL_do_handshake")) return -1;
      int ret = hs(ssl);
      // A data call from a libssl callback inside the handshake may have begun (or failed)
      // the exchange already (nested_gate).
      if (st->failed) return refail(st);
      if (ret <= 0) return ret;  // passed through unchanged: SSL_get_error stays right
      // Still in init after a positive result (0-RTT): the exchange starts once it is done.
      if (!SSL_is_init_finished(ssl)) return ret;
    }
    if (begin_once(ssl, st, o) <= 0) return -1;
  }
  if (st->plain || st->done) return 1;
  // PROTOCOL.md §5: "only then does the application see the handshake as finished".
  bool did_read = false;
  int d = drive(ssl, st, o, &did_read);
  if (d <= 0 || entry != Entry::kRead || !did_read) return d;
  return after_exchange_read(ssl);
}

// A data call made while a wrapper is on this thread's stack. libssl's own calls from inside
// the 0-RTT functions of a process that does not attest go straight through (t_passthrough).
// Any other is the application's, from inside a libssl callback (an info callback at
// SSL_CB_HANDSHAKE_DONE, a message callback, ...): the exchange cannot be driven from there,
// so the call may proceed only on a connection that has no exchange or whose exchange is
// done; else it fails and nothing is sent or read. Judged by the connection's state, never
// by the call depth alone.
int nested_gate(SSL* ssl) noexcept {
  if (ssl == t_passthrough) return 1;
  // Not ops(): no configuration is loaded from inside a libssl callback.
  const exattest_shim_ops* o = g_ops.load(std::memory_order_acquire);
  ConnState* st = gated_state(ssl, o);
  if (st == nullptr) return -1;
  if (st->failed) return refail(st);
  if (!st->begun && SSL_is_init_finished(ssl) && begin_once(ssl, st, o) <= 0) return -1;
  if (st->begun && (st->plain || st->done)) return 1;
  raise(kReasonTooEarly,
        "the application read or wrote from inside a libssl callback before the attestation "
        "exchange of this connection ended; nothing was sent or read");
  return -1;
}

int handshake_entry(SSL* s, Entry entry, int (*fn)(SSL*), const char* name) noexcept {
  if (missing(reinterpret_cast<void*>(fn), name)) return -1;
  if (t_depth > 0 || s == nullptr) return fn(s);
  int g = gate(s, entry);
  if (g <= 0) return g;
  // Also runs a KeyUpdate queued by SSL_key_update; returns 1 when there is nothing to do.
  return fn(s);
}

// For the int-returning reads/writes: the gate's result is already in their convention.
int int_io(SSL* s, void* buf, int num, int (*fn)(SSL*, void*, int), const char* name) noexcept {
  if (missing(reinterpret_cast<void*>(fn), name)) return -1;
  if (s == nullptr) return fn(s, buf, num);
  int g = t_depth > 0 ? nested_gate(s) : gate(s, Entry::kRead);
  if (g <= 0) return g;
  return fn(s, buf, num);
}

// The _ex forms return 1 or 0.
int ex_io(SSL* s, void* buf, size_t num, size_t* done, int (*fn)(SSL*, void*, size_t, size_t*),
          const char* name) noexcept {
  if (missing(reinterpret_cast<void*>(fn), name)) return 0;
  if (s == nullptr) return fn(s, buf, num, done);
  int g = t_depth > 0 ? nested_gate(s) : gate(s, Entry::kRead);
  if (g <= 0) {
    if (done != nullptr) *done = 0;
    return 0;
  }
  return fn(s, buf, num, done);
}

int write_int(SSL* s, const void* buf, int num) noexcept {
  const Real& r = real();
  if (missing(reinterpret_cast<void*>(r.write), "SSL_write")) return -1;
  if (s == nullptr) return r.write(s, buf, num);
  int g = t_depth > 0 ? nested_gate(s) : gate(s, Entry::kData);
  if (g <= 0) return g;
  return r.write(s, buf, num);
}

int write_ex(SSL* s, const void* buf, size_t num, size_t* written) noexcept {
  const Real& r = real();
  if (missing(reinterpret_cast<void*>(r.write_ex), "SSL_write_ex")) return 0;
  if (s == nullptr) return r.write_ex(s, buf, num, written);
  int g = t_depth > 0 ? nested_gate(s) : gate(s, Entry::kData);
  if (g <= 0) {
    if (written != nullptr) *written = 0;
    return 0;
  }
  return r.write_ex(s, buf, num, written);
}

ossl_ssize_t sendfile(SSL* s, int fd, off_t offset, size_t size, int flags) noexcept {
  const Real& r = real();
  if (missing(reinterpret_cast<void*>(r.sendfile), "SSL_sendfile")) return -1;
  if (s == nullptr) return r.sendfile(s, fd, offset, size, flags);
  int g = t_depth > 0 ? nested_gate(s) : gate(s, Entry::kData);
  if (g <= 0) return -1;  // SSL_sendfile(3): "-1 ... on failure"; SSL_get_error applies
  return r.sendfile(s, fd, offset, size, flags);
}

// SSL_set_session filter. PROTOCOL.md §5: on attesting configurations "neither side resumes".
// A refused session is not set, and any session the object already holds is dropped, so the
// handshake is always a full one; the call still returns 1 because curl fails the transfer
// ("SSL: SSL_set_session failed") and s_client -sess_in exits ("Can't set session") on 0,
// while a full handshake is exactly what a cache miss gives them anyway.
int set_session(SSL* s, SSL_SESSION* sess) noexcept {
  const Real& r = real();
  if (missing(reinterpret_cast<void*>(r.set_session), "SSL_set_session")) return 0;
  if (t_depth > 0 || s == nullptr || sess == nullptr) return r.set_session(s, sess);
  const exattest_shim_ops* o = ops();
  if (o == nullptr || o->session_allowed(s, sess) != 0) return r.set_session(s, sess);
  return r.set_session(s, nullptr);
}

// ---------------------------------------------------------------------------------------
// Tickets, resumption and early data (docs/protocol-notes.md "Tickets, resumption and early
// data"): in a process that attests, no connection issues a ticket, resumes, or sends or
// accepts early data. The provider already sets num_tickets and max_early_data to 0 and
// SSL_OP_NO_TICKET on every SSL_CTX and SSL; these keep them there when the application
// raises them again, and keep PSK sessions (which resume and carry 0-RTT) out.

template <typename Obj, typename V>
int hold_zero(int (*fn)(Obj*, V), const char* name, Obj* obj, V value) noexcept {
  if (missing(reinterpret_cast<void*>(fn), name)) return 0;
  if (t_depth == 0 && obj != nullptr && attesting(ops())) value = 0;
  return fn(obj, value);
}

// SSL_new_session_ticket in a process that attests: 1 with nothing queued, the answer of a
// server whose ticket is simply sent later, so the application goes on as before. libssl
// never calls it itself, so every call is the application's (even from a callback inside
// the depth guard) and is judged by the process rule alone. SSL_OP_NO_TICKET would not stop
// it: libssl then sends a stateful ticket.
int new_session_ticket(SSL* s) noexcept {
  const Real& r = real();
  if (missing(reinterpret_cast<void*>(r.new_session_ticket), "SSL_new_session_ticket")) return 0;
  if (s != nullptr && attesting(ops())) return 1;
  return r.new_session_ticket(s);
}

// Installs `cb` unless the process attests; then no PSK session is ever offered or found.
template <typename Obj, typename Cb>
void drop_in_attesting(void (*fn)(Obj*, Cb), const char* name, Obj* obj, Cb cb) noexcept {
  if (missing(reinterpret_cast<void*>(fn), name)) return;
  if (t_depth == 0 && obj != nullptr && cb != nullptr && attesting(ops())) cb = nullptr;
  fn(obj, cb);
}

// SSL_read_early_data in a process that attests: SSL_READ_EARLY_DATA_FINISH with nothing
// read and nothing done, the answer of a server that received no early data, so s_server
// -early_data and nginx go on to their normal handshake call (which runs the exchange).
// Calling the real function would drive the handshake inside the depth guard and let the
// application write 0.5-RTT data before the exchange.
int read_early_data(SSL* s, void* buf, size_t num, size_t* readbytes) noexcept {
  const Real& r = real();
  if (missing(reinterpret_cast<void*>(r.read_early_data), "SSL_read_early_data")) {
    return SSL_READ_EARLY_DATA_ERROR;
  }
  if (t_depth > 0 || s == nullptr) return r.read_early_data(s, buf, num, readbytes);
  const exattest_shim_ops* o = ops();
  if (o == nullptr) {
    raise(kReasonProviderNotLoaded, kNoProviderDetail);
    return SSL_READ_EARLY_DATA_ERROR;
  }
  if (attesting(o)) {
    if (readbytes != nullptr) *readbytes = 0;
    return SSL_READ_EARLY_DATA_FINISH;
  }
  // PROTOCOL.md §5 connections never use 0-RTT (the provider sees a resumed handshake and
  // does not run the exchange): libssl's nested SSL_accept/SSL_read_ex go straight to it.
  PassThrough pass(s);
  return r.read_early_data(s, buf, num, readbytes);
}

// SSL_write_early_data in a process that attests: an ordinary write through the gate. The
// handshake is a full one (no session was kept), the exchange runs, and the bytes leave only
// once it passed, as 1-RTT data; a client that requires attestation from a server that does
// not attest fails first (not_negotiated) and sends nothing. On a server (0.5-RTT) the same:
// nothing reaches a client before its handshake and exchange are done.
int write_early_data(SSL* s, const void* buf, size_t num, size_t* written) noexcept {
  const Real& r = real();
  if (missing(reinterpret_cast<void*>(r.write_early_data), "SSL_write_early_data") ||
      missing(reinterpret_cast<void*>(r.write_ex), "SSL_write_ex")) {
    return 0;
  }
  if (t_depth > 0 || s == nullptr) return r.write_early_data(s, buf, num, written);
  const exattest_shim_ops* o = ops();
  if (o == nullptr) {
    raise(kReasonProviderNotLoaded, kNoProviderDetail);
    return 0;
  }
  if (attesting(o)) {
    // The real function would set the connect/accept state itself.
    int g = gate(s, SSL_is_server(s) ? Entry::kAccept : Entry::kConnect);
    if (g <= 0) {
      if (written != nullptr) *written = 0;
      return 0;
    }
    return r.write_ex(s, buf, num, written);
  }
  PassThrough pass(s);
  return r.write_early_data(s, buf, num, written);
}

int clear(SSL* s) noexcept {
  const Real& r = real();
  if (missing(reinterpret_cast<void*>(r.clear), "SSL_clear")) return 0;
  // SSL_new calls SSL_clear before the ex_data exist; find_state then returns null.
  if (t_depth == 0 && s != nullptr) reset_state(s, find_state(s));
  return r.clear(s);
}

// ---------------------------------------------------------------------------------------
// BIO_f_ssl: libssl's SSL BIO does its I/O with libssl-internal functions, so its method is
// wrapped: read/write/puts and BIO_do_handshake first pass the gate for the BIO's SSL.

struct BioMethods {
  BIO_METHOD* wrapped = nullptr;
  int (*write_ex)(BIO*, const char*, size_t, size_t*) = nullptr;
  int (*read_ex)(BIO*, char*, size_t, size_t*) = nullptr;
  int (*puts)(BIO*, const char*) = nullptr;
  long (*ctrl)(BIO*, int, long, void*) = nullptr;
};

const BioMethods& bio_methods() noexcept;

// Returns 1 to proceed, else ≤0 with the BIO's retry flags set from SSL_get_error as
// bio_ssl.c does.
int bio_gate(BIO* b, Entry entry) noexcept {
  const BioMethods& m = bio_methods();
  SSL* ssl = nullptr;
  m.ctrl(b, BIO_C_GET_SSL, 0, &ssl);
  if (ssl == nullptr) return 1;
  BIO_clear_retry_flags(b);
  int g = t_depth > 0 ? nested_gate(ssl) : gate(ssl, entry);
  if (g > 0) return 1;
  switch (SSL_get_error(ssl, g)) {
    case SSL_ERROR_WANT_READ:
      BIO_set_retry_read(b);
      break;
    case SSL_ERROR_WANT_WRITE:
      BIO_set_retry_write(b);
      break;
    case SSL_ERROR_WANT_X509_LOOKUP:
      BIO_set_retry_special(b);
      BIO_set_retry_reason(b, BIO_RR_SSL_X509_LOOKUP);
      break;
    case SSL_ERROR_WANT_CONNECT:
      BIO_set_retry_special(b);
      BIO_set_retry_reason(b, BIO_RR_CONNECT);
      break;
    case SSL_ERROR_WANT_ACCEPT:
      BIO_set_retry_special(b);
      BIO_set_retry_reason(b, BIO_RR_ACCEPT);
      break;
    default:
      break;
  }
  return g;
}

int bio_write_ex(BIO* b, const char* data, size_t len, size_t* written) noexcept {
  int g = bio_gate(b, Entry::kData);
  if (g <= 0) {
    *written = 0;
    return g;
  }
  return bio_methods().write_ex(b, data, len, written);
}

int bio_read_ex(BIO* b, char* data, size_t len, size_t* readbytes) noexcept {
  int g = bio_gate(b, Entry::kRead);
  if (g <= 0) {
    *readbytes = 0;
    return g;
  }
  return bio_methods().read_ex(b, data, len, readbytes);
}

int bio_puts(BIO* b, const char* str) noexcept {
  int g = bio_gate(b, Entry::kData);
  if (g <= 0) return g;
  return bio_methods().puts(b, str);
}

long bio_ctrl(BIO* b, int cmd, long num, void* ptr) noexcept {
  // Only the handshake command does I/O; every other ctrl (get/set SSL, pending, flush,
  // reset, ...) goes straight through and must not (BIO_C_GET_SSL is used by bio_gate).
  // Nested in a wrapper it is libssl's own handshake step, like SSL_do_handshake's.
  if (cmd == BIO_C_DO_STATE_MACHINE && t_depth == 0) {
    int g = bio_gate(b, Entry::kData);
    if (g <= 0) return g;
  }
  return bio_methods().ctrl(b, cmd, num, ptr);
}

const BioMethods& bio_methods() noexcept {
  static const BioMethods m = [] {
    BioMethods x;
    const Real& r = real();
    if (r.f_ssl == nullptr) return x;
    const BIO_METHOD* base = r.f_ssl();
    if (base == nullptr) return x;
    x.write_ex = BIO_meth_get_write_ex(base);
    x.read_ex = BIO_meth_get_read_ex(base);
    x.puts = BIO_meth_get_puts(base);
    x.ctrl = BIO_meth_get_ctrl(base);
    if (x.write_ex == nullptr || x.read_ex == nullptr || x.ctrl == nullptr) return x;
    // Same type and name: BIO_find_type(BIO_TYPE_SSL) and BIO_ssl_shutdown keep working.
    BIO_METHOD* w = BIO_meth_new(BIO_TYPE_SSL, "ssl");
    if (w == nullptr) return x;
    int ok = BIO_meth_set_write_ex(w, bio_write_ex) && BIO_meth_set_read_ex(w, bio_read_ex) &&
             BIO_meth_set_ctrl(w, bio_ctrl) && BIO_meth_set_create(w, BIO_meth_get_create(base)) &&
             BIO_meth_set_destroy(w, BIO_meth_get_destroy(base)) &&
             BIO_meth_set_callback_ctrl(w, BIO_meth_get_callback_ctrl(base)) &&
             (x.puts == nullptr || BIO_meth_set_puts(w, bio_puts)) &&
             (BIO_meth_get_gets(base) == nullptr || BIO_meth_set_gets(w, BIO_meth_get_gets(base)));
    if (!ok) {
      BIO_meth_free(w);
      return x;
    }
    x.wrapped = w;  // lives as long as the process, like libssl's static method
    return x;
  }();
  return m;
}

const BIO_METHOD* f_ssl() noexcept {
  const BIO_METHOD* w = bio_methods().wrapped;
  // Without the wrapped method, a BIO would run TLS with no exchange: refuse (BIO_new then
  // fails) rather than hand out a silent plain path.
  if (w == nullptr) raise(kReasonInternal, "cannot wrap BIO_f_ssl()");
  return w;
}

int register_ops(const exattest_shim_ops* o) noexcept {
  if (o == nullptr || o->abi_version != EXATTEST_SHIM_ABI_VERSION || o->begin == nullptr ||
      o->step == nullptr || o->wrote == nullptr || o->feed == nullptr ||
      o->session_allowed == nullptr || o->reset == nullptr) {
    return 0;
  }
  // The provider may be initialised once per library context; each hands the same static
  // table, and the last one wins.
  g_ops.store(o, std::memory_order_release);
  return 1;
}

// ---------------------------------------------------------------------------------------
// Issue #11 item 3: a program whose own SSL functions shadow the wrappers (a statically
// linked OpenSSL exporting SSL_read, SSL_do_handshake, ... from the executable, which comes
// before every preloaded library in the lookup order) never calls the shim. Checked once,
// at load, before main; exattest_shim_bypassed() tells the provider (exattest_shim.h).

// The wrapped names through which the data path of an application reaches libssl.
constexpr const char* kCheckedNames[] = {
    "SSL_do_handshake", "SSL_connect",  "SSL_accept", "SSL_read",    "SSL_read_ex",
    "SSL_write",        "SSL_write_ex", "SSL_peek",   "SSL_peek_ex", "BIO_f_ssl"};

char g_bypass_text[640] = {};
const char* g_bypass = nullptr;  // written once by the constructor, before main; then read-only

enum class Request { kOff, kOptional, kRequire };

// What `request` is in effect for this process when the provider has not been loaded (it
// never is before main): EXATTEST_REQUEST, else the exattest section of OPENSSL_CONF (the
// shared reader of provider/common/openssl_conf.h), else off. A value the provider would
// refuse counts as require (fail closed). `source` says where it came from.
Request configured_request(char* source, size_t source_len) noexcept {
  auto parse = [](const char* v) {
    if (std::strcmp(v, "off") == 0) return Request::kOff;
    if (std::strcmp(v, "optional") == 0) return Request::kOptional;
    return Request::kRequire;
  };
  // PROTOCOL.md §8: "Environment variables `EXATTEST_<KEY>` override the file".
  if (const char* env = secure_getenv("EXATTEST_REQUEST"); env != nullptr) {
    std::snprintf(source, source_len, "EXATTEST_REQUEST");
    return parse(env);
  }
  try {
    exattest::OpensslConf conf = exattest::load_openssl_conf();
    // A loop, not map::find: its out-of-line instantiation would be exported from the shim.
    const std::string* value = nullptr;
    for (const auto& kv : conf.exattest_section)
      if (kv.first == "request") value = &kv.second;
    if (value == nullptr) {
      std::snprintf(source, source_len, "no `request` in %s",
                    conf.path.empty() ? "any OpenSSL config" : conf.path.c_str());
      return Request::kOff;
    }
    std::snprintf(source, source_len, "[%s] of %s", conf.exattest_section_name.c_str(),
                  conf.path.c_str());
    return parse(value->c_str());
  } catch (...) {
    std::snprintf(source, source_len, "the OpenSSL config could not be read");
    return Request::kRequire;
  }
}

void program_path(char* out, size_t len) noexcept {
  ssize_t n = readlink("/proc/self/exe", out, len - 1);
  if (n > 0) {
    out[n] = '\0';
  } else {
    std::snprintf(out, len, "%s", program_invocation_name);
  }
}

// The first checked name that does not resolve into this shim, described into
// g_bypass_text; false when every one does.
bool find_bypass(const char* program) noexcept {
  Dl_info self{};
  if (dladdr(reinterpret_cast<void*>(&register_ops), &self) == 0) return false;
  for (const char* name : kCheckedNames) {
    void* found = dlsym(RTLD_DEFAULT, name);
    if (found == nullptr) continue;  // cannot happen: the shim exports every one
    Dl_info where{};
    if (dladdr(found, &where) != 0 && where.dli_fbase == self.dli_fbase) continue;
    const char* object =
        where.dli_fname != nullptr && where.dli_fname[0] != '\0' ? where.dli_fname : program;
    std::snprintf(g_bypass_text, sizeof g_bypass_text, "%s resolves to %s", name, object);
    return true;
  }
  return false;
}

__attribute__((constructor)) void check_bypass() noexcept {
  char program[512];
  program_path(program, sizeof program);
  if (!find_bypass(program)) return;
  g_bypass = g_bypass_text;
  char source[600];
  Request request = configured_request(source, sizeof source);
  const char* allow = secure_getenv("EXATTEST_ALLOW_BYPASS");
  bool allowed = allow != nullptr && std::strcmp(allow, "1") == 0;
  if (request == Request::kRequire && !allowed) {
    // Not one byte from an unattested peer: the provider, if this program ever loads it,
    // could fail the handshakes it sees, but a program with its own OpenSSL usually never
    // loads it (and no config of ours is in effect there), so it must not run at all.
    std::fprintf(stderr,
                 "exattest: refusing to run %s: its %s, not to the exattest shim (statically "
                 "linked OpenSSL?), so none of its connections can be attested, and request = "
                 "require (%s); set EXATTEST_ALLOW_BYPASS=1 to run it without attestation\n",
                 program, g_bypass, source);
    _exit(1);
  }
  if (request == Request::kRequire) {
    std::fprintf(stderr,
                 "exattest: warning: %s: its %s, not to the exattest shim (statically linked "
                 "OpenSSL?): its connections are NOT attested although request = require (%s), "
                 "because EXATTEST_ALLOW_BYPASS=1\n",
                 program, g_bypass, source);
    return;
  }
  std::fprintf(stderr,
               "exattest: warning: %s: its %s, not to the exattest shim (statically linked "
               "OpenSSL?): its connections are not attested (request = %s, %s)\n",
               program, g_bypass, request == Request::kOff ? "off" : "optional", source);
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Exported entry points.

extern "C" {

EXATTEST_EXPORT int exattest_shim_register(const struct exattest_shim_ops* ops) {
  return register_ops(ops);
}

EXATTEST_EXPORT const char* exattest_shim_bypassed(void) { return g_bypass; }

EXATTEST_EXPORT int SSL_do_handshake(SSL* s) {
  return handshake_entry(s, Entry::kHandshake, real().do_handshake, "SSL_do_handshake");
}

EXATTEST_EXPORT int SSL_connect(SSL* s) {
  return handshake_entry(s, Entry::kConnect, real().connect, "SSL_connect");
}

EXATTEST_EXPORT int SSL_accept(SSL* s) {
  return handshake_entry(s, Entry::kAccept, real().accept, "SSL_accept");
}

EXATTEST_EXPORT int SSL_read(SSL* s, void* buf, int num) {
  return int_io(s, buf, num, real().read, "SSL_read");
}

EXATTEST_EXPORT int SSL_peek(SSL* s, void* buf, int num) {
  return int_io(s, buf, num, real().peek, "SSL_peek");
}

EXATTEST_EXPORT int SSL_read_ex(SSL* s, void* buf, size_t num, size_t* readbytes) {
  return ex_io(s, buf, num, readbytes, real().read_ex, "SSL_read_ex");
}

EXATTEST_EXPORT int SSL_peek_ex(SSL* s, void* buf, size_t num, size_t* readbytes) {
  return ex_io(s, buf, num, readbytes, real().peek_ex, "SSL_peek_ex");
}

EXATTEST_EXPORT int SSL_write(SSL* s, const void* buf, int num) { return write_int(s, buf, num); }

EXATTEST_EXPORT int SSL_write_ex(SSL* s, const void* buf, size_t num, size_t* written) {
  return write_ex(s, buf, num, written);
}

EXATTEST_EXPORT ossl_ssize_t SSL_sendfile(SSL* s, int fd, off_t offset, size_t size, int flags) {
  return sendfile(s, fd, offset, size, flags);
}

EXATTEST_EXPORT int SSL_set_session(SSL* to, SSL_SESSION* session) {
  return set_session(to, session);
}

EXATTEST_EXPORT int SSL_clear(SSL* s) { return clear(s); }

EXATTEST_EXPORT int SSL_read_early_data(SSL* s, void* buf, size_t num, size_t* readbytes) {
  return read_early_data(s, buf, num, readbytes);
}

EXATTEST_EXPORT int SSL_write_early_data(SSL* s, const void* buf, size_t num, size_t* written) {
  return write_early_data(s, buf, num, written);
}

EXATTEST_EXPORT int SSL_CTX_set_num_tickets(SSL_CTX* ctx, size_t num_tickets) {
  return hold_zero(real().ctx_set_num_tickets, "SSL_CTX_set_num_tickets", ctx, num_tickets);
}

EXATTEST_EXPORT int SSL_set_num_tickets(SSL* s, size_t num_tickets) {
  return hold_zero(real().set_num_tickets, "SSL_set_num_tickets", s, num_tickets);
}

EXATTEST_EXPORT int SSL_new_session_ticket(SSL* s) { return new_session_ticket(s); }

EXATTEST_EXPORT int SSL_CTX_set_max_early_data(SSL_CTX* ctx, uint32_t max_early_data) {
  return hold_zero(real().ctx_set_max_early_data, "SSL_CTX_set_max_early_data", ctx,
                   max_early_data);
}

EXATTEST_EXPORT int SSL_set_max_early_data(SSL* s, uint32_t max_early_data) {
  return hold_zero(real().set_max_early_data, "SSL_set_max_early_data", s, max_early_data);
}

EXATTEST_EXPORT void SSL_CTX_set_psk_use_session_callback(SSL_CTX* ctx,
                                                          SSL_psk_use_session_cb_func cb) {
  drop_in_attesting(real().ctx_set_psk_use_session_cb, "SSL_CTX_set_psk_use_session_callback", ctx,
                    cb);
}

EXATTEST_EXPORT void SSL_set_psk_use_session_callback(SSL* s, SSL_psk_use_session_cb_func cb) {
  drop_in_attesting(real().set_psk_use_session_cb, "SSL_set_psk_use_session_callback", s, cb);
}

EXATTEST_EXPORT void SSL_CTX_set_psk_find_session_callback(SSL_CTX* ctx,
                                                           SSL_psk_find_session_cb_func cb) {
  drop_in_attesting(real().ctx_set_psk_find_session_cb, "SSL_CTX_set_psk_find_session_callback",
                    ctx, cb);
}

EXATTEST_EXPORT void SSL_set_psk_find_session_callback(SSL* s, SSL_psk_find_session_cb_func cb) {
  drop_in_attesting(real().set_psk_find_session_cb, "SSL_set_psk_find_session_callback", s, cb);
}

// A server's external session cache (nginx ssl_session_cache shared): nothing is looked up.
EXATTEST_EXPORT void SSL_CTX_sess_set_get_cb(SSL_CTX* ctx,
                                             SSL_SESSION* (*cb)(SSL*, const unsigned char*, int,
                                                                int*)) {
  drop_in_attesting(real().ctx_sess_set_get_cb, "SSL_CTX_sess_set_get_cb", ctx, cb);
}

EXATTEST_EXPORT int SSL_stateless(SSL* s) {
  const Real& r = real();
  if (missing(reinterpret_cast<void*>(r.stateless), "SSL_stateless")) return -1;
  PassThrough pass(s);
  return r.stateless(s);
}

EXATTEST_EXPORT const BIO_METHOD* BIO_f_ssl(void) { return f_ssl(); }

}  // extern "C"
