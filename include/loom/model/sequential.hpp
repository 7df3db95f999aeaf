#pragma once

#include <loom/core/detail/type_list.hpp>
#include <loom/core/error.hpp>
#include <loom/core/shape.hpp>
#include <loom/layers/activations.hpp>
#include <loom/layers/concepts.hpp>
#include <loom/layers/detail/walk.hpp>
#include <loom/layers/input.hpp>

#include <boost/hana/tuple.hpp>

#include <array>
#include <cstddef>
#include <string>
#include <type_traits>

namespace loom {

/// \brief A network as a type: an Input shape followed by layers applied in order.
///
/// Each layer's input shape is inferred from the one before it at compile time, and a layer
/// that cannot take it stops compilation with a message naming the layer and what to change.
/// \code
/// using Net = loom::Sequential<loom::Input<784>, loom::Dense<512>, loom::ReLU, loom::Dense<10>>;
/// static_assert(Net::num_parameters == 784 * 512 + 512 + 512 * 10 + 10);
/// \endcode
/// Instantiate it with loom::Model<Net> (parameters on an execution space) or train it with
/// loom::Trainer<Net, Loss, Optimizer>.
template <class InputArg, class... Layers>
struct Sequential {
  static constexpr bool input_ok = detail::check_input<InputArg>();
  static_assert(sizeof...(Layers) > 0,
                "loom::Sequential: give at least one layer after Input, e.g. Dense<10>");

  using network_type = Sequential;
  using input_shape = typename std::conditional_t<input_ok, InputArg, Input<1>>::shape;

private:
  using walk =
      std::conditional_t<input_ok, detail::annotate<0, input_shape, detail::type_list<>, Layers...>,
                         detail::annotate<0, input_shape, detail::type_list<>>>;

public:
  /// The layers with their positions and shapes (detail::LayerAt).
  using layers = typename walk::type;
  using output_shape = typename walk::output_shape;
  /// The last layer as written (Identity when there is none, after the diagnostic).
  using last_layer =
      typename decltype((std::type_identity<Identity>{}, ..., std::type_identity<Layers>{}))::type;
  /// Whether every check passed. Model and Trainer consult it: after a failed check they compile
  /// on with a stand-in, so that the layer's diagnostic is the only error.
  static constexpr bool valid = input_ok && sizeof...(Layers) > 0 && walk::valid;

  /// Parameters of the whole network; a compile-time constant.
  static constexpr std::size_t num_parameters = detail::sum_parameters(layers{});

  /// The runtime stages for a scalar type and execution space: a boost::hana::tuple with one
  /// element per layer, an activation fused into the Dense before it, reshapes dropped.
  template <class Scalar, class ExecutionSpace>
  using stages = typename detail::as_hana_tuple<
      typename detail::stages_of<Scalar, ExecutionSpace, layers>::list>::type;
  /// The same stage types as a detail::type_list.
  template <class Scalar, class ExecutionSpace>
  using stage_list = typename detail::stages_of<Scalar, ExecutionSpace, layers>::list;

  /// "Sequential<Input<784>, Dense<512>, ReLU, Dense<10>>": in summaries, checkpoints and
  /// messages about mismatched models.
  static std::string name() {
    std::string out = "Sequential<" + detail::input_name<input_shape>::get();
    ((out += ", " + layer_name<Layers>()), ...);
    return out + ">";
  }

private:
  template <class L>
  static std::string layer_name() {
    if constexpr (Layer<L>) {
      return L::name();
    } else {
      return "?";
    }
  }
};

template <class T>
concept Network = requires {
  typename T::network_type;
  typename T::input_shape;
  typename T::output_shape;
  T::num_parameters;
}
&&std::is_same_v<typename T::network_type, T>;

} // namespace loom
