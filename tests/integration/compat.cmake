# Compatibility suite (tests/integration/compat/): real Debian programs other than curl, nginx
# and openssl, unmodified, with the provider and the shim. Each test starts its program once
# (own config, logs and free loopback ports in a temporary directory, stopped by process group
# at the end), runs every case against it and prints its wall time:
#   ctest -L compat --output-on-failure
if(TARGET exattest_provider AND TARGET exattest-shim AND TARGET exattest)
  set(EXATTEST_COMPAT_TESTS
      "apache_server apache.sh server"
      "apache_proxy apache.sh proxy")
  set(EXATTEST_COMPAT_ENV
      "EXATTEST_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
      "EXATTEST_BINARY_DIR=${PROJECT_BINARY_DIR}")
  list(APPEND EXATTEST_COMPAT_ENV ${EXATTEST_ASAN_ENV})
  foreach(t ${EXATTEST_COMPAT_TESTS})
    separate_arguments(args UNIX_COMMAND "${t}")
    list(POP_FRONT args name script)
    add_test(NAME compat_${name}
             COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/compat/${script} ${args})
    set_tests_properties(compat_${name} PROPERTIES TIMEOUT 300 LABELS "integration;compat"
        ENVIRONMENT "${EXATTEST_COMPAT_ENV}")
  endforeach()
endif()
