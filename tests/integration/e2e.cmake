# End-to-end tests: unmodified openssl s_server/s_client + provider + shim + swtpm.
# Each case starts its own swtpm(s) and servers on free loopback ports and stops them.
set(EXATTEST_E2E_CASES www echo reconnect mutual pcr_mismatch untrusted_ak attest_none
    no_shim shim_without_provider tls12 tickets swtpm_down
    key_tcti key_pcrs key_policy key_log key_request key_codepoints
    early_data_server early_data_client)
exattest_add_cases(e2e 120 ${CMAKE_CURRENT_LIST_DIR}/e2e/cases.sh CASES ${EXATTEST_E2E_CASES})
