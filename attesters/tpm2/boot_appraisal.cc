#include "attesters/tpm2/boot_appraisal.h"

#include <vector>

#include "attesters/tpm2/eventlog.h"
#include "attesters/tpm2/pcr_selection.h"

namespace exattest::tpm2 {
namespace {

Error not_measured(const std::string& why) {
  return make_error(Reason::kPolicyViolation, "Secure Boot is not measured: " + why +
                                                  " (policy: secure_boot is \"required\")");
}

Status check_secure_boot(const EventLog& log, bool pcr7_quoted) {
  if (!pcr7_quoted) {
    return not_measured("PCR 7 is not in the quote, so the log's PCR 7 events prove nothing");
  }
  SecureBootState sb = secure_boot_state(log);
  if (!sb.measured || !sb.value) {
    return not_measured("the log has no EV_EFI_VARIABLE_DRIVER_CONFIG event of SecureBoot in "
                        "PCR 7");
  }
  if (*sb.value != 1) {
    return make_error(Reason::kPolicyViolation,
                      "Secure Boot is disabled (SecureBoot = " + std::to_string(*sb.value) +
                          " in PCR 7; policy: secure_boot is \"required\")");
  }
  std::vector<std::string> missing;
  if (!sb.pk) missing.push_back("PK");
  if (!sb.kek) missing.push_back("KEK");
  if (!sb.db) missing.push_back("db");
  if (!sb.dbx) missing.push_back("dbx");
  if (!missing.empty()) {
    std::string names;
    for (const auto& m : missing) names += (names.empty() ? "" : ", ") + m;
    return not_measured("SecureBoot is 1 but the log measures no " + names + " variable");
  }
  return Status::Ok();
}

}  // namespace

Status appraise_event_log(const std::optional<Bytes>& log,
                          const std::map<std::string, std::string>& quoted, const Policy& policy) {
  if (!log) {
    if (policy.secure_boot_required) {
      return not_measured("the peer sent no event log (evidence key 6)");
    }
    return Status::Ok();
  }
  auto parsed = parse_event_log(view(*log));
  if (!parsed.ok()) {
    return make_error(Reason::kDecodeError, "event log (evidence key 6): " + parsed.error().detail);
  }
  auto banks = replay_event_log(*parsed);
  if (!banks.ok()) {
    return make_error(banks.error().reason, "event log (evidence key 6): " + banks.error().detail);
  }
  // PROTOCOL.md §6 key 6 explains the quoted PCRs: a log that does not replay to them is
  // not the log of this boot.
  bool pcr7_quoted = false;
  for (const auto& [name, value] : quoted)
    if (name.size() > 2 && name.compare(name.size() - 2, 2, ":7") == 0) pcr7_quoted = true;
  for (const auto& [alg, pcrs] : *banks) {
    for (const auto& [index, value] : pcrs) {
      std::string name = std::string(hash_alg_name(alg)) + ":" + std::to_string(index);
      auto q = quoted.find(name);
      if (q == quoted.end()) continue;
      std::string replayed = to_hex(view(value));
      if (replayed != q->second) {
        return make_error(Reason::kPcrMismatch,
                          "the event log does not replay to the quoted PCR " + name +
                              ": the log gives " + replayed + ", the quote " + q->second);
      }
    }
  }
  if (policy.secure_boot_required) {
    EXATTEST_RETURN_IF_ERROR(check_secure_boot(*parsed, pcr7_quoted));
  }
  return Status::Ok();
}

}  // namespace exattest::tpm2
