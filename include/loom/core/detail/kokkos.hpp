#pragma once

// Small shims over Kokkos API that differs between 3.4 and 4.x.

#include <Kokkos_Core.hpp>

#include <string>

namespace loom::detail {

/// Named fence; the label is dropped on Kokkos versions without named fences.
template <class ExecutionSpace>
void fence(ExecutionSpace const& space, [[maybe_unused]] std::string const& label) {
#if KOKKOS_VERSION >= 30500
  space.fence(label);
#else
  space.fence();
#endif
}

/// A Kokkos profiling region for the lifetime of the object (Kokkos::Profiling::ScopedRegion
/// needs 4.1).
class ScopedRegion {
public:
  explicit ScopedRegion(std::string const& name) { Kokkos::Profiling::pushRegion(name); }
  ~ScopedRegion() { Kokkos::Profiling::popRegion(); }
  ScopedRegion(ScopedRegion const&) = delete;
  ScopedRegion& operator=(ScopedRegion const&) = delete;
};

} // namespace loom::detail
