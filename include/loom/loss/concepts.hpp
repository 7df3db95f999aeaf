#pragma once

// Loss
//   Requirements
//     L::loss_type                  L itself
//     L::target_type                std::int32_t (class labels, one per sample) or float
//                                   (targets, one per output)
//     L::name()                     std::string
//     L::template check<Net>()      constexpr bool; static_asserts that the network's output
//                                   fits the loss
//     L::compute(space, output, targets, gradient, gradient_scale) -> LossValue
//                                   one fused kernel: the loss of every sample and
//                                   ∂(gradient_scale · Σ loss)/∂output written to gradient
//   Semantics: compute() returns the *sum* of per-sample losses, so that sums from ranks and
//   micro-batches add up; the mean is sum / count.

#include <loom/core/error.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

namespace loom {

/// \brief What a loss kernel reports for a batch.
struct LossValue {
  double sum = 0;          ///< Σ per-sample loss
  std::size_t count = 0;   ///< samples
  std::size_t correct = 0; ///< samples whose arg-max output is their label (classification)
  std::size_t invalid = 0; ///< samples whose label is outside [0, outputs): loss and
                           ///< gradient treat them as absent
  bool regression = false; ///< from a regression loss (MSE): there is no accuracy
  double mean() const { return count ? sum / double(count) : 0.0; }
  /// The fraction of samples classified correctly.
  /// \throws loom::Error for a regression loss, which has no accuracy
  double accuracy() const {
    if (regression) {
      detail::fail("loom::LossValue::accuracy: the loss is a regression loss (MSE), which has no "
                   "accuracy; use mean() for the loss, or loom::metrics::Regression with "
                   "Trainer::evaluate(data, metric) for MSE, MAE and R²");
    }
    return count ? double(correct) / double(count) : 0.0;
  }
  LossValue& operator+=(LossValue const& other) {
    sum += other.sum;
    count += other.count;
    correct += other.correct;
    invalid += other.invalid;
    regression = regression || other.regression;
    return *this;
  }
};

template <class L>
concept Loss = requires {
  typename L::loss_type;
  typename L::target_type;
  { L::name() } -> std::convertible_to<std::string>;
}
&&std::is_same_v<typename L::loss_type, L>;

} // namespace loom
