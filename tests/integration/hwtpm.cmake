# A TPM that behaves like hardware (issue #12): swtpm behind tests/bench/tpm_delay_proxy.py
# (50 ms per command, one command at a time for every process, optionally SHA-256-only).
# Each case starts its own swtpm, proxy and servers on free loopback ports.
#   ctest -R '^hwtpm_' --output-on-failure
if(TARGET exattest_provider AND TARGET exattest-shim AND TARGET exattest)
  set(EXATTEST_HWTPM_CASES proxy_sha256_only e2e_sha256_only nginx_sha256_only)
  exattest_add_cases(hwtpm 180 ${CMAKE_CURRENT_LIST_DIR}/hwtpm/cases.sh
                     CASES ${EXATTEST_HWTPM_CASES})
endif()
