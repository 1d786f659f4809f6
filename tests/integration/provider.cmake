# Integration tests of the provider module (build/lib/ossl-modules/exattest.so) with the real
# openssl command: loading, config errors naming the key, a plain handshake without the shim.
if(TARGET exattest_provider)
  find_program(EXATTEST_OPENSSL_BIN openssl)
  if(EXATTEST_OPENSSL_BIN)
    set(EXATTEST_PROVIDER_TESTS_DIR ${CMAKE_CURRENT_LIST_DIR}/provider)
    foreach(t list_active bad_config plain_handshake)
      add_test(NAME provider_${t}
               COMMAND bash ${EXATTEST_PROVIDER_TESTS_DIR}/${t}.sh
                       $<TARGET_FILE:exattest_provider> ${PROJECT_BINARY_DIR}/tmp)
      # lib.sh drops LD_PRELOAD and EXATTEST_* inherited from the caller.
      set_tests_properties(provider_${t} PROPERTIES TIMEOUT 60 LABELS integration
                           ENVIRONMENT "${EXATTEST_ASAN_ENV}")
    endforeach()
  endif()
endif()
