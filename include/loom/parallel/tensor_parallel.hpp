#pragma once

#include <loom/comm/concepts.hpp>
#include <loom/comm/default.hpp>
#include <loom/core/environment.hpp>
#include <loom/parallel/data_parallel.hpp>
#include <loom/parallel/detail/split_runtime.hpp>
#include <loom/parallel/detail/tensor.hpp>

#include <cstddef>
#include <string>
#include <utility>

namespace loom {

/// \brief Split every Dense layer's weights over Ranks processes (Megatron-LM's tensor
///        parallelism): the strategy for layers too wide for one process.
///
/// \code
///   Input<784> ─ Dense<4096> ─ ReLU ─ Dropout ─ Dense<4096> ─ ReLU ─ Dense<10>
///                column-parallel                row-parallel         gathered
///                (units split)                  (inputs split, partial outputs summed)
/// \endcode
/// Consecutive Dense layers pair up: the first splits its units (each rank computes U/P of
/// them from the whole input), the second its inputs (each rank multiplies its U/P features
/// by its columns of the weights; the partial outputs are summed over the group). One
/// all-reduce forward and one backward per pair; the activations and Dropout between them act
/// on each rank's features, with the serial masks. A Dense without a partner splits its units
/// and gathers its outputs. Every other layer runs whole on every rank. Every rank computes
/// every sample; the gradients are complete after backward. One step equals SingleProcess
/// training to float rounding.
///
/// Checked at compile time: a Dense whose units P does not divide, or a network without a
/// Dense to split, is a compile error naming the layer. At run time the communicator must
/// have exactly Ranks processes (the same error on every rank otherwise).
///
/// \tparam Ranks  the slices of each Dense layer: the processes of the run
/// \tparam Comm   communicator policy (comm::Default: comm::Mpi, or comm::Self without MPI)
template <std::size_t Ranks, class Comm = comm::Default>
struct TensorParallel {
  static_assert(Ranks >= 1, "loom::TensorParallel<Ranks>: Ranks must be at least 1");
  static_assert(detail::checked<detail::check_communicator<Comm>()>);

  using strategy_type = TensorParallel;
  using comm_type = Comm;
  using placement_type = detail::TensorPlacement<Ranks>;
  static constexpr std::size_t ranks = Ranks;
  static constexpr bool needs_environment = true;

  static std::string name() {
    return "TensorParallel<" + std::to_string(Ranks) + ", " + Comm::name() + ">";
  }

  /// \brief Runtime options (TrainerOptions::parallel): none; every gradient is complete
  ///        after backward.
  struct options {};
  static std::string describe(options const&) { return "none"; }

  template <class Net, class ExecutionSpace, class Scalar = float>
  class runtime
      : public detail::SplitRuntime<runtime<Net, ExecutionSpace, Scalar>, TensorParallel, Ranks,
                                    placement_type, Comm, Net, ExecutionSpace, Scalar> {
    using base = detail::SplitRuntime<runtime, TensorParallel, Ranks, placement_type, Comm, Net,
                                      ExecutionSpace, Scalar>;

  public:
    using typename base::model_type;
    /// Gradients are complete after backward: an SGD step may be written by backward itself.
    static constexpr bool local_gradients = true;

    runtime(Environment const& env, options const& opts)
        : runtime(Comm(env), opts) {}
    /// Over the ranks of `comm` (one axis of a Hybrid's grid).
    runtime(Comm comm, options const&)
        : base(std::move(comm), 0, false) {}

    /// Every rank takes the whole input.
    template <class Batch>
    auto input(model_type const&, Batch const& batch) const {
      return batch.x;
    }
  };
};

} // namespace loom
