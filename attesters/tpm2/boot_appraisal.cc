#include "attesters/tpm2/boot_appraisal.h"

#include "attesters/tpm2/pcr_selection.h"
#include "attesters/tpm2/tpm_structs.h"

namespace exattest::tpm2 {
namespace {

Error not_measured(const std::string& why) {
  return make_error(Reason::kPolicyViolation, "Secure Boot is not measured: " + why);
}

std::string event_name(const Event& e) {
  return "event " + std::to_string(e.index) + " (PCR 7, " + e.variable->name + ")";
}

}  // namespace

Status secure_boot_enabled(const EventLog& log, const std::vector<uint16_t>& banks) {
  if (banks.empty()) {
    return not_measured(
        "PCR 7 is not in the quote in a bank the log declares, so the log's "
        "PCR 7 events prove nothing");
  }
  // The replay proves digests only: a variable's data counts where it hashes to them.
  for (const Event& e : log.events) {
    if (e.pcr != 7 || e.type != kEvEfiVariableDriverConfig || !e.variable) continue;
    for (uint16_t alg : banks) {
      const Digest* d = e.digest(alg);
      if (d == nullptr) {
        return not_measured(event_name(e) + " has no " + std::string(hash_alg_name(alg)) +
                            " digest, so the quote does not cover it");
      }
      auto h = tpm_hash(alg, view(e.data));
      if (!h.ok() || *h != d->value) {
        return not_measured("the data of " + event_name(e) + " does not hash to its " +
                            std::string(hash_alg_name(alg)) +
                            " digest: it is not what was "
                            "measured");
      }
    }
  }
  SecureBootState sb = secure_boot_state(log);
  if (!sb.measured || !sb.value) {
    return not_measured(
        "the log has no EV_EFI_VARIABLE_DRIVER_CONFIG event of SecureBoot in "
        "PCR 7");
  }
  if (*sb.value != 1) {
    return make_error(Reason::kPolicyViolation, "Secure Boot is disabled (SecureBoot = " +
                                                    std::to_string(*sb.value) + ") in PCR 7");
  }
  std::string missing;
  for (auto [measured, name] : {std::pair{sb.pk, "PK"}, std::pair{sb.kek, "KEK"},
                                std::pair{sb.db, "db"}, std::pair{sb.dbx, "dbx"}}) {
    if (!measured) missing += (missing.empty() ? "" : ", ") + std::string(name);
  }
  if (!missing.empty()) {
    return not_measured("SecureBoot is 1 but the log measures no " + missing + " variable");
  }
  return Status::Ok();
}

Status appraise_event_log(const std::optional<Bytes>& log,
                          const std::map<std::string, std::string>& quoted, const Policy& policy) {
  const std::string rule = " (policy: secure_boot is \"required\")";
  if (!log) {
    if (!policy.secure_boot_required) return Status::Ok();
    return make_error(Reason::kPolicyViolation,
                      "Secure Boot is not measured: the peer sent no event log (evidence key "
                      "6)" +
                          rule);
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
  // The banks whose PCR 7 the quote covers: where the log extends PCR 7 in one, the loop
  // below compared it; where it does not, none of its PCR 7 events has that bank's digest,
  // and secure_boot_enabled() refuses them.
  std::vector<uint16_t> pcr7_banks;
  for (const SpecIdAlgorithm& a : parsed->algorithms)
    if (quoted.count(pcr_name(a.alg, 7))) pcr7_banks.push_back(a.alg);
  for (const auto& [alg, pcrs] : *banks) {
    for (const auto& [index, value] : pcrs) {
      std::string name = pcr_name(alg, index);
      auto q = quoted.find(name);
      if (q == quoted.end()) continue;
      std::string replayed = to_hex(view(value));
      if (replayed != q->second) {
        return make_error(Reason::kPcrMismatch, "the event log does not replay to the quoted PCR " +
                                                    name + ": the log gives " + replayed +
                                                    ", the quote " + q->second);
      }
    }
  }
  if (policy.secure_boot_required) {
    Status sb = secure_boot_enabled(*parsed, pcr7_banks);
    if (!sb.ok()) return make_error(sb.error().reason, sb.error().detail + rule);
  }
  return Status::Ok();
}

}  // namespace exattest::tpm2
