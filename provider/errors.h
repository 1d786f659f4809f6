// Raising PROTOCOL.md §7 reasons into the OpenSSL error queue as "exattest" errors.
#pragma once

#include <string_view>

#include "common/reason.h"

namespace exattest {

// Registers the "exattest" error library and its reason strings (once per process).
void errors_init();

// ERR_raise_data with the exattest library, so applications print
// "error:...:exattest::<reason text>:<detail>". noexcept: safe from C callbacks.
void raise_error(Reason reason, std::string_view detail) noexcept;

}  // namespace exattest
