#pragma once

#include <loom/core/detail/type_list.hpp>
#include <loom/core/error.hpp>
#include <loom/core/random.hpp>
#include <loom/core/shape.hpp>
#include <loom/core/tensor.hpp>
#include <loom/kernels/copy.hpp>
#include <loom/kernels/elementwise.hpp>
#include <loom/kernels/gemm.hpp>
#include <loom/layers/activations.hpp>
#include <loom/layers/concepts.hpp>
#include <loom/layers/initializers.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <string>
#include <type_traits>

namespace loom {

// Named in compiler output when a Dense layer is misplaced (see Dense::check).
template <class LayerIndex, class DenseLayer, class InputShape>
struct loom_error_dense_input_must_be_flat;

namespace detail {
template <class T>
struct is_initializer : std::bool_constant<init::Initializer<T>> {};
template <class T>
inline constexpr bool is_dense_option =
    std::is_same_v<T, NoBias> || init::Initializer<T> || std::is_same_v<T, init::Auto>;

template <class Activation>
inline constexpr bool relu_family =
    std::is_same_v<Activation, ReLU> || std::is_same_v<Activation, GELU> ||
    std::is_same_v<Activation, Swish> || requires {
  requires Activation::is_leaky_relu;
};

/// Fills the weights of a layer followed by `Activation` from its initialiser: `Initializer`,
/// or by default He before a ReLU-family activation and Xavier otherwise; zeroes the bias.
template <class Initializer, class Activation, class ExecutionSpace, class WeightView,
          class BiasView>
void initialize_weights(ExecutionSpace const& space, CounterRng const& rng,
                        WeightView const& weight, BiasView const& bias, int fan_in, int fan_out) {
  using Scalar = typename WeightView::non_const_value_type;
  using Init = std::conditional_t<
      std::is_same_v<Initializer, init::Auto>,
      std::conditional_t<relu_family<Activation>, init::HeNormal, init::XavierUniform>,
      Initializer>;
  Scalar* data = weight.data();
  Kokkos::parallel_for(
      "loom::initialize_weights", Kokkos::RangePolicy<ExecutionSpace>(space, 0, weight.size()),
      KOKKOS_LAMBDA(std::size_t k) {
        data[k] = Init::template draw<Scalar>(rng, k, fan_in, fan_out);
      });
  if (bias.extent(0) > 0) {
    kernels::fill(space, bias, Scalar(0));
  }
}

template <class In, class Scalar, class ExecutionSpace, std::size_t Units, bool HasBias,
          class Initializer, class Activation>
class DenseStage;
} // namespace detail

/// \brief A fully connected layer: y = x·Wᵀ + b with W of shape Units × inputs (the PyTorch
///        layout). An activation that follows it in a Sequential runs in the same epilogue
///        kernel after the GEMM.
/// \tparam Units    number of outputs (≥ 1)
/// \tparam Options  loom::NoBias to drop the bias; an initialiser from loom::init
///                  (default: He before ReLU-family activations, Xavier otherwise)
template <std::size_t Units, class... Options>
struct Dense {
  static_assert(Units > 0, "loom::Dense<Units>: Units must be at least 1");
  static_assert((detail::is_dense_option<Options> && ...),
                "loom::Dense<Units, Options...>: each option must be loom::NoBias or an "
                "initialiser such as loom::init::HeNormal or loom::init::XavierUniform");

  using layer_type = Dense;
  static constexpr std::size_t units = Units;
  static constexpr bool has_bias = !detail::contains<NoBias, Options...>;
  using initializer =
      typename detail::find_if<detail::is_initializer, init::Auto, Options...>::type;
  static constexpr bool fuses_activation = true;

  static std::string name() {
    std::string out = "Dense<" + std::to_string(Units);
    if constexpr (!has_bias) {
      out += ", NoBias";
    }
    if constexpr (!std::is_same_v<initializer, init::Auto>) {
      out += std::string(", ") + initializer::name;
    }
    return out + ">";
  }

  template <class In>
  using output_shape = Shape<Units>;

  template <class In>
  static constexpr std::size_t parameter_count = In::size* Units + (has_bias ? Units : 0);

  template <std::size_t Index, class In>
  static constexpr bool check() {
    if constexpr (In::rank != 1) {
      using show [[maybe_unused]] =
          decltype(sizeof(loom_error_dense_input_must_be_flat<layer_index<Index>, Dense, In>));
      static_assert(In::rank == 1,
                    "loom::Dense: its input must be a flat vector, but the layer before it "
                    "gives a multi-dimensional shape; put loom::Flatten before this Dense "
                    "(search the compiler output for 'loom_error_dense_input_must_be_flat' for "
                    "its position and input shape)");
      return false;
    }
    return true;
  }

  template <class In, class Scalar, class ExecutionSpace, class Activation = Identity>
  using fused_stage =
      detail::DenseStage<In, Scalar, ExecutionSpace, Units, has_bias, initializer, Activation>;
  template <class In, class Scalar, class ExecutionSpace>
  using stage = fused_stage<In, Scalar, ExecutionSpace, Identity>;
};

namespace detail {

template <class In, class Scalar, class ExecutionSpace, std::size_t Units, bool HasBias,
          class Initializer, class Activation>
class DenseStage {
public:
  using input_shape = In;
  using output_shape = Shape<Units>;
  using memory_space = typename ExecutionSpace::memory_space;
  static constexpr std::size_t inputs = In::size;
  static constexpr std::size_t parameter_count = inputs * Units + (HasBias ? Units : 0);
  // A derivative taken from the activation's input needs the pre-activation kept.
  static constexpr bool keeps_preactivation = Activation::derivative_from == DerivativeFrom::input;
  static constexpr std::size_t workspace_per_sample = keeps_preactivation ? Units : 0;
  static constexpr bool has_epilogue = HasBias || !std::is_same_v<Activation, Identity>;

  void bind(VectorSlice<Scalar, memory_space> params) {
    weight_ = MatrixSlice<Scalar, memory_space>(params.data(), Units, inputs);
    if constexpr (HasBias) {
      bias_ = VectorSlice<Scalar, memory_space>(params.data() + Units * inputs, Units);
    }
  }

  void bind_workspace(VectorSlice<Scalar, memory_space> workspace, std::size_t batch) {
    if constexpr (keeps_preactivation) {
      preactivation_ = MatrixSlice<Scalar, memory_space>(workspace.data(), batch, Units);
    }
  }

  void initialize(ExecutionSpace const& space, CounterRng const& rng) {
    initialize_weights<Initializer, Activation>(space, rng, weight_, bias_,
                                                static_cast<int>(inputs), static_cast<int>(Units));
  }

  template <class XView, class YView>
  void forward(ExecutionSpace const& space, PassContext<Scalar> const&, XView const& x,
               YView const& y) const {
    auto const& z = pre(y);
    kernels::gemm(space, kernels::Op::none, kernels::Op::transpose, Scalar(1), x, weight_,
                  Scalar(0), z);
    if constexpr (has_epilogue) {
      kernels::bias_activation_forward<Activation, keeps_preactivation>(space, z, bias_, y);
    }
  }

  template <class XView, class YView, class DyView, class DxView>
  void backward(ExecutionSpace const& space, PassContext<Scalar> const& ctx, XView const& x,
                YView const& y, DyView const& dy, DxView const& dx,
                VectorSlice<Scalar, memory_space> target) const {
    MatrixSlice<Scalar, memory_space> const weight_target(target.data(), Units, inputs);
    VectorSlice<Scalar, memory_space> const bias_target(
        HasBias ? target.data() + Units * inputs : nullptr, HasBias ? Units : 0);
    if constexpr (has_epilogue) {
      // dy becomes ∂L/∂(pre-activation); the bias part of the target is set in the same pass.
      kernels::bias_activation_backward<Activation>(space, pre(y), dy, bias_target,
                                                    ctx.gradient_alpha, ctx.gradient_beta);
    }
    // The input gradient reads the weights, so it comes before the target (which may be the
    // weights themselves) is written.
    if (dx.extent(0) > 0) {
      kernels::gemm(space, kernels::Op::none, kernels::Op::none, Scalar(1), dy, weight_, Scalar(0),
                    dx);
    }
    kernels::gemm(space, kernels::Op::transpose, kernels::Op::none, ctx.gradient_alpha, dy, x,
                  ctx.gradient_beta, weight_target);
  }

private:
  // Where the GEMM writes and the activation derivative reads: the output itself unless the
  // derivative needs the activation's input.
  template <class YView>
  auto const& pre(YView const& y) const {
    if constexpr (keeps_preactivation) {
      return preactivation_;
    } else {
      return y;
    }
  }

  MatrixSlice<Scalar, memory_space> weight_, preactivation_;
  VectorSlice<Scalar, memory_space> bias_;
};

} // namespace detail
} // namespace loom
