# curl and nginx, unmodified, with the provider and the shim (tests/integration/nginx/).
# Each case starts its own swtpm, nginx (own prefix, config, pid file, logs; 2 workers) or
# openssl s_server on free loopback ports, and stops them by process group when it ends.
#   ctest -R '^nginx_' --output-on-failure
if(TARGET exattest_provider AND TARGET exattest-shim AND TARGET exattest)
  set(EXATTEST_NGINX_CASES static parallel keepalive http2 reload pcr_sserver pcr_nginx
      no_resume mutual plain_client tls12 policy_example early_data)
  set(EXATTEST_NGINX_ENV
      "EXATTEST_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
      "EXATTEST_BINARY_DIR=${PROJECT_BINARY_DIR}")
  list(APPEND EXATTEST_NGINX_ENV ${EXATTEST_ASAN_ENV})
  foreach(c ${EXATTEST_NGINX_CASES})
    add_test(NAME nginx_${c} COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/nginx/cases.sh ${c})
    set_tests_properties(nginx_${c} PROPERTIES TIMEOUT 180 LABELS integration
        ENVIRONMENT "${EXATTEST_NGINX_ENV}")
  endforeach()
endif()
