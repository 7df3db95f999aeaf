# The loom_deploy test, run as `cmake -D... -P run_deploy.cmake` (see CMakeLists.txt):
#  1. cmake --install the build tree into a fresh staging prefix;
#  2. check that the installed CMake files name neither the build tree, the source tree nor
#     the staging prefix (Cabana's rule: never record build paths);
#  3. move the prefix elsewhere, which a relocatable package survives;
#  4. configure, build and run the consumer with CMAKE_PREFIX_PATH=<prefix> and the Kokkos
#     this build used.
# The work directory is removed on success and kept on failure.
cmake_minimum_required(VERSION 3.23)

foreach(_var IN ITEMS LOOM_BINARY_DIR LOOM_SOURCE_DIR LOOM_DEPLOY_CONSUMER_DIR
                      LOOM_DEPLOY_WORK_ROOT LOOM_DEPLOY_KOKKOS_DIR)
  if(NOT DEFINED ${_var} OR "${${_var}}" STREQUAL "")
    message(FATAL_ERROR "loom deploy: run_deploy.cmake needs -D${_var}=...")
  endif()
endforeach()

# A work directory of its own, even when two build trees share the same work root.
string(TIMESTAMP _stamp "%Y%m%d-%H%M%S-%f")
string(RANDOM LENGTH 6 ALPHABET 0123456789abcdef _salt)
set(_work "${LOOM_DEPLOY_WORK_ROOT}/work-${_stamp}-${_salt}")
while(EXISTS "${_work}")
  string(RANDOM LENGTH 6 ALPHABET 0123456789abcdef _salt)
  set(_work "${LOOM_DEPLOY_WORK_ROOT}/work-${_stamp}-${_salt}")
endwhile()
file(MAKE_DIRECTORY "${_work}")
set(_stage "${_work}/stage")
set(_prefix "${_work}/moved/prefix")

function(loom_deploy_fail)
  string(JOIN "" _message ${ARGN})
  message(FATAL_ERROR "loom deploy: ${_message}\n(work directory kept: ${_work})")
endfunction()

# loom_deploy_run(<step> [QUIET] COMMAND <command>...): runs a command, fails the test when it
# fails. QUIET shows the command's output only on failure.
function(loom_deploy_run step)
  cmake_parse_arguments(_R "QUIET" "" "COMMAND" ${ARGN})
  message(STATUS "loom deploy: ${step}")
  if(_R_QUIET)
    execute_process(COMMAND ${_R_COMMAND} RESULT_VARIABLE _result OUTPUT_VARIABLE _output
                    ERROR_VARIABLE _output)
  else()
    execute_process(COMMAND ${_R_COMMAND} RESULT_VARIABLE _result)
  endif()
  if(NOT _result EQUAL 0)
    if(_R_QUIET)
      message("${_output}")
    endif()
    loom_deploy_fail("${step} failed (${_result})")
  endif()
endfunction()

set(_config_args)
if(LOOM_DEPLOY_CONFIG)
  set(_config_args --config ${LOOM_DEPLOY_CONFIG})
endif()

# 1. install
loom_deploy_run("cmake --install ${LOOM_BINARY_DIR} --prefix ${_stage}" QUIET
  COMMAND ${CMAKE_COMMAND} --install ${LOOM_BINARY_DIR} --prefix ${_stage} ${_config_args})

# 2. the installed package files
set(_package_dir "${_stage}/share/cmake/loom")
foreach(_file IN ITEMS loomConfig.cmake loomConfigVersion.cmake loomTargets.cmake)
  if(NOT EXISTS "${_package_dir}/${_file}")
    loom_deploy_fail("${_package_dir}/${_file} was not installed")
  endif()
endforeach()
foreach(_header IN ITEMS loom/config.hpp loom/model/model.hpp loom/layers/dense.hpp)
  if(NOT EXISTS "${_stage}/include/${_header}")
    loom_deploy_fail("${_stage}/include/${_header} was not installed")
  endif()
endforeach()
file(GLOB _package_files "${_package_dir}/*.cmake")
set(_offenders)
foreach(_file IN LISTS _package_files)
  file(STRINGS "${_file}" _lines)
  foreach(_line IN LISTS _lines)
    foreach(_path IN ITEMS "${LOOM_BINARY_DIR}" "${LOOM_SOURCE_DIR}" "${_stage}")
      string(FIND "${_line}" "${_path}" _at)
      if(_at GREATER_EQUAL 0)
        get_filename_component(_name "${_file}" NAME)
        list(APPEND _offenders "  ${_name} names ${_path}: ${_line}")
        break()
      endif()
    endforeach()
  endforeach()
endforeach()
if(_offenders)
  string(JOIN "\n" _offenders ${_offenders})
  loom_deploy_fail("the installed CMake package records build-time paths:\n${_offenders}")
endif()

# 3. relocate
file(MAKE_DIRECTORY "${_work}/moved")
file(RENAME "${_stage}" "${_prefix}")

# 4. the consumer
set(_configure_args
    -S ${LOOM_DEPLOY_CONSUMER_DIR} -B ${_work}/consumer
    -DCMAKE_PREFIX_PATH=${_prefix}
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
    -DKokkos_DIR=${LOOM_DEPLOY_KOKKOS_DIR}
    -DLOOM_DEPLOY_EXPECTED_loom_DIR=${_prefix}/share/cmake/loom
    -DLOOM_DEPLOY_EXPECTED_Kokkos_DIR=${LOOM_DEPLOY_KOKKOS_DIR})
if(LOOM_DEPLOY_KOKKOSKERNELS_DIR)
  list(APPEND _configure_args -DKokkosKernels_DIR=${LOOM_DEPLOY_KOKKOSKERNELS_DIR}
                              -DLOOM_DEPLOY_EXPECTED_KokkosKernels_DIR=${LOOM_DEPLOY_KOKKOSKERNELS_DIR})
endif()
if(LOOM_DEPLOY_GENERATOR)
  list(APPEND _configure_args -G ${LOOM_DEPLOY_GENERATOR})
endif()
if(LOOM_DEPLOY_MAKE_PROGRAM)
  list(APPEND _configure_args -DCMAKE_MAKE_PROGRAM=${LOOM_DEPLOY_MAKE_PROGRAM})
endif()
if(LOOM_DEPLOY_CXX_COMPILER)
  list(APPEND _configure_args -DCMAKE_CXX_COMPILER=${LOOM_DEPLOY_CXX_COMPILER})
endif()
if(LOOM_DEPLOY_CONFIG)
  list(APPEND _configure_args -DCMAKE_BUILD_TYPE=${LOOM_DEPLOY_CONFIG})
endif()
loom_deploy_run("configure the consumer" COMMAND ${CMAKE_COMMAND} ${_configure_args})
loom_deploy_run("build the consumer" COMMAND ${CMAKE_COMMAND} --build ${_work}/consumer ${_config_args})

find_program(_consumer loom_deploy_consumer PATHS ${_work}/consumer
             PATH_SUFFIXES ${LOOM_DEPLOY_CONFIG} NO_DEFAULT_PATH NO_CACHE)
if(NOT _consumer)
  loom_deploy_fail("the consumer built no loom_deploy_consumer executable")
endif()
execute_process(COMMAND ${_consumer} RESULT_VARIABLE _result OUTPUT_VARIABLE _output
                ERROR_VARIABLE _output)
message("${_output}")
if(NOT _result EQUAL 0 OR NOT _output MATCHES "loom deploy: ok")
  loom_deploy_fail("the consumer failed (${_result})")
endif()

file(REMOVE_RECURSE "${_work}")
message(STATUS "loom deploy: passed")
