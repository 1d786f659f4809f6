// Appraisal of the TCG event log (PROTOCOL.md §6 key 6, issue #16): the quote signs the PCRs,
// the log explains them, the policy judges what the log says.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "attesters/tpm2/eventlog.h"
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
//  3. `secure_boot: "required"`: secure_boot_enabled() over the banks the log declares whose
//     PCR 7 the quote covers (step 2 compared the replay of each that the log extends).
// Ok when every step passes, also when there is no log and no rule needs one.
Status appraise_event_log(const std::optional<Bytes>& log,
                          const std::map<std::string, std::string>& quoted, const Policy& policy);

// Secure Boot as PCR 7 measured it, believing an event's data only where it is what was
// measured: every PCR 7 EV_EFI_VARIABLE_DRIVER_CONFIG event needs a digest in each of
// `banks` (TPM_ALG_IDs, at least one) equal to the hash of its data (the UEFI_VARIABLE_DATA),
// since a replay checks digests, not data. Then the SecureBoot variable must be 1 and PK,
// KEK, db and dbx measured. Every failure is kPolicyViolation whose detail starts "Secure
// Boot is disabled" or "Secure Boot is not measured". Used by the appraisal (step 3 above)
// and by `exattest policy create --from-eventlog` (every bank the log declares).
Status secure_boot_enabled(const EventLog& log, const std::vector<uint16_t>& banks);

}  // namespace exattest::tpm2
