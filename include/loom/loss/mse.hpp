#pragma once

#include <loom/core/shape.hpp>
#include <loom/core/tensor.hpp>
#include <loom/loss/concepts.hpp>

#include <Kokkos_Core.hpp>

#include <string>

namespace loom {

/// \brief Mean squared error: per sample, loss = (1/n) Σⱼ (yⱼ - tⱼ)² over its n outputs, so the
///        batch mean equals PyTorch's MSELoss(reduction='mean'); ∂loss/∂y = 2 (y - t) / n.
struct MSE {
  using loss_type = MSE;
  using target_type = float;
  static std::string name() { return "MSE"; }

  template <class Net>
  static constexpr bool check() {
    return true;
  }

  /// \param output          batch × n
  /// \param targets         batch × n
  /// \param gradient        batch × n; receives gradient_scale · ∂loss/∂output
  /// \param gradient_scale  1 / (global batch size) for the mean loss
  template <class ExecutionSpace, class OutputView, class TargetView, class GradView>
  static LossValue compute(ExecutionSpace const& space, OutputView const& output,
                           TargetView const& targets, GradView const& gradient,
                           double gradient_scale) {
    using Scalar = typename GradView::non_const_value_type;
    int const rows = static_cast<int>(output.extent(0));
    int const cols = static_cast<int>(output.extent(1));
    Scalar const scale = static_cast<Scalar>(2.0 * gradient_scale / cols);
    double loss = 0;
    Kokkos::parallel_reduce(
        "loom::MSE::compute", Kokkos::RangePolicy<ExecutionSpace>(space, 0, rows),
        KOKKOS_LAMBDA(int i, double& sum) {
          double row = 0;
          for (int j = 0; j < cols; ++j) {
            Scalar const diff = output(i, j) - static_cast<Scalar>(targets(i, j));
            gradient(i, j) = scale * diff;
            row += double(diff) * double(diff);
          }
          sum += row / cols;
        },
        loss);
    LossValue value;
    value.sum = loss;
    value.count = static_cast<std::size_t>(rows);
    value.regression = true;
    return value;
  }
};

} // namespace loom
