// PROTOCOL.md §7 reasons as OpenSSL errors of the "exattest" library.
#include "errors.h"

#include <openssl/err.h>

#include <array>
#include <mutex>
#include <string>

namespace exattest {
namespace {

std::once_flag g_once;
int g_lib = 0;

// ERR_load_strings keeps pointers to these: static storage, never freed (the module is
// linked -z nodelete, so the strings outlive every error that points at them).
std::array<ERR_STRING_DATA, kMaxReason + 2> g_strings;  // library name + reasons + {0, NULL}
std::array<std::string, kMaxReason + 1> g_texts;

void load() {
  g_lib = ERR_get_next_error_library();
  size_t n = 0;
  // The entry with reason 0 names the library: "error:XXXXXXXX:exattest::<reason text>".
  g_strings[n++] = {ERR_PACK(g_lib, 0, 0), "exattest"};
  for (unsigned code = 1; code <= kMaxReason; ++code) {
    // PROTOCOL.md §7: "Every failure has a stable reason name, shown in the application's
    // OpenSSL error queue (`error:...:exattest::<reason text>`)".
    g_texts[code] = std::string(reason_text(static_cast<Reason>(code)));
    g_strings[n++] = {ERR_PACK(g_lib, 0, code), g_texts[code].c_str()};
  }
  g_strings[n] = {0, nullptr};
  ERR_load_strings(g_lib, g_strings.data());
}

}  // namespace

void errors_init() { std::call_once(g_once, load); }

int error_library() {
  errors_init();
  return g_lib;
}

void raise_error(Reason reason, std::string_view detail, const char* file, int line) noexcept {
  try {
    errors_init();
  } catch (...) {
    // call_once only throws when the system cannot create threads' primitives; the error
    // still gets raised below, with a library code OpenSSL prints as a number.
  }
  // PROTOCOL.md §7 codes are the OpenSSL reason codes; kNone is never raised.
  int code =
      reason == Reason::kNone ? static_cast<int>(Reason::kProtocolError) : static_cast<int>(reason);
  // ERR_raise_data, with the caller's location instead of this file's (OPENSSL_FUNC is
  // not defined for C++, so no function name either way).
  ERR_new();
  ERR_set_debug(file, line, nullptr);
  ERR_set_error(g_lib, code, "%.*s", static_cast<int>(detail.size()), detail.data());
}

}  // namespace exattest
