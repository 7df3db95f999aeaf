#pragma once

// Placements: which part of a network a rank's Model holds. A strategy that splits layers over
// ranks (SpatialParallel, TensorParallel) gives each rank a Model of its part; its stages,
// input shape and parameters are then the part's, and parameter_map() relates them to the
// logical network's.
//
// Placement (a type; Model's fourth template argument)
//   Requirements
//     P::template input_shape<Net>                 the Shape of one sample of a rank's input
//     P::template stage_list<Net, Scalar, ExecutionSpace>
//                                                  the rank's stages: a detail::type_list with
//                                                  one stage per stage of the whole network,
//                                                  in the same order
//     P::template check<Net>()                     constexpr bool; static_asserts that say
//                                                  why the network cannot be split so
//     P::name()                                    std::string, for summaries
//   Optional (for a placement that holds some of the network's stages, a pipeline's)
//     P::template output_shape<Net>                the Shape of one sample of its output
//                                                  (default: the network's)
//     P::template first_stage<Net>                 its first stage's position among the
//                                                  network's (dropout streams; default 0)
//     P::template parameter_offset<Net>, P::template parameter_count<Net>
//                                                  where its stages' layers lie in the
//                                                  network's parameters (default: all)
//     P::template state_offset<Net>                likewise in the network's states
//     P::holds_alone                               true: no other rank of the group holds
//                                                  these parameters and states
//   Models: loom::Whole; the placements of SpatialParallel<P>, TensorParallel<P> and the
//   stages of a Pipeline.

#include <cstddef>
#include <string>

namespace loom {

/// \brief The whole network on this process: the placement of SingleProcess and DataParallel.
struct Whole {
  template <class Net>
  using input_shape = typename Net::input_shape;
  template <class Net, class Scalar, class ExecutionSpace>
  using stage_list = typename Net::template stage_list<Scalar, ExecutionSpace>;
  template <class Net>
  static constexpr bool check() {
    return true;
  }
  static std::string name() { return "Whole"; }
};

namespace detail {
template <class P, class Net>
struct placement_output {
  using type = typename Net::output_shape;
};
template <class P, class Net>
requires requires {
  typename P::template output_shape<Net>;
}
struct placement_output<P, Net> {
  using type = typename P::template output_shape<Net>;
};

template <class P, class Net>
constexpr std::size_t placement_first_stage() {
  if constexpr (requires { P::template first_stage<Net>; }) {
    return P::template first_stage<Net>;
  } else {
    return 0;
  }
}
template <class P, class Net>
constexpr std::size_t placement_parameter_offset() {
  if constexpr (requires { P::template parameter_offset<Net>; }) {
    return P::template parameter_offset<Net>;
  } else {
    return 0;
  }
}
template <class P, class Net>
constexpr std::size_t placement_parameter_count() {
  if constexpr (requires { P::template parameter_count<Net>; }) {
    return P::template parameter_count<Net>;
  } else {
    return Net::num_parameters;
  }
}
template <class P, class Net>
constexpr std::size_t placement_state_offset() {
  if constexpr (requires { P::template state_offset<Net>; }) {
    return P::template state_offset<Net>;
  } else {
    return 0;
  }
}
template <class P>
constexpr bool placement_holds_alone() {
  if constexpr (requires { P::holds_alone; }) {
    return P::holds_alone;
  } else {
    return false;
  }
}
} // namespace detail

} // namespace loom
