// Per-connection driver of the in-band exchange (PROTOCOL.md §5): owns each SSL's
// inband state and implements the callbacks the shim calls (shim/exattest_shim.h).
#pragma once

#include "common/result.h"
#include "config.h"
#include "exattest_shim.h"

namespace exattest::exchange {

// Once per process, from OSSL_provider_init (under the provider's once-guard), after the
// configuration was validated. No I/O: the policy, TPM and log are opened lazily.
Status init(const Config& config);

// The callback table handed to the shim's exattest_shim_register().
const exattest_shim_ops* shim_ops();

}  // namespace exattest::exchange
