#pragma once

#include <loom/comm/compression.hpp>
#include <loom/comm/concepts.hpp>
#include <loom/comm/default.hpp>
#include <loom/core/detail/consensus.hpp>
#include <loom/core/detail/host_copy.hpp>
#include <loom/core/environment.hpp>
#include <loom/core/error.hpp>
#include <loom/core/tensor.hpp>
#include <loom/data/sampler.hpp>
#include <loom/loss/concepts.hpp>
#include <loom/model/model.hpp>
#include <loom/optim/clip.hpp>
#include <loom/parallel/concepts.hpp>
#include <loom/parallel/data_parallel.hpp>
#include <loom/parallel/detail/gradient_sync.hpp>
#include <loom/parallel/detail/layout.hpp>
#include <loom/parallel/detail/replica_runtime.hpp>
#include <loom/parallel/detail/replicas.hpp>
#include <loom/parallel/detail/step.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace loom {

/// \brief Local SGD (periodic model averaging): each rank trains its own replica of the
///        network on its rows of every global batch, with its own optimizer steps, and every
///        `period` steps the replicas' parameters are averaged, θ = 1/K Σ θᵢ. Communication
///        drops from every step to every `period` steps.
///
/// \code
///   K = 2, period = 4                    step 1   2   3   4        5 ...
///   rank 0: rows   0..127 of each batch  θ₀ ← θ₀ − η∇₀ ...  ┐ average ┌ θ₀ ← θ − η∇₀ ...
///   rank 1: rows 128..255 of each batch  θ₁ ← θ₁ − η∇₁ ...  ┘ θ = ½Σθᵢ └ θ₁ ← θ − η∇₁ ...
/// \endcode
/// Each rank's gradient is the mean over its own rows, so with period = 1 and SGD (with or
/// without momentum, the state local) a step is DataParallel's to rounding. With
/// `warmup_steps = W` the first W steps are DataParallel's (gradients all-reduced every step)
/// and the replicas train apart after them: post-local SGD. The parameters are also averaged
/// at the end of every epoch, with the optimizer's state, so that evaluation and checkpoints
/// at an epoch's end see one model and a checkpoint holds the whole run (resumed, it continues
/// bit for bit); in between, `evaluate()` runs each rank's replica on its rows. Batch norm's
/// running statistics are averaged with the parameters. The average goes through the
/// compression policy as the difference from the last average (with its error feedback, for
/// comm::TopK), so compression costs accuracy of the update only, not of the parameters; at
/// an epoch's end the average is exact and the compression starts afresh (the same holds for
/// the warm-up's gradients), since a checkpoint holds no compression state.
///
/// Between averages no step waits on another rank: each rank keeps its steps' losses, and they
/// are summed and checked at the average. A step's loss (what Trainer's callbacks see) is
/// that sum at an averaging step and empty (count 0) at the steps between; an epoch's loss is
/// complete. A loss that is not finite on any rank stops every rank at the next average,
/// before it, with the Trainer's message (naming that step); the rank that saw it skips the
/// step, so no replica takes a non-finite update into the average.
/// \tparam Comm         communicator policy (DataParallel's)
/// \tparam Compression  compression of the averaged parameters (and of the warm-up's
///                      gradients): comm::NoCompression (default), comm::Fp16, comm::Int8,
///                      comm::TopK<ratio>
template <class Comm = comm::Default, class Compression = comm::NoCompression>
struct LocalSGD {
  static_assert(detail::checked<detail::check_communicator<Comm>()>);
  static_assert(detail::checked<detail::check_compression<Compression>()>);

  using strategy_type = LocalSGD;
  using comm_type = Comm;
  using compression_type = Compression;
  static constexpr bool needs_environment = true;

  static std::string name() {
    return "LocalSGD<" + Comm::name() + ", " + Compression::name() + ">";
  }

  /// \brief Runtime options (TrainerOptions::parallel).
  struct options {
    std::size_t period = 8;       ///< H: optimizer steps between averagings (1: every step)
    std::size_t warmup_steps = 0; ///< W: steps trained data-parallel first (post-local SGD)
    /// false: each rank keeps its own optimizer state (momentum, Adam's moments) between
    /// epoch ends; true: the state is averaged with the parameters every period.
    bool average_optimizer_state = false;
    /// bytes per all-reduce of the warm-up's gradients and of compressed averages
    std::size_t bucket_bytes = std::size_t{1} << 20;
  };
  static std::string describe(options const& o) {
    return "period=" + std::to_string(o.period) +
           ", warmup_steps=" + std::to_string(o.warmup_steps) +
           ", average_optimizer_state=" + (o.average_optimizer_state ? "true" : "false") +
           ", bucket_bytes=" + std::to_string(o.bucket_bytes);
  }

  /// Bytes all-reduced (runtime::traffic()).
  using Traffic = loom::Traffic;

  template <class Net, class ExecutionSpace, class Scalar = float>
  class runtime
      : public detail::ReplicaRuntime<LocalSGD, Comm, Compression, Net, ExecutionSpace, Scalar> {
    using base = detail::ReplicaRuntime<LocalSGD, Comm, Compression, Net, ExecutionSpace, Scalar>;
    static constexpr bool compressed = !std::is_same_v<Compression, comm::NoCompression>;

  public:
    using base::size;
    using typename base::model_type;

    runtime(Environment const& env, options const& opts)
        : base(env, checked(opts).bucket_bytes, "loom::LocalSGD")
        , options_(opts) {
      restart_compression();
    }

    /// Every rank checks that it has a sample of each global batch, then starts from rank 0's
    /// parameters.
    void start(model_type& model, std::size_t batch) {
      this->start_replicas(model, batch);
      parameters_replaced(model);
    }
    /// The parameters were set on every rank alike (a checkpoint loaded): the next average
    /// starts from them.
    void parameters_replaced(model_type const& model) {
      if constexpr (compressed) {
        anchor_ = detail::to_host(model.parameters());
      }
    }

    template <class Optimizer, class Work>
    LossValue step(model_type& model, Optimizer& optimizer, Work& work) {
      std::uint64_t const step = optimizer.steps(); // this step's index
      apart_ = step >= options_.warmup_steps;
      if (compressed && step == options_.warmup_steps && step > 0) {
        parameters_replaced(model); // the warm-up's end: the replicas are equal
      }
      LossValue loss = detail::standard_step(*this, model, optimizer, work);
      this->count_step(model);
      bool const ends_epoch = this->ends_epoch(work);
      if (!apart_) {
        this->traffic_.bytes += size() > 1 ? model.parameters().extent(0) * sizeof(Scalar) : 0;
        if (compressed && ends_epoch) {
          restart_compression();
        }
        return loss;
      }
      loss = {}; // apart, the losses are summed when the replicas meet
      if (ends_epoch) {
        loss = this->meet(work);
        average(model, optimizer, true, true);
      } else if ((step + 1 - options_.warmup_steps) % options_.period == 0) {
        loss = this->meet(work);
        average(model, optimizer, options_.average_optimizer_state, false);
      }
      return loss;
    }

    /// Averages the parameters and batch norm's running statistics over the ranks, and the
    /// optimizer's state with `state`; every rank then holds the same bits. `exact`: without
    /// compression, which then starts afresh (what an epoch's end does, so that a checkpoint
    /// holds everything the run knows).
    template <class Optimizer>
    void average(model_type& model, Optimizer& optimizer, bool state, bool exact) {
      model.space().fence();
      if (size() == 1) {
        return;
      }
      Scalar* const p = model.parameters().data();
      std::size_t const n = model.parameters().extent(0);
      if (!compressed || exact) {
        this->mean(p, n);
        if constexpr (compressed) {
          std::copy(p, p + n, anchor_.begin());
          restart_compression();
        }
      } else {
        // θ = anchor + 1/K Σ (θᵢ − anchor), the differences compressed.
        Scalar const k = Scalar(size());
        delta_.resize(n);
        for (std::size_t i = 0; i < n; ++i) {
          delta_[i] = p[i] - anchor_[i];
        }
        this->replicas_.sum_gradients(delta_.data(), n);
        for (std::size_t i = 0; i < n; ++i) {
          p[i] = anchor_[i] + delta_[i] / k;
          anchor_[i] = p[i];
        }
        this->traffic_.bytes += n * sizeof(Scalar);
      }
      this->mean_states(model);
      if (state) {
        this->mean_optimizer(optimizer);
      }
    }

    options const& settings() const { return options_; }
    /// Whether the step running trains the replicas apart (false in the warm-up).
    bool trains_apart() const { return apart_; }
    void gradients_ready(model_type& model, std::size_t offset, bool last_micro_batch) {
      if (!apart_) {
        sync_->ready(model.gradients().data(), offset, last_micro_batch);
      }
    }
    void finish_gradients(model_type& model) {
      if (!apart_) {
        sync_->finish(model.gradients().data());
      }
    }

  private:
    static options const& checked(options const& o) {
      if (o.period == 0) {
        detail::fail_collective(
            "loom::LocalSGD: period = 0; the replicas are averaged every `period` optimizer "
            "steps, so it must be at least 1 (1 averages after every step)");
      }
      return o;
    }

    // Drops what the compression policies keep between sums (comm::TopK's unsent remainder,
    // which a checkpoint does not hold).
    void restart_compression() {
      this->replicas_.reset_compression();
      sync_.emplace(this->communicator(), detail::plan_buckets<model_type>(options_.bucket_bytes),
                    true);
    }

    options options_;
    std::optional<detail::GradientSync<Comm, Compression, Scalar>> sync_; // warm-up gradients
    std::vector<Scalar> anchor_, delta_;                                  // with compression
    bool apart_ = true;
  };
};

} // namespace loom
