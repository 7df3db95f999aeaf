#pragma once

// Datasets built from another one with a change: a dataset's storage never changes, so a test
// that needs a NaN in the features or other labels copies the contents and builds anew.

#include <loom/data/in_memory.hpp>

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace loom::test {

/// `data` (float features, no transform) with its features and targets passed through
/// `change(features, targets)`, under the same source name.
template <class Target, class Change>
data::InMemoryDataset<Target> changed(data::InMemoryDataset<Target> const& data, Change&& change) {
  auto const stored = data.template stored_features<float>();
  std::vector<float> x(stored.begin(), stored.end());
  std::vector<Target> y(data.targets().begin(), data.targets().end());
  change(x, y);
  return data::InMemoryDataset<Target>(std::move(x), data.sample_size(), std::move(y),
                                       data.target_size(), data.source());
}

/// `data` with stored feature `at` replaced by `value`.
template <class Target>
data::InMemoryDataset<Target> with_feature(data::InMemoryDataset<Target> const& data,
                                           std::size_t at, float value) {
  return changed(data, [&](std::vector<float>& x, std::vector<Target>&) { x[at] = value; });
}

} // namespace loom::test
