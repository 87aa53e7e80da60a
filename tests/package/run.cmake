# cmake -P script run by ctest: builds and runs the consumer in tests/package.
#   MODE=find_package: installs kakehashi from KAKEHASHI_BINARY_DIR into a fresh prefix first.
#   MODE=add_subdirectory: the consumer builds kakehashi from KAKEHASHI_SOURCE_DIR itself.
cmake_minimum_required(VERSION 3.16)
foreach(var KAKEHASHI_SOURCE_DIR WORK_DIR MODE)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run.cmake: ${var} is not set")
  endif()
endforeach()
if(NOT BUILD_CONFIG)
  set(BUILD_CONFIG Release)
endif()

file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

function(run step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "package test (${MODE}): ${step} failed (${rc})\n${out}\n${err}")
  endif()
  message(STATUS "${step}: ok")
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

set(configure_args -S ${KAKEHASHI_SOURCE_DIR}/tests/package -B ${WORK_DIR}/build
    -DCMAKE_BUILD_TYPE=${BUILD_CONFIG} -DKAKEHASHI_CONSUMER_MODE=${MODE})
if(MODE STREQUAL "find_package")
  run("install kakehashi into a fresh prefix"
      ${CMAKE_COMMAND} --install ${KAKEHASHI_BINARY_DIR} --prefix ${WORK_DIR}/prefix --config ${BUILD_CONFIG})
  list(APPEND configure_args -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix)
else()
  list(APPEND configure_args -DKAKEHASHI_SOURCE_DIR=${KAKEHASHI_SOURCE_DIR})
endif()
run("configure the consumer" ${CMAKE_COMMAND} ${configure_args})
# Two jobs: under add_subdirectory the consumer compiles all of kakehashi, the suite's longest test.
run("build the consumer" ${CMAKE_COMMAND} --build ${WORK_DIR}/build --config ${BUILD_CONFIG} --parallel 2)
run("run the consumer" ${WORK_DIR}/build/consumer)
message(STATUS "${last_output}")
