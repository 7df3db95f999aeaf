#pragma once

#include <loom/core/error.hpp>
#include <loom/data/concepts.hpp>

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace loom::data {

/// \brief A dataset held in host memory: N samples of F float features (row-major N × F) and
///        T targets each (N × T). What the IDX and CSV readers return; models
///        loom::data::Dataset.
/// \tparam Target std::int32_t for class labels (non-negative, checked), float for
///                regression targets
template <class Target = std::int32_t>
class InMemoryDataset {
  static_assert(std::is_same_v<Target, std::int32_t> || std::is_same_v<Target, float>,
                "loom::data::InMemoryDataset<Target>: Target must be std::int32_t (class labels) "
                "or float (regression targets)");

public:
  using target_type = Target;

  /// \brief An empty dataset (no samples) with one feature and one target per sample.
  InMemoryDataset() = default;

  /// \brief Takes ownership of the features and targets; checks that their sizes agree.
  /// \param features     N × sample_size floats, row-major
  /// \param sample_size  features per sample (≥ 1)
  /// \param targets      N × target_size targets, row-major; class labels must be ≥ 0
  /// \param target_size  targets per sample (≥ 1; 1 for class labels)
  /// \param source       where the data came from (file names), used in error messages
  /// \throws loom::Error naming source when the sizes disagree or a label is negative
  InMemoryDataset(std::vector<float> features, std::size_t sample_size, std::vector<Target> targets,
                  std::size_t target_size = 1, std::string source = "in-memory data")
      : features_(std::move(features))
      , targets_(std::move(targets))
      , sample_size_(sample_size)
      , target_size_(target_size)
      , source_(std::move(source)) {
    char const* const where = "loom::data::InMemoryDataset: ";
    if (sample_size_ == 0) {
      loom::detail::fail(where, "'", source_,
                         "': sample_size is 0; each sample needs at least one "
                         "feature");
    }
    if (target_size_ == 0) {
      loom::detail::fail(where, "'", source_,
                         "': target_size is 0; each sample needs at least one "
                         "target");
    }
    if (features_.size() % sample_size_ != 0) {
      loom::detail::fail(where, "'", source_, "': ", features_.size(),
                         " feature values are not a whole number of samples of ", sample_size_,
                         " features each");
    }
    std::size_t const n = features_.size() / sample_size_;
    if (targets_.size() != n * target_size_) {
      loom::detail::fail(where, "'", source_, "': the features hold ", n, " samples (",
                         features_.size(), " values / ", sample_size_, " features) but there are ",
                         targets_.size(), " target values; expected ", n * target_size_, " (",
                         target_size_, " per sample)");
    }
    if constexpr (std::is_integral_v<Target>) {
      for (std::size_t i = 0; i < targets_.size(); ++i) {
        if (targets_[i] < 0) {
          loom::detail::fail(where, "'", source_, "': label ", targets_[i], " of sample ",
                             i / target_size_,
                             " is negative; class labels must be 0, 1, ..., classes - 1");
        }
      }
    }
  }

  /// \brief Number of samples.
  std::size_t size() const { return features_.size() / sample_size_; }
  /// \brief Whether there are no samples.
  bool empty() const { return features_.empty(); }
  /// \brief Features (floats) per sample.
  std::size_t sample_size() const { return sample_size_; }
  /// \brief Targets per sample (1 for class labels).
  std::size_t target_size() const { return target_size_; }
  /// \brief Where the data came from (file names), for error messages.
  std::string const& source() const { return source_; }

  /// \brief All features, size() × sample_size(), row-major.
  std::span<float const> features() const { return features_; }
  /// \brief All features, writable (normalisation works in place).
  std::span<float> features() { return features_; }
  /// \brief All targets, size() × target_size(), row-major.
  std::span<Target const> targets() const { return targets_; }
  /// \brief All targets, writable.
  std::span<Target> targets() { return targets_; }

  /// \brief The features of sample i.
  /// \throws loom::Error when i ≥ size()
  std::span<float const> sample(std::size_t i) const {
    check_index(i, "sample");
    return std::span<float const>(features_).subspan(i * sample_size_, sample_size_);
  }
  /// \brief The targets of sample i.
  /// \throws loom::Error when i ≥ size()
  std::span<Target const> target(std::size_t i) const {
    check_index(i, "target");
    return std::span<Target const>(targets_).subspan(i * target_size_, target_size_);
  }

  /// \brief Number of classes of integer labels: the largest label + 1 (0 when empty).
  std::size_t num_classes() const requires std::is_integral_v<Target> {
    auto const largest = std::max_element(targets_.begin(), targets_.end());
    return largest == targets_.end() ? 0 : static_cast<std::size_t>(*largest) + 1;
  }

  /// \brief Copies sample idx[i] into row i of x and its targets into row i of y.
  /// \tparam Scalar the feature type of x (float, or double for gradient checks)
  /// \param idx sample indices, each < size()
  /// \param x   idx.size() × sample_size() values, row-major
  /// \param y   idx.size() × target_size() values, row-major; nullptr skips the targets
  /// \throws loom::Error naming source() when an index is out of range (nothing is read
  ///         out of bounds; rows before the bad index have been written)
  template <std::floating_point Scalar>
  void gather(std::span<std::size_t const> idx, Scalar* x, Target* y) const {
    for (std::size_t row = 0; row < idx.size(); ++row) {
      std::size_t const i = idx[row];
      if (i >= size()) {
        loom::detail::fail("loom::data::InMemoryDataset::gather: sample index ", i, " (row ", row,
                           " of the batch) is out of range for '", source_, "', which has ", size(),
                           " samples");
      }
      // Rows are scattered: start fetching the row after next while copying this one.
      if (row + 2 < idx.size() && idx[row + 2] < size()) {
        prefetch(features_.data() + idx[row + 2] * sample_size_, sample_size_ * sizeof(float));
      }
      float const* const from = features_.data() + i * sample_size_;
      std::copy(from, from + sample_size_, x + row * sample_size_);
      if (y != nullptr) {
        Target const* const t = targets_.data() + i * target_size_;
        std::copy(t, t + target_size_, y + row * target_size_);
      }
    }
  }

  /// \brief A copy of samples [first, first + count), e.g. the first 5000 for a short CI run.
  /// \throws loom::Error when the range does not lie inside [0, size())
  InMemoryDataset subset(std::size_t first, std::size_t count) const {
    if (first > size() || count > size() - first) {
      loom::detail::fail("loom::data::InMemoryDataset::subset: samples [", first, ", ",
                         first + count, ") do not lie inside '", source_, "', which has ", size(),
                         " samples");
    }
    auto const features_begin =
        features_.begin() + static_cast<std::ptrdiff_t>(first * sample_size_);
    auto const targets_begin = targets_.begin() + static_cast<std::ptrdiff_t>(first * target_size_);
    return InMemoryDataset(
        std::vector<float>(features_begin,
                           features_begin + static_cast<std::ptrdiff_t>(count * sample_size_)),
        sample_size_,
        std::vector<Target>(targets_begin,
                            targets_begin + static_cast<std::ptrdiff_t>(count * target_size_)),
        target_size_, loom::detail::concat(source_, "[", first, ":", first + count, "]"));
  }

private:
  static void prefetch([[maybe_unused]] void const* address, [[maybe_unused]] std::size_t bytes) {
#if defined(__GNUC__)
    auto const* p = static_cast<char const*>(address);
    for (std::size_t offset = 0; offset < bytes; offset += 64) {
      __builtin_prefetch(p + offset);
    }
#endif
  }

  void check_index(std::size_t i, char const* what) const {
    if (i >= size()) {
      loom::detail::fail("loom::data::InMemoryDataset::", what, ": sample index ", i,
                         " is out of range for '", source_, "', which has ", size(), " samples");
    }
  }

  std::vector<float> features_;
  std::vector<Target> targets_;
  std::size_t sample_size_ = 1;
  std::size_t target_size_ = 1;
  std::string source_ = "in-memory data";
};

static_assert(Dataset<InMemoryDataset<std::int32_t>>);
static_assert(Dataset<InMemoryDataset<float>>);

} // namespace loom::data
