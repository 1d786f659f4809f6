# Issue #7: tpm2-tss is loaded (via exattest-tpm2.so) only by processes that quote.
if(TARGET exattest_provider AND TARGET exattest_tpm2_module)
  foreach(c needed lazy missing)
    add_test(NAME lazy_tpm2_${c} COMMAND ${CMAKE_CURRENT_LIST_DIR}/lazy_tpm2/lazy_tpm2.sh ${c})
    set_tests_properties(lazy_tpm2_${c} PROPERTIES TIMEOUT 120 LABELS integration
        ENVIRONMENT
        "EXATTEST_SOURCE_DIR=${PROJECT_SOURCE_DIR};EXATTEST_BINARY_DIR=${PROJECT_BINARY_DIR};${EXATTEST_ASAN_ENV}")
  endforeach()
endif()
