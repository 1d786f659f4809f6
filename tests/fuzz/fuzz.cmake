# Fuzz targets (one per parser, tests/fuzz/<target>_fuzz.cc) and their seed corpora
# (tests/fuzz/corpus/<target>/). include()d from tests/CMakeLists.txt.
#
# * EXATTEST_FUZZ=ON (clang, build-fuzz/, see scripts/fuzz.sh): libFuzzer binaries
#   bin/fuzz/fuzz_<target>; the target `exattest_fuzz` builds them all and nothing else
#   needs building.
# * Otherwise (the normal gcc build and the sanitizer build): the same sources with a replay
#   main (replay_main.cc), and one ctest test fuzz_replay_<target> that runs the committed
#   corpus (and ../shared/vectors when present) through the target's invariants.
set(EXATTEST_FUZZ_TARGETS ea_request ea_authenticator inband tls_flags cmw_cbor cmw_json
    tpm_evidence tpm_structs policy eventlog)
set(EXATTEST_FUZZ_DIR ${CMAKE_CURRENT_LIST_DIR})

add_custom_target(exattest_fuzz)
foreach(t ${EXATTEST_FUZZ_TARGETS})
  set(exe fuzz_${t})
  if(EXATTEST_FUZZ)
    add_executable(${exe} ${EXATTEST_FUZZ_DIR}/${t}_fuzz.cc)
    target_link_options(${exe} PRIVATE -fsanitize=fuzzer)
  else()
    add_executable(${exe} ${EXATTEST_FUZZ_DIR}/${t}_fuzz.cc ${EXATTEST_FUZZ_DIR}/replay_main.cc)
  endif()
  target_link_libraries(${exe} PRIVATE exattest_core nlohmann_json::nlohmann_json)
  target_include_directories(${exe} PRIVATE ${EXATTEST_FUZZ_DIR})
  set_target_properties(${exe} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bin/fuzz)
  add_dependencies(exattest_fuzz ${exe})
  if(NOT EXATTEST_FUZZ)
    set(dirs ${EXATTEST_FUZZ_DIR}/corpus/${t})
    # The shared vectors as extra seeds, read in place (never copied into the repository).
    set(vec ${PROJECT_SOURCE_DIR}/../shared/vectors)
    if(t MATCHES "^cmw_" AND EXISTS ${vec}/cmw)
      list(APPEND dirs ${vec}/cmw ${vec}/tpm)
    elseif(t MATCHES "^tpm_" AND EXISTS ${vec}/tpm)
      list(APPEND dirs ${vec}/tpm)
    elseif(t STREQUAL "eventlog" AND EXISTS ${vec}/eventlog)
      list(APPEND dirs ${vec}/eventlog)
    endif()
    add_test(NAME fuzz_replay_${t} COMMAND ${exe} ${dirs})
    set_tests_properties(fuzz_replay_${t} PROPERTIES TIMEOUT 120 LABELS fuzz)
  endif()
endforeach()

# Writes the seed corpora from real messages (run once by `scripts/fuzz.sh --seed`; the
# files are committed).
add_executable(fuzz_make_corpus ${EXATTEST_FUZZ_DIR}/make_corpus.cc)
target_link_libraries(fuzz_make_corpus PRIVATE exattest_core nlohmann_json::nlohmann_json)
target_include_directories(fuzz_make_corpus PRIVATE ${EXATTEST_FUZZ_DIR}
                           ${EXATTEST_FUZZ_DIR}/../unit)
set_target_properties(fuzz_make_corpus PROPERTIES
                      RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bin/fuzz)
