#pragma once

// The shape walk that networks and composite layers share: each layer at its place (its
// position and input shape, inferred from the layer before), the checks that stop at the first
// diagnostic, and the grouping of layers into runtime stages. Sequential (model/) and Residual
// (layers/) both build on it.

#include <loom/core/detail/type_list.hpp>
#include <loom/core/shape.hpp>
#include <loom/layers/activations.hpp>
#include <loom/layers/concepts.hpp>
#include <loom/layers/input.hpp>

#include <boost/hana/tuple.hpp>

#include <array>
#include <cstddef>
#include <string>
#include <type_traits>

namespace loom {

// Named in compiler output by Sequential's diagnostics.
template <class LayerIndex, class NotALayer>
struct loom_error_not_a_layer;
template <class FirstArgument>
struct loom_error_sequential_needs_input_first;

namespace detail {

/// A layer at its place in a network: its position, and its input and output shapes.
template <std::size_t Index, class L, class In>
struct LayerAt {
  static constexpr std::size_t index = Index;
  using layer = L;
  using input_shape = In;
  using output_shape = typename L::template output_shape<In>;
  static constexpr std::size_t parameter_count = L::template parameter_count<In>;
};

// Check functions (this one and each layer's check()) name the offending type in a
// declaration, `using show = decltype(sizeof(loom_error_<topic><...>))`, not in an expression
// statement such as `(void)sizeof(...)`: g++ then still evaluates the function in a constant
// expression and adds no "called in a constant expression" error after the diagnostic.
template <std::size_t Index, class L, class In>
constexpr bool check_layer() {
  if constexpr (!Layer<L>) {
    using show [[maybe_unused]] = decltype(sizeof(loom_error_not_a_layer<layer_index<Index>, L>));
    static_assert(Layer<L>, "loom::Sequential: every argument after Input must be a loom layer "
                            "(Dense, ReLU, Dropout, Flatten, ...); search the compiler output for "
                            "'loom_error_not_a_layer' to see which argument is not");
    return false;
  } else {
    return L::template check<Index, In>();
  }
}

template <class InputArg>
constexpr bool check_input() {
  if constexpr (!is_input<InputArg>::value) {
    using show [[maybe_unused]] =
        decltype(sizeof(loom_error_sequential_needs_input_first<InputArg>));
    static_assert(is_input<InputArg>::value,
                  "loom::Sequential: the first argument must be the sample shape, "
                  "loom::Input<dims...>, e.g. Sequential<Input<784>, Dense<10>>");
    return false;
  } else {
    return InputArg::valid; // Input's own static_asserts say what is wrong with it
  }
}

// Walks the layers, inferring each one's input shape from the one before. After the first
// failed check the walk stops, so the user sees one diagnostic, not a cascade.
template <std::size_t Index, class In, class Done, class... Layers>
struct annotate {
  using type = Done;
  using output_shape = In;
  static constexpr bool valid = true;
};
// The walk after layer L: its output shape is only asked for when L's check passed (a type that
// is not a layer has none).
template <bool Ok, std::size_t Index, class In, class Done, class L, class... Rest>
struct annotate_rest;
template <std::size_t Index, class In, class... Done, class L, class... Rest>
struct annotate_rest<true, Index, In, type_list<Done...>, L, Rest...> {
  using type = annotate<Index + 1, typename L::template output_shape<In>,
                        type_list<Done..., LayerAt<Index, L, In>>, Rest...>;
};
template <std::size_t Index, class In, class Done, class L, class... Rest>
struct annotate_rest<false, Index, In, Done, L, Rest...> {
  using type = annotate<Index + 1, In, Done>;
};
template <std::size_t Index, class In, class... Done, class L, class... Rest>
struct annotate<Index, In, type_list<Done...>, L, Rest...> {
  static constexpr bool ok = check_layer<Index, L, In>();
  using next = typename annotate_rest<ok, Index, In, type_list<Done...>, L, Rest...>::type;
  using type = typename next::type;
  using output_shape = typename next::output_shape;
  static constexpr bool valid = ok && next::valid;
};

/// How the walk turns a layer at its place (LayerAt, or a strategy's annotation of it) into a
/// runtime stage: as the layer itself says, its stage and fused_stage for its input shape. A
/// strategy that splits layers over ranks gives plan_stages its own maker (parallel/detail/).
template <class Scalar, class ExecutionSpace>
struct LayerStages {
  template <class A>
  using stage = typename A::layer::template stage<typename A::input_shape, Scalar, ExecutionSpace>;
  template <class A, class Activation>
  using fused_stage =
      typename A::layer::template fused_stage<typename A::input_shape, Scalar, ExecutionSpace,
                                              typename Activation::layer>;
};

// Groups layers into stages: a layer that fuses activations absorbs an elementwise
// activation that follows it; pure reshapes (Flatten) drop out.
template <class Maker, class Done, class... Annotated>
struct plan_stages {
  using type = Done;
};
template <class Maker, class... Done, class A, class... Rest>
struct plan_stages<Maker, type_list<Done...>, A, Rest...> {
  using type = typename plan_stages<Maker, type_list<Done..., typename Maker::template stage<A>>,
                                    Rest...>::type;
};
template <class Maker, class... Done, class A, class... Rest>
requires ReshapeOnly<typename A::layer>
struct plan_stages<Maker, type_list<Done...>, A, Rest...> {
  using type = typename plan_stages<Maker, type_list<Done...>, Rest...>::type;
};
template <class Maker, class... Done, class A, class Act, class... Rest>
requires HasActivationFusion<typename A::layer> && ElementwiseActivation<typename Act::layer>
struct plan_stages<Maker, type_list<Done...>, A, Act, Rest...> {
  using type =
      typename plan_stages<Maker, type_list<Done..., typename Maker::template fused_stage<A, Act>>,
                           Rest...>::type;
};

/// The stages of annotated layers, made by Maker.
template <class Maker, class Annotated>
struct stages_with;
template <class Maker, class... Annotated>
struct stages_with<Maker, type_list<Annotated...>> {
  using list = typename plan_stages<Maker, type_list<>, Annotated...>::type;
};
template <class Scalar, class ExecutionSpace, class Annotated>
using stages_of = stages_with<LayerStages<Scalar, ExecutionSpace>, Annotated>;

template <class List>
struct as_hana_tuple;
template <class... Ts>
struct as_hana_tuple<type_list<Ts...>> {
  using type = boost::hana::tuple<Ts...>;
};

template <class... Annotated>
constexpr std::size_t sum_parameters(type_list<Annotated...>) {
  return (std::size_t{0} + ... + Annotated::parameter_count);
}

/// Whether the layer at each position is an activation fused into the layer before it.
template <class... Annotated>
constexpr std::array<bool, sizeof...(Annotated)> fused_flags(type_list<Annotated...>) {
  constexpr std::size_t n = sizeof...(Annotated);
  constexpr bool fuses[] = {HasActivationFusion<typename Annotated::layer>..., false};
  constexpr bool activation[] = {ElementwiseActivation<typename Annotated::layer>..., false};
  std::array<bool, n> flags{};
  for (std::size_t i = 1; i < n; ++i) {
    // A fusing layer absorbs the one activation right after it.
    flags[i] = activation[i] && fuses[i - 1] && !flags[i - 1];
  }
  return flags;
}

template <class Shape>
struct input_name;
template <std::size_t... Dims>
struct input_name<Shape<Dims...>> {
  static std::string get() {
    std::string out = "Input<";
    bool first = true;
    ((out += (first ? "" : ", ") + std::to_string(Dims), first = false), ...);
    return out + ">";
  }
};

} // namespace detail

} // namespace loom
