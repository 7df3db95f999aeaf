#pragma once

#include <loom/core/detail/consensus.hpp>
#include <loom/core/environment.hpp>
#include <loom/data/sampler.hpp>
#include <loom/loss/concepts.hpp>
#include <loom/model/model.hpp>
#include <loom/optim/clip.hpp>
#include <loom/parallel/concepts.hpp>
#include <loom/parallel/detail/layout.hpp>
#include <loom/parallel/detail/step.hpp>

#include <cstddef>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace loom {

/// \brief The strategy of one process: the whole batch and the whole network on this process,
///        nothing to communicate. The default strategy of loom::Trainer.
struct SingleProcess {
  using strategy_type = SingleProcess;
  static constexpr bool needs_environment = false;
  static std::string name() { return "SingleProcess"; }

  /// \brief Runtime options (TrainerOptions::parallel): none.
  struct options {};
  static std::string describe(options const&) { return "none"; }

  template <class Net, class ExecutionSpace, class Scalar = float>
  class runtime {
  public:
    using model_type = Model<Net, ExecutionSpace, Scalar>;
    /// Gradients need no completion: an optimizer step may be applied during backward.
    static constexpr bool local_gradients = true;

    runtime() = default;
    explicit runtime(options const&) {}
    runtime(Environment const&, options const&) {}

    model_type make_model(std::uint64_t seed) const { return model_type(seed); }
    void start(model_type&, std::size_t) {}

    template <class Optimizer, class Work>
    LossValue step(model_type& model, Optimizer& optimizer, Work& work) {
      return detail::standard_step(*this, model, optimizer, work);
    }

    int rank() const { return 0; }
    int size() const { return 1; }
    bool is_root() const { return true; }
    data::IndexRange shard(std::size_t rows) const { return {0, rows}; }
    template <class Batch>
    auto input(model_type const&, Batch const& batch) const {
      return batch.x;
    }

    void gradients_ready(model_type&, std::size_t, bool) {}
    void finish_gradients(model_type&) {}
    double gradient_norm(model_type const& model) const {
      return global_norm(model.space(), model.gradients());
    }
    LossValue combine(LossValue const& local) const { return local; }
    void sum(std::span<double>) {}
    void start_combine(LossValue const& local) { pending_ = local; }
    LossValue finish_combine() const { return pending_; }

    void check_configuration(detail::Configuration const&) {}
    template <class F>
    auto collectively(F&& f) -> decltype(f()) {
      return f();
    }
    void broadcast(std::vector<std::byte>&) {}
    detail::WholeLayout layout(model_type const&) const { return {}; }

  private:
    LossValue pending_;
  };
};

} // namespace loom
