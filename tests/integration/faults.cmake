# Fault tests (tests/integration/faults/): evil peers at every step of the in-band exchange,
# swtpm killed mid-burst, policy file deleted/corrupted under a running process.
add_executable(evil_peer ${CMAKE_CURRENT_LIST_DIR}/faults/evil_peer.cc)
target_link_libraries(evil_peer PRIVATE OpenSSL::SSL OpenSSL::Crypto)
set_target_properties(evil_peer PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests)
set(EXATTEST_FAULT_CASES evil_client evil_server swtpm_burst policy_changes evil_server_close)
exattest_add_cases(faults 180 ${CMAKE_CURRENT_LIST_DIR}/faults/cases.sh
                   ENV "EVIL_PEER=${PROJECT_BINARY_DIR}/tests/evil_peer"
                   CASES ${EXATTEST_FAULT_CASES})
