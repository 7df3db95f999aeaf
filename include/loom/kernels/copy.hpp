#pragma once

// Fill and copy over contiguous views as flat arrays. One small kernel each, where
// Kokkos::deep_copy instantiates a functor per layout and rank.

#include <Kokkos_Core.hpp>

#include <cstddef>

namespace loom::kernels {

/// \brief Sets every element of a contiguous view to `value`.
template <class ExecutionSpace, class View>
void fill(ExecutionSpace const& space, View const& view,
          typename View::non_const_value_type value) {
  auto* data = view.data();
  Kokkos::parallel_for(
      "loom::kernels::fill", Kokkos::RangePolicy<ExecutionSpace>(space, 0, view.size()),
      KOKKOS_LAMBDA(std::size_t i) { data[i] = value; });
}

/// \brief dst = src for contiguous views of the same size in memory `space` can access.
template <class ExecutionSpace, class Dst, class Src>
void copy(ExecutionSpace const& space, Dst const& dst, Src const& src) {
  auto* out = dst.data();
  auto const* in = src.data();
  Kokkos::parallel_for(
      "loom::kernels::copy", Kokkos::RangePolicy<ExecutionSpace>(space, 0, dst.size()),
      KOKKOS_LAMBDA(std::size_t i) { out[i] = in[i]; });
}

} // namespace loom::kernels
