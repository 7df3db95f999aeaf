#pragma once

// The Strategy concept: how the training of one network is spread over processes. A strategy
// owns the training step: it runs forward, the loss, backward, the completion of the gradients
// and the optimizer step for its ranks. loom::Trainer is a convenience around it, and a
// hand-written loop calls the same pieces (docs/guide.md, "Strategies").
//
// Strategy (a type; Trainer's fourth template argument)
//   Requirements
//     S::strategy_type                  S itself (the Kokkos self-alias idiom)
//     S::name()                         std::string, e.g. "SpatialParallel<2>"
//     S::options                        an aggregate of runtime values (bucket bytes, ...)
//     S::describe(options)              the options as text (messages, configuration checks)
//     S::needs_environment              whether its runtime is built from a loom::Environment
//     S::template runtime<Net, ExecutionSpace, Scalar>
//                                       the strategy at work on one rank (below)
//
// Runtime (R = S::runtime<Net, ExecutionSpace, Scalar>, r an R)
//     R::model_type                     the Model each rank holds (its placement: the whole
//                                       network, or a rank's part of it)
//     R(env, options)                   every rank of env.comm() (or R(options) without one)
//     r.make_model(seed)                this rank's model, drawn as the whole network would be
//     r.start(model, batch)             before training: checks the world size, the batch size
//                                       and every rank's configuration; replicas start equal
//     r.step(model, optimizer, work)    one optimizer step (work: StepWork below) -> LossValue
//     r.shard(rows)                     the rows of a global batch this rank computes
//     r.input(model, batch)             the model input for a gathered batch (a rank's band of
//                                       rows, or the batch itself)
//     r.combine(loss), r.sum(values)    sums over the ranks that hold different samples
//     r.rank(), r.size(), r.is_root()   over all ranks of the strategy
//     r.check_configuration(c), r.collectively(f), r.broadcast(bytes)
//     r.layout(model)                   a ParameterLayout: buffers laid out like parameters()
//                                       to and from the whole network's layout (checkpoints)
//   Optional
//     r.parameters_replaced(model)      told after Trainer::load() set the parameters
//     r.with_model_parameters(model, f) runs f with the parameters that are the model (a
//                                       centre variable) in place: evaluation, prediction,
//                                       checkpoints
//     r.combine_outputs(model, output, classification)
//                                       combines the ranks' outputs for the same rows in
//                                       evaluation and prediction (Ensemble)
//
// StepWork (what a step trains on; loom::Trainer gives its own, a loop may give another)
//     w.micro_batches()                 global batches in this step (gradient accumulation)
//     w.samples(m)                      their sample indices, std::span<std::size_t const>
//     w.first_sample(m)                 the position of batch m's first row in the run (the
//                                       dropout stream)
//     w.gather(indices)                 a data::Batch of those samples on the model's memory
//     w.loss(model, output, batch, scale)
//                                       the loss summed over the batch (a LossValue), its
//                                       gradient, scaled, written to model.output_gradient()
//     w.check(loss, m)                  called with the step's loss summed over ranks, before
//                                       anything changes; throws to stop every rank together
//     w.lr(), w.clip_norm()             the step's learning rate and clipping norm (0: off)
//     w.ends_epoch() (optional)         whether the step ends an epoch (LocalSGD averages then)
//     w.first_batch(), w.epoch_batches(), w.epoch_batch(i), w.epoch_batch_first_sample(i)
//                       (optional)      the step's first batch's index in the epoch, the
//                                       epoch's batches, batch i's samples and its first row's
//                                       position (ParameterServer hands batches out itself)
//
//   Models: SingleProcess, DataParallel<Comm, Compression>, LocalSGD<Comm, Compression> and
//   ElasticAveraging<Comm> (whose replicas train apart and meet every few steps; the latter's
//   model is a centre variable, put in place by r.with_model_parameters(model, f) for
//   evaluation and checkpoints), SpatialParallel<P, Comm>,
//   TensorParallel<P, Comm>, Pipeline<Cuts, MicroBatches, Schedule, Comm> (whose step runs
//   its schedule and whose model_type is the rank's stage behind a whole network's interface),
//   Hybrid<A, B> (two of them on a grid of processes; its runtime is built from the
//   Environment and splits it into the grid's rows and columns).

#include <concepts>
#include <string>
#include <type_traits>

namespace loom {

template <class S>
concept Strategy = requires {
  typename S::strategy_type;
  typename S::options;
  { S::name() } -> std::convertible_to<std::string>;
  { S::describe(typename S::options{}) } -> std::convertible_to<std::string>;
  { S::needs_environment } -> std::convertible_to<bool>;
}
&&std::is_same_v<typename S::strategy_type, S>;

/// \brief Trait form of the concept (Kokkos style).
template <class S>
struct is_strategy : std::bool_constant<Strategy<S>> {};

template <class S>
struct loom_error_not_a_strategy;

namespace detail {
template <class S>
constexpr bool check_strategy() {
  if constexpr (!Strategy<S>) {
    using show [[maybe_unused]] = decltype(sizeof(loom_error_not_a_strategy<S>));
    static_assert(Strategy<S>,
                  "loom::Trainer<Net, Loss, Optimizer, Strategy>: Strategy must be a loom "
                  "strategy such as loom::SingleProcess, loom::DataParallel<>, "
                  "loom::SpatialParallel<2>, loom::TensorParallel<2>, loom::Pipeline<Cuts<4>> or "
                  "loom::Hybrid<DataParallel<>, TensorParallel<2>> (parallel/concepts.hpp "
                  "lists what one provides; search the compiler output for "
                  "'loom_error_not_a_strategy' to see the type given)");
    return false;
  }
  return true;
}
} // namespace detail

} // namespace loom
