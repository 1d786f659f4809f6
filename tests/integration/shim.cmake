# Tests of libexattest-shim.so with a fake provider (tests/integration/shim/).
#
# shim_harness links OpenSSL only, never the shim: every case runs in its own process with
# LD_PRELOAD=libexattest-shim.so, as real applications do (a process registers the fake ops
# table once, and the "no provider" case needs a process where nothing registered).
# shim_openssl_*: the real openssl s_server/s_client preloaded with the shim and no provider.
if(TARGET exattest-shim)
  find_package(Threads REQUIRED)
  set(EXATTEST_SHIM_PATH ${PROJECT_BINARY_DIR}/lib/libexattest-shim.so)
  set(EXATTEST_SHIM_PRELOAD ${EXATTEST_SHIM_PATH})
  if(EXATTEST_ASAN_RUNTIME)
    # An ASan-instrumented shim must come after the ASan runtime in LD_PRELOAD.
    set(EXATTEST_SHIM_PRELOAD "${EXATTEST_ASAN_RUNTIME}:${EXATTEST_SHIM_PATH}")
  endif()

  add_executable(shim_harness ${CMAKE_CURRENT_LIST_DIR}/shim/shim_harness.cc
                 $<TARGET_OBJECTS:exattest_catch_main>)
  target_link_libraries(shim_harness PRIVATE OpenSSL::SSL OpenSSL::Crypto Catch2::Catch2
                        Threads::Threads ${CMAKE_DL_LIBS})
  target_include_directories(shim_harness PRIVATE ${PROJECT_SOURCE_DIR}/shim)
  set_target_properties(shim_harness PROPERTIES RUNTIME_OUTPUT_DIRECTORY
                        ${PROJECT_BINARY_DIR}/tests)
  add_dependencies(shim_harness exattest-shim)  # its tests preload the shim
  catch_discover_tests(shim_harness TEST_PREFIX "shim: "
      PROPERTIES ENVIRONMENT "LD_PRELOAD=${EXATTEST_SHIM_PRELOAD}" TIMEOUT 60
                 LABELS integration)

  foreach(mode accept www)
    add_test(NAME shim_openssl_no_provider_${mode}
             COMMAND ${CMAKE_CURRENT_LIST_DIR}/shim/openssl_no_provider.sh
                     ${EXATTEST_SHIM_PRELOAD} ${mode} ${PROJECT_BINARY_DIR}/tmp)
    set_tests_properties(shim_openssl_no_provider_${mode} PROPERTIES TIMEOUT 60
                         LABELS integration)
  endforeach()
endif()

# Issue #11 item 3: a program whose own SSL_* functions shadow the shim.
if(TARGET exattest-shim)
  add_executable(shim_bypass_prog ${CMAKE_CURRENT_LIST_DIR}/shim/bypass_prog.c)
  set_target_properties(shim_bypass_prog PROPERTIES ENABLE_EXPORTS ON
                        RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests)
  add_dependencies(shim_bypass_prog exattest-shim)
  add_test(NAME shim_bypass COMMAND ${CMAKE_CURRENT_LIST_DIR}/shim/bypass.sh
           ${EXATTEST_SHIM_PRELOAD} $<TARGET_FILE:shim_bypass_prog> ${PROJECT_BINARY_DIR}/tmp)
  set_tests_properties(shim_bypass PROPERTIES TIMEOUT 60 LABELS integration)
endif()
