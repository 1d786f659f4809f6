// TEST-ONLY seams of provider/exchange.cc: never called by the provider or the shim.
#pragma once

#include <openssl/ssl.h>

#include <functional>
#include <memory>

#include "attesters/attester.h"
#include "common/result.h"

namespace exattest::exchange::testing {

// Replaces the lazily created Tpm2Attester / Tpm2Appraiser of this process. A factory
// returning an Error stands for "cannot be created" (e.g. the policy failed to load).
using AttesterFactory = std::function<Result<std::shared_ptr<Attester>>()>;
using AppraiserFactory = std::function<Result<std::shared_ptr<Appraiser>>()>;
void set_factories(AttesterFactory attester, AppraiserFactory appraiser);

// Forgets the process state of init() (config, attester, appraiser, log), so a test can call
// init() again with another configuration. The ex_data index is kept.
void reset_for_testing();

}  // namespace exattest::exchange::testing
