// Unit tests for attesters/tpm2/boot_appraisal: the event log must replay to the quoted PCRs,
// then `secure_boot: "required"` is judged from it (issue #16).
#include "attesters/tpm2/boot_appraisal.h"

#include "attesters/tpm2/eventlog.h"
#include "attesters/tpm2/pcr_selection.h"
#include "eventlog_builder.h"
#include "test_support.h"

using exattest::Bytes;
using exattest::Reason;
using exattest::test::EventLogBuilder;
using namespace exattest::tpm2;

namespace {

// What a quote over every PCR the log extends would carry: "sha256:7" -> hex of the replay.
std::map<std::string, std::string> quoted_from(const Bytes& log) {
  auto parsed = parse_event_log(exattest::view(log));
  REQUIRE_OK(parsed);
  auto banks = replay_event_log(*parsed);
  REQUIRE_OK(banks);
  std::map<std::string, std::string> out;
  for (const auto& [alg, pcrs] : *banks)
    for (const auto& [index, value] : pcrs)
      out[pcr_name(alg, index)] = exattest::to_hex(exattest::view(value));
  return out;
}

Policy secure_boot_policy() {
  Policy p;
  p.secure_boot_required = true;
  return p;
}

std::string detail(const exattest::Status& s) { return s.ok() ? "" : s.error().detail; }

}  // namespace

TEST_CASE("event log: a log that replays to the quote, Secure Boot on, is accepted",
          "[eventlog][boot]") {
  Bytes log = EventLogBuilder::uefi_boot(1).bytes();
  REQUIRE_OK(appraise_event_log(log, quoted_from(log), secure_boot_policy()));
  REQUIRE_OK(appraise_event_log(log, quoted_from(log), Policy{}));
}

TEST_CASE("event log: Secure Boot off is policy_violation only when the policy requires it",
          "[eventlog][boot]") {
  Bytes log = EventLogBuilder::uefi_boot(0).bytes();
  auto st = appraise_event_log(log, quoted_from(log), secure_boot_policy());
  REQUIRE_REASON(st, Reason::kPolicyViolation);
  CHECK(detail(st).rfind("Secure Boot is disabled (SecureBoot = 0", 0) == 0);
  REQUIRE_OK(appraise_event_log(log, quoted_from(log), Policy{}));
}

TEST_CASE("event log: the first PCR that does not replay is pcr_mismatch naming it",
          "[eventlog][boot]") {
  Bytes log = EventLogBuilder::uefi_boot(1).bytes();
  auto quoted = quoted_from(log);
  REQUIRE(quoted.count("sha256:4"));
  REQUIRE(quoted.count("sha256:7"));
  quoted["sha256:4"] = std::string(64, '0');
  quoted["sha256:7"] = std::string(64, '0');
  auto st = appraise_event_log(log, quoted, Policy{});
  REQUIRE_REASON(st, Reason::kPcrMismatch);
  CHECK(detail(st).find("does not replay to the quoted PCR sha256:4:") != std::string::npos);
  // sha1 (TPM_ALG_ID 4) comes before sha256 (11): a sha1 difference is reported first.
  quoted = quoted_from(log);
  quoted["sha1:7"] = std::string(40, '0');
  quoted["sha256:0"] = std::string(64, '0');
  st = appraise_event_log(log, quoted, Policy{});
  REQUIRE_REASON(st, Reason::kPcrMismatch);
  CHECK(detail(st).find("quoted PCR sha1:7:") != std::string::npos);
}

TEST_CASE("event log: Secure Boot events of an unquoted PCR 7 prove nothing", "[eventlog][boot]") {
  Bytes log = EventLogBuilder::uefi_boot(1).bytes();
  auto quoted = quoted_from(log);
  quoted.erase("sha1:7");
  quoted.erase("sha256:7");
  REQUIRE_OK(appraise_event_log(log, quoted, Policy{}));
  auto st = appraise_event_log(log, quoted, secure_boot_policy());
  REQUIRE_REASON(st, Reason::kPolicyViolation);
  CHECK(detail(st).find("Secure Boot is not measured: PCR 7 is not in the quote") == 0);
}

TEST_CASE("event log: none sent, or no SecureBoot event, or no dbx: not measured",
          "[eventlog][boot]") {
  auto st = appraise_event_log(std::nullopt, {}, secure_boot_policy());
  REQUIRE_REASON(st, Reason::kPolicyViolation);
  CHECK(detail(st).find("the peer sent no event log (evidence key 6)") != std::string::npos);
  REQUIRE_OK(appraise_event_log(std::nullopt, {}, Policy{}));

  EventLogBuilder no_sb({EventLogBuilder::kSha256});
  no_sb.event(7, kEvEfiVariableDriverConfig, EventLogBuilder::variable("PK", Bytes(8, 1)));
  Bytes log = no_sb.bytes();
  st = appraise_event_log(log, quoted_from(log), secure_boot_policy());
  REQUIRE_REASON(st, Reason::kPolicyViolation);
  CHECK(detail(st).find("no EV_EFI_VARIABLE_DRIVER_CONFIG event of SecureBoot") !=
        std::string::npos);

  EventLogBuilder no_dbx({EventLogBuilder::kSha256});
  for (const char* v : {"PK", "KEK", "db"})
    no_dbx.event(7, kEvEfiVariableDriverConfig, EventLogBuilder::variable(v, Bytes(8, 1)));
  no_dbx.event(7, kEvEfiVariableDriverConfig, EventLogBuilder::variable("SecureBoot", {1}));
  log = no_dbx.bytes();
  st = appraise_event_log(log, quoted_from(log), secure_boot_policy());
  REQUIRE_REASON(st, Reason::kPolicyViolation);
  CHECK(detail(st).find("measures no dbx variable") != std::string::npos);
}

TEST_CASE("event log: a log that does not parse is decode_error", "[eventlog][boot]") {
  Bytes log = EventLogBuilder::uefi_boot(1).bytes();
  log.resize(log.size() - 3);
  auto st = appraise_event_log(log, {}, Policy{});
  REQUIRE_REASON(st, Reason::kDecodeError);
  CHECK(detail(st).rfind("event log (evidence key 6): ", 0) == 0);
}

TEST_CASE("policy: secure_boot accepts only \"required\" and round-trips", "[eventlog][policy]") {
  const std::string base =
      R"({"version": 1, "trusted_aks": ["sha256:)" + std::string(64, 'a') + R"("], "pcrs": "any")";
  auto p = load_policy_json(base + R"(, "secure_boot": "required"})");
  REQUIRE_OK(p);
  CHECK(p->secure_boot_required);
  auto again = load_policy_json(policy_to_json(*p).dump());
  REQUIRE_OK(again);
  CHECK(again->secure_boot_required);
  auto off = load_policy_json(base + "}");
  REQUIRE_OK(off);
  CHECK_FALSE(off->secure_boot_required);
  for (const char* bad : {R"("on")", "true", "1", R"("Required")"}) {
    auto b = load_policy_json(base + R"(, "secure_boot": )" + bad + "}");
    REQUIRE_REASON(b, Reason::kPolicyError);
    CHECK(b.error().detail.find("\"secure_boot\" must be \"required\"") != std::string::npos);
  }
}

namespace {

// PCR 7 as a Secure Boot firmware measures it, but the SecureBoot event is written by
// `secure_boot_event` (to forge it in ways a replay cannot see).
template <typename F>
Bytes pcr7_log(F secure_boot_event) {
  EventLogBuilder b({EventLogBuilder::kSha1, EventLogBuilder::kSha256});
  secure_boot_event(b);
  for (const char* v : {"PK", "KEK", "db", "dbx"})
    b.event(7, kEvEfiVariableDriverConfig, EventLogBuilder::variable(v, Bytes(16, 0x5a)));
  b.event(7, kEvSeparator, Bytes(4, 0));
  return b.bytes();
}

}  // namespace

TEST_CASE("event log: SecureBoot data that does not hash to its digest is not believed",
          "[eventlog][boot]") {
  // The digests are those of SecureBoot = 0, as measured; the data says 1. The replay checks
  // only digests, so it still equals the quote.
  Bytes log = pcr7_log([](EventLogBuilder& b) {
    Bytes measured = EventLogBuilder::variable("SecureBoot", {0});
    b.event_with(
        7, kEvEfiVariableDriverConfig,
        {{EventLogBuilder::kSha1, EventLogBuilder::hash(EventLogBuilder::kSha1, measured)},
         {EventLogBuilder::kSha256, EventLogBuilder::hash(EventLogBuilder::kSha256, measured)}},
        EventLogBuilder::variable("SecureBoot", {1}));
  });
  auto quoted = quoted_from(log);
  REQUIRE_OK(appraise_event_log(log, quoted, Policy{}));
  auto st = appraise_event_log(log, quoted, secure_boot_policy());
  REQUIRE_REASON(st, Reason::kPolicyViolation);
  CHECK(detail(st).find("Secure Boot is not measured: the data of event 1 (PCR 7, SecureBoot) "
                        "does not hash to its sha1 digest") == 0);
}

TEST_CASE("event log: a SecureBoot event without a digest in the quoted bank is not believed",
          "[eventlog][boot]") {
  // SecureBoot = 1 only in the sha1 bank; the quote covers only sha256, whose replay (and
  // so the quote) never saw that event.
  Bytes log = pcr7_log([](EventLogBuilder& b) {
    b.event(7, kEvEfiVariableDriverConfig, EventLogBuilder::variable("SecureBoot", {1}),
            /*only=*/1);
  });
  auto quoted = quoted_from(log);
  for (auto it = quoted.begin(); it != quoted.end();)
    it = it->first.rfind("sha1:", 0) == 0 ? quoted.erase(it) : std::next(it);
  REQUIRE(quoted.count("sha256:7"));
  auto st = appraise_event_log(log, quoted, secure_boot_policy());
  REQUIRE_REASON(st, Reason::kPolicyViolation);
  CHECK(detail(st).find("Secure Boot is not measured: event 1 (PCR 7, SecureBoot) has no "
                        "sha256 digest, so the quote does not cover it") == 0);
  // With both banks quoted the sha1 replay covers it, but the sha256 digest is still missing.
  st = appraise_event_log(log, quoted_from(log), secure_boot_policy());
  REQUIRE_REASON(st, Reason::kPolicyViolation);
  CHECK(detail(st).find("has no sha256 digest") != std::string::npos);
}
