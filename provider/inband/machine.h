// PROTOCOL.md §5 in-band exchange as a pure state machine: bytes in, bytes out, no sockets.
#pragma once

#include <cstddef>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "attesters/attester.h"
#include "common/bytes.h"
#include "common/result.h"
#include "config.h"
#include "inband/frame.h"

namespace exattest::inband {

enum class Role { kClient, kServer };
std::string_view role_name(Role r);

// What the exchange needs from RFC 9261 (provider/ea) and PROTOCOL.md §4 (binding) on one
// connection. The production implementation is EaCrypto (inband/ea_crypto.h); tests may
// substitute their own.
class Crypto {
 public:
  virtual ~Crypto() = default;

  // Our authenticator request (PROTOCOL.md §3): fresh 32-byte context, signature_algorithms,
  // and an EMPTY cmw_attestation offer. Returned with its 4-byte handshake header.
  virtual Result<Bytes> make_request() = 0;

  // Validates the peer's request (PROTOCOL.md §3; type 17 from a client, 13 from a server;
  // context of exactly 32 bytes). Returns whether it offers cmw_attestation.
  virtual Result<bool> accept_request(ByteView request) = 0;

  // PROTOCOL.md §4 binding for our own certificate and `request`'s context.
  virtual Result<Bytes> own_binding(ByteView request) = 0;

  // Our authenticator answering `request`, with `cmw` (when non-empty) as cmw_attestation in
  // the first CertificateEntry. Fails when no certificate, key or common scheme is available.
  virtual Result<Bytes> make_authenticator(ByteView request, ByteView cmw) = 0;

  // The refusal: Finished alone over an empty Certificate (PROTOCOL.md §3).
  virtual Result<Bytes> make_empty_authenticator(ByteView request) = 0;

  struct Validated {
    bool empty = false;        // an empty authenticator (refusal)
    std::optional<Bytes> cmw;  // cmw_data of the first CertificateEntry, if present
    Bytes binding;             // §4 binding recomputed from the validated leaf's SPKI
  };
  // Validates the peer's `authenticator` answering our `request` (RFC 9261 §5, PKIX chain
  // against the connection's trust store) and recomputes the binding from our own view.
  virtual Result<Validated> validate(ByteView request, ByteView authenticator) = 0;
};

struct Deps {
  Role role = Role::kClient;
  Config::Request request = Config::Request::kOff;
  Config::Attest attest = Config::Attest::kNone;
  Crypto* crypto = nullptr;             // required
  Attester* attester = nullptr;         // null: answer with an empty authenticator
  std::optional<Error> attester_error;  // why attester is null (logged locally)
  Appraiser* appraiser = nullptr;       // required when request != off
  // Why appraiser is null (e.g. the policy file failed to load): reported as policy_error.
  std::optional<Error> appraiser_error;
};

// One audit-log line (PROTOCOL.md §8 `log`).
struct Record {
  // "appraisal": we judged the peer's Evidence. "attestation": the peer's RESULT on ours.
  // "attester": we could not produce Evidence. "exchange": the exchange itself failed.
  std::string event;
  std::string outcome;  // "accepted" | "rejected" | "none"
  Reason reason = Reason::kNone;
  std::string detail;
  std::string ak;
  std::map<std::string, std::string> pcrs;
};

struct Action {
  enum class Kind { kWrite, kRead, kDone, kFailed };
  Kind kind = Kind::kDone;
  ByteView write;       // kWrite: bytes owned by the Machine, stable until wrote()
  size_t read_max = 0;  // kRead: never more than the current frame still needs
  Error error;          // kFailed
};

class Machine {
 public:
  explicit Machine(Deps deps);
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  // The next action. Idempotent until wrote()/feed()/eof() is called.
  Action next();
  // `n` bytes of the current kWrite were written (n ≤ its size).
  void wrote(size_t n);
  // Bytes read for the last kRead (at most read_max). A failure that first sends our
  // RESULT(rejected) returns Ok and shows in next() (kWrite, then kFailed); an error is
  // returned only when nothing is left to send.
  Status feed(ByteView in);
  // The connection ended (EOF, a fatal error, a local timeout) before we were done;
  // `sys_errno` is the system error behind it, 0 when none.
  void eof(int sys_errno = 0);
  // The application freed or reset the connection while the exchange was still running,
  // without first reporting the connection's end through a read (Python's asyncio drops its
  // SSLObject when the socket reaches EOF during the handshake). Recorded as protocol_error,
  // so an attempt never goes missing from the log; nothing is sent.
  void abandon();

  bool done() const { return state_ == State::kDone; }
  bool failed() const { return state_ == State::kFailed || pending_failure_.has_value(); }
  // The failure, when failed().
  const Error& error() const;
  // Everything worth a log line, in order.
  const std::vector<Record>& records() const { return records_; }
  Role role() const { return deps_.role; }

 private:
  enum class Step {
    kSendRequest,
    kReadRequest,
    kSendAuthenticator,
    kReadResult,
    kReadAuthenticator,
    kSendResult,
  };
  enum class State { kRunning, kDone, kFailed };

  static bool is_read(Step s);
  bool requesting() const { return deps_.request != Config::Request::kOff; }
  FrameType expected_frame() const;
  // Produces out_ for a send step; false when it failed (fail() was called).
  bool prepare_send(Step s);
  void on_frame(FrameType type, Bytes body);
  void on_request(Bytes body);
  void on_authenticator(Bytes body);
  void on_result(const ResultBody& r, bool in_turn);
  void plan_after_requests();
  // Local failure: queue RESULT(rejected, reason) if we have not sent ours, then fail.
  void fail(Error e, bool record = true);
  // The peer rejected: fail without answering.
  void fail_silently(Error e);
  void queue_frame(FrameType t, ByteView body);

  Deps deps_;
  State state_ = State::kRunning;
  std::deque<Step> steps_;
  Error error_;
  std::optional<Error> pending_failure_;  // set while our RESULT(rejected) is being written

  // Output: one frame at a time.
  Bytes out_;
  size_t out_off_ = 0;
  bool out_is_result_ = false;
  bool result_sent_ = false;

  // Input: header, then exactly the body.
  uint8_t hdr_[kHeaderLen] = {};
  size_t hdr_len_ = 0;
  std::optional<FrameHeader> cur_;
  Bytes body_;

  Bytes our_request_;   // what we sent (empty when we request nothing)
  Bytes peer_request_;  // what the peer sent (empty when it requests nothing)
  bool peer_offers_cmw_ = false;
  // Decided when the step is reached: RESULT(accepted/rejected) to send for our appraisal.
  ResultBody our_result_;
  std::vector<Record> records_;
};

}  // namespace exattest::inband
