#pragma once

// TensorParallel's plan: how a network's layers become a rank's stages when its Dense layers
// are split over the ranks of a group (Megatron-LM's split of a Transformer's MLP).
//
//              replicated ─ Dense (column-parallel) ─ ReLU ─ Dropout ─ Dense (row-parallel) ─
//              replicated
//   rank r:    x, whole     units [r·U/P, (r+1)·U/P)   on its U/P       its U/P inputs; partial
//                           dx summed over the group    features        outputs summed over the
//                           group
//
// A Dense followed (through activations and Dropout only) by another Dense is column-parallel
// and the next one row-parallel: one all-reduce forward (the row-parallel outputs) and one
// backward (the column-parallel input gradient) per pair, the activations between them never
// gathered. A Dense without a partner is column-parallel with its outputs all-gathered. Every
// other layer, and each Residual's layers by the same rules, runs whole on every rank.
//
// Parameters: each rank holds its units' rows (column-parallel) or its inputs' columns
// (row-parallel) of the weights; the row-parallel bias is replicated. Every gradient is
// complete after backward: nothing is summed after it.

#include <loom/core/detail/type_list.hpp>
#include <loom/core/shape.hpp>
#include <loom/layers/activations.hpp>
#include <loom/layers/concepts.hpp>
#include <loom/layers/dense.hpp>
#include <loom/layers/detail/walk.hpp>
#include <loom/layers/dropout.hpp>
#include <loom/layers/residual.hpp>
#include <loom/parallel/detail/spatial.hpp>

#include <cstddef>
#include <string>
#include <type_traits>

namespace loom {

// Named in compiler output by TensorParallel's diagnostics.
template <class LayerIndex, class Layer, class Ranks>
struct loom_error_TensorParallel_units_not_divisible;
template <class Network, class Ranks>
struct loom_error_TensorParallel_network_has_no_Dense;

namespace detail {

/// What a rank holds of a layer under TensorParallel.
enum class TensorRole { whole, column, gathered, split_features, row };

template <class A, TensorRole R, std::size_t Ranks, std::size_t Units = 0>
struct TensorPlaced : A {
  static constexpr TensorRole role = R;
  static constexpr std::size_t ranks = Ranks;
  static constexpr std::size_t units = Units; // the split features' layer width
};

template <class L>
constexpr bool passes_features = ElementwiseActivation<L> || SplitDropout<L>;

/// Whether the next layer after activations and Dropout is a Dense.
template <class... As>
struct pairs_with_next : std::false_type {};
template <class A, class... Rest>
struct pairs_with_next<A, Rest...>
    : std::bool_constant<is_dense<typename A::layer>::value ||
                         (passes_features<typename A::layer> && pairs_with_next<Rest...>::value)> {
};

template <std::size_t Ranks, class A>
constexpr bool check_tensor_dense() {
  using L = typename A::layer;
  if constexpr (L::units % Ranks != 0) {
    using show [[maybe_unused]] = decltype(sizeof(
        loom_error_TensorParallel_units_not_divisible<layer_index<A::index>, L,
                                                      std::integral_constant<std::size_t, Ranks>>));
    static_assert(L::units % Ranks == 0,
                  "loom::TensorParallel<P>: a Dense layer's units are not divisible by P, so "
                  "they cannot be split into equal slices; change its units or P (search the "
                  "compiler output for 'loom_error_TensorParallel_units_not_divisible' for the "
                  "layer's position and type)");
    return false;
  }
  return true;
}

template <std::size_t Ranks, class List>
struct tensor_walk_of;

/// The plan's walk: each annotated layer with its role; Units is the width of the split
/// features (0: the activations are whole).
template <std::size_t Ranks, std::size_t Units, class Done, class... As>
struct tensor_walk {
  using type = Done;
  static constexpr bool valid = true;
  static constexpr std::size_t denses = 0;
};
template <std::size_t Ranks, std::size_t Units, class... Done, class A, class... Rest>
struct tensor_walk<Ranks, Units, type_list<Done...>, A, Rest...> {
  using L = typename A::layer;
  static constexpr bool dense = is_dense<L>::value;
  static constexpr bool split = Units > 0;
  static constexpr TensorRole role = [] {
    if constexpr (split && dense) {
      return TensorRole::row;
    } else if constexpr (split) {
      return TensorRole::split_features;
    } else if constexpr (dense && pairs_with_next<Rest...>::value) {
      return TensorRole::column;
    } else if constexpr (dense) {
      return TensorRole::gathered;
    } else {
      return TensorRole::whole;
    }
  }();
  static constexpr bool ok = [] {
    if constexpr (dense && !split) {
      return check_tensor_dense<Ranks, A>();
    } else if constexpr (requires { typename L::template block_layers<typename A::input_shape>; }) {
      using In = typename A::input_shape;
      return tensor_walk_of<Ranks, typename L::template block_layers<In>>::type::valid &&
             tensor_walk_of<Ranks, typename L::template shortcut_layers<In>>::type::valid;
    } else {
      return true;
    }
  }();
  static constexpr std::size_t next_units = [] {
    if constexpr (role == TensorRole::column) {
      return L::units;
    } else if constexpr (role == TensorRole::row) {
      return std::size_t{0};
    } else {
      return Units;
    }
  }();
  using next = std::conditional_t<
      ok,
      tensor_walk<Ranks, next_units, type_list<Done..., TensorPlaced<A, role, Ranks, Units>>,
                  Rest...>,
      tensor_walk<Ranks, 0, type_list<Done...>>>;
  using type = typename next::type;
  static constexpr bool valid = ok && next::valid;
  static constexpr std::size_t denses = (dense ? 1 : 0) + next::denses;
};

template <std::size_t Ranks, class... As>
struct tensor_walk_of<Ranks, type_list<As...>> {
  using type = tensor_walk<Ranks, 0, type_list<>, As...>;
};

/// The stages of placed layers (plan_stages' maker).
template <class Scalar, class ExecutionSpace>
struct TensorStages {
  template <class P, class Activation = Identity>
  static auto make() {
    using L = typename P::layer;
    using In = typename P::input_shape;
    constexpr std::size_t ranks = P::ranks;
    if constexpr (P::role == TensorRole::column || P::role == TensorRole::gathered) {
      return std::type_identity<typename L::template fused_stage<
          In, Scalar, ExecutionSpace, Activation,
          dense::SplitUnits<ranks, P::role == TensorRole::gathered>>>{};
    } else if constexpr (P::role == TensorRole::row) {
      using Features = FeatureBlocks<1, P::units, P::units / ranks>;
      return std::type_identity<
          typename L::template fused_stage<Shape<P::units / ranks>, Scalar, ExecutionSpace,
                                           Activation, dense::SplitInputs<Features, P::units>>>{};
    } else if constexpr (P::role == TensorRole::split_features) {
      using Local = Shape<P::units / ranks>;
      if constexpr (SplitDropout<L>) {
        return std::type_identity<typename L::template split_stage<
            Local, Scalar, ExecutionSpace, FeatureBlocks<1, P::units, P::units / ranks>,
            P::units>>{};
      } else {
        return std::type_identity<typename L::template stage<Local, Scalar, ExecutionSpace>>{};
      }
    } else if constexpr (requires { typename L::template block_layers<In>; }) {
      using block = typename tensor_walk_of<ranks, typename L::template block_layers<In>>::type;
      using shortcut =
          typename tensor_walk_of<ranks, typename L::template shortcut_layers<In>>::type;
      return std::type_identity<
          ResidualStage<In, typename P::output_shape, Scalar, ExecutionSpace,
                        typename stages_with<TensorStages, typename block::type>::list,
                        typename stages_with<TensorStages, typename shortcut::type>::list>>{};
    } else if constexpr (std::is_same_v<Activation, Identity>) {
      return std::type_identity<typename L::template stage<In, Scalar, ExecutionSpace>>{};
    } else {
      return std::type_identity<
          typename L::template fused_stage<In, Scalar, ExecutionSpace, Activation>>{};
    }
  }

  template <class P>
  using stage = typename decltype(make<P>())::type;
  template <class P, class Activation>
  using fused_stage = typename decltype(make<P, typename Activation::layer>())::type;
};

/// \brief TensorParallel<Ranks>'s placement (model/placement.hpp): a rank's slices of the
///        network's Dense layers.
template <std::size_t Ranks>
struct TensorPlacement {
  template <class Net>
  using input_shape = typename Net::input_shape;

  template <class Net>
  using walk = typename tensor_walk_of<Ranks, typename Net::layers>::type;

  template <class Net, class Scalar, class ExecutionSpace>
  using stage_list =
      typename stages_with<TensorStages<Scalar, ExecutionSpace>, typename walk<Net>::type>::list;

  template <class Net>
  static constexpr bool check() {
    if constexpr (!walk<Net>::valid) {
      return false; // a layer's diagnostic has been given
    } else if constexpr (walk<Net>::denses == 0) {
      using show [[maybe_unused]] =
          decltype(sizeof(loom_error_TensorParallel_network_has_no_Dense<
                          Net, std::integral_constant<std::size_t, Ranks>>));
      static_assert(walk<Net>::denses > 0,
                    "loom::TensorParallel<P>: the network has no Dense layer outside a "
                    "Residual to split, so every rank would compute the whole network; use "
                    "DataParallel, or SpatialParallel for images");
      return false;
    }
    return true;
  }

  /// A part of a network (a pipeline stage) may hold no Dense: it runs whole on every rank.
  template <class Part>
  static constexpr bool check_part() {
    return walk<Part>::valid;
  }

  static std::string name() { return "TensorParallel<" + std::to_string(Ranks) + ">"; }
};

} // namespace detail
} // namespace loom
