# cmake -DEXATTEST=<exe> -DSUBCOMMAND=<subcommand or empty> -DOUT=<page.1> -P man.cmake
# Writes `exattest --man [SUBCOMMAND]` to OUT and OUT.gz (gzip -9n: what Debian policy asks of
# man pages, without a timestamp so rebuilds are identical).
if(SUBCOMMAND STREQUAL "")
  set(args --man)
else()
  set(args --man ${SUBCOMMAND})
endif()
get_filename_component(dir ${OUT} DIRECTORY)
file(MAKE_DIRECTORY ${dir})
execute_process(COMMAND ${EXATTEST} ${args} OUTPUT_FILE ${OUT}.tmp RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${EXATTEST} ${args} failed (${rc})")
endif()
file(RENAME ${OUT}.tmp ${OUT})
execute_process(COMMAND gzip -9nkf ${OUT} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "gzip ${OUT} failed (${rc})")
endif()
