#pragma once

#include <loom/core/error.hpp>
#include <loom/data/concepts.hpp>
#include <loom/data/feature_transform.hpp>

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace loom::data {

namespace detail {
/// What the copies and subsets of one InMemoryDataset share; never changed after construction.
template <class Target>
struct DatasetStorage {
  std::variant<std::vector<float>, std::vector<std::uint8_t>> features;
  std::vector<Target> targets;
};
} // namespace detail

/// \brief A dataset held in host memory: N samples of F features (row-major N × F) and T
///        targets each (N × T). What the IDX and CSV readers return; models
///        loom::data::Dataset.
///
/// The features are stored as the file holds them (std::uint8_t for IDX images, float for
/// CSV) in storage that is shared and never changed: copies and subset()s of a dataset are
/// views into the same storage, and cost no copy of the data. gather() turns stored values
/// into floats through the dataset's FeatureTransform (IDX pixels / 255, standardisation), so
/// standardising changes the transform, not the data.
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

  /// \brief Takes ownership of float features and the targets; checks that their sizes agree.
  /// \param features     N × sample_size floats, row-major
  /// \param sample_size  features per sample (≥ 1)
  /// \param targets      N × target_size targets, row-major; class labels must be ≥ 0
  /// \param target_size  targets per sample (≥ 1; 1 for class labels)
  /// \param source       where the data came from (file names), used in error messages
  /// \throws loom::Error naming source when the sizes disagree or a label is negative
  InMemoryDataset(std::vector<float> features, std::size_t sample_size, std::vector<Target> targets,
                  std::size_t target_size = 1, std::string source = "in-memory data")
      : InMemoryDataset(stored(std::move(features), std::move(targets)), sample_size, target_size,
                        std::move(source)) {}

  /// \brief Takes ownership of byte features (e.g. pixels) and the targets, as the float
  ///        constructor does; gathered as 0 … 255 until set_transform() says otherwise. (A
  ///        template only so that a braced list of numbers picks the float constructor.)
  template <std::same_as<std::uint8_t> Byte>
  InMemoryDataset(std::vector<Byte> features, std::size_t sample_size, std::vector<Target> targets,
                  std::size_t target_size = 1, std::string source = "in-memory data")
      : InMemoryDataset(stored(std::move(features), std::move(targets)), sample_size, target_size,
                        std::move(source)) {}

  /// \brief Number of samples.
  std::size_t size() const { return count_; }
  /// \brief Whether there are no samples.
  bool empty() const { return count_ == 0; }
  /// \brief Features per sample (floats, once gathered).
  std::size_t sample_size() const { return sample_size_; }
  /// \brief Targets per sample (1 for class labels).
  std::size_t target_size() const { return target_size_; }
  /// \brief Where the data came from (file names), for error messages.
  std::string const& source() const { return source_; }

  /// \brief The map from stored values to gathered floats.
  FeatureTransform const& transform() const { return transform_; }
  /// \brief Replaces the map from stored values to gathered floats, for this dataset only
  ///        (other views of the storage keep theirs). Costs no pass over the data.
  /// \throws loom::Error when a per-feature transform has another number of features
  void set_transform(FeatureTransform transform) {
    if (transform.per_feature() && transform.scale().size() != sample_size_) {
      loom::detail::fail("loom::data::InMemoryDataset::set_transform: '", source_, "' has ",
                         sample_size_, " features per sample but the per-feature transform has ",
                         transform.scale().size());
    }
    transform_ = std::move(transform);
  }

  /// \brief Whether the features are stored as T (std::uint8_t or float).
  template <class T>
  bool stores() const {
    return storage_ == nullptr ? std::is_same_v<T, float>
                               : std::holds_alternative<std::vector<T>>(storage_->features);
  }
  /// \brief The stored features of this dataset's samples, size() × sample_size(), row-major,
  ///        before the transform; a subset's points into its parent's storage.
  /// \tparam T the stored type: std::uint8_t (IDX) or float (CSV, constructed from floats)
  /// \throws loom::Error naming source() when the features are stored as the other type
  template <class T>
  std::span<T const> stored_features() const {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, std::uint8_t>,
                  "loom::data::InMemoryDataset::stored_features<T>: T is std::uint8_t or float");
    if (!stores<T>()) {
      loom::detail::fail("loom::data::InMemoryDataset::stored_features: '", source_,
                         "' stores its features as ", stores<float>() ? "float" : "std::uint8_t",
                         ", not as ", std::is_same_v<T, float> ? "float" : "std::uint8_t",
                         "; gather() or sample() gives them as floats");
    }
    return visit_stored([](auto values) {
      if constexpr (std::is_same_v<typename decltype(values)::value_type, T>) {
        return values;
      } else {
        return std::span<T const>(); // not reached: checked above
      }
    });
  }
  /// \brief Calls visitor(values) with the stored features of this dataset's samples, a
  ///        std::span<T const> with T std::uint8_t or float, and returns what it returns.
  template <class Visitor>
  decltype(auto) visit_stored(Visitor&& visitor) const {
    if (storage_ == nullptr) {
      return visitor(std::span<float const>());
    }
    return std::visit(
        [&](auto const& values) {
          using T = typename std::remove_cvref_t<decltype(values)>::value_type;
          return visitor(
              std::span<T const>(values).subspan(first_ * sample_size_, count_ * sample_size_));
        },
        storage_->features);
  }

  /// \brief All targets, size() × target_size(), row-major.
  std::span<Target const> targets() const {
    if (storage_ == nullptr) {
      return {};
    }
    return std::span<Target const>(storage_->targets)
        .subspan(first_ * target_size_, count_ * target_size_);
  }

  /// \brief The features of sample i, as gather() gives them.
  /// \throws loom::Error when i ≥ size()
  std::vector<float> sample(std::size_t i) const {
    check_index(i, "sample");
    std::vector<float> features(sample_size_);
    gather(std::span<std::size_t const>(&i, 1), features.data(), nullptr);
    return features;
  }
  /// \brief The targets of sample i.
  /// \throws loom::Error when i ≥ size()
  std::span<Target const> target(std::size_t i) const {
    check_index(i, "target");
    return targets().subspan(i * target_size_, target_size_);
  }

  /// \brief Number of classes of integer labels: the largest label + 1 (0 when empty).
  std::size_t num_classes() const requires std::is_integral_v<Target> {
    auto const labels = targets();
    auto const largest = std::max_element(labels.begin(), labels.end());
    return largest == labels.end() ? 0 : static_cast<std::size_t>(*largest) + 1;
  }

  /// \brief Writes sample idx[i], transformed, into row i of x and its targets into row i of
  ///        y. Each feature is transform()(stored value), rounded to float, then converted to
  ///        Scalar, so float and double rows hold the same values.
  /// \tparam Scalar the feature type of x (float, or double for gradient checks)
  /// \param idx sample indices, each < size()
  /// \param x   idx.size() × sample_size() values, row-major
  /// \param y   idx.size() × target_size() values, row-major; nullptr skips the targets
  /// \throws loom::Error naming source() when an index is out of range (nothing is read
  ///         out of bounds; rows before the bad index have been written)
  template <std::floating_point Scalar>
  void gather(std::span<std::size_t const> idx, Scalar* x, Target* y) const {
    std::span<Target const> const all_targets = targets();
    visit_stored([&](auto const values) {
      std::size_t const n = sample_size_;
      bool const identity = transform_.is_identity();
      for (std::size_t row = 0; row < idx.size(); ++row) {
        std::size_t const i = idx[row];
        if (i >= size()) {
          loom::detail::fail("loom::data::InMemoryDataset::gather: sample index ", i, " (row ", row,
                             " of the batch) is out of range for '", source_, "', which has ",
                             size(), " samples");
        }
        // Rows are scattered: start fetching the row after next while converting this one.
        if (row + 2 < idx.size() && idx[row + 2] < size()) {
          prefetch(values.data() + idx[row + 2] * n, n * sizeof(values[0]));
        }
        convert_row(values.data() + i * n, x + row * n, identity);
        if (y != nullptr) {
          Target const* const t = all_targets.data() + i * target_size_;
          std::copy(t, t + target_size_, y + row * target_size_);
        }
      }
    });
  }

  /// \brief Samples [first, first + count), e.g. the first 5000 for a short CI run: a view
  ///        that shares this dataset's storage (no data is copied, and the whole storage stays
  ///        alive while the view does) and starts with its transform.
  /// \throws loom::Error when the range does not lie inside [0, size())
  InMemoryDataset subset(std::size_t first, std::size_t count) const {
    if (first > size() || count > size() - first) {
      loom::detail::fail("loom::data::InMemoryDataset::subset: samples [", first, ", ",
                         first + count, ") do not lie inside '", source_, "', which has ", size(),
                         " samples");
    }
    InMemoryDataset view = *this;
    view.first_ = first_ + first;
    view.count_ = count;
    view.source_ = loom::detail::concat(source_, "[", first, ":", first + count, "]");
    return view;
  }

private:
  using Storage = detail::DatasetStorage<Target>;

  template <class Stored>
  static std::shared_ptr<Storage const> stored(std::vector<Stored> features,
                                               std::vector<Target> targets) {
    return std::make_shared<Storage const>(Storage{std::move(features), std::move(targets)});
  }

  InMemoryDataset(std::shared_ptr<Storage const> storage, std::size_t sample_size,
                  std::size_t target_size, std::string source)
      : storage_(std::move(storage))
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
    std::size_t const values =
        std::visit([](auto const& stored) { return stored.size(); }, storage_->features);
    if (values % sample_size_ != 0) {
      loom::detail::fail(where, "'", source_, "': ", values,
                         " feature values are not a whole number of samples of ", sample_size_,
                         " features each");
    }
    std::size_t const n = values / sample_size_;
    std::vector<Target> const& targets = storage_->targets;
    if (targets.size() != n * target_size_) {
      loom::detail::fail(where, "'", source_, "': the features hold ", n, " samples (", values,
                         " values / ", sample_size_, " features) but there are ", targets.size(),
                         " target values; expected ", n * target_size_, " (", target_size_,
                         " per sample)");
    }
    if constexpr (std::is_integral_v<Target>) {
      for (std::size_t i = 0; i < targets.size(); ++i) {
        if (targets[i] < 0) {
          loom::detail::fail(where, "'", source_, "': label ", targets[i], " of sample ",
                             i / target_size_,
                             " is negative; class labels must be 0, 1, ..., classes - 1");
        }
      }
    }
    count_ = n;
  }

  // One sample's features: stored values through the transform, rounded to float.
  template <class Stored, class Scalar>
  void convert_row(Stored const* from, Scalar* to, bool identity) const {
    std::size_t const n = sample_size_;
    if (identity) {
      if constexpr (std::is_same_v<Stored, Scalar>) {
        std::copy(from, from + n, to);
      } else {
        for (std::size_t f = 0; f < n; ++f) {
          to[f] = static_cast<Scalar>(static_cast<float>(from[f]));
        }
      }
    } else if (!transform_.per_feature()) {
      double const center = transform_.center()[0];
      double const inverse = transform_.inverse_scale()[0];
      for (std::size_t f = 0; f < n; ++f) {
        to[f] = static_cast<Scalar>(static_cast<float>((double(from[f]) - center) * inverse));
      }
    } else {
      double const* const center = transform_.center().data();
      double const* const inverse = transform_.inverse_scale().data();
      for (std::size_t f = 0; f < n; ++f) {
        to[f] = static_cast<Scalar>(static_cast<float>((double(from[f]) - center[f]) * inverse[f]));
      }
    }
  }

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

  std::shared_ptr<Storage const> storage_; // null only when default-constructed
  std::size_t first_ = 0;                  // this view's first sample in the storage
  std::size_t count_ = 0;                  // this view's samples
  std::size_t sample_size_ = 1;
  std::size_t target_size_ = 1;
  std::string source_ = "in-memory data";
  FeatureTransform transform_;
};

static_assert(Dataset<InMemoryDataset<std::int32_t>>);
static_assert(Dataset<InMemoryDataset<float>>);

} // namespace loom::data
