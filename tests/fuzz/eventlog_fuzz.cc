// Fuzz target: the TCG PC Client event log (attesters/tpm2/eventlog). Invariants: a rejection
// is decode_error naming the event index ("event log: ..."); an accepted log respects the
// bounds, numbers its events in order at increasing offsets, replays, and its digests all
// belong to Spec ID algorithms with their declared sizes. The appraisal (boot_appraisal)
// accepts a log against the PCRs of its own replay unless the secure_boot rule fails, and
// then only with policy_violation; any other quoted value of a replayed PCR is pcr_mismatch.
#include "attesters/tpm2/boot_appraisal.h"
#include "attesters/tpm2/eventlog.h"
#include "attesters/tpm2/pcr_selection.h"
#include "fuzz_support.h"

using namespace exattest;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto log = tpm2::parse_event_log(ByteView(data, size));
  if (!log.ok()) {
    FUZZ_CHECK(log.reason() == Reason::kDecodeError);
    FUZZ_CHECK(log.error().detail.rfind("event log: ", 0) == 0);
    return 0;
  }
  FUZZ_CHECK(size <= tpm2::kMaxEventLogSize);
  FUZZ_CHECK(!log->events.empty() && log->events.size() <= tpm2::kMaxEvents);
  FUZZ_CHECK(!log->algorithms.empty() && log->algorithms.size() <= tpm2::kMaxSpecIdAlgorithms);
  size_t last_offset = 0;
  for (size_t i = 0; i < log->events.size(); ++i) {
    const tpm2::Event& e = log->events[i];
    FUZZ_CHECK(e.index == i);
    FUZZ_CHECK(i == 0 ? e.offset == 0 : e.offset > last_offset);
    last_offset = e.offset;
    FUZZ_CHECK(e.offset < size && e.data.size() <= tpm2::kMaxEventDataSize && e.pcr <= 23);
    FUZZ_CHECK(!e.digests.empty());
    // The Spec ID header itself is a SHA-1-format record, whatever the declared banks.
    for (const auto& d : e.digests) {
      if (i == 0) break;
      bool declared = false;
      for (const auto& a : log->algorithms) {
        declared = declared || (a.alg == d.alg && a.digest_size == d.value.size());
      }
      FUZZ_CHECK(declared);
    }
    if (e.variable) FUZZ_CHECK(e.variable->guid.size() == 36);
  }
  auto replay = tpm2::replay_event_log(*log);
  FUZZ_CHECK(replay.ok());
  for (const auto& [alg, pcrs] : *replay) {
    for (const auto& [index, value] : pcrs) FUZZ_CHECK(index <= 23 && !value.empty());
  }
  (void)tpm2::secure_boot_state(*log);

  std::map<std::string, std::string> quoted;
  for (const auto& [alg, pcrs] : *replay)
    for (const auto& [index, value] : pcrs)
      quoted[tpm2::pcr_name(alg, index)] = to_hex(view(value));
  const std::optional<Bytes> bytes(Bytes(data, data + size));
  tpm2::Policy plain, secure;
  secure.secure_boot_required = true;
  FUZZ_CHECK(tpm2::appraise_event_log(bytes, quoted, plain).ok());
  auto sb = tpm2::appraise_event_log(bytes, quoted, secure);
  FUZZ_CHECK(sb.ok() || sb.reason() == Reason::kPolicyViolation);
  if (!quoted.empty()) {
    auto first = quoted.begin();
    first->second = std::string(first->second.size(), first->second[0] == '0' ? '1' : '0');
    FUZZ_CHECK(tpm2::appraise_event_log(bytes, quoted, plain).reason() == Reason::kPcrMismatch);
  }
  return 0;
}
