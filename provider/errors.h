// Raising PROTOCOL.md §7 reasons into the OpenSSL error queue as "exattest" errors.
#pragma once

#include <source_location>
#include <string_view>

#include "common/reason.h"

namespace exattest {

// Registers the "exattest" error library and its reason strings (once per process).
void errors_init();

// The OpenSSL library code of "exattest" errors (registers it first if needed), for
// ERR_GET_LIB comparisons.
int error_library();

// ERR_raise_data with the exattest library, so applications print
// "error:...:exattest::<reason text>:<detail>". noexcept: safe from C callbacks.
// The error records the caller's file and line (ERR_print_errors shows them).
void raise_error(Reason reason, std::string_view detail,
                 std::source_location where = std::source_location::current()) noexcept;

}  // namespace exattest
