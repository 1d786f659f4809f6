# Integration tests of the `exattest` command (tools/, docs/cli.md): shell scripts in
# tests/integration/cli/, each asserting exact exit codes and JSON fields. Tests that need a
# TPM use the swtpm fixture; cli_quote_verify extends PCR 7, so it has a TPM of its own.
include(${CMAKE_CURRENT_LIST_DIR}/swtpm_fixture.cmake.inc)

if(TARGET exattest)
  set(EXATTEST_CLI_SCRIPTS ${CMAKE_CURRENT_LIST_DIR}/cli)
  set(EXATTEST_CLI_WORK ${CMAKE_BINARY_DIR}/tmp/cli)

  # exattest_cli_test(NAME SCRIPT [ARGS...]): runs SCRIPT.sh EXATTEST WORKDIR ARGS...
  function(exattest_cli_test name script)
    add_test(NAME cli_${name}
             COMMAND ${EXATTEST_CLI_SCRIPTS}/${script}.sh $<TARGET_FILE:exattest>
                     ${EXATTEST_CLI_WORK}/${name} ${ARGN})
    set_tests_properties(cli_${name} PROPERTIES TIMEOUT 120 LABELS "integration;cli"
                         ENVIRONMENT "${EXATTEST_ASAN_ENV}")
  endfunction()

  exattest_add_swtpm_fixture(cli)
  exattest_add_swtpm_fixture(cli_pcr)

  # No TPM needed.
  exattest_cli_test(help help)
  exattest_cli_test(vectors vectors ${EXATTEST_VECTORS_DIR})
  set_tests_properties(cli_vectors PROPERTIES SKIP_RETURN_CODE 77)
  exattest_cli_test(no_tpm no_tpm)
  set_tests_properties(cli_no_tpm PROPERTIES TIMEOUT 30)

  # On the shared swtpm (none of these changes PCRs).
  exattest_cli_test(ak ak)
  exattest_cli_test(checkquote checkquote)
  exattest_cli_test(tpm2_quote tpm2_quote)
  exattest_cli_test(doctor doctor ${EXATTEST_MODULE_DIR}/exattest.so
                    ${PROJECT_BINARY_DIR}/lib/libexattest-shim.so)
  exattest_cli_test(policy_eventlog policy_eventlog ${EXATTEST_VECTORS_DIR})
  set_tests_properties(cli_policy_eventlog PROPERTIES SKIP_RETURN_CODE 77)
  exattest_use_swtpm_fixture(cli cli_ak cli_checkquote cli_tpm2_quote cli_doctor
                             cli_policy_eventlog)

  # Extends PCR 7: its own TPM.
  exattest_cli_test(quote_verify quote_verify)
  exattest_use_swtpm_fixture(cli_pcr cli_quote_verify)
endif()
