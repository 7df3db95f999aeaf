#pragma once

// Moving flat buffers between a view and host memory. On host-accessible memory spaces these
// are plain copies: Kokkos's mirrors and deep_copy are only instantiated for device memory.

#include <loom/core/tensor.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <vector>

namespace loom::detail {

/// The elements of a contiguous view, on the host.
template <class View>
std::vector<typename View::non_const_value_type> to_host(View const& view) {
  if constexpr (is_host_accessible<typename View::memory_space>) {
    return {view.data(), view.data() + view.size()};
  } else {
    auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
    return {host.data(), host.data() + host.size()};
  }
}

/// Copies host values into a contiguous view of the same size.
template <class View, class T>
void from_host(View const& view, std::vector<T> const& values) {
  if constexpr (is_host_accessible<typename View::memory_space>) {
    std::copy(values.begin(), values.end(), view.data());
  } else {
    auto host = Kokkos::create_mirror_view(view);
    std::copy(values.begin(), values.end(), host.data());
    Kokkos::deep_copy(view, host);
  }
}

/// A buffer laid out like a model's parameters() in the whole network's layout (checkpoints'):
/// for a model that holds the whole network, the buffer as it is. (A rank's part of a split
/// network has another layout, parallel/detail/layout.hpp.)
struct WholeLayout {
  template <class View>
  std::vector<typename View::non_const_value_type> to_logical(View const& view) const {
    return to_host(view);
  }
  template <class View, class T>
  void assign(View const& view, std::vector<T> const& logical) const {
    from_host(view, logical);
  }
  /// The same for a buffer laid out like the model's states().
  template <class View>
  std::vector<typename View::non_const_value_type> states_to_logical(View const& view) const {
    return to_host(view);
  }
  template <class View, class T>
  void assign_states(View const& view, std::vector<T> const& logical) const {
    from_host(view, logical);
  }
};

} // namespace loom::detail
