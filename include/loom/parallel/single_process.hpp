#pragma once

#include <loom/core/detail/consensus.hpp>
#include <loom/core/environment.hpp>
#include <loom/data/sampler.hpp>
#include <loom/loss/concepts.hpp>

#include <cstddef>
#include <span>
#include <string>
#include <vector>

namespace loom {

/// \brief The strategy of one process: the whole batch on this process, nothing to
///        communicate. The default strategy of loom::Trainer.
///
/// A strategy's runtime is where a Trainer's steps meet communication: it gives this
/// process its slice of each global batch, synchronises the initial parameters, is told as
/// backward finishes each layer's gradients, completes the gradients before the optimizer
/// step, and combines the metrics of all processes.
struct SingleProcess {
  using strategy_type = SingleProcess;
  static constexpr bool needs_environment = false;
  static std::string name() { return "SingleProcess"; }

  /// \brief Runtime options (TrainerOptions::parallel): none.
  struct options {};
  static std::string describe(options const&) { return "none"; }

  template <class Model>
  class runtime {
    LossValue pending_;

  public:
    /// Gradients need no synchronisation: an optimizer step may be applied during backward.
    static constexpr bool local_gradients = true;

    runtime() = default;
    runtime(Environment const&, options const&) {}
    int rank() const { return 0; }
    int size() const { return 1; }
    bool is_root() const { return true; }
    /// This process's rows of a global batch of `rows` samples.
    data::IndexRange shard(std::size_t rows) const { return {0, rows}; }
    /// Makes every process start from the same parameters.
    void synchronize_parameters(Model&) {}
    /// Called by backward() with each finished slice of the gradient buffer.
    void gradients_ready(Model&, std::size_t /*offset*/, std::size_t /*count*/,
                         bool /*last_micro_batch*/) {}
    /// Completes the gradients (sums over processes) before the optimizer step.
    void finish_gradients(Model&) {}
    /// Sums a metric over processes.
    LossValue combine(LossValue const& local) const { return local; }
    /// Sums values (a metric's sums()) over processes, in place.
    void sum(std::span<double>) {}
    /// combine() in two halves, so that the sum can travel while backward runs.
    void start_combine(LossValue const& local) { pending_ = local; }
    LossValue finish_combine() const { return pending_; }
    /// Checks that every process runs the same configuration.
    void check_configuration(detail::Configuration const&) {}
    /// Runs f; with several processes, an error on one becomes an error on all.
    template <class F>
    auto collectively(F&& f) -> decltype(f()) {
      return f();
    }
    /// Gives every process the root's bytes.
    void broadcast(std::vector<std::byte>&) {}
  };
};

} // namespace loom
