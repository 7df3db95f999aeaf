#pragma once

#include <loom/core/detail/kokkos.hpp>
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
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

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

/// The position of a weight in its layer: for a stage that holds the whole layer, its own.
struct SameIndex {
  KOKKOS_INLINE_FUNCTION std::uint64_t operator()(std::size_t k) const { return k; }
};

/// Fills the weights of a layer followed by `Activation` from its initialiser: `Initializer`,
/// or by default He before a ReLU-family activation and Xavier otherwise; zeroes the bias.
/// Weight k draws the value of weight index(k) of the whole layer, so that a stage holding a
/// part of a layer draws what the whole layer would.
template <class Initializer, class Activation, class ExecutionSpace, class WeightView,
          class BiasView, class Index = SameIndex>
void initialize_weights(ExecutionSpace const& space, CounterRng const& rng,
                        WeightView const& weight, BiasView const& bias, int fan_in, int fan_out,
                        Index index = {}) {
  using Scalar = typename WeightView::non_const_value_type;
  using Init = std::conditional_t<
      std::is_same_v<Initializer, init::Auto>,
      std::conditional_t<relu_family<Activation>, init::HeNormal, init::XavierUniform>,
      Initializer>;
  Scalar* data = weight.data();
  Kokkos::parallel_for(
      "loom::initialize_weights", Kokkos::RangePolicy<ExecutionSpace>(space, 0, weight.size()),
      KOKKOS_LAMBDA(std::size_t k) {
        data[k] = Init::template draw<Scalar>(rng, index(k), fan_in, fan_out);
      });
  if (bias.extent(0) > 0) {
    kernels::fill(space, bias, Scalar(0));
  }
}

/// How a Dense stage holds its layer: whole, or a part of it on each rank of a group.
namespace dense {
/// The whole layer.
struct Whole {};
/// Row-parallel: this rank's inputs are some of the layer's features (a detail::FeatureBlocks),
/// every unit; the partial products are summed over the group before the bias and activation.
/// LogicalInputs is the layer's input size.
template <class Features, std::size_t LogicalInputs>
struct SplitInputs {};
/// Column-parallel: this rank's units are Units / Ranks of them, rank r's from r·Units/Ranks,
/// over the whole input; the input gradient is summed over the group. With Gather, the
/// outputs are gathered, so that every rank has all of them.
template <std::size_t Ranks, bool Gather>
struct SplitUnits {};
} // namespace dense

template <class In, class Scalar, class ExecutionSpace, std::size_t Units, bool HasBias,
          class Initializer, class Activation, class Split = dense::Whole>
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

  /// The stage, with a following activation fused; Split (detail::dense) names the part of
  /// the layer a rank holds under a strategy that splits it.
  template <class In, class Scalar, class ExecutionSpace, class Activation = Identity,
            class Split = detail::dense::Whole>
  using fused_stage = detail::DenseStage<In, Scalar, ExecutionSpace, Units, has_bias, initializer,
                                         Activation, Split>;
  template <class In, class Scalar, class ExecutionSpace>
  using stage = fused_stage<In, Scalar, ExecutionSpace, Identity>;
};

namespace detail {

template <class Split>
struct dense_split_traits {
  static constexpr bool split_inputs = false;
  static constexpr bool split_units = false;
  static constexpr std::size_t ranks = 1;
  static constexpr bool gather = false;
};
template <class Features, std::size_t LogicalInputs>
struct dense_split_traits<dense::SplitInputs<Features, LogicalInputs>> {
  static constexpr bool split_inputs = true;
  static constexpr bool split_units = false;
  static constexpr std::size_t ranks = 1;
  static constexpr bool gather = false;
  using features = Features;
  static constexpr std::size_t logical_inputs = LogicalInputs;
};
template <std::size_t Ranks, bool Gather>
struct dense_split_traits<dense::SplitUnits<Ranks, Gather>> {
  static constexpr bool split_inputs = false;
  static constexpr bool split_units = true;
  static constexpr std::size_t ranks = Ranks;
  static constexpr bool gather = Gather;
};

/// The stage of a Dense layer, or of a rank's part of one (Split: dense::Whole, SplitInputs,
/// SplitUnits).
template <class In, class Scalar, class ExecutionSpace, std::size_t Units, bool HasBias,
          class Initializer, class Activation, class Split>
class DenseStage {
  using split = dense_split_traits<Split>;
  static constexpr bool gathers = split::gather;

public:
  using input_shape = In;
  using memory_space = typename ExecutionSpace::memory_space;
  static constexpr std::size_t inputs = In::size;
  /// The units this stage computes: all, or this rank's share.
  static constexpr std::size_t units = Units / split::ranks;
  using output_shape = Shape<split::split_units && !gathers ? units : Units>;
  static constexpr std::size_t logical_inputs = [] {
    if constexpr (split::split_inputs) {
      return split::logical_inputs;
    } else {
      return inputs;
    }
  }();
  static constexpr std::size_t parameter_count = inputs * units + (HasBias ? units : 0);
  static constexpr std::size_t logical_parameter_count =
      logical_inputs * Units + (HasBias ? Units : 0);
  // A derivative taken from the activation's input needs the pre-activation kept; a gathered
  // stage keeps its own units' outputs too.
  static constexpr bool keeps_preactivation = Activation::derivative_from == DerivativeFrom::input;
  static constexpr std::size_t workspace_per_sample =
      (keeps_preactivation ? units : 0) + (gathers ? units : 0);
  // A gathered stage's all-gather buffer (forward) and its units' gradient (backward).
  static constexpr std::size_t scratch_per_sample = gathers ? Units : 0;
  static constexpr bool has_epilogue = HasBias || !std::is_same_v<Activation, Identity>;

  void set_shard(Shard shard) { rank_ = shard.rank; }

  void bind(VectorSlice<Scalar, memory_space> params) {
    weight_ = MatrixSlice<Scalar, memory_space>(params.data(), units, inputs);
    if constexpr (HasBias) {
      bias_ = VectorSlice<Scalar, memory_space>(params.data() + units * inputs, units);
    }
  }

  void bind_workspace(VectorSlice<Scalar, memory_space> workspace, std::size_t batch) {
    Scalar* cursor = workspace.data();
    if constexpr (keeps_preactivation) {
      preactivation_ = MatrixSlice<Scalar, memory_space>(cursor, batch, units);
      cursor += batch * units;
    }
    if constexpr (gathers) {
      own_ = MatrixSlice<Scalar, memory_space>(cursor, batch, units);
    }
  }

  void bind_scratch(VectorSlice<Scalar, memory_space> scratch, std::size_t batch) {
    scratch_ = VectorSlice<Scalar, memory_space>(scratch.data(), batch * scratch_per_sample);
  }

  void initialize(ExecutionSpace const& space, CounterRng const& rng) {
    int const rank = rank_;
    if constexpr (split::split_units) {
      std::uint64_t const first = std::uint64_t(rank) * units * inputs;
      initialize_weights<Initializer, Activation>(
          space, rng, weight_, bias_, static_cast<int>(inputs), static_cast<int>(Units),
          KOKKOS_LAMBDA(std::size_t k) { return first + k; });
    } else if constexpr (split::split_inputs) {
      initialize_weights<Initializer, Activation>(
          space, rng, weight_, bias_, static_cast<int>(logical_inputs), static_cast<int>(Units),
          KOKKOS_LAMBDA(std::size_t k) {
            return std::uint64_t(k / inputs) * logical_inputs +
                   split::features::global(k % inputs, rank);
          });
    } else {
      initialize_weights<Initializer, Activation>(
          space, rng, weight_, bias_, static_cast<int>(inputs), static_cast<int>(Units));
    }
  }

  /// How this stage's parameters lie in the layer's (weights Units × inputs, then the bias).
  static void parameter_roles(std::vector<ParameterRun>& out, std::size_t local,
                              std::size_t logical, Shard shard) {
    std::size_t const rank = static_cast<std::size_t>(shard.rank);
    std::size_t const bias = logical + Units * logical_inputs;
    if constexpr (split::split_units) {
      out.push_back({local, logical + rank * units * inputs, units * inputs, true, false});
      if constexpr (HasBias) {
        out.push_back({local + units * inputs, bias + rank * units, units, true, false});
      }
    } else if constexpr (split::split_inputs) {
      for (std::size_t u = 0; u < Units; ++u) {
        std::size_t j = 0;
        while (j < inputs) { // contiguous runs of the layer's features
          std::size_t const start = split::features::global(j, shard.rank);
          std::size_t length = 1;
          while (j + length < inputs &&
                 split::features::global(j + length, shard.rank) == start + length) {
            ++length;
          }
          out.push_back(
              {local + u * inputs + j, logical + u * logical_inputs + start, length, true, false});
          j += length;
        }
      }
      if constexpr (HasBias) {
        out.push_back({local + Units * inputs, bias, Units, false, false});
      }
    } else {
      out.push_back({local, logical, parameter_count, false, false});
    }
  }

  template <class XView, class YView>
  void forward(ExecutionSpace const& space, PassContext<Scalar> const& ctx, XView const& x,
               YView const& y) const {
    // The units this rank computes, before the all-gather of a gathered stage.
    MatrixSlice<Scalar, memory_space> const out(gathers ? own_.data() : y.data(), ctx.batch, units);
    auto const& z = pre(out);
    kernels::gemm(space, kernels::Op::none, kernels::Op::transpose, Scalar(1), x, weight_,
                  Scalar(0), z);
    if constexpr (split::split_inputs) {
      // Each rank's features give a partial product: their sum is the layer's.
      loom::detail::fence(space, "loom::Dense::forward (partial products)");
      ctx.group->sum(z.data(), ctx.batch * units);
    }
    if constexpr (has_epilogue) {
      kernels::bias_activation_forward<Activation, keeps_preactivation>(space, z, bias_, out);
    }
    if constexpr (gathers) {
      gather(space, ctx, out, y);
    }
  }

  template <class XView, class YView, class DyView, class DxView>
  void backward(ExecutionSpace const& space, PassContext<Scalar> const& ctx, XView const& x,
                YView const& y, DyView const& dy, DxView const& dx,
                VectorSlice<Scalar, memory_space> target) const {
    MatrixSlice<Scalar, memory_space> const weight_target(target.data(), units, inputs);
    VectorSlice<Scalar, memory_space> const bias_target(
        HasBias ? target.data() + units * inputs : nullptr, HasBias ? units : 0);
    MatrixSlice<Scalar, memory_space> const out(gathers ? own_.data() : y.data(), ctx.batch, units);
    MatrixSlice<Scalar, memory_space> const grad(gathers ? scratch_.data() : dy.data(), ctx.batch,
                                                 units);
    if constexpr (gathers) {
      own_columns(space, ctx, dy, grad);
    }
    if constexpr (has_epilogue) {
      // grad becomes ∂L/∂(pre-activation); the bias part of the target is set in the same pass.
      kernels::bias_activation_backward<Activation>(space, pre(out), grad, bias_target,
                                                    ctx.gradient_alpha, ctx.gradient_beta);
    }
    // The input gradient reads the weights, so it comes before the target (which may be the
    // weights themselves) is written.
    if (dx.extent(0) > 0) {
      kernels::gemm(space, kernels::Op::none, kernels::Op::none, Scalar(1), grad, weight_,
                    Scalar(0), dx);
      if constexpr (split::split_units) {
        // Each rank's units give a part of the input gradient: their sum is the layer's.
        loom::detail::fence(space, "loom::Dense::backward (partial input gradients)");
        ctx.group->sum(dx.data(), ctx.batch * inputs);
      }
    }
    kernels::gemm(space, kernels::Op::transpose, kernels::Op::none, ctx.gradient_alpha, grad, x,
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

  // y (batch × Units) ← every rank's units, through the all-gather buffer (rank-major).
  template <class YView>
  void gather(ExecutionSpace const& space, PassContext<Scalar> const& ctx,
              MatrixSlice<Scalar, memory_space> const& own, YView const& y) const {
    std::size_t const batch = ctx.batch;
    Scalar* buffer = scratch_.data();
    Scalar const* mine = own.data();
    std::size_t const block = batch * units;
    std::size_t const first = std::size_t(rank_) * block;
    Kokkos::parallel_for(
        "loom::Dense::forward (gather buffer)",
        Kokkos::RangePolicy<ExecutionSpace>(space, 0, block),
        KOKKOS_LAMBDA(std::size_t k) { buffer[first + k] = mine[k]; });
    loom::detail::fence(space, "loom::Dense::forward (all-gather)");
    ctx.group->all_gather(buffer, batch * Units);
    Scalar* out = y.data();
    Kokkos::parallel_for(
        "loom::Dense::forward (gathered units)",
        Kokkos::RangePolicy<ExecutionSpace>(space, 0, batch * Units), KOKKOS_LAMBDA(std::size_t k) {
          std::size_t const i = k / Units, unit = k % Units;
          out[k] = buffer[(unit / units) * block + i * units + unit % units];
        });
  }

  // This rank's columns of the gradient of a gathered output.
  template <class DyView>
  void own_columns(ExecutionSpace const& space, PassContext<Scalar> const& ctx, DyView const& dy,
                   MatrixSlice<Scalar, memory_space> const& grad) const {
    Scalar const* in = dy.data();
    Scalar* out = grad.data();
    std::size_t const first = std::size_t(rank_) * units;
    Kokkos::parallel_for(
        "loom::Dense::backward (own units)",
        Kokkos::RangePolicy<ExecutionSpace>(space, 0, ctx.batch * units),
        KOKKOS_LAMBDA(std::size_t k) { out[k] = in[(k / units) * Units + first + k % units]; });
  }

  MatrixSlice<Scalar, memory_space> weight_, preactivation_, own_;
  VectorSlice<Scalar, memory_space> bias_, scratch_;
  int rank_ = 0;
};

} // namespace detail
} // namespace loom
