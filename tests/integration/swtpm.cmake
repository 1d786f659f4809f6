# swtpm-backed tests of attesters/tpm2 (tests/unit/tpm2_attester_test.cc).
#
# The swtpm fixture itself (exattest_add_swtpm_fixture & co.) lives in swtpm_fixture.cmake.inc,
# which every fragment that needs a TPM include()s: fragments are included in alphabetical
# order, so none may rely on another having defined the function first.
#
# tpm2_attester_test holds three groups of Catch2 cases:
#  * [tpm2-attester]   no TPM: discovered by the generic loop in tests/CMakeLists.txt (unit);
#  * [.tpm2-offline]   TCTI with no TPM behind it: registered here with TIMEOUT 30, so a hang
#                      is a failure, not a stuck suite;
#  * [.swtpm]          need swtpm: registered here with the fixture tpm2_attester_swtpm (one
#                      fresh swtpm for the group; RESOURCE_LOCK serializes them under -j).
# Hidden tags keep the last two out of the generic discovery.
include(${CMAKE_CURRENT_LIST_DIR}/swtpm_fixture.cmake.inc)

if(TARGET tpm2_attester_test)
  exattest_add_swtpm_fixture(tpm2_attester)
  exattest_swtpm_fixture_properties(tpm2_attester tpm2_attester_swtpm_props)
  catch_discover_tests(tpm2_attester_test
      TEST_SPEC "[swtpm]"
      TEST_PREFIX "tpm2_attester_swtpm: "
      PROPERTIES ${tpm2_attester_swtpm_props} TIMEOUT 60 LABELS integration)
  catch_discover_tests(tpm2_attester_test
      TEST_SPEC "[tpm2-offline]"
      TEST_PREFIX "tpm2_attester_offline: "
      PROPERTIES TIMEOUT 30 LABELS integration)
endif()
