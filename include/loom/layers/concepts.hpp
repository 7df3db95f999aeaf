#pragma once

// The Layer concept and the runtime protocol of the stages layers compile into.
//
// Layer (a type; Sequential's template arguments after Input)
//   Requirements
//     L::layer_type                          L itself (the Kokkos self-alias idiom)
//     L::name()                              std::string, e.g. "Dense<512>"
//     L::template output_shape<In>           the output Shape for input Shape In
//     L::template parameter_count<In>        std::size_t constant
//     L::template check<Index, In>()         constexpr bool; static_asserts with diagnostics
//                                            that name the layer (Index is its position)
//     L::template stage<In, Scalar, ExecutionSpace>
//                                            the runtime stage (below), unless L is a pure
//                                            reshape (L::reshape_only, e.g. Flatten)
//   Optional
//     L::is_activation, L::derivative_from   an elementwise activation (layers/activations.hpp)
//     L::template fused_stage<In, Scalar, ExecutionSpace, Activation>
//                                            the stage with a following activation fused
//     L::template stage_note<In, Scalar, ExecutionSpace>()
//                                            std::string, how the stage computes (Conv2D's
//                                            algorithm), shown by Model::summary()
//     L::footprint, L::template with_padding<W>, L::pads_with_lowest
//                                            a windowed layer (Conv2D, pooling): the same
//                                            layer with other padding, and the value beyond
//                                            the border, for SpatialParallel's halo stages
//     L::template band_stage<In, Scalar, ExecutionSpace, Ranks>
//                                            the stage over a band of rows whose statistics
//                                            are summed over the group (BatchNorm2D)
//     L::template split_stage<In, Scalar, ExecutionSpace, Features, LogicalSize>
//                                            the stage over the features a rank holds
//                                            (Dropout, drawing the serial masks)
//
// Stage (runtime; one per layer, or per layer + fused activation)
//     input_shape, output_shape
//     forward(space, ctx, x, y)              x: batch × In::size, y: batch × Out::size
//     backward(space, ctx, x, y, dy, dx, g)  dy may be overwritten; dx is empty when the
//                                            gradient of the input is not needed; g is the
//                                            stage's slice of a buffer laid out like the
//                                            parameters, set to α·∂L/∂θ + β·g
//                                            (ctx.gradient_alpha, ctx.gradient_beta)
//   Optional (the stage executor, layers/detail/stage_chain.hpp, supplies the default)
//     parameter_count, bind(params)          its slice of the flat parameter buffer (0, none)
//     initialize(space, rng)                 fill its parameters (nothing to fill)
//     workspace_per_sample,                  batch × workspace_per_sample + workspace_per_pass
//       workspace_per_pass,                  Scalars kept from forward to backward, the second
//       bind_workspace(workspace, batch)     whatever the batch (batch norm's statistics), so
//                                            that several batches can be in flight (0, none)
//     scratch_per_sample, bind_scratch(scratch, batch)
//                                            batch × scratch_per_sample Scalars shared by all
//                                            stages, valid within one forward or backward
//                                            call (im2col columns) (0, none)
//     state_count, bind_state(state)         persistent values that are not trained (batch
//                                            norm's running statistics): a slice of the
//                                            model's flat state buffer, set by initialize(),
//                                            saved in checkpoints (0, none)
//     footprint                              the input region an output element reads
//                                            (loom::Footprint), for spatial decomposition
//     parameter_roles(out, local, logical, shard), logical_parameter_count, set_shard(shard)
//                                            how its parameters relate to the whole layer's
//                                            when a strategy gives each rank a part of it
//                                            (model/placement.hpp); by default the slice is
//                                            the whole layer's, replicated, gradient complete
//   The archetypes in tests/layers/test_layer_archetype.cpp are layers with exactly the
//   required members and with every optional one.
//   Semantics: a stage reads and writes nothing but its views. It computes dx before it writes
//   g, so g may be the parameters themselves: with α = -lr and β = 1 backward applies an SGD
//   step as it goes.

#include <loom/core/shape.hpp>

#include <Kokkos_Core.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>

namespace loom {

/// \brief A layer type usable in Sequential (see the protocol above).
template <class L>
concept Layer = requires {
  typename L::layer_type;
  { L::name() } -> std::convertible_to<std::string>;
}
&&std::is_same_v<typename L::layer_type, L>;

/// \brief Names a layer's position (0 = the first after Input) in compile-time diagnostics.
template <std::size_t Index>
struct layer_index {};

/// \brief How one of a rank's parameters relates to the logical network's (the layout of
///        Model<Net>::parameters() and of checkpoints) under a strategy that splits layers.
struct ParameterRun {
  std::size_t local = 0;   ///< its first value in this rank's parameters()
  std::size_t logical = 0; ///< its first value in the logical network's parameters
  std::size_t count = 0;   ///< values
  bool sharded = false;    ///< held by this rank alone (else the same on every rank of the group)
  bool partial = false;    ///< backward leaves a partial sum, completed by a sum over the group
};

/// \brief This rank's place in the group of ranks a strategy splits layers over.
struct Shard {
  int rank = 0;
  int size = 1;
};

namespace detail {
/// \brief The ranks that share each sample under a strategy that splits layers (a band of
///        rows each, a slice of a layer's units each): what split stages communicate through.
///        One indirect call per layer and pass where a layer communicates; host memory.
template <class Scalar>
class SampleGroup {
public:
  virtual ~SampleGroup() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// In place: every rank ends with the sum over the group.
  virtual void sum(Scalar* data, std::size_t count) = 0;
  /// In place: rank r brings values [r·count/size, (r+1)·count/size) (count divisible by the
  /// size), every rank ends with all of them.
  virtual void all_gather(Scalar* data, std::size_t count) = 0;
  /// Starts sending `up` to rank − 1 and `down` to rank + 1 while receiving `from_up` from
  /// rank − 1 and `from_down` from rank + 1 (empty spans where there is no such rank or
  /// nothing to move); finish_exchange() completes it. One exchange at a time.
  virtual void start_exchange(std::span<Scalar const> up, std::span<Scalar const> down,
                              std::span<Scalar> from_up, std::span<Scalar> from_down) = 0;
  virtual void finish_exchange() = 0;
};
} // namespace detail

namespace detail {
/// The features of a sample a rank holds when a strategy splits them: Blocks blocks of
/// Length features, block b of rank r starting at feature b·Stride + r·Length of the whole
/// sample (a band of rows of each channel, or one slice of a layer's units).
template <std::size_t Blocks, std::size_t Stride, std::size_t Length>
struct FeatureBlocks {
  static constexpr std::size_t count = Blocks * Length;
  KOKKOS_INLINE_FUNCTION static std::size_t global(std::size_t j, int rank) {
    return (j / Length) * Stride + std::size_t(rank) * Length + j % Length;
  }
};
} // namespace detail

/// \brief What a forward or backward pass knows beyond its tensors.
template <class Scalar>
struct PassContext {
  std::size_t batch = 0;           ///< rows in this pass
  bool training = false;           ///< dropout active, batch statistics in use
  bool update_states = true;       ///< training updates running statistics (not when a
                                   ///< pass is recomputed)
  std::uint64_t seed = 0;          ///< the model's seed
  std::uint64_t step = 0;          ///< training steps taken: the dropout stream
  std::uint64_t sample_offset = 0; ///< global index of row 0 (a rank's slice of a batch)
  std::size_t stage = 0;           ///< the stage's position
  Scalar gradient_alpha = 1;       ///< backward writes α·∂L/∂θ + β·target
  Scalar gradient_beta = 0;        ///< 0: overwrite the target; 1: add to it
  /// The ranks that share each sample when a strategy splits layers (null: none).
  detail::SampleGroup<Scalar>* group = nullptr;
};

/// \brief Whether an elementwise activation's derivative is computed from its output (ReLU,
///        Sigmoid, Tanh: nothing extra is kept) or from its input (GELU, Swish).
enum class DerivativeFrom { output, input };

/// \brief Tag: a Dense without bias, Dense<N, NoBias>.
struct NoBias {};

namespace detail {
// The stage protocol's optional members, defaulted in one place.
template <class S>
constexpr std::size_t parameter_count_of() {
  if constexpr (requires { S::parameter_count; }) {
    return S::parameter_count;
  } else {
    return 0;
  }
}
template <class S>
constexpr std::size_t workspace_per_sample_of() {
  if constexpr (requires { S::workspace_per_sample; }) {
    return S::workspace_per_sample;
  } else {
    return 0;
  }
}
template <class S>
constexpr std::size_t workspace_per_pass_of() {
  if constexpr (requires { S::workspace_per_pass; }) {
    return S::workspace_per_pass;
  } else {
    return 0;
  }
}
template <class S>
constexpr std::size_t workspace_of(std::size_t batch) {
  return batch * workspace_per_sample_of<S>() + workspace_per_pass_of<S>();
}
template <class S>
constexpr std::size_t scratch_per_sample_of() {
  if constexpr (requires { S::scratch_per_sample; }) {
    return S::scratch_per_sample;
  } else {
    return 0;
  }
}
template <class S>
constexpr std::size_t state_count_of() {
  if constexpr (requires { S::state_count; }) {
    return S::state_count;
  } else {
    return 0;
  }
}
template <class T>
concept ReshapeOnly = requires {
  requires T::reshape_only;
};
template <class T>
concept HasActivationFusion = requires {
  requires T::fuses_activation;
};
} // namespace detail

} // namespace loom
