// The Attester behind `attest = tpm2` in provider/exchange.cc.
#pragma once

#include <memory>

#include "attesters/attester.h"
#include "attesters/tpm2/attester.h"

namespace exattest::tpm2 {

// Makes the attester the exchange uses; opens no TPM (the first evidence() call does).
// Exactly one definition is linked into each binary (issue #7, docs/performance.md):
//  * attesters/tpm2/attester.cc: a Tpm2Attester, statically linked (the CLI, unit tests);
//  * provider/tpm2_loader.cc, linked only into exattest.so: an adapter that dlopen()s
//    exattest-tpm2.so (the same Tpm2Attester sources) on its first evidence() call, so a
//    process that never quotes never loads tpm2-tss. Its object precedes the static
//    libraries on the module's link line, so attester.cc's archive member is never pulled in
//    (if it were, the link fails with a duplicate definition rather than silently).
std::shared_ptr<Attester> make_tpm2_attester(Tpm2Config config);

}  // namespace exattest::tpm2
