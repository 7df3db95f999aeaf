#pragma once

// Skip connections as types: Residual<Layers...> computes block(x) + x, and with a final
// Shortcut<Layers...> block(x) + shortcut(x), so ResNet-style networks compose in a Sequential.

#include <loom/core/detail/type_list.hpp>
#include <loom/core/random.hpp>
#include <loom/core/shape.hpp>
#include <loom/core/tensor.hpp>
#include <loom/kernels/copy.hpp>
#include <loom/layers/concepts.hpp>
#include <loom/layers/detail/stage_chain.hpp>
#include <loom/layers/detail/walk.hpp>

#include <Kokkos_Core.hpp>

#include <boost/hana/at.hpp>
#include <boost/hana/tuple.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace loom {

// Named in compiler output by Residual's diagnostics (see Residual::check).
template <class LayerIndex, class BlockOutputShape, class InputShape>
struct loom_error_residual_shape_mismatch;
template <class LayerIndex, class ShortcutOutputShape, class BlockOutputShape>
struct loom_error_residual_shortcut_shape_mismatch;
template <class LayerIndex, class Argument>
struct loom_error_residual_shortcut_not_last;

namespace detail {
template <class L>
std::string residual_argument_name() {
  if constexpr (requires { L::name(); }) {
    return L::name();
  } else {
    return "?";
  }
}
} // namespace detail

/// \brief The projection of a Residual: its last argument, the layers applied to the input
///        before it is added to the block's output, e.g. Shortcut<Conv2D<64, 1, 2>>.
template <class... Layers>
struct Shortcut {
  static std::string name() {
    std::string out = "Shortcut<";
    bool first = true;
    ((out += (first ? "" : ", ") + detail::residual_argument_name<Layers>(), first = false), ...);
    return out + ">";
  }
};

namespace detail {

template <class T>
struct is_shortcut : std::false_type {};
template <class... Layers>
struct is_shortcut<Shortcut<Layers...>> : std::true_type {};

template <class T, class List>
struct prepend;
template <class T, class... Ts>
struct prepend<T, type_list<Ts...>> {
  using type = type_list<T, Ts...>;
};

// Splits Residual's arguments into the block and the shortcut's layers.
template <class... Arguments>
struct residual_arguments {
  using block = type_list<>;
  using shortcut = type_list<>;
  static constexpr bool has_shortcut = false;
};
template <class... Layers>
struct residual_arguments<Shortcut<Layers...>> {
  using block = type_list<>;
  using shortcut = type_list<Layers...>;
  static constexpr bool has_shortcut = true;
};
template <class First, class... Rest>
struct residual_arguments<First, Rest...> {
  using block = typename prepend<First, typename residual_arguments<Rest...>::block>::type;
  using shortcut = typename residual_arguments<Rest...>::shortcut;
  static constexpr bool has_shortcut = residual_arguments<Rest...>::has_shortcut;
};

inline constexpr std::size_t no_position = ~std::size_t{0};

// The position of the first element that is not a layer, or no_position.
template <class... Ls>
constexpr std::size_t first_not_a_layer(type_list<Ls...>) {
  constexpr bool ok[] = {Layer<Ls>..., true};
  for (std::size_t i = 0; i < sizeof...(Ls); ++i) {
    if (!ok[i]) {
      return i;
    }
  }
  return no_position;
}
// The position of the first Shortcut, or no_position.
template <class... Ls>
constexpr std::size_t first_shortcut(type_list<Ls...>) {
  constexpr bool found[] = {is_shortcut<Ls>::value..., false};
  for (std::size_t i = 0; i < sizeof...(Ls); ++i) {
    if (found[i]) {
      return i;
    }
  }
  return no_position;
}
// Whether some layer has a runtime stage (is not a pure reshape such as Flatten).
template <class... Ls>
constexpr bool computes(type_list<Ls...>) {
  return (!ReshapeOnly<Ls> || ...);
}

// Sequential's shape walk over a branch, starting from the Residual's input shape.
template <class In, class List>
struct branch_walk;
template <class In, class... Ls>
struct branch_walk<In, type_list<Ls...>> {
  using type = annotate<0, In, type_list<>, Ls...>;
};

template <class In, class Out, class Scalar, class ExecutionSpace, class BlockStages,
          class ShortcutStages>
class ResidualStage;

/// out = a + b over n contiguous values.
template <class ExecutionSpace, class Scalar>
void residual_add(ExecutionSpace const& space, Scalar* out, Scalar const* a, Scalar const* b,
                  std::size_t n) {
  Kokkos::parallel_for(
      "loom::Residual::add", Kokkos::RangePolicy<ExecutionSpace>(space, 0, n),
      KOKKOS_LAMBDA(std::size_t i) { out[i] = a[i] + b[i]; });
}

} // namespace detail

/// \brief A skip connection: output = block(x) + x, where the block is Layers... applied in
///        order (shapes inferred and activations fused as in Sequential). The block must keep
///        the shape of its input; when it does not, end the arguments with a projection,
///        Shortcut<Layers...>, and the output is block(x) + shortcut(x).
/// \code
/// using Net = loom::Sequential<loom::Input<16, 32, 32>,
///     loom::Residual<loom::Conv2D<16, 3, 1, 1>, loom::ReLU, loom::Conv2D<16, 3, 1, 1>>,
///     loom::ReLU,
///     loom::Residual<loom::Conv2D<32, 3, 2, 1>, loom::ReLU, loom::Conv2D<32, 3, 1, 1>,
///                    loom::Shortcut<loom::Conv2D<32, 1, 2>>>,
///     loom::ReLU, loom::GlobalAvgPool2D, loom::Dense<10>>;
/// \endcode
/// Its parameters are the block's, then the shortcut's. In diagnostics, the positions of the
/// layers inside a Residual count from 0 at its first argument.
template <class... Arguments>
struct Residual {
  using layer_type = Residual;

private:
  using split = detail::residual_arguments<Arguments...>;
  using block = typename split::block;
  using shortcut = typename split::shortcut;
  static constexpr bool has_shortcut = split::has_shortcut;
  static constexpr std::size_t misplaced_shortcut = detail::first_shortcut(block{});
  static constexpr std::size_t block_not_a_layer = detail::first_not_a_layer(block{});
  static constexpr std::size_t shortcut_not_a_layer = detail::first_not_a_layer(shortcut{});
  static constexpr bool arguments_ok = misplaced_shortcut == detail::no_position &&
                                       block_not_a_layer == detail::no_position &&
                                       shortcut_not_a_layer == detail::no_position;

  // After a bad argument the walks are empty, so that one diagnostic is all the user sees.
  template <class In>
  using block_walk = std::conditional_t<arguments_ok, typename detail::branch_walk<In, block>::type,
                                        detail::annotate<0, In, detail::type_list<>>>;
  template <class In>
  using shortcut_walk = std::conditional_t<arguments_ok && block_walk<In>::valid,
                                           typename detail::branch_walk<In, shortcut>::type,
                                           detail::annotate<0, In, detail::type_list<>>>;

public:
  /// "Residual<Conv2D<16, 3, 1, 1>, ReLU, Conv2D<16, 3, 1, 1>>"
  static std::string name() {
    std::string out = "Residual<";
    bool first = true;
    ((out += (first ? "" : ", ") + detail::residual_argument_name<Arguments>(), first = false),
     ...);
    return out + ">";
  }

  template <class In>
  using output_shape = typename block_walk<In>::output_shape;

  /// The block's and the shortcut's layers at their places (detail::LayerAt), for input In:
  /// Model::summary() shows them as rows of their own.
  template <class In>
  using block_layers = typename block_walk<In>::type;
  template <class In>
  using shortcut_layers = typename shortcut_walk<In>::type;

  template <class In>
  static constexpr std::size_t
      parameter_count = detail::sum_parameters(typename block_walk<In>::type{}) +
                        detail::sum_parameters(typename shortcut_walk<In>::type{});

  template <std::size_t Index, class In>
  static constexpr bool check() {
    if constexpr (misplaced_shortcut != detail::no_position) {
      using show [[maybe_unused]] = decltype(sizeof(
          loom_error_residual_shortcut_not_last<layer_index<Index>,
                                                detail::at<misplaced_shortcut, block>>));
      static_assert(misplaced_shortcut == detail::no_position,
                    "loom::Residual: Shortcut<...> must be its last argument");
      return false;
    } else if constexpr (block_not_a_layer != detail::no_position) {
      using show [[maybe_unused]] =
          decltype(sizeof(loom_error_not_a_layer<layer_index<block_not_a_layer>,
                                                 detail::at<block_not_a_layer, block>>));
      static_assert(block_not_a_layer == detail::no_position,
                    "loom::Residual: every argument must be a loom layer (Conv2D, ReLU, ...) "
                    "or, last, a loom::Shortcut<...>; search the compiler output for "
                    "'loom_error_not_a_layer' to see which argument is not");
      return false;
    } else if constexpr (shortcut_not_a_layer != detail::no_position) {
      using show [[maybe_unused]] =
          decltype(sizeof(loom_error_not_a_layer<layer_index<shortcut_not_a_layer>,
                                                 detail::at<shortcut_not_a_layer, shortcut>>));
      static_assert(shortcut_not_a_layer == detail::no_position,
                    "loom::Shortcut: every argument must be a loom layer; search the compiler "
                    "output for 'loom_error_not_a_layer' to see which argument is not");
      return false;
    } else if constexpr (!detail::computes(block{})) {
      static_assert(detail::computes(block{}),
                    "loom::Residual: give the block at least one layer that computes (not only "
                    "Flatten), e.g. Residual<Dense<64>, ReLU, Dense<64>>");
      return false;
    } else if constexpr (has_shortcut && !detail::computes(shortcut{})) {
      static_assert(!has_shortcut || detail::computes(shortcut{}),
                    "loom::Shortcut: give it at least one layer that computes, e.g. "
                    "Shortcut<Conv2D<64, 1, 2>>; for the identity shortcut leave it out");
      return false;
    } else if constexpr (!block_walk<In>::valid || !shortcut_walk<In>::valid) {
      return false; // an inner layer's diagnostic has been given
    } else if constexpr (!has_shortcut && !std::is_same_v<output_shape<In>, In>) {
      using show [[maybe_unused]] = decltype(sizeof(
          loom_error_residual_shape_mismatch<layer_index<Index>, output_shape<In>, In>));
      static_assert(has_shortcut || std::is_same_v<output_shape<In>, In>,
                    "loom::Residual: the block's output shape differs from its input's, so the "
                    "two cannot be added; make the block keep the shape, or name a projection "
                    "as the last argument, e.g. Shortcut<Conv2D<Channels, 1, Stride>> (search "
                    "the compiler output for 'loom_error_residual_shape_mismatch' for the "
                    "Residual's position, the block's output and the input shapes)");
      return false;
    } else if constexpr (has_shortcut && !std::is_same_v<typename shortcut_walk<In>::output_shape,
                                                         output_shape<In>>) {
      using show [[maybe_unused]] = decltype(sizeof(
          loom_error_residual_shortcut_shape_mismatch<
              layer_index<Index>, typename shortcut_walk<In>::output_shape, output_shape<In>>));
      static_assert(!has_shortcut ||
                        std::is_same_v<typename shortcut_walk<In>::output_shape, output_shape<In>>,
                    "loom::Residual: the Shortcut's output shape differs from the block's; give "
                    "the projection the block's channels and stride, e.g. "
                    "Shortcut<Conv2D<Channels, 1, Stride>> (search the compiler output for "
                    "'loom_error_residual_shortcut_shape_mismatch' for the Residual's position, "
                    "the shortcut's and the block's output shapes)");
      return false;
    }
    return true;
  }

  template <class In, class Scalar, class ExecutionSpace>
  using stage = detail::ResidualStage<
      In, output_shape<In>, Scalar, ExecutionSpace,
      typename detail::stages_of<Scalar, ExecutionSpace, typename block_walk<In>::type>::list,
      typename detail::stages_of<Scalar, ExecutionSpace, typename shortcut_walk<In>::type>::list>;
};

namespace detail {

/// The stage of a Residual. It owns the stages of its block and its shortcut, and lays out:
///   workspace (kept from forward to backward): each block stage's output and workspace, then
///     each shortcut stage's;
///   scratch (within one pass): the inner stages' shared scratch (the largest any of them
///     needs), then its own backward buffers: two for the gradients between inner stages, a
///     copy of dy, and the shortcut's input gradient.
template <class In, class Out, class Scalar, class ExecutionSpace, class BlockStages,
          class ShortcutStages>
class ResidualStage {
  using block_type = StageChain<Scalar, ExecutionSpace, BlockStages>;
  using shortcut_type = StageChain<Scalar, ExecutionSpace, ShortcutStages>;
  static constexpr bool projects = shortcut_type::count > 0;
  static constexpr std::size_t inner_scratch =
      std::max(block_type::scratch_per_sample, shortcut_type::scratch_per_sample);
  static constexpr std::size_t between_width =
      std::max(block_type::widest_inner, shortcut_type::widest_inner);
  // Inner stages are stages first_id + k of the dropout streams; first_id is 256·(its own + 1),
  // with the shortcut's 128 further on, so that they differ from every other stage's.
  static constexpr std::size_t shortcut_ids = 128;

public:
  using input_shape = In;
  using output_shape = Out;
  using memory_space = typename ExecutionSpace::memory_space;
  static constexpr std::size_t parameter_count =
      block_type::parameter_count + shortcut_type::parameter_count;
  static constexpr std::size_t workspace_per_sample =
      block_type::activations_per_sample + shortcut_type::activations_per_sample;
  static constexpr std::size_t workspace_per_pass =
      block_type::activations_per_pass + shortcut_type::activations_per_pass;
  static constexpr std::size_t scratch_per_sample =
      inner_scratch + 2 * between_width + output_shape::size + (projects ? In::size : 0);
  static constexpr std::size_t state_count = block_type::state_count + shortcut_type::state_count;
  static constexpr std::size_t logical_parameter_count =
      block_type::logical_parameter_count + shortcut_type::logical_parameter_count;

  static void parameter_roles(std::vector<ParameterRun>& out, std::size_t local,
                              std::size_t logical, Shard shard) {
    block_type::parameter_roles(out, local, logical, shard);
    shortcut_type::parameter_roles(out, local + block_type::parameter_count,
                                   logical + block_type::logical_parameter_count, shard);
  }

  void bind(VectorSlice<Scalar, memory_space> params) {
    block_.bind(VectorSlice<Scalar, memory_space>(params.data(), block_type::parameter_count));
    shortcut_.bind(VectorSlice<Scalar, memory_space>(params.data() + block_type::parameter_count,
                                                     shortcut_type::parameter_count));
  }

  void set_shard(Shard shard) {
    block_.set_shard(shard);
    shortcut_.set_shard(shard);
  }

  void bind_state(VectorSlice<Scalar, memory_space> state) {
    block_.bind_state(VectorSlice<Scalar, memory_space>(state.data(), block_type::state_count));
    shortcut_.bind_state(VectorSlice<Scalar, memory_space>(state.data() + block_type::state_count,
                                                           shortcut_type::state_count));
  }

  void bind_workspace(VectorSlice<Scalar, memory_space> workspace, std::size_t batch) {
    shortcut_.bind_activations(block_.bind_activations(workspace.data(), batch), batch);
  }

  void bind_scratch(VectorSlice<Scalar, memory_space> scratch, std::size_t batch) {
    VectorSlice<Scalar, memory_space> const inner(scratch.data(), batch * inner_scratch);
    block_.bind_scratch(inner, batch);
    shortcut_.bind_scratch(inner, batch);
    own_ = scratch.data() + batch * inner_scratch;
  }

  void initialize(ExecutionSpace const& space, CounterRng const& rng) {
    // Inner stage k draws from a stream of its own, derived from the Residual's.
    auto const streams = [&](std::size_t first) {
      return
          [&rng, first](std::size_t k) { return CounterRng(rng.bits(first + k), first + k + 1); };
    };
    block_.initialize(space, streams(0));
    shortcut_.initialize(space, streams(shortcut_ids));
  }

  template <class XView, class YView>
  void forward(ExecutionSpace const& space, PassContext<Scalar> const& ctx, XView const& x,
               YView const& y) const {
    const_batch_type const input(x.data(), ctx.batch, In::size);
    std::size_t const first_id = (ctx.stage + 1) << 8;
    block_.forward(space, ctx, input, first_id);
    const_batch_type skip = input;
    if constexpr (projects) {
      shortcut_.forward(space, ctx, input, first_id + shortcut_ids);
      skip = shortcut_.output();
    }
    residual_add(space, y.data(), block_.output().data(), skip.data(),
                 ctx.batch * output_shape::size);
  }

  template <class XView, class YView, class DyView, class DxView>
  void backward(ExecutionSpace const& space, PassContext<Scalar> const& ctx, XView const& x,
                YView const&, DyView const& dy, DxView const& dx,
                VectorSlice<Scalar, memory_space> target) const {
    std::size_t const batch = ctx.batch;
    std::size_t const first_id = (ctx.stage + 1) << 8;
    const_batch_type const input(x.data(), batch, In::size);
    batch_type const gradient(dy.data(), batch, output_shape::size);
    batch_type const input_gradient(dx.data(), dx.extent(0), dx.extent(1));
    bool const wants_dx = dx.extent(0) > 0;
    // The scratch after the inner stages': two buffers between inner stages, dy's copy, and
    // the shortcut's dx.
    std::array<Scalar*, 2> const between{own_, own_ + batch * between_width};
    batch_type const dy_copy(own_ + 2 * batch * between_width, batch, output_shape::size);
    batch_type const shortcut_dx(dy_copy.data() + batch * output_shape::size,
                                 projects && wants_dx ? batch : 0, In::size);
    // Inner stages may overwrite their dy: the second branch gets a copy.
    if (projects || wants_dx) {
      kernels::copy(space, dy_copy, gradient);
    }
    if constexpr (projects) {
      shortcut_.backward(
          space, ctx, input, dy_copy, shortcut_dx,
          VectorSlice<Scalar, memory_space>(target.data() + block_type::parameter_count,
                                            shortcut_type::parameter_count),
          between, first_id + shortcut_ids);
    }
    block_.backward(space, ctx, input, gradient, input_gradient,
                    VectorSlice<Scalar, memory_space>(target.data(), block_type::parameter_count),
                    between, first_id);
    // dx = the block's dx + the skip's (dy itself, or the shortcut's dx).
    if (wants_dx) {
      Scalar const* skip = projects ? shortcut_dx.data() : dy_copy.data();
      residual_add(space, input_gradient.data(), static_cast<Scalar const*>(input_gradient.data()),
                   skip, batch * In::size);
    }
  }

private:
  using batch_type = MatrixSlice<Scalar, memory_space>;
  using const_batch_type = MatrixSlice<Scalar const, memory_space>;

  block_type block_;
  shortcut_type shortcut_;
  Scalar* own_ = nullptr;
};

} // namespace detail
} // namespace loom
