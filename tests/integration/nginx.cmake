# curl and nginx, unmodified, with the provider and the shim (tests/integration/nginx/).
# Each case starts its own swtpm, nginx (own prefix, config, pid file, logs; 2 workers) or
# openssl s_server on free loopback ports, and stops them by process group when it ends.
#   ctest -R '^nginx_' --output-on-failure
if(TARGET exattest_provider AND TARGET exattest-shim AND TARGET exattest)
  set(EXATTEST_NGINX_CASES static parallel keepalive http2 reload pcr_sserver pcr_nginx
      no_resume mutual plain_client tls12 policy_example early_data)
  exattest_add_cases(nginx 180 ${CMAKE_CURRENT_LIST_DIR}/nginx/cases.sh
                     CASES ${EXATTEST_NGINX_CASES})
endif()
