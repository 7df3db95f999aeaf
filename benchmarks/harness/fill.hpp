#pragma once

// Deterministic fill of benchmark inputs, wherever the view lives.

#include <Kokkos_Core.hpp>

#include <cstdint>

namespace loom::bench {

/// Fills a contiguous view with values uniform in [low, high) (integers: in [low, high)).
template <class View>
void fill_uniform(View const& view, double low, double high, std::uint64_t seed = 1) {
  auto host = Kokkos::create_mirror_view(view);
  using Value = typename View::non_const_value_type;
  std::uint64_t state = seed;
  for (std::size_t i = 0; i < host.span(); ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    double const u = double(state >> 11) * (1.0 / 9007199254740992.0);
    host.data()[i] = static_cast<Value>(low + (high - low) * u);
  }
  Kokkos::deep_copy(view, host);
}

} // namespace loom::bench
