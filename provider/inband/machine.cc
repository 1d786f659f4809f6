#include "inband/machine.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace exattest::inband {

std::string_view role_name(Role r) { return r == Role::kServer ? "server" : "client"; }

bool Machine::is_read(Step s) {
  return s == Step::kReadRequest || s == Step::kReadResult || s == Step::kReadAuthenticator;
}

Machine::Machine(Deps deps) : deps_(std::move(deps)) {
  // PROTOCOL.md §5 step 1: "send REQUEST (its own, or empty)"; step 2: "read ... REQUEST".
  steps_ = {Step::kSendRequest, Step::kReadRequest};
  if (deps_.crypto == nullptr) {
    fail(make_error(Reason::kProtocolError, "in-band exchange started without an ea layer"));
    return;
  }
  // A side that asks must be able to judge the answer: without a policy it fails closed
  // before asking anything, and tells the peer why.
  if (requesting() && deps_.appraiser == nullptr) {
    fail(
        deps_.appraiser_error.value_or(make_error(Reason::kPolicyError,
                                                  "no appraisal policy configured; set `policy` in "
                                                  "[exattest_sect] or EXATTEST_POLICY")));
  }
}

const Error& Machine::error() const { return pending_failure_ ? *pending_failure_ : error_; }

FrameType Machine::expected_frame() const {
  switch (steps_.empty() ? Step::kSendRequest : steps_.front()) {
    case Step::kReadRequest:
      return FrameType::kRequest;
    case Step::kReadAuthenticator:
      return FrameType::kAuthenticator;
    default:
      return FrameType::kResult;
  }
}

void Machine::queue_frame(FrameType t, ByteView body) {
  auto frame = encode_frame(t, body);
  if (!frame.ok()) {
    fail(frame.error());
    return;
  }
  out_ = std::move(frame).value();
  out_off_ = 0;
  out_is_result_ = (t == FrameType::kResult);
}

Action Machine::next() {
  Action a;
  if (state_ == State::kDone) return a;
  if (state_ == State::kFailed) {
    a.kind = Action::Kind::kFailed;
    a.error = error_;
    return a;
  }
  if (out_off_ < out_.size()) {
    a.kind = Action::Kind::kWrite;
    a.write = ByteView(out_).subspan(out_off_);
    return a;
  }
  if (pending_failure_) {
    // Our RESULT(rejected) is out: now the connection fails.
    state_ = State::kFailed;
    error_ = std::move(*pending_failure_);
    pending_failure_.reset();
    return next();
  }
  if (steps_.empty()) {
    // PROTOCOL.md §5: "A side is done when its last step completes".
    state_ = State::kDone;
    return a;
  }
  Step s = steps_.front();
  if (is_read(s)) {
    a.kind = Action::Kind::kRead;
    // Never ask beyond the current frame: no application byte is consumed by the exchange.
    a.read_max = cur_ ? cur_->length - body_.size() : kHeaderLen - hdr_len_;
    return a;
  }
  prepare_send(s);  // queues the frame, or the failure's RESULT
  return next();
}

void Machine::wrote(size_t n) {
  if (out_off_ >= out_.size()) return;
  out_off_ += std::min(n, out_.size() - out_off_);
  if (out_off_ < out_.size()) return;
  if (out_is_result_) result_sent_ = true;
  out_.clear();
  out_off_ = 0;
  if (!pending_failure_ && state_ == State::kRunning && !steps_.empty() && !is_read(steps_.front()))
    steps_.pop_front();
}

bool Machine::prepare_send(Step s) {
  switch (s) {
    case Step::kSendRequest: {
      if (!requesting()) {
        // PROTOCOL.md §5: "EMPTY = 'I request nothing'".
        queue_frame(FrameType::kRequest, {});
        return state_ == State::kRunning && !pending_failure_;
      }
      auto req = deps_.crypto->make_request();
      if (!req.ok()) {
        fail(req.error());
        return false;
      }
      our_request_ = std::move(req).value();
      queue_frame(FrameType::kRequest, our_request_);
      break;
    }
    case Step::kSendAuthenticator: {
      Bytes auth;
      std::optional<Error> unavailable;
      if (deps_.attest == Config::Attest::kTpm2) {
        Result<Bytes> made = make_error(Reason::kAttesterUnavailable, "");
        if (!peer_offers_cmw_) {
          // The peer asked for an authenticator without attestation: a plain RFC 9261 answer.
          made = deps_.crypto->make_authenticator(peer_request_, {});
        } else if (deps_.attester == nullptr) {
          made = deps_.attester_error.value_or(
              make_error(Reason::kAttesterUnavailable, "no attester configured"));
        } else {
          auto binding = deps_.crypto->own_binding(peer_request_);
          if (!binding.ok()) {
            made = binding.error();
          } else {
            auto evidence = deps_.attester->evidence(binding.value());
            if (!evidence.ok())
              made = evidence.error();
            else
              made = deps_.crypto->make_authenticator(peer_request_, evidence.value());
          }
        }
        if (made.ok()) {
          auth = std::move(made).value();
        } else {
          // PROTOCOL.md §5: "A valid request it cannot satisfy ... is answered with an empty
          // authenticator; `attester_unavailable` is then logged locally".
          unavailable = made.error();
        }
      }
      if (unavailable) {
        records_.push_back(
            Record{"attester",
                   "none",
                   Reason::kAttesterUnavailable,
                   std::string(reason_name(unavailable->reason)) + ": " + unavailable->detail,
                   "",
                   {}});
      }
      if (auth.empty()) {
        // `attest = none`, or the fallback above: the refusal (PROTOCOL.md §3).
        auto empty = deps_.crypto->make_empty_authenticator(peer_request_);
        if (!empty.ok()) {
          fail(empty.error());
          return false;
        }
        auth = std::move(empty).value();
      }
      queue_frame(FrameType::kAuthenticator, auth);
      break;
    }
    case Step::kSendResult:
      queue_frame(FrameType::kResult, encode_result(our_result_));
      break;
    default:
      fail(make_error(Reason::kProtocolError, "internal: send step expected"));
      return false;
  }
  return state_ == State::kRunning && !pending_failure_;
}

Status Machine::feed(ByteView in) {
  if (state_ != State::kRunning || pending_failure_)
    return make_error(error().reason, error().detail);
  size_t need = 0;
  bool reading = out_off_ >= out_.size() && !steps_.empty() && is_read(steps_.front());
  if (reading) need = cur_ ? cur_->length - body_.size() : kHeaderLen - hdr_len_;
  if (!reading || in.size() > need || in.empty()) {
    fail(make_error(Reason::kProtocolError, "in-band driver fed " + std::to_string(in.size()) +
                                                " bytes while " + std::to_string(need) +
                                                " were expected"));
    return error();
  }
  if (!cur_) {
    std::copy(in.begin(), in.end(), hdr_ + hdr_len_);
    hdr_len_ += in.size();
    if (hdr_len_ < kHeaderLen) return Status::Ok();
    auto h = parse_header(ByteView(hdr_, kHeaderLen));
    if (!h.ok()) {
      fail(h.error());
      return Status::Ok();  // our RESULT(rejected) goes out first; next() then fails
    }
    FrameType want = expected_frame();
    // A RESULT is accepted at any point: a peer that detects an error sends
    // RESULT(rejected) "if it has not sent its RESULT yet" (PROTOCOL.md §5).
    if (h->type != want && h->type != FrameType::kResult) {
      fail(make_error(Reason::kProtocolError, std::string(frame_name(h->type)) + " frame where " +
                                                  std::string(frame_name(want)) + " was expected"));
      return Status::Ok();
    }
    cur_ = h.value();
    // No reserve(length): a peer could announce 1 MiB and send nothing, making every
    // waiting connection hold the whole limit. The body grows as its bytes arrive.
    body_.clear();
  } else {
    body_.insert(body_.end(), in.begin(), in.end());
  }
  if (body_.size() < cur_->length) return Status::Ok();
  FrameType t = cur_->type;
  cur_.reset();
  hdr_len_ = 0;
  on_frame(t, std::move(body_));
  body_.clear();
  if (state_ == State::kFailed) return error_;
  return Status::Ok();
}

void Machine::on_frame(FrameType type, Bytes body) {
  switch (type) {
    case FrameType::kResult: {
      auto r = decode_result(body);
      if (!r.ok()) {
        fail(r.error());
        return;
      }
      on_result(r.value(), expected_frame() == FrameType::kResult);
      return;
    }
    case FrameType::kRequest:
      on_request(std::move(body));
      return;
    case FrameType::kAuthenticator:
      on_authenticator(std::move(body));
      return;
  }
}

void Machine::on_result(const ResultBody& r, bool in_turn) {
  if (!r.accepted) {
    // PROTOCOL.md §5: "A side that sends or receives RESULT=rejected fails the connection".
    Error e{r.reason, "peer rejected: " + printable(r.text, kMaxResultText)};
    records_.push_back(
        Record{in_turn ? "attestation" : "exchange", "rejected", e.reason, e.detail, "", {}});
    fail_silently(std::move(e));
    return;
  }
  if (!in_turn) {
    fail(make_error(Reason::kProtocolError, std::string("RESULT(accepted) where ") +
                                                std::string(frame_name(expected_frame())) +
                                                " was expected"));
    return;
  }
  records_.push_back(Record{"attestation", "accepted", Reason::kNone, "peer accepted", "", {}});
  steps_.pop_front();
}

void Machine::on_request(Bytes body) {
  steps_.pop_front();
  if (!body.empty()) {
    // PROTOCOL.md §5: "a malformed REQUEST is a protocol error (close)"; the reason sent is
    // the one §3 names for the defect (decode_error for a malformed request).
    auto ok = deps_.crypto->accept_request(body);
    if (!ok.ok()) {
      fail(ok.error());
      return;
    }
    peer_offers_cmw_ = ok.value();
    peer_request_ = std::move(body);
  }
  plan_after_requests();
}

void Machine::plan_after_requests() {
  bool peer_requested = !peer_request_.empty();
  bool we_requested = !our_request_.empty();
  // PROTOCOL.md §5 order table, steps 3 and 4.
  if (deps_.role == Role::kServer) {
    if (peer_requested) steps_.insert(steps_.end(), {Step::kSendAuthenticator, Step::kReadResult});
    if (we_requested) steps_.insert(steps_.end(), {Step::kReadAuthenticator, Step::kSendResult});
  } else {
    if (we_requested) steps_.insert(steps_.end(), {Step::kReadAuthenticator, Step::kSendResult});
    if (peer_requested) steps_.insert(steps_.end(), {Step::kSendAuthenticator, Step::kReadResult});
  }
}

void Machine::on_authenticator(Bytes body) {
  steps_.pop_front();  // kSendResult follows
  auto v = deps_.crypto->validate(our_request_, body);
  if (!v.ok()) {
    records_.push_back(Record{"appraisal", "rejected", v.error().reason, v.error().detail, "", {}});
    fail(v.error(), /*record=*/false);
    return;
  }
  if (v->empty || !v->cmw) {
    std::string detail = v->empty ? "peer refused attestation (empty authenticator)"
                                  : "peer authenticator carries no cmw_attestation";
    if (deps_.request == Config::Request::kRequire) {
      // PROTOCOL.md §3: "refusal `no_evidence` when Evidence is required".
      records_.push_back(Record{"appraisal", "rejected", Reason::kNoEvidence, detail, "", {}});
      fail(make_error(Reason::kNoEvidence, detail), /*record=*/false);
      return;
    }
    // PROTOCOL.md §8 optional: "no answer or an empty authenticator is logged and the
    // connection goes on".
    records_.push_back(Record{"appraisal", "none", Reason::kNoEvidence, detail, "", {}});
    our_result_ = ResultBody{true, Reason::kNone, "no evidence; accepted (request = optional)"};
    return;
  }
  Verdict verdict = deps_.appraiser->appraise(*v->cmw, v->binding);
  if (verdict.accepted && verdict.reason == Reason::kNone) {
    records_.push_back(
        Record{"appraisal", "accepted", Reason::kNone, verdict.detail, verdict.ak, verdict.pcrs});
    our_result_ = ResultBody{true, Reason::kNone, "evidence accepted"};
    return;
  }
  // Fail closed: a rejection without a §7 reason is still a rejection.
  Reason reason =
      reason_from_code(static_cast<unsigned>(verdict.reason)).value_or(Reason::kPolicyViolation);
  records_.push_back(
      Record{"appraisal", "rejected", reason, verdict.detail, verdict.ak, verdict.pcrs});
  fail(make_error(reason, verdict.detail), /*record=*/false);
}

void Machine::fail(Error e, bool record) {
  if (state_ != State::kRunning || pending_failure_) return;  // the first failure wins
  if (record) records_.push_back(Record{"exchange", "rejected", e.reason, e.detail, "", {}});
  bool mid_write = out_off_ > 0 && out_off_ < out_.size();
  // PROTOCOL.md §5: "SHOULD send RESULT(rejected, protocol_error) if it has not sent its
  // RESULT yet, then closes".
  if (!result_sent_ && !mid_write) {
    auto frame =
        encode_frame(FrameType::kResult, encode_result(ResultBody{false, e.reason, e.detail}));
    if (frame.ok()) {
      out_ = std::move(frame).value();
      out_off_ = 0;
      out_is_result_ = true;
      pending_failure_ = std::move(e);
      return;
    }
  }
  fail_silently(std::move(e));
}

void Machine::fail_silently(Error e) {
  if (state_ != State::kRunning) return;
  state_ = State::kFailed;
  error_ = std::move(e);
  pending_failure_.reset();
  out_.clear();
  out_off_ = 0;
}

void Machine::eof(int sys_errno) {
  if (state_ != State::kRunning || pending_failure_) return;
  // PROTOCOL.md §5: "a peer MUST treat a plain close the same way" (as a protocol error).
  // Nothing is sent back: the peer is gone, and writing could raise SIGPIPE. The cause may
  // be ours as well as the peer's (a local timeout, the application closing the socket), so
  // the text blames nobody and names the system error when there is one.
  std::string detail = (hdr_len_ > 0 || cur_)
                           ? "the connection ended or timed out in the middle of an in-band frame"
                           : "the connection ended or timed out during the attestation exchange";
  if (sys_errno != 0) {
    detail += " (errno " + std::to_string(sys_errno) + ": " + std::strerror(sys_errno) + ")";
  }
  records_.push_back(Record{"exchange", "rejected", Reason::kProtocolError, detail, "", {}});
  fail_silently(make_error(Reason::kProtocolError, detail));
}

void Machine::abandon() {
  if (state_ != State::kRunning || pending_failure_) return;
  // Who ended it is unknown here (the peer's close, a timeout or the application's own
  // choice): the text blames nobody, like eof(), and says what we saw.
  std::string detail =
      "the application closed the connection during the attestation exchange (it freed or "
      "reset it before the exchange ended)";
  records_.push_back(Record{"exchange", "rejected", Reason::kProtocolError, detail, "", {}});
  fail_silently(make_error(Reason::kProtocolError, detail));
}

}  // namespace exattest::inband
