// Raising PROTOCOL.md §7 reasons into the OpenSSL error queue as "exattest" errors.
#pragma once

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
// The error records the caller's file and line (ERR_print_errors shows them); the
// __builtin_FILE/__builtin_LINE defaults work in gcc and in clang 14, which has no
// std::source_location with libstdc++ 12.
void raise_error(Reason reason, std::string_view detail, const char* file = __builtin_FILE(),
                 int line = __builtin_LINE()) noexcept;

}  // namespace exattest
