#pragma once

#include <loom/core/math.hpp>
#include <loom/core/random.hpp>
#include <loom/core/shape.hpp>
#include <loom/core/tensor.hpp>
#include <loom/layers/concepts.hpp>

#include <Kokkos_Core.hpp>

#include <string>

namespace loom {

template <class LayerIndex, class InputShape>
struct loom_error_softmax_input_must_be_flat;

namespace detail {
template <class In, class Scalar, class ExecutionSpace>
class SoftmaxStage;
}

/// \brief Softmax over each sample's vector: yᵢ = exp(xᵢ - max x) / Σⱼ exp(xⱼ - max x).
///        For classification, end the network with logits and train with
///        loom::SoftmaxCrossEntropy instead, which fuses softmax into the loss.
struct Softmax {
  using layer_type = Softmax;
  static std::string name() { return "Softmax"; }
  template <class In>
  using output_shape = In;
  template <class In>
  static constexpr std::size_t parameter_count = 0;
  template <std::size_t Index, class In>
  static constexpr bool check() {
    if constexpr (In::rank != 1) {
      using show [[maybe_unused]] =
          decltype(sizeof(loom_error_softmax_input_must_be_flat<layer_index<Index>, In>));
      static_assert(In::rank == 1,
                    "loom::Softmax: its input must be a flat vector; put loom::Flatten before it");
      return false;
    }
    return true;
  }
  template <class In, class Scalar, class ExecutionSpace>
  using stage = detail::SoftmaxStage<In, Scalar, ExecutionSpace>;
};

namespace detail {

template <class In, class Scalar, class ExecutionSpace>
class SoftmaxStage {
public:
  using input_shape = In;
  using output_shape = In;
  using memory_space = typename ExecutionSpace::memory_space;

  template <class XView, class YView>
  void forward(ExecutionSpace const& space, PassContext<Scalar> const&, XView const& x,
               YView const& y) const {
    int const cols = static_cast<int>(In::size);
    Kokkos::parallel_for(
        "loom::Softmax::forward", Kokkos::RangePolicy<ExecutionSpace>(space, 0, y.extent(0)),
        KOKKOS_LAMBDA(std::size_t i) {
          Scalar top = x(i, 0);
          for (int j = 1; j < cols; ++j) {
            top = x(i, j) > top ? x(i, j) : top;
          }
          Scalar sum = 0;
          for (int j = 0; j < cols; ++j) {
            Scalar const e = math::exp(x(i, j) - top);
            y(i, j) = e;
            sum += e;
          }
          for (int j = 0; j < cols; ++j) {
            y(i, j) /= sum;
          }
        });
  }

  template <class XView, class YView, class DyView, class DxView>
  void backward(ExecutionSpace const& space, PassContext<Scalar> const&, XView const&,
                YView const& y, DyView const& dy, DxView const& dx,
                VectorSlice<Scalar, memory_space>) const {
    if (dx.extent(0) == 0) {
      return;
    }
    int const cols = static_cast<int>(In::size);
    Kokkos::parallel_for(
        "loom::Softmax::backward", Kokkos::RangePolicy<ExecutionSpace>(space, 0, y.extent(0)),
        KOKKOS_LAMBDA(std::size_t i) {
          Scalar dot = 0;
          for (int j = 0; j < cols; ++j) {
            dot += dy(i, j) * y(i, j);
          }
          for (int j = 0; j < cols; ++j) {
            dx(i, j) = y(i, j) * (dy(i, j) - dot);
          }
        });
  }
};

} // namespace detail
} // namespace loom
