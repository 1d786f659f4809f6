# Benchmark programs (tests/bench): built on demand, never ctest tests. scripts/bench.sh
# builds them (target exattest_bench) in a Release tree and runs them; see docs/performance.md.
set(EXATTEST_BENCH_DIR ${CMAKE_CURRENT_LIST_DIR})
set(EXATTEST_BENCH_TARGETS)

# In-process benchmarks that call the core libraries directly.
foreach(name ea_cpu_bench tpm_bench)
  add_executable(${name} EXCLUDE_FROM_ALL ${EXATTEST_BENCH_DIR}/${name}.cc)
  target_link_libraries(${name} PRIVATE exattest_core)
  list(APPEND EXATTEST_BENCH_TARGETS ${name})
endforeach()

# Ordinary OpenSSL applications: they see exattest only through LD_PRELOAD + OPENSSL_CONF,
# exactly like curl or nginx. They link libssl and nothing of exattest.
find_package(Threads REQUIRED)
foreach(name conn_bench load_client spawn_timer)
  add_executable(${name} EXCLUDE_FROM_ALL ${EXATTEST_BENCH_DIR}/${name}.cc)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/provider)
  target_link_libraries(${name} PRIVATE OpenSSL::SSL OpenSSL::Crypto Threads::Threads)
  list(APPEND EXATTEST_BENCH_TARGETS ${name})
endforeach()
add_executable(startup_probe EXCLUDE_FROM_ALL ${EXATTEST_BENCH_DIR}/startup_probe.c)
target_link_libraries(startup_probe PRIVATE OpenSSL::SSL)
list(APPEND EXATTEST_BENCH_TARGETS startup_probe)

foreach(t ${EXATTEST_BENCH_TARGETS})
  set_target_properties(${t} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)
endforeach()
add_custom_target(exattest_bench DEPENDS ${EXATTEST_BENCH_TARGETS})
