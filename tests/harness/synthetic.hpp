#pragma once

// A small classification set for the strategies' training tests: 12 features, 4 classes,
// class c raising every fourth feature from c on, with noise.

#include <loom/core/random.hpp>
#include <loom/data/in_memory.hpp>

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace loom::test {

inline data::InMemoryDataset<std::int32_t> synthetic_labels(std::size_t n) {
  CounterRng rng(5, 1);
  std::vector<float> x(n * 12);
  std::vector<std::int32_t> y(n);
  for (std::size_t i = 0; i < n; ++i) {
    y[i] = static_cast<std::int32_t>(rng.below(4, i));
    for (std::size_t j = 0; j < 12; ++j) {
      x[i * 12 + j] =
          (j % 4 == std::size_t(y[i]) ? 1.0f : -0.3f) + rng.normal<float>(100 + i * 12 + j);
    }
  }
  return data::InMemoryDataset<std::int32_t>(std::move(x), 12, std::move(y), 1, "synthetic");
}

} // namespace loom::test
