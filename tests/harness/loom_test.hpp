#pragma once

// The execution space a test executable runs on, chosen by the build (one executable per
// enabled backend, see tests/CMakeLists.txt).

#include <Kokkos_Core.hpp>

namespace loom::test {
#if defined(LOOM_TEST_BACKEND_SERIAL)
using ExecutionSpace = Kokkos::Serial;
#elif defined(LOOM_TEST_BACKEND_OPENMP)
using ExecutionSpace = Kokkos::OpenMP;
#elif defined(LOOM_TEST_BACKEND_THREADS)
using ExecutionSpace = Kokkos::Threads;
#elif defined(LOOM_TEST_BACKEND_CUDA)
using ExecutionSpace = Kokkos::Cuda;
#elif defined(LOOM_TEST_BACKEND_HIP) && KOKKOS_VERSION >= 40000
using ExecutionSpace = Kokkos::HIP;
#elif defined(LOOM_TEST_BACKEND_HIP)
using ExecutionSpace = Kokkos::Experimental::HIP;
#else
#error "loom tests: define one LOOM_TEST_BACKEND_<NAME> (tests/CMakeLists.txt does)"
#endif
using MemorySpace = ExecutionSpace::memory_space;
} // namespace loom::test

namespace loom::test {
/// A host copy of a view that never aliases it (create_mirror_view_and_copy returns the view
/// itself when it is already in host memory).
template <class View>
auto host_copy(View const& v) {
  auto h = Kokkos::create_mirror(Kokkos::HostSpace(), v);
  Kokkos::deep_copy(h, v);
  return h;
}
} // namespace loom::test
