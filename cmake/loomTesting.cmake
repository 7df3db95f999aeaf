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
