#pragma once

#include <loom/core/math.hpp>
#include <loom/core/shape.hpp>
#include <loom/core/tensor.hpp>
#include <loom/layers/softmax.hpp>
#include <loom/loss/concepts.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

namespace loom {

template <class OutputShape>
struct loom_error_softmax_cross_entropy_needs_flat_output;
template <class Net>
struct loom_error_network_ends_with_softmax;

/// \brief Softmax followed by cross-entropy against integer class labels, as one numerically
///        stable kernel: per sample, loss = log Σⱼ exp(zⱼ - m) - (z_label - m) with m = max z,
///        and ∂loss/∂z = softmax(z) - onehot(label). It also counts correct arg-max
///        predictions. The network ends with logits (no Softmax layer).
struct SoftmaxCrossEntropy {
  using loss_type = SoftmaxCrossEntropy;
  using target_type = std::int32_t;
  static std::string name() { return "SoftmaxCrossEntropy"; }

  /// Checks that the network ends in logits: a flat vector of at least two, and no Softmax.
  template <class Net>
  static constexpr bool check() {
    using Out = typename Net::output_shape;
    if constexpr (Out::rank != 1 || Out::size < 2) {
      using show [[maybe_unused]] =
          decltype(sizeof(loom_error_softmax_cross_entropy_needs_flat_output<Out>));
      static_assert(Out::rank == 1 && Out::size >= 2,
                    "loom::SoftmaxCrossEntropy: the network must end in a flat vector of at "
                    "least 2 logits, one per class; end it with Dense<classes>");
      return false;
    } else if constexpr (std::is_same_v<typename Net::last_layer, Softmax>) {
      using show [[maybe_unused]] = decltype(sizeof(loom_error_network_ends_with_softmax<Net>));
      static_assert(!std::is_same_v<typename Net::last_layer, Softmax>,
                    "loom::SoftmaxCrossEntropy: the network ends with loom::Softmax, but the loss "
                    "applies softmax itself; remove the final Softmax so the network ends in "
                    "logits");
      return false;
    }
    return true;
  }

  /// \param logits          batch × classes
  /// \param labels          batch class indices in [0, classes)
  /// \param gradient        batch × classes; receives gradient_scale · (softmax - onehot)
  /// \param gradient_scale  1 / (global batch size) for the mean loss
  template <class ExecutionSpace, class LogitView, class LabelView, class GradView>
  static LossValue compute(ExecutionSpace const& space, LogitView const& logits,
                           LabelView const& labels, GradView const& gradient,
                           double gradient_scale) {
    using Scalar = typename GradView::non_const_value_type;
    int const rows = static_cast<int>(logits.extent(0));
    int const classes = static_cast<int>(logits.extent(1));
    Scalar const scale = static_cast<Scalar>(gradient_scale);
    double loss = 0;
    long correct = 0;
    long invalid = 0;
    Kokkos::parallel_reduce(
        "loom::SoftmaxCrossEntropy::compute", Kokkos::RangePolicy<ExecutionSpace>(space, 0, rows),
        KOKKOS_LAMBDA(int i, double& loss_sum, long& correct_sum, long& invalid_sum) {
          int const label = static_cast<int>(labels(i));
          bool const valid = label >= 0 && label < classes;
          Scalar top = logits(i, 0);
          int arg = 0;
          for (int j = 1; j < classes; ++j) {
            if (logits(i, j) > top) {
              top = logits(i, j);
              arg = j;
            }
          }
          Scalar sum = 0;
          for (int j = 0; j < classes; ++j) {
            Scalar const e = math::exp(logits(i, j) - top);
            gradient(i, j) = e;
            sum += e;
          }
          Scalar const inv = Scalar(1) / sum;
          for (int j = 0; j < classes; ++j) {
            Scalar const p = gradient(i, j) * inv;
            gradient(i, j) = valid ? (p - (j == label ? Scalar(1) : Scalar(0))) * scale : Scalar(0);
          }
          if (valid) {
            loss_sum += double(math::log(sum)) - double(logits(i, label) - top);
            correct_sum += arg == label ? 1 : 0;
          } else {
            invalid_sum += 1;
          }
        },
        loss, correct, invalid);
    LossValue value;
    value.sum = loss;
    value.count = static_cast<std::size_t>(rows - invalid);
    value.correct = static_cast<std::size_t>(correct);
    value.invalid = static_cast<std::size_t>(invalid);
    return value;
  }
};

} // namespace loom
