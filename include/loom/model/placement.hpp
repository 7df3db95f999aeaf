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
//   Models: loom::Whole; the placements of SpatialParallel<P> and TensorParallel<P>.

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

} // namespace loom
