#pragma once

#include <loom/core/shape.hpp>

#include <string>

namespace loom {

/// \brief Flattens each sample to a vector: (C, H, W) → (C·H·W). Samples are stored
///        contiguously, so Flatten moves no data and compiles to no kernel.
struct Flatten {
  using layer_type = Flatten;
  static constexpr bool reshape_only = true;
  static std::string name() { return "Flatten"; }
  template <class In>
  using output_shape = Shape<In::size>;
  template <class In>
  static constexpr std::size_t parameter_count = 0;
  template <std::size_t Index, class In>
  static constexpr bool check() {
    return true;
  }
};

} // namespace loom
