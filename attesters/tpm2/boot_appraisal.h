// Appraisal of the TCG event log (PROTOCOL.md §6 key 6, issue #16): the quote signs the PCRs,
// the log explains them, the policy judges what the log says.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "attesters/tpm2/policy.h"
#include "common/bytes.h"
#include "common/result.h"

namespace exattest::tpm2 {

// Judges the event log `log` (nullopt: the Evidence carried no key 6) against the PCR values
// of a quote whose signature and pcrDigest were already verified (`quoted`: "sha256:7" ->
// lower-case hex, as Verdict::pcrs holds them) and against `policy`:
//  1. the log parses (parse_event_log; kDecodeError);
//  2. its replay equals the quoted value of every PCR it extends and the quote covers, banks
//     in TPM_ALG_ID order, PCRs ascending; the first that differs is kPcrMismatch naming it.
//     PCRs the quote does not cover are not trusted, so no rule reads their events;
//  3. `secure_boot: "required"`: PCR 7 is quoted (so step 2 checked its events), its SecureBoot variable event
//     has value 1 and the PK, KEK, db and dbx events are present; else kPolicyViolation,
//     "Secure Boot is disabled" or "Secure Boot is not measured" with what is missing.
// Ok when every step passes, also when there is no log and no rule needs one.
Status appraise_event_log(const std::optional<Bytes>& log,
                          const std::map<std::string, std::string>& quoted, const Policy& policy);

}  // namespace exattest::tpm2
