#pragma once

#include <loom/core/error.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>
#include <utility>
#include <vector>

namespace loom::data {

/// \brief The affine map x -> (x - center) / scale that a dataset applies to its stored
///        features as they are gathered (scikit-learn's convention): one (center, scale) pair
///        for every feature (global), or one pair per feature. IDX pixels are (p - 0) / 255;
///        standardising composes (x - mean) / stddev into the map (see then()) instead of
///        rewriting the data.
///
/// A value is evaluated in double as (x - center) * (1 / scale) and rounded once to float:
/// bytes scaled by 255 give exactly p / 255.0f, a value equal to the center gives exactly 0,
/// and composing two maps multiplies the scales and adds center2 × scale1 to the center, both
/// exact for byte data and float statistics.
class FeatureTransform {
public:
  /// \brief The identity: features are gathered as they are stored.
  FeatureTransform() = default;

  /// \brief The same map for every feature: x -> (x - center) / scale.
  /// \throws loom::Error when scale is 0 or either value is not finite
  FeatureTransform(double center, double scale)
      : center_{center}
      , scale_{scale} {
    check();
  }

  /// \brief A map per feature: feature f -> (x - center[f]) / scale[f]. (Write a one-feature
  ///        map with std::vector: a braced single value picks the global constructor.)
  /// \throws loom::Error when the sizes differ or are 0, or a scale is 0 or a value is not
  ///         finite
  FeatureTransform(std::vector<double> center, std::vector<double> scale)
      : center_(std::move(center))
      , scale_(std::move(scale))
      , per_feature_(true) {
    if (center_.empty() || center_.size() != scale_.size()) {
      loom::detail::fail("loom::data::FeatureTransform: ", center_.size(), " centers and ",
                         scale_.size(),
                         " scales for a per-feature transform; expected the same number, at "
                         "least 1");
    }
    check();
  }

  /// \brief Whether there is a (center, scale) pair per feature.
  bool per_feature() const { return per_feature_; }
  /// \brief The centers (subtracted first): one, or one per feature.
  std::span<double const> center() const { return center_; }
  /// \brief The scales (divided by): one, or one per feature.
  std::span<double const> scale() const { return scale_; }
  /// \brief 1 / scale, what gather() multiplies by: one, or one per feature.
  std::span<double const> inverse_scale() const { return inverse_; }
  /// \brief Whether every feature is mapped to itself.
  bool is_identity() const {
    for (std::size_t i = 0; i < scale_.size(); ++i) {
      if (center_[i] != 0.0 || scale_[i] != 1.0) {
        return false;
      }
    }
    return true;
  }

  /// \brief Feature `feature` of stored value `stored`, as a dataset gathers it.
  float operator()(double stored, std::size_t feature) const {
    std::size_t const at = per_feature_ ? feature : 0;
    return static_cast<float>((stored - center_[at]) * inverse_[at]);
  }

  /// \brief This map followed by `next`: x -> ((x - center) / scale - next.center) /
  ///        next.scale, which is (x - (center + next.center × scale)) / (scale × next.scale);
  ///        global when both are.
  /// \throws loom::Error when both are per-feature with different numbers of features
  FeatureTransform then(FeatureTransform const& next) const {
    if (per_feature_ && next.per_feature_ && scale_.size() != next.scale_.size()) {
      loom::detail::fail("loom::data::FeatureTransform::then: a transform of ", scale_.size(),
                         " features cannot be followed by one of ", next.scale_.size());
    }
    std::size_t const n = std::max(scale_.size(), next.scale_.size());
    std::vector<double> center(n);
    std::vector<double> scale(n);
    for (std::size_t f = 0; f < n; ++f) {
      std::size_t const a = per_feature_ ? f : 0;
      std::size_t const b = next.per_feature_ ? f : 0;
      center[f] = center_[a] + next.center_[b] * scale_[a];
      scale[f] = scale_[a] * next.scale_[b];
    }
    if (!per_feature_ && !next.per_feature_) {
      return FeatureTransform(center[0], scale[0]);
    }
    return FeatureTransform(std::move(center), std::move(scale));
  }

private:
  void check() {
    inverse_.resize(scale_.size());
    for (std::size_t i = 0; i < scale_.size(); ++i) {
      if (scale_[i] == 0.0 || !std::isfinite(scale_[i]) || !std::isfinite(center_[i])) {
        loom::detail::fail("loom::data::FeatureTransform: ",
                           per_feature_ ? loom::detail::concat("feature ", i, ": ") : "", "(x - ",
                           center_[i], ") / ", scale_[i],
                           " is not a usable map; the scale must be finite and not 0, the "
                           "center finite");
      }
      inverse_[i] = 1.0 / scale_[i];
    }
  }

  std::vector<double> center_{0.0};
  std::vector<double> scale_{1.0};
  std::vector<double> inverse_{1.0};
  bool per_feature_ = false;
};

} // namespace loom::data
