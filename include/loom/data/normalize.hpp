#pragma once

#include <loom/core/error.hpp>
#include <loom/data/feature_transform.hpp>
#include <loom/data/in_memory.hpp>

#include <cmath>
#include <cstddef>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace loom::data {

/// \brief Options of Standardizer::fit.
struct StandardizeOptions {
  bool per_feature = false; ///< a mean and deviation per feature (column) instead of one for all
  float min_stddev = 1e-6f; ///< features with a smaller (or 0) deviation are only centred
                            ///< (divided by 1)
};

/// \brief Standardisation, x -> (x - mean) / stddev: statistics computed once from the
///        training set (fit) and applied unchanged to the training and the test set (apply),
///        so that both see the same transformation. The deviation is the population one
///        (divided by N, as scikit-learn's StandardScaler), accumulated in double.
class Standardizer {
public:
  /// \brief Restores statistics, e.g. from a checkpoint: one (mean, stddev) pair for all
  ///        features, or one per feature.
  /// \param mean        means; size 1 (global) or the number of features
  /// \param stddev      standard deviations, the same size as mean
  /// \param per_feature whether there is a pair per feature
  /// \param min_stddev  deviations below it divide by 1
  /// \param source      where the statistics came from, for messages
  Standardizer(std::vector<float> mean, std::vector<float> stddev, bool per_feature,
               float min_stddev = StandardizeOptions{}.min_stddev,
               std::string source = "restored statistics")
      : mean_(std::move(mean))
      , stddev_(std::move(stddev))
      , per_feature_(per_feature)
      , min_stddev_(min_stddev)
      , source_(std::move(source)) {
    if (mean_.empty() || mean_.size() != stddev_.size() || (!per_feature_ && mean_.size() != 1)) {
      loom::detail::fail("loom::data::Standardizer: ", mean_.size(), " means and ", stddev_.size(),
                         " deviations for ", per_feature_ ? "per-feature" : "global",
                         " statistics; expected ",
                         per_feature_ ? "the same number, at least 1" : "1 each");
    }
  }

  /// \brief Computes the mean and deviation of features (size a multiple of sample_size).
  /// \param source where the features came from, for messages
  /// \throws loom::Error when there are no samples
  static Standardizer fit(std::span<float const> features, std::size_t sample_size,
                          StandardizeOptions const& options = {},
                          std::string source = "in-memory data") {
    if (features.empty() || sample_size == 0) {
      fail_no_samples(source);
    }
    if (features.size() % sample_size != 0) {
      loom::detail::fail("loom::data::Standardizer::fit: '", source, "': ", features.size(),
                         " values are not a whole number of samples of ", sample_size,
                         " features each");
    }
    return fit_values(features, sample_size, FeatureTransform(), options, std::move(source));
  }

  /// \brief Computes the mean and deviation of a dataset's features as gather() gives them:
  ///        from the stored values through the dataset's transform, in double (one pass for
  ///        the means, one for the deviations).
  /// \tparam Target the dataset's target type
  /// \param train   the training set
  /// \param options global or per-feature; the smallest deviation to divide by
  /// \throws loom::Error naming the dataset when it has no samples
  template <class Target>
  static Standardizer fit(InMemoryDataset<Target> const& train,
                          StandardizeOptions const& options = {}) {
    if (train.empty()) {
      fail_no_samples(train.source());
    }
    return train.visit_stored([&](auto values) {
      return fit_values(values, train.sample_size(), train.transform(), options, train.source());
    });
  }

  /// \brief Standardises features in place with these statistics.
  /// \param source where the features came from, for messages
  /// \throws loom::Error when per-feature statistics were computed for another number of
  ///         features (both sources are named)
  void apply(std::span<float> features, std::size_t sample_size,
             std::string const& source = "in-memory data") const {
    check_width(sample_size, source);
    for (std::size_t i = 0; i < features.size(); ++i) {
      std::size_t const g = per_feature_ ? i % sample_size : 0;
      features[i] = static_cast<float>((double{features[i]} - mean_[g]) / divisor(g));
    }
  }

  /// \brief Standardises a dataset with these statistics: composes transform() into the
  ///        dataset's transform (data.transform().then(transform())), so that gather()
  ///        standardises; the stored data is neither copied nor read.
  /// \throws loom::Error as apply(features, sample_size, source) does
  template <class Target>
  void apply(InMemoryDataset<Target>& data) const {
    check_width(data.sample_size(), data.source());
    data.set_transform(data.transform().then(transform()));
  }

  /// \brief x -> (x - mean) / stddev as a FeatureTransform; a deviation below min_stddev()
  ///        (or 0) divides by 1.
  FeatureTransform transform() const {
    std::vector<double> center(mean_.begin(), mean_.end());
    std::vector<double> scale(mean_.size());
    for (std::size_t g = 0; g < mean_.size(); ++g) {
      scale[g] = divisor(g);
    }
    if (!per_feature_) {
      return FeatureTransform(center[0], scale[0]);
    }
    return FeatureTransform(std::move(center), std::move(scale));
  }

  /// \brief The means: one, or one per feature.
  std::span<float const> mean() const { return mean_; }
  /// \brief The (population) standard deviations: one, or one per feature.
  std::span<float const> stddev() const { return stddev_; }
  /// \brief Whether there is a (mean, stddev) pair per feature.
  bool per_feature() const { return per_feature_; }
  /// \brief Deviations below it divide by 1.
  float min_stddev() const { return min_stddev_; }
  /// \brief Where the statistics were computed from.
  std::string const& source() const { return source_; }

private:
  [[noreturn]] static void fail_no_samples(std::string const& source) {
    loom::detail::fail("loom::data::Standardizer::fit: '", source,
                       "' has no samples to compute a mean and deviation from");
  }

  double divisor(std::size_t g) const {
    return stddev_[g] < min_stddev_ || stddev_[g] == 0 ? 1.0 : double{stddev_[g]};
  }

  void check_width(std::size_t sample_size, std::string const& source) const {
    if (per_feature_ && sample_size != mean_.size()) {
      loom::detail::fail("loom::data::Standardizer::apply: '", source, "' has ", sample_size,
                         " features per sample but the per-feature statistics were computed from '",
                         source_, "' with ", mean_.size());
    }
  }

  // Mean and population deviation of the values through the transform as gather() evaluates
  // it, (x - center) * (1 / scale), in double: one pass for the sums, a second for the
  // squared deviations (no cancellation).
  template <class Stored>
  static Standardizer fit_values(std::span<Stored const> values, std::size_t sample_size,
                                 FeatureTransform const& transform,
                                 StandardizeOptions const& options, std::string source) {
    std::vector<double> center(sample_size);
    std::vector<double> inverse(sample_size);
    for (std::size_t f = 0; f < sample_size; ++f) {
      std::size_t const at = transform.per_feature() ? f : 0;
      center[f] = transform.center()[at];
      inverse[f] = transform.inverse_scale()[at];
    }
    std::size_t const groups = options.per_feature ? sample_size : 1;
    std::size_t const rows = values.size() / sample_size;
    auto const for_each = [&](auto&& add) {
      for (std::size_t r = 0; r < rows; ++r) {
        Stored const* const row = values.data() + r * sample_size;
        for (std::size_t f = 0; f < sample_size; ++f) {
          add(options.per_feature ? f : 0, (double(row[f]) - center[f]) * inverse[f]);
        }
      }
    };
    std::size_t const per_group = values.size() / groups;
    std::vector<double> mean(groups, 0.0);
    for_each([&](std::size_t g, double x) { mean[g] += x; });
    for (double& m : mean) {
      m /= static_cast<double>(per_group);
    }
    std::vector<double> squares(groups, 0.0);
    for_each([&](std::size_t g, double x) { squares[g] += (x - mean[g]) * (x - mean[g]); });
    std::vector<float> mean_out(groups);
    std::vector<float> stddev_out(groups);
    for (std::size_t g = 0; g < groups; ++g) {
      mean_out[g] = static_cast<float>(mean[g]);
      stddev_out[g] = static_cast<float>(std::sqrt(squares[g] / static_cast<double>(per_group)));
    }
    return Standardizer(std::move(mean_out), std::move(stddev_out), options.per_feature,
                        options.min_stddev, std::move(source));
  }

  std::vector<float> mean_;
  std::vector<float> stddev_;
  bool per_feature_ = false;
  float min_stddev_ = StandardizeOptions{}.min_stddev;
  std::string source_;
};

/// \brief Standardises a training and a test set with the training set's statistics: one pass
///        over the training set's stored values for the means and one for the deviations;
///        then only the two datasets' transforms change (see Standardizer::apply).
/// \tparam Target the datasets' target type
/// \param train   fitted, and standardised
/// \param test    standardised with the training statistics
/// \param options global or per-feature; the smallest deviation to divide by
/// \return the statistics, to apply to later data or to store with a checkpoint
template <class Target>
Standardizer standardize(InMemoryDataset<Target>& train, InMemoryDataset<Target>& test,
                         StandardizeOptions const& options = {}) {
  Standardizer standardizer = Standardizer::fit(train, options);
  standardizer.apply(train);
  standardizer.apply(test);
  return standardizer;
}

} // namespace loom::data
