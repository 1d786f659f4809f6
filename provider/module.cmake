# The provider module (build/lib/ossl-modules/exattest.so) and the static library of its
# config/errors/hooks parts that unit tests and the CLI link through exattest_core.
# include()d from provider/CMakeLists.txt.

add_library(exattest_config STATIC
  ${CMAKE_CURRENT_LIST_DIR}/config.cc
  ${CMAKE_CURRENT_LIST_DIR}/errors.cc
  ${CMAKE_CURRENT_LIST_DIR}/hooks.cc)
target_include_directories(exattest_config PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(exattest_config PUBLIC exattest_common exattest_wire exattest_tpm2 OpenSSL::SSL)
target_link_libraries(exattest_core INTERFACE exattest_config)

# The per-SSL driver behind the shim callbacks (PROTOCOL.md §5) and the audit log: a
# static library so unit tests link them through exattest_core, and the module links it.
add_library(exattest_exchange STATIC
  ${CMAKE_CURRENT_LIST_DIR}/exchange.cc
  ${CMAKE_CURRENT_LIST_DIR}/audit_log.cc)
target_include_directories(exattest_exchange PUBLIC
  ${CMAKE_CURRENT_LIST_DIR} ${PROJECT_SOURCE_DIR}/shim)
target_link_libraries(exattest_exchange PUBLIC exattest_inband exattest_config exattest_tpm2
                      nlohmann_json::nlohmann_json OpenSSL::SSL)
target_link_libraries(exattest_core INTERFACE exattest_exchange)

# tpm2_loader.cc defines tpm2::make_tpm2_attester for the module only: it dlopen()s
# exattest-tpm2.so (attesters/tpm2/CMakeLists.txt) on the first quote, so the module itself
# needs no tpm2-tss library (issue #7). Being an object of the module, it precedes the static
# libraries, and attester.cc's definition is never linked in (attesters/tpm2/factory.h).
add_library(exattest_provider MODULE ${CMAKE_CURRENT_LIST_DIR}/provider.cc
            ${CMAKE_CURRENT_LIST_DIR}/tpm2_loader.cc ${CMAKE_CURRENT_LIST_DIR}/cbor_loader.cc)
# cbor_loader.cc defines the libcbor functions the module uses and loads libcbor on the first
# decode (issue #7), so the module NEEDs no libcbor (--as-needed below drops it). The soname to
# dlopen is the one of the libcbor this is built against.
find_library(EXATTEST_LIBCBOR_FILE NAMES cbor HINTS ${CBOR_LIBRARY_DIRS} REQUIRED)
execute_process(COMMAND readelf -d ${EXATTEST_LIBCBOR_FILE} OUTPUT_VARIABLE libcbor_dynamic)
string(REGEX MATCH "Library soname: \\[([^]]+)\\]" _ "${libcbor_dynamic}")
if(NOT CMAKE_MATCH_1)
  message(FATAL_ERROR "cannot read the SONAME of ${EXATTEST_LIBCBOR_FILE}")
endif()
# packaging/ turns it into the .deb's Depends (dpkg-shlibdeps cannot see a dlopen()).
set(EXATTEST_LIBCBOR_SONAME ${CMAKE_MATCH_1} CACHE INTERNAL "libcbor soname dlopen()ed")
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/cbor_loader.cc PROPERTIES
  COMPILE_DEFINITIONS "EXATTEST_LIBCBOR_SONAME=\"${CMAKE_MATCH_1}\"")
# Built together: `--target exattest_provider` must produce a working pair.
add_dependencies(exattest_provider exattest_tpm2_module)
target_include_directories(exattest_provider PRIVATE
  ${CMAKE_CURRENT_LIST_DIR} ${PROJECT_SOURCE_DIR}/shim)
target_link_libraries(exattest_provider PRIVATE exattest_core)
target_link_libraries(exattest_provider PRIVATE OpenSSL::SSL ${CMAKE_DL_LIBS})
target_include_directories(exattest_provider PRIVATE ${EXATTEST_GENERATED_INCLUDE_DIR})
# Only OSSL_provider_init is exported: the static core libraries are not compiled with
# hidden visibility, so a version script hides everything else.
set(EXATTEST_PROVIDER_EXPORTS ${CMAKE_CURRENT_BINARY_DIR}/exattest_provider.map)
file(WRITE ${EXATTEST_PROVIDER_EXPORTS} "{ global: OSSL_provider_init; local: *; };\n")
set_target_properties(exattest_provider PROPERTIES
  OUTPUT_NAME exattest
  PREFIX ""
  LIBRARY_OUTPUT_DIRECTORY ${EXATTEST_MODULE_DIR}
  CXX_VISIBILITY_PRESET hidden
  VISIBILITY_INLINES_HIDDEN ON
  LINK_DEPENDS ${EXATTEST_PROVIDER_EXPORTS})
# -z nodelete: the SSL_CTX/SSL ex_data callbacks, the custom-extension callbacks, the error
# strings and the shim's ops table point into this module for the life of the process.
# --as-needed: Debian's gcc passes it by default except with -fsanitize, and without it the
# module of a sanitizer build would NEED tpm2-tss (linked through exattest_core, unused).
target_link_options(exattest_provider PRIVATE
  -Wl,-z,nodelete -Wl,--version-script=${EXATTEST_PROVIDER_EXPORTS} -Wl,--no-undefined
  -Wl,--as-needed -Wl,--gc-sections)
# Issue #7: a private, static libstdc++/libgcc saves every process that loads the module the
# relocation of the shared libstdc++ (docs/performance.md). Safe because only
# OSSL_provider_init is exported and no exception or C++ object crosses the module boundary:
# every extern "C" entry (provider dispatch, shim ops, OpenSSL callbacks) is noexcept. Not in
# sanitizer/fuzz builds, whose runtimes must see every new/delete.
if(NOT EXATTEST_SANITIZE AND NOT EXATTEST_FUZZ)
  target_link_options(exattest_provider PRIVATE -static-libstdc++ -static-libgcc)
endif()
