# The loom_deploy test, run as `cmake -D... -P run_deploy.cmake` (see CMakeLists.txt):
#  1. cmake --install the build tree into a fresh staging prefix;
#  2. check that the installed CMake files name neither the build tree, the source tree nor
#     the staging prefix (Cabana's rule: never record build paths);
#  3. move the prefix elsewhere, which a relocatable package survives;
#  4. configure, build and run the consumer with CMAKE_PREFIX_PATH=<prefix> and the Kokkos
#     this build used: with no build type (it must be optimised), as Debug (it must not be),
#     and configured with its own -O level (loom must keep it).
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

# 4. the consumer, built the ways users build it. With a single-config generator:
#     - with no build type: loom::loom must add optimisation (the consumer reports whether
#       __OPTIMIZE__ is defined, and its compile command must hold -O3);
#     - as Debug: loom must add none;
#     - with no build type and -O1 in CMAKE_CXX_FLAGS (configured only): loom must leave the
#       consumer's own -O level alone.
#    With a multi-config generator (never without a configuration): in this tree's configuration.
unset(ENV{CXXFLAGS})  # each case says what the consumer's flags are

# loom_deploy_consumer(<name> [BUILD_TYPE <type>] [CXX_FLAGS <flags>] [CONFIGURE_ONLY]
#                      [OPTIMIZE 0|1] [COMMAND_MATCHES <regex>...] [COMMAND_LACKS <regex>...])
function(loom_deploy_consumer name)
  cmake_parse_arguments(_C "CONFIGURE_ONLY" "BUILD_TYPE;CXX_FLAGS;OPTIMIZE"
                        "COMMAND_MATCHES;COMMAND_LACKS" ${ARGN})
  set(_dir "${_work}/consumer-${name}")
  set(_args
      -S ${LOOM_DEPLOY_CONSUMER_DIR} -B ${_dir}
      -DCMAKE_PREFIX_PATH=${_prefix}
      -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
      -DCMAKE_EXPORT_COMPILE_COMMANDS=ON
      -DKokkos_DIR=${LOOM_DEPLOY_KOKKOS_DIR}
      -DLOOM_DEPLOY_EXPECTED_loom_DIR=${_prefix}/share/cmake/loom
      -DLOOM_DEPLOY_EXPECTED_Kokkos_DIR=${LOOM_DEPLOY_KOKKOS_DIR})
  if(LOOM_DEPLOY_KOKKOSKERNELS_DIR)
    list(APPEND _args -DKokkosKernels_DIR=${LOOM_DEPLOY_KOKKOSKERNELS_DIR}
                      -DLOOM_DEPLOY_EXPECTED_KokkosKernels_DIR=${LOOM_DEPLOY_KOKKOSKERNELS_DIR})
  endif()
  if(LOOM_DEPLOY_GENERATOR)
    list(APPEND _args -G ${LOOM_DEPLOY_GENERATOR})
  endif()
  if(LOOM_DEPLOY_MAKE_PROGRAM)
    list(APPEND _args -DCMAKE_MAKE_PROGRAM=${LOOM_DEPLOY_MAKE_PROGRAM})
  endif()
  if(LOOM_DEPLOY_CXX_COMPILER)
    list(APPEND _args -DCMAKE_CXX_COMPILER=${LOOM_DEPLOY_CXX_COMPILER})
  endif()
  if(_C_BUILD_TYPE)
    list(APPEND _args -DCMAKE_BUILD_TYPE=${_C_BUILD_TYPE})
  endif()
  if(DEFINED _C_CXX_FLAGS)
    list(APPEND _args "-DCMAKE_CXX_FLAGS=${_C_CXX_FLAGS}")
  endif()
  loom_deploy_run("configure the consumer (${name})" COMMAND ${CMAKE_COMMAND} ${_args})

  if(_C_COMMAND_MATCHES OR _C_COMMAND_LACKS)
    if(NOT EXISTS "${_dir}/compile_commands.json")
      loom_deploy_fail("the consumer (${name}) wrote no compile_commands.json; the deploy test "
                       "needs a Makefile or Ninja generator")
    endif()
    file(READ "${_dir}/compile_commands.json" _commands)
    string(JSON _count LENGTH "${_commands}")
    set(_command)
    math(EXPR _last "${_count} - 1")
    foreach(_i RANGE ${_last})
      string(JSON _file GET "${_commands}" ${_i} file)
      if(_file MATCHES "main\\.cpp$")
        string(JSON _command GET "${_commands}" ${_i} command)
      endif()
    endforeach()
    foreach(_regex IN LISTS _C_COMMAND_MATCHES)
      if(NOT _command MATCHES "${_regex}")
        loom_deploy_fail("the consumer (${name}) compiles main.cpp without '${_regex}':\n${_command}")
      endif()
    endforeach()
    foreach(_regex IN LISTS _C_COMMAND_LACKS)
      if(_command MATCHES "${_regex}")
        loom_deploy_fail("the consumer (${name}) compiles main.cpp with '${_regex}':\n${_command}")
      endif()
    endforeach()
  endif()
  if(_C_CONFIGURE_ONLY)
    return()
  endif()

  set(_build_config)
  if(_C_BUILD_TYPE)
    set(_build_config --config ${_C_BUILD_TYPE})
  endif()
  loom_deploy_run("build the consumer (${name})"
                  COMMAND ${CMAKE_COMMAND} --build ${_dir} ${_build_config})
  find_program(_consumer loom_deploy_consumer PATHS ${_dir} PATH_SUFFIXES ${_C_BUILD_TYPE}
               NO_DEFAULT_PATH NO_CACHE)
  if(NOT _consumer)
    loom_deploy_fail("the consumer (${name}) built no loom_deploy_consumer executable")
  endif()
  execute_process(COMMAND ${_consumer} RESULT_VARIABLE _result OUTPUT_VARIABLE _output
                  ERROR_VARIABLE _output)
  message("${_output}")
  if(NOT _result EQUAL 0 OR NOT _output MATCHES "loom deploy: ok")
    loom_deploy_fail("the consumer (${name}) failed (${_result})")
  endif()
  if(DEFINED _C_OPTIMIZE AND NOT _output MATCHES "optimize=${_C_OPTIMIZE}[^0-9]")
    loom_deploy_fail("the consumer (${name}) should report optimize=${_C_OPTIMIZE}")
  endif()
endfunction()

set(_o3 "(^| )-O3( |$)")
if(LOOM_DEPLOY_MULTI_CONFIG)
  loom_deploy_consumer("${LOOM_DEPLOY_CONFIG}" BUILD_TYPE ${LOOM_DEPLOY_CONFIG})
else()
  loom_deploy_consumer(no-build-type OPTIMIZE 1 COMMAND_MATCHES "${_o3}")
  loom_deploy_consumer(debug BUILD_TYPE Debug OPTIMIZE 0 COMMAND_LACKS "(^| )-O[0-9s]")
  loom_deploy_consumer(own-flags CXX_FLAGS -O1 CONFIGURE_ONLY
                       COMMAND_MATCHES "(^| )-O1( |$)" COMMAND_LACKS "${_o3}")
endif()

file(REMOVE_RECURSE "${_work}")
message(STATUS "loom deploy: passed")
