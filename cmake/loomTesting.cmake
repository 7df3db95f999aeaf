# Helpers for loom's own tests, examples and benchmarks (not installed).
include_guard(GLOBAL)

# The Kokkos backends tests are generated for: every enabled host/device backend unless
# LOOM_TEST_BACKENDS names a subset (scripts/test builds Serial and OpenMP in two trees).
set(_loom_backends_found)
foreach(_dev IN LISTS Kokkos_DEVICES)
  string(TOUPPER "${_dev}" _dev)
  if(_dev STREQUAL "SERIAL")
    list(APPEND _loom_backends_found Serial)
  elseif(_dev STREQUAL "OPENMP")
    list(APPEND _loom_backends_found OpenMP)
  elseif(_dev STREQUAL "THREADS" OR _dev STREQUAL "PTHREAD")
    list(APPEND _loom_backends_found Threads)
  elseif(_dev STREQUAL "CUDA")
    list(APPEND _loom_backends_found Cuda)
  elseif(_dev STREQUAL "HIP")
    list(APPEND _loom_backends_found HIP)
  endif()
endforeach()
set(LOOM_TEST_BACKENDS "${_loom_backends_found}" CACHE STRING
    "Kokkos backends to generate tests for (subset of: ${_loom_backends_found})")
message(STATUS "loom: Kokkos ${Kokkos_VERSION} backends ${_loom_backends_found}; tests on ${LOOM_TEST_BACKENDS}; "
               "KokkosKernels ${LOOM_HAVE_KOKKOSKERNELS}, BLAS ${LOOM_HAVE_BLAS}")

# Threads for the OpenMP backend in tests and examples: two (this is what CI has), passive
# waiting so that oversubscribed ctest -j runs do not spin.
set(LOOM_TEST_ENVIRONMENT
    "OMP_NUM_THREADS=2" "OMP_PROC_BIND=false" "OMP_WAIT_POLICY=PASSIVE" "OPENBLAS_NUM_THREADS=1")

# MPI tests: one thread per rank (ranks share two cores), Open MPI allowed to run as root (CI
# containers), more ranks than cores.
set(LOOM_MPI_TEST_ENVIRONMENT
    "OMP_NUM_THREADS=1" "OMP_PROC_BIND=false" "OMP_WAIT_POLICY=PASSIVE" "OPENBLAS_NUM_THREADS=1"
    "OMPI_ALLOW_RUN_AS_ROOT=1" "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1" "OMPI_MCA_rmaps_base_oversubscribe=1")
set(LOOM_MPIEXEC_FLAGS "--oversubscribe" CACHE STRING "Flags mpiexec gets before the rank count's program")

# Warnings apply to loom's own targets only, never to the INTERFACE target.
# g++ 12 reports std::string concatenation ("'" + s + "'") under -Wrestrict wrongly (GCC bug
# 105651), so tests may concatenate freely; loom's headers avoid the pattern for their users.
function(loom_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Werror
                                           $<$<CXX_COMPILER_ID:GNU>:-Wno-restrict>)
endfunction()

# loom_add_compile_fail_test(<name> <regex> [ABSENT <regex>...] [MAX_ERRORS <n>])
# Called from tests/compile_fail/CMakeLists.txt: <name>.cpp there is an Eigen-style ok/ko pair.
# The ok build (the file as is) is part of the normal build; the ko build (with
# LOOM_SHOULD_FAIL_TO_BUILD) is the test loom_compile_fail_<name>, run by
# loomCompileFailTest.cmake. It passes only if the ok twin builds, the ko build fails, its output
# matches <regex>, at most MAX_ERRORS (default 2) of its lines contain "error:" (the incomplete
# loom_error_<topic><...> that names the culprit and the static_assert message: the whole story)
# and it matches none of the ABSENT regexes (messages that would mislead after the diagnostic).
# Write the regexes in g++'s spelling without integer suffixes: nvcc's layer_index<0UL> and
# Shape<1UL, 28UL, 28UL>> match layer_index<0> and Shape<1, 28, 28> > (see the script).
function(loom_add_compile_fail_test name regex)
  cmake_parse_arguments(_T "" "MAX_ERRORS" "ABSENT" ${ARGN})
  if(_T_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "loom_add_compile_fail_test(${name}): unknown arguments ${_T_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT DEFINED _T_MAX_ERRORS)
    set(_T_MAX_ERRORS 2)
  endif()
  set(ok loom_compile_fail_${name}_ok)
  set(ko loom_compile_fail_${name}_ko)
  add_executable(${ok} ${CMAKE_CURRENT_SOURCE_DIR}/${name}.cpp)
  target_link_libraries(${ok} PRIVATE loom::loom)
  add_executable(${ko} EXCLUDE_FROM_ALL ${CMAKE_CURRENT_SOURCE_DIR}/${name}.cpp)
  target_link_libraries(${ko} PRIVATE loom::loom)
  target_compile_definitions(${ko} PRIVATE LOOM_SHOULD_FAIL_TO_BUILD)
  # The regexes travel in a file, in bracket arguments, so that no quoting changes them.
  set(parameters_file ${CMAKE_CURRENT_BINARY_DIR}/loom_compile_fail_${name}.cmake)
  set(parameters "set(BINARY_DIR [==[${PROJECT_BINARY_DIR}]==])\n")
  string(APPEND parameters "set(OK_TARGET ${ok})\nset(KO_TARGET ${ko})\n"
                           "set(PASS_REGEX [==[${regex}]==])\nset(MAX_ERRORS ${_T_MAX_ERRORS})\n"
                           "set(ABSENT)\n")
  foreach(absent IN LISTS _T_ABSENT)
    string(APPEND parameters "list(APPEND ABSENT [==[${absent}]==])\n")
  endforeach()
  file(WRITE ${parameters_file} "${parameters}")
  add_test(NAME loom_compile_fail_${name}
           COMMAND ${CMAKE_COMMAND} -D TEST_FILE=${parameters_file} -D CONFIG=$<CONFIG>
                   -P ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/loomCompileFailTest.cmake)
  set_tests_properties(loom_compile_fail_${name} PROPERTIES
    LABELS "compile_fail"
    RESOURCE_LOCK loom_build_tree
    TIMEOUT 300)
endfunction()
