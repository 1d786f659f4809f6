// exattest.so's definitions of the libcbor functions it uses: each forwards to libcbor, which
// is loaded with dlopen() on the first call. Only a process that decodes a peer's Evidence
// (a client or server that requires attestation, at its first appraisal) maps libcbor; every
// other process that reads an exattest configuration (servers that only attest, curl with
// `request = off`, `openssl` commands) is spared the mapping at start-up: issue #7,
// docs/performance.md. Linked only into the module (provider/module.cmake), before the static
// libraries, so the module's references bind here and it NEEDs no libcbor (--as-needed).
// The CLI, the tests and exattest-tpm2.so link libcbor directly.
//
// If libcbor cannot be loaded, cbor_load() fails like an allocation failure (the caller's
// decode fails closed) and the reason is printed once on stderr, naming the library and the
// package. No other function can be reached without a cbor_load() success first; they return
// empty values if they were.
#include <cbor.h>
#include <dlfcn.h>

#include <cstdio>

namespace {

#define EXATTEST_CBOR_FUNCTIONS(X)  \
  X(cbor_load)                      \
  X(cbor_decref)                    \
  X(cbor_get_int)                   \
  X(cbor_isa_uint)                  \
  X(cbor_isa_negint)                \
  X(cbor_isa_bytestring)            \
  X(cbor_isa_string)                \
  X(cbor_isa_array)                 \
  X(cbor_isa_map)                   \
  X(cbor_isa_tag)                   \
  X(cbor_bytestring_handle)         \
  X(cbor_bytestring_length)         \
  X(cbor_bytestring_is_definite)    \
  X(cbor_string_handle)             \
  X(cbor_string_length)             \
  X(cbor_array_handle)              \
  X(cbor_array_size)                \
  X(cbor_array_is_definite)         \
  X(cbor_map_handle)                \
  X(cbor_map_size)                  \
  X(cbor_map_is_definite)           \
  X(cbor_tag_value)                 \
  X(cbor_tag_item)

struct Table {
#define EXATTEST_CBOR_FIELD(name) decltype(&::name) name = nullptr;
  EXATTEST_CBOR_FUNCTIONS(EXATTEST_CBOR_FIELD)
#undef EXATTEST_CBOR_FIELD
};

// Loaded once per process (thread-safe static initialisation), never unloaded. nullptr when
// libcbor or one of its functions is missing.
const Table* load() {
  void* h = dlopen(EXATTEST_LIBCBOR_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (h == nullptr) {
    const char* why = dlerror();
    std::fprintf(stderr,
                 "exattest: cannot load %s (%s); attestation Evidence cannot be decoded, every "
                 "appraisal fails. Install libcbor (Debian: apt-get install libcbor0.8)\n",
                 EXATTEST_LIBCBOR_SONAME, why ? why : "unknown error");
    return nullptr;
  }
  static Table t;
  bool ok = true;
#define EXATTEST_CBOR_RESOLVE(name)                                      \
  t.name = reinterpret_cast<decltype(&::name)>(dlsym(h, #name));         \
  if (t.name == nullptr) {                                               \
    std::fprintf(stderr, "exattest: %s has no %s\n", EXATTEST_LIBCBOR_SONAME, #name); \
    ok = false;                                                          \
  }
  EXATTEST_CBOR_FUNCTIONS(EXATTEST_CBOR_RESOLVE)
#undef EXATTEST_CBOR_RESOLVE
  return ok ? &t : nullptr;
}

const Table* table() {
  static const Table* const t = load();
  return t;
}

}  // namespace

extern "C" {

cbor_item_t* cbor_load(cbor_data source, size_t source_size, struct cbor_load_result* result) {
  const Table* t = table();
  if (t == nullptr) {
    if (result != nullptr) {
      *result = cbor_load_result{};
      result->error.code = CBOR_ERR_MEMERROR;
    }
    return nullptr;
  }
  return t->cbor_load(source, source_size, result);
}

// The rest only ever run on items a successful cbor_load() returned, i.e. with a table.
#define EXATTEST_CBOR_FORWARD(ret, name, params, args, empty) \
  ret name params {                                           \
    const Table* t = table();                                 \
    if (t == nullptr) return empty;                           \
    return t->name args;                                      \
  }

void cbor_decref(cbor_item_t** item) {
  const Table* t = table();
  if (t != nullptr) t->cbor_decref(item);
}
EXATTEST_CBOR_FORWARD(uint64_t, cbor_get_int, (const cbor_item_t* item), (item), 0)
EXATTEST_CBOR_FORWARD(bool, cbor_isa_uint, (const cbor_item_t* item), (item), false)
EXATTEST_CBOR_FORWARD(bool, cbor_isa_negint, (const cbor_item_t* item), (item), false)
EXATTEST_CBOR_FORWARD(bool, cbor_isa_bytestring, (const cbor_item_t* item), (item), false)
EXATTEST_CBOR_FORWARD(bool, cbor_isa_string, (const cbor_item_t* item), (item), false)
EXATTEST_CBOR_FORWARD(bool, cbor_isa_array, (const cbor_item_t* item), (item), false)
EXATTEST_CBOR_FORWARD(bool, cbor_isa_map, (const cbor_item_t* item), (item), false)
EXATTEST_CBOR_FORWARD(bool, cbor_isa_tag, (const cbor_item_t* item), (item), false)
EXATTEST_CBOR_FORWARD(cbor_mutable_data, cbor_bytestring_handle, (const cbor_item_t* item),
                      (item), nullptr)
EXATTEST_CBOR_FORWARD(size_t, cbor_bytestring_length, (const cbor_item_t* item), (item), 0)
EXATTEST_CBOR_FORWARD(bool, cbor_bytestring_is_definite, (const cbor_item_t* item), (item),
                      false)
EXATTEST_CBOR_FORWARD(cbor_mutable_data, cbor_string_handle, (const cbor_item_t* item), (item),
                      nullptr)
EXATTEST_CBOR_FORWARD(size_t, cbor_string_length, (const cbor_item_t* item), (item), 0)
EXATTEST_CBOR_FORWARD(cbor_item_t**, cbor_array_handle, (const cbor_item_t* item), (item),
                      nullptr)
EXATTEST_CBOR_FORWARD(size_t, cbor_array_size, (const cbor_item_t* item), (item), 0)
EXATTEST_CBOR_FORWARD(bool, cbor_array_is_definite, (const cbor_item_t* item), (item), false)
EXATTEST_CBOR_FORWARD(struct cbor_pair*, cbor_map_handle, (const cbor_item_t* item), (item),
                      nullptr)
EXATTEST_CBOR_FORWARD(size_t, cbor_map_size, (const cbor_item_t* item), (item), 0)
EXATTEST_CBOR_FORWARD(bool, cbor_map_is_definite, (const cbor_item_t* item), (item), false)
EXATTEST_CBOR_FORWARD(uint64_t, cbor_tag_value, (const cbor_item_t* item), (item), 0)
EXATTEST_CBOR_FORWARD(cbor_item_t*, cbor_tag_item, (const cbor_item_t* item), (item), nullptr)

#undef EXATTEST_CBOR_FORWARD

}  // extern "C"
