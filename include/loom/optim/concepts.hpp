#pragma once

// Optimizer
//   Requirements
//     O::optimizer_type               O itself
//     O::options                      an aggregate of hyperparameters with defaults (the
//                                     learning rate is not among them: step() takes it,
//                                     from loom::Trainer's lr and schedule)
//     O::default_lr                   a sensible base learning rate
//     O::name()                       std::string
//     O::describe(options)            the options as text ("momentum=0.9, ..."): messages,
//                                     and the check that every process runs the same
//     O::template state<Scalar, ExecutionSpace>
//                                     its state over a flat parameter buffer, constructed
//                                     from (num_parameters, options), with
//       step(space, parameters, gradients, lr, gradient_scale = 1)
//                                     one fused kernel updating every parameter, the
//                                     gradients read as gradient_scale · gradients (this is
//                                     where clipping by global norm applies)
//       steps(), set_steps(n)         updates taken (bias correction, checkpoints)
//       buffers()                     its per-parameter state, {name, view}, for checkpoints
//       options()                     the hyperparameters
//       optimizer_type                O (checkpoints name the optimizer)
//   Optional
//     state.linear_update(lr, gradient_scale) -> std::optional<LinearUpdate>
//                                     when the step is θ ← β·θ + α·∇ (SGD without momentum),
//                                     {α, β}: the backward pass can then write the step into
//                                     the parameters directly (Model::backward_into);
//     state.count_step()              records such a step

#include <concepts>
#include <string>
#include <type_traits>

namespace loom {

/// \brief An update θ ← beta·θ + alpha·∇ that the backward pass can apply as it goes.
struct LinearUpdate {
  double alpha;
  double beta;
};

template <class O>
concept Optimizer = requires {
  typename O::optimizer_type;
  typename O::options;
  { O::name() } -> std::convertible_to<std::string>;
  { O::describe(typename O::options{}) } -> std::convertible_to<std::string>;
}
&&std::is_same_v<typename O::optimizer_type, O>;

} // namespace loom
