// The interface the provider calls to make and judge Evidence (PROTOCOL.md §4, §6).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/bytes.h"
#include "common/result.h"

namespace exattest {

// The outcome of appraising one piece of Evidence.
struct Verdict {
  bool accepted = false;
  Reason reason = Reason::kNone;  // kNone when accepted
  std::string detail;             // human explanation; never secrets
  std::string ak;                 // "sha256:<hex>" of the AK's SPKI, when known
  std::map<std::string, std::string> pcrs;  // "sha256:7" -> hex value, as quoted
};

// Makes Evidence. Implementations are safe to call from several threads.
class Attester {
 public:
  virtual ~Attester() = default;
  // Evidence whose challenge is `binding` (PROTOCOL.md §4), as a CBOR CMW record ready to
  // be carried as cmw_data (PROTOCOL.md §6). kAttesterUnavailable when the TPM fails.
  virtual Result<Bytes> evidence(ByteView binding) = 0;

  // The asynchronous form (issue #12: the exchange never blocks an event loop). Starts
  // making Evidence for `binding` (copied before returning) and calls `done` exactly once
  // with what evidence() would return: on the attester's own thread once the quote is made,
  // or on the caller's thread before returning when the answer is known at once. `done` must
  // not block and must not call back into the attester. The default makes it synchronously.
  using EvidenceDone = std::function<void(Result<Bytes>)>;
  virtual void evidence_async(ByteView binding, EvidenceDone done) { done(evidence(binding)); }
};

// Judges Evidence against a policy.
class Appraiser {
 public:
  virtual ~Appraiser() = default;
  // Appraises a cmw_data body against the expected `binding`. Never returns accepted with
  // a reason; a rejection carries the PROTOCOL.md §7 reason of the first failed step.
  virtual Verdict appraise(ByteView cmw, ByteView binding) = 0;
};

}  // namespace exattest
