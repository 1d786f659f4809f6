// Per-connection driver of the in-band exchange (PROTOCOL.md §5) behind the shim callbacks.
#include "exchange.h"

#include <openssl/ssl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>

#include "attesters/tpm2/factory.h"
#include "attesters/tpm2/policy.h"
#include "attesters/tpm2/verifier.h"
#include "audit_log.h"
#include "errors.h"
#include "exchange_testing.h"
#include "hooks.h"
#include "inband/ea_crypto.h"
#include "inband/machine.h"

namespace exattest::exchange {

namespace {

// Process-wide state. Deliberately leaked: ex_data free callbacks may run during exit.
struct Process {
  std::mutex mu;
  bool initialized = false;
  Config config;
  std::unique_ptr<audit::AuditLog> log;
  bool log_error_reported = false;
  // Lazily created on first use (PROTOCOL.md §9: the policy is "read once per process").
  bool attester_tried = false;
  std::shared_ptr<Attester> attester;
  std::optional<Error> attester_error;
  bool appraiser_tried = false;
  std::shared_ptr<Appraiser> appraiser;
  std::optional<Error> appraiser_error;
  // Test-only seams (exchange_testing.h).
  testing::AttesterFactory attester_factory;
  testing::AppraiserFactory appraiser_factory;
};

Process& proc() {
  static Process* p = new Process;
  return *p;
}

int g_index = -1;
std::once_flag g_index_once;

// One connection's exchange. The Machine points into `crypto` and the shared objects.
struct ConnState {
  inband::Role role;
  std::string peer;
  std::shared_ptr<Attester> attester;
  std::shared_ptr<Appraiser> appraiser;
  std::unique_ptr<inband::EaCrypto> crypto;
  std::unique_ptr<inband::Machine> machine;
  size_t logged = 0;  // records already written to the log
};

void flush_records(ConnState& st);

// The end of a connection's exchange state (SSL_free, or the connection reused for a new
// handshake). An exchange still running was left by the application without a verdict; it
// gets its protocol_error line, or the log would not show the attempt at all.
void retire(ConnState* st) noexcept {
  if (st == nullptr) return;
  try {
    if (st->machine && !st->machine->done() && !st->machine->failed()) {
      st->machine->abandon();
      flush_records(*st);
    }
  } catch (...) {  // a log write that failed: the state goes regardless
  }
  delete st;
}

void free_state(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  retire(static_cast<ConnState*>(ptr));
}

// SSL_dup must not share (and later double-free) the state: the copy starts without one.
int dup_state(CRYPTO_EX_DATA*, const CRYPTO_EX_DATA*, void** from_d, int, long, void*) {
  if (from_d != nullptr) *from_d = nullptr;
  return 1;
}

ConnState* state_of(const SSL* ssl) {
  if (g_index < 0 || ssl == nullptr) return nullptr;
  return static_cast<ConnState*>(SSL_get_ex_data(ssl, g_index));
}

void drop_state(SSL* ssl) {
  if (ConnState* st = state_of(ssl)) {
    SSL_set_ex_data(ssl, g_index, nullptr);
    retire(st);
  }
}

void write_log(std::string_view role, const std::string& peer, const inband::Record& rec) {
  Process& p = proc();
  audit::AuditLog* log = p.log.get();
  if (log == nullptr || !log->enabled()) return;
  Status st = log->write(audit::Context{role, peer}, rec);
  if (!st.ok()) {
    std::lock_guard<std::mutex> lock(p.mu);
    if (!p.log_error_reported) {
      p.log_error_reported = true;
      std::fprintf(stderr, "exattest: %s\n", st.error().detail.c_str());
    }
  }
}

// The peer's address for the log: a getpeername(2) per connection, so only when logging.
std::string log_peer(SSL* ssl) {
  audit::AuditLog* log = proc().log.get();
  if (log == nullptr || !log->enabled()) return "";
  return audit::peer_address(SSL_get_fd(ssl));
}

void flush_records(ConnState& st) {
  const auto& recs = st.machine->records();
  for (; st.logged < recs.size(); ++st.logged)
    write_log(inband::role_name(st.role), st.peer, recs[st.logged]);
}

std::shared_ptr<Attester> get_attester(std::optional<Error>& out_error) {
  Process& p = proc();
  std::lock_guard<std::mutex> lock(p.mu);
  if (!p.attester_tried) {
    p.attester_tried = true;
    if (p.attester_factory) {
      auto made = p.attester_factory();
      if (made.ok())
        p.attester = std::move(made).value();
      else
        p.attester_error = made.error();
    } else {
      auto pcrs = tpm2::parse_pcr_selection(p.config.pcrs);
      if (!pcrs.ok()) {
        p.attester_error = make_error(Reason::kAttesterUnavailable,
                                      "bad `pcrs` = " + p.config.pcrs + ": " + pcrs.error().detail);
      } else {
        tpm2::Tpm2Config tc;
        tc.tcti = p.config.tcti;
        tc.pcrs = std::move(pcrs).value();
        tc.media_type = p.config.media_type;
        // Opens no TPM here: the attester connects lazily on the first quote; in exattest.so
        // it also loads exattest-tpm2.so (tpm2-tss) only then (attesters/tpm2/factory.h).
        p.attester = tpm2::make_tpm2_attester(std::move(tc));
      }
    }
  }
  out_error = p.attester_error;
  return p.attester;
}

std::shared_ptr<Appraiser> get_appraiser(std::optional<Error>& out_error) {
  Process& p = proc();
  std::lock_guard<std::mutex> lock(p.mu);
  if (!p.appraiser_tried) {
    p.appraiser_tried = true;
    if (p.appraiser_factory) {
      auto made = p.appraiser_factory();
      if (made.ok())
        p.appraiser = std::move(made).value();
      else
        p.appraiser_error = made.error();
    } else if (p.config.policy.empty()) {
      p.appraiser_error =
          make_error(Reason::kPolicyError,
                     "no appraisal policy: set `policy` in [exattest_sect] or EXATTEST_POLICY to a "
                     "policy file (`exattest policy create` writes one)");
    } else {
      auto policy = tpm2::load_policy_file(p.config.policy);
      if (policy.ok()) {
        p.appraiser =
            std::make_shared<tpm2::Tpm2Appraiser>(std::move(policy).value(), p.config.media_type);
      } else {
        p.appraiser_error = make_error(
            Reason::kPolicyError,
            "policy file " + p.config.policy + " could not be loaded: " + policy.error().detail +
                "; fix the file (`exattest policy create` writes one) "
                "or point `policy` in [exattest_sect] / EXATTEST_POLICY at a valid one");
      }
    }
  }
  out_error = p.appraiser_error;
  return p.appraiser;
}

// Fails the connection before the exchange: raised and logged.
int fail_begin(SSL* ssl, Reason reason, const std::string& detail) {
  std::string role = SSL_is_server(ssl) ? "server" : "client";
  write_log(role, log_peer(ssl),
            inband::Record{"exchange", "rejected", reason, detail, "", {}});
  raise_error(reason, detail);
  return -1;
}

int op_begin(SSL* ssl) noexcept {
  try {
    Process& p = proc();
    // Not gated on config.active(): a server with `attest = none` still negotiates (hooks.cc)
    // and must then answer with a refusal; an inactive client never negotiates.
    if (ssl == nullptr || !p.initialized) return 0;
    if (state_of(ssl) != nullptr) return 1;  // idempotent
    const Config& cfg = p.config;
    bool require = cfg.request == Config::Request::kRequire;
    // PROTOCOL.md §1: "A connection that negotiated TLS 1.2 never attests; if attestation is
    // required the connection fails." PROTOCOL.md §2: "§5 runs on a connection only when
    // BOTH bits (64 and 65) were negotiated".
    std::string plain_why;
    if (SSL_version(ssl) != TLS1_3_VERSION) {
      plain_why = "the connection negotiated " + std::string(SSL_get_version(ssl)) +
                  "; attestation needs TLS 1.3";
    } else if (!hooks::negotiated(ssl, cfg.flag_cmw) || !hooks::negotiated(ssl, cfg.flag_inband)) {
      plain_why = "the peer did not negotiate in-band attestation (tls_flags bits " +
                  std::to_string(cfg.flag_cmw) + "/" + std::to_string(cfg.flag_inband) +
                  "); is the exattest shim loaded on the peer?";
    }
    if (!plain_why.empty()) {
      // PROTOCOL.md §2: "A side whose policy *requires* peer attestation fails the
      // connection when the flags were not negotiated".
      if (require)
        return fail_begin(ssl, Reason::kNotNegotiated, plain_why + " (request = require)");
      if (cfg.request == Config::Request::kOptional) {
        // PROTOCOL.md §8 optional: "no answer ... is logged and the connection goes on".
        std::string role = SSL_is_server(ssl) ? "server" : "client";
        write_log(role, log_peer(ssl),
                  inband::Record{"appraisal", "none", Reason::kNotNegotiated, plain_why, "", {}});
      }
      return 0;
    }

    auto st = std::make_unique<ConnState>();
    st->role = SSL_is_server(ssl) ? inband::Role::kServer : inband::Role::kClient;
    st->peer = log_peer(ssl);
    inband::Deps deps;
    deps.role = st->role;
    deps.request = cfg.request;
    deps.attest = cfg.attest;
    if (cfg.attest == Config::Attest::kTpm2) {
      std::optional<Error> err;
      st->attester = get_attester(err);
      // A missing attester is answered with an empty authenticator and logged by the Machine.
      deps.attester_error = err;
    }
    if (cfg.request != Config::Request::kOff) {
      std::optional<Error> err;
      st->appraiser = get_appraiser(err);
      deps.appraiser_error = err;
    }
    deps.attester = st->attester.get();
    deps.appraiser = st->appraiser.get();
    st->crypto = std::make_unique<inband::EaCrypto>(ssl, cfg);
    deps.crypto = st->crypto.get();
    st->machine = std::make_unique<inband::Machine>(std::move(deps));
    if (!SSL_set_ex_data(ssl, g_index, st.get()))
      return fail_begin(ssl, Reason::kProtocolError, "cannot attach exchange state (SSL ex_data)");
    st.release();
    return 1;
  } catch (const std::exception& e) {
    raise_error(Reason::kProtocolError, std::string("internal error: ") + e.what());
    return -1;
  } catch (...) {
    raise_error(Reason::kProtocolError, "internal error");
    return -1;
  }
}

int op_step(SSL* ssl, const unsigned char** out, size_t* out_len) noexcept {
  try {
    ConnState* st = state_of(ssl);
    if (st == nullptr) return EXATTEST_STEP_DONE;  // plain connection
    inband::Action a = st->machine->next();
    flush_records(*st);
    switch (a.kind) {
      case inband::Action::Kind::kWrite:
        if (out == nullptr || out_len == nullptr) return EXATTEST_STEP_FAIL;
        *out = a.write.data();
        *out_len = a.write.size();
        return EXATTEST_STEP_WRITE;
      case inband::Action::Kind::kRead:
        if (out_len == nullptr) return EXATTEST_STEP_FAIL;
        if (out != nullptr) *out = nullptr;
        *out_len = a.read_max;
        return EXATTEST_STEP_READ;
      case inband::Action::Kind::kDone:
        return EXATTEST_STEP_DONE;
      case inband::Action::Kind::kFailed:
        raise_error(a.error.reason, a.error.detail);
        return EXATTEST_STEP_FAIL;
    }
    return EXATTEST_STEP_FAIL;
  } catch (...) {
    raise_error(Reason::kProtocolError, "internal error in the attestation exchange");
    return EXATTEST_STEP_FAIL;
  }
}

void op_wrote(SSL* ssl, size_t n) noexcept {
  if (ConnState* st = state_of(ssl)) st->machine->wrote(n);
}

int op_feed(SSL* ssl, const unsigned char* in, size_t len) noexcept {
  const int sys_errno = errno;  // exattest_shim.h: the failed call's error at feed(NULL, 0)
  try {
    ConnState* st = state_of(ssl);
    if (st == nullptr) {
      raise_error(Reason::kProtocolError, "attestation bytes fed to a plain connection");
      return 0;
    }
    // len 0 = the connection ended (EOF, error, timeout) before the exchange was done.
    if (len == 0 || in == nullptr) {
      st->machine->eof(in == nullptr ? sys_errno : 0);
      flush_records(*st);
      if (!st->machine->failed()) return 1;  // already done: nothing to fail
      // Nothing more can be sent on a closed connection: report the failure now (a RESULT
      // still pending is dropped).
      raise_error(st->machine->error().reason, st->machine->error().detail);
      return 0;
    }
    (void)st->machine->feed(ByteView(in, len));
    flush_records(*st);
    // A failure with our RESULT(rejected) still to send reports 1: step() sends it, then
    // returns FAIL (PROTOCOL.md §5 "SHOULD send RESULT(rejected, ...) ... then closes").
    inband::Action a = st->machine->next();
    if (a.kind == inband::Action::Kind::kFailed) {
      raise_error(a.error.reason, a.error.detail);
      return 0;
    }
    return 1;
  } catch (...) {
    raise_error(Reason::kProtocolError, "internal error in the attestation exchange");
    return 0;
  }
}

int op_session_allowed(SSL*, SSL_SESSION*) noexcept {
  // PROTOCOL.md §5: "neither side resumes or uses 0-RTT" on attested configurations.
  Process& p = proc();
  return p.initialized && p.config.active() ? 0 : 1;
}

void op_reset(SSL* ssl) noexcept { drop_state(ssl); }

const exattest_shim_ops kOps = {
    EXATTEST_SHIM_ABI_VERSION, op_begin, op_step, op_wrote, op_feed, op_session_allowed, op_reset,
};

}  // namespace

Status init(const Config& config) {
  std::call_once(g_index_once, [] {
    g_index = SSL_get_ex_new_index(0, const_cast<char*>("exattest exchange"), nullptr, dup_state,
                                   free_state);
  });
  if (g_index < 0)
    return make_error(Reason::kProtocolError, "cannot register an SSL ex_data index");
  Process& p = proc();
  std::lock_guard<std::mutex> lock(p.mu);
  p.config = config;
  p.log = std::make_unique<audit::AuditLog>(config.log);
  p.log_error_reported = false;
  p.attester_tried = p.appraiser_tried = false;
  p.attester.reset();
  p.appraiser.reset();
  p.attester_error.reset();
  p.appraiser_error.reset();
  p.initialized = true;
  return Status::Ok();
}

const exattest_shim_ops* shim_ops() { return &kOps; }

namespace testing {

void set_factories(AttesterFactory attester, AppraiserFactory appraiser) {
  Process& p = proc();
  std::lock_guard<std::mutex> lock(p.mu);
  p.attester_factory = std::move(attester);
  p.appraiser_factory = std::move(appraiser);
  p.attester_tried = p.appraiser_tried = false;
  p.attester.reset();
  p.appraiser.reset();
  p.attester_error.reset();
  p.appraiser_error.reset();
}

void reset_for_testing() {
  Process& p = proc();
  std::lock_guard<std::mutex> lock(p.mu);
  p.initialized = false;
  p.config = Config{};
  p.log.reset();
  p.attester_tried = p.appraiser_tried = false;
  p.attester.reset();
  p.appraiser.reset();
  p.attester_error.reset();
  p.appraiser_error.reset();
}

}  // namespace testing

}  // namespace exattest::exchange
