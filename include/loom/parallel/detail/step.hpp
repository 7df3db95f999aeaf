#pragma once

// The training step that SingleProcess, DataParallel, SpatialParallel and TensorParallel share:
// each micro-batch forward, its loss and backward, the gradients completed, the step's loss
// checked, then the optimizer step. What differs between them comes from the runtime:
//
//   r.shard(rows), r.input(model, batch)      which rows this rank computes, from what input
//   r.gradients_ready(model, offset, last)    backward finished the gradients from offset on
//   r.finish_gradients(model)                 gradients complete (summed where they must be)
//   r.start_combine(loss), r.finish_combine() the step's loss over the ranks
//   r.gradient_norm(model)                    the whole network's gradient norm (clipping)
//   R::local_gradients                        whether backward's gradients are complete as
//                                             they are, so that a linear update (SGD without
//                                             momentum) can be written by backward itself
//   r.trains_apart() (optional)               true where each rank trains its own replica on
//                                             its rows (LocalSGD, ElasticAveraging): the
//                                             loss is then the mean over this rank's rows,
//                                             not the global batch's, and the runtime
//                                             keeps it: r.keep_loss(loss) returns whether
//                                             the step may be taken (false for a loss that
//                                             is not finite: this rank skips the step), and
//                                             the losses are summed and checked on every
//                                             rank when the replicas next meet, so that no
//                                             step waits on the others
//
// A strategy with a step of another shape (a pipeline's schedule) writes its own.

#include <loom/kernels/copy.hpp>
#include <loom/loss/concepts.hpp>
#include <loom/optim/clip.hpp>
#include <loom/optim/concepts.hpp>

#include <cstddef>
#include <optional>
#include <span>

namespace loom::detail {

template <class Runtime, class Model, class OptimizerState, class Work>
LossValue standard_step(Runtime& runtime, Model& model, OptimizerState& optimizer, Work& work) {
  std::size_t const micro_batches = work.micro_batches();
  bool apart = false;
  if constexpr (requires { runtime.trains_apart(); }) {
    apart = runtime.trains_apart();
  }
  std::size_t rows_total = 0; // the rows the loss is the mean over
  for (std::size_t m = 0; m < micro_batches; ++m) {
    std::size_t const rows = work.samples(m).size();
    rows_total += apart ? runtime.shard(rows).size() : rows;
  }
  double const lr = work.lr();
  model.train();
  LossValue local_loss; // this rank's micro-batches
  for (std::size_t m = 0; m < micro_batches; ++m) {
    std::span<std::size_t const> const global = work.samples(m);
    auto const range = runtime.shard(global.size());
    model.set_sample_offset(work.first_sample(m) + range.begin);
    std::span<std::size_t const> const mine = global.subspan(range.begin, range.size());
    if (!mine.empty()) {
      auto const batch = work.gather(mine);
      auto const output = model.forward(runtime.input(model, batch));
      local_loss += work.loss(model, output, batch, 1.0 / double(rows_total));
    } else if (m == 0) {
      // A short last batch can leave a rank without samples: it contributes nothing and
      // takes part in every collective like the others.
      kernels::fill(model.space(), model.gradients(), typename Model::value_type(0));
    }
    bool const last = m + 1 == micro_batches;
    if constexpr (Runtime::local_gradients && requires { optimizer.linear_update(0.0); }) {
      if (micro_batches == 1 && work.clip_norm() == 0) {
        if (auto const update = optimizer.linear_update(lr)) {
          // One micro-batch, nothing to complete or clip: the SGD step is written into the
          // weights by the backward pass itself, once the loss has been checked.
          work.check(local_loss, m);
          using Scalar = typename Model::value_type;
          model.backward_into(model.parameters(), Scalar(update->alpha), Scalar(update->beta));
          optimizer.count_step();
          return local_loss;
        }
      }
    }
    if (last && !apart) {
      // The loss summed over ranks travels with the gradients; every rank checks it before
      // the step, so that all stop together.
      runtime.start_combine(local_loss);
    }
    if (mine.empty()) {
      model.set_step(model.step() + 1); // the dropout stream advances as on the others
      continue;
    }
    model.backward(m == 0 ? 0 : 1, [&runtime, &model, last](std::size_t offset, std::size_t) {
      runtime.gradients_ready(model, offset, last);
    });
  }
  runtime.finish_gradients(model);
  LossValue step_loss = local_loss;
  if constexpr (requires { runtime.keep_loss(local_loss); }) {
    if (apart && !runtime.keep_loss(local_loss)) {
      // Skipped, counted as taken so that the ranks meet at the same step, where every rank
      // stops on it.
      optimizer.set_steps(optimizer.steps() + 1);
      return {};
    }
  }
  if (!apart) {
    step_loss = runtime.finish_combine();
    work.check(step_loss, micro_batches - 1);
  }
  double scale = 1.0;
  if (work.clip_norm() > 0) {
    scale = clip_factor(runtime.gradient_norm(model), work.clip_norm());
  }
  optimizer.step(model.space(), model.parameters(), model.gradients(), lr, scale);
  return step_loss;
}

} // namespace loom::detail
