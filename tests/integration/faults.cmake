# Fault tests (tests/integration/faults/): evil peers at every step of the in-band exchange,
# swtpm killed mid-burst, policy file deleted/corrupted under a running process.
add_executable(evil_peer ${CMAKE_CURRENT_LIST_DIR}/faults/evil_peer.cc)
target_link_libraries(evil_peer PRIVATE OpenSSL::SSL OpenSSL::Crypto)
set_target_properties(evil_peer PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests)
set(EXATTEST_FAULT_CASES evil_client evil_server swtpm_burst policy_changes evil_server_close)
set(exattest_fault_env
    "EXATTEST_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
    "EXATTEST_BINARY_DIR=${PROJECT_BINARY_DIR}"
    "EVIL_PEER=${PROJECT_BINARY_DIR}/tests/evil_peer")
list(APPEND exattest_fault_env ${EXATTEST_ASAN_ENV})
foreach(c ${EXATTEST_FAULT_CASES})
  add_test(NAME faults_${c} COMMAND ${CMAKE_CURRENT_LIST_DIR}/faults/cases.sh ${c})
  set_tests_properties(faults_${c} PROPERTIES TIMEOUT 180 LABELS integration
                       ENVIRONMENT "${exattest_fault_env}")
endforeach()
