#pragma once

#include <loom/comm/compression.hpp>
#include <loom/comm/default.hpp>
#include <loom/core/detail/host_copy.hpp>
#include <loom/core/environment.hpp>
#include <loom/core/error.hpp>
#include <loom/loss/concepts.hpp>
#include <loom/model/model.hpp>
#include <loom/parallel/data_parallel.hpp>
#include <loom/parallel/detail/replica_runtime.hpp>
#include <loom/parallel/detail/step.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace loom {

/// \brief Elastic averaging SGD (EASGD, synchronous): each rank trains its own replica xᵢ on
///        its rows of every global batch, and every `period` steps each replica is pulled
///        toward a centre variable x̃ that every rank holds alike, while the centre moves
///        toward the replicas:
/// \code
///   dᵢ = xᵢ − x̃        xᵢ ← xᵢ − α dᵢ        x̃ ← x̃ + α Σᵢ dᵢ      (one all-reduce of dᵢ)
/// \endcode
/// The replicas explore around the centre instead of being made equal (LocalSGD). The centre
/// is the model: `evaluate()`, `predict()` and checkpoints use it. At the end of every epoch
/// the replicas restart from the centre, with the optimizer's state averaged, so that a
/// checkpoint written there holds the whole run (resumed, it continues bit for bit) and loads
/// under any other strategy. Batch norm's running statistics are averaged at every update.
/// As with LocalSGD, the steps' losses are summed and checked at each update, not every step:
/// a step's loss is that sum at an updating step and empty between, and a loss that is not
/// finite on any rank stops every rank at the next update, before it.
/// \tparam Comm  communicator policy (DataParallel's)
template <class Comm = comm::Default>
struct ElasticAveraging {
  static_assert(detail::checked<detail::check_communicator<Comm>()>);

  using strategy_type = ElasticAveraging;
  using comm_type = Comm;
  static constexpr bool needs_environment = true;

  static std::string name() { return "ElasticAveraging<" + Comm::name() + ">"; }

  /// \brief Runtime options (TrainerOptions::parallel).
  struct options {
    std::size_t period = 4; ///< τ: optimizer steps between elastic updates
    /// α, each replica's pull toward the centre per update; 0 takes 0.9 / K for K ranks, so
    /// that the centre moves by β = Kα = 0.9 of the way to the replicas' mean. Kα ≤ 1.
    double alpha = 0;
  };
  static std::string describe(options const& o) {
    return "period=" + std::to_string(o.period) + ", alpha=" + detail::format_number(o.alpha);
  }

  /// Bytes all-reduced (runtime::traffic()).
  using Traffic = loom::Traffic;

  template <class Net, class ExecutionSpace, class Scalar = float>
  class runtime
      : public detail::ReplicaRuntime<ElasticAveraging, Comm, comm::NoCompression, Net,
                                      ExecutionSpace, Scalar> {
    using base = detail::ReplicaRuntime<ElasticAveraging, Comm, comm::NoCompression, Net,
                                        ExecutionSpace, Scalar>;

  public:
    using base::size;
    using typename base::model_type;

    runtime(Environment const& env, options const& opts)
        : base(env, std::size_t{1} << 20, "loom::ElasticAveraging")
        , options_(opts)
        , alpha_(opts.alpha == 0 ? 0.9 / double(size()) : opts.alpha) {
      if (opts.period == 0 || !(opts.alpha >= 0) || alpha_ * double(size()) > 1) {
        detail::fail_collective(detail::concat(
            "loom::ElasticAveraging: period = ", opts.period, ", alpha = ", opts.alpha, " over ",
            size(), " processes; the period must be at least 1 step and alpha between 0 and 1/",
            size(), " (K·alpha ≤ 1, or the centre overshoots the replicas; 0 takes 0.9/K)"));
      }
    }

    /// Every rank checks that it has a sample of each global batch, then starts from rank 0's
    /// parameters, which are the centre too.
    void start(model_type& model, std::size_t batch) {
      this->start_replicas(model, batch);
      parameters_replaced(model);
    }
    /// The parameters were set on every rank alike (a checkpoint loaded): they are the centre.
    void parameters_replaced(model_type const& model) {
      centre_ = detail::to_host(model.parameters());
    }

    template <class Optimizer, class Work>
    LossValue step(model_type& model, Optimizer& optimizer, Work& work) {
      std::uint64_t const step = optimizer.steps(); // this step's index
      detail::standard_step(*this, model, optimizer, work);
      this->count_step(model);
      bool const ends_epoch = this->ends_epoch(work);
      LossValue loss; // the losses are summed when the replicas meet
      if ((step + 1) % options_.period == 0 || ends_epoch) {
        loss = this->meet(work);
        elastic_update(model);
      }
      if (ends_epoch) {
        detail::from_host(model.parameters(), centre_);
        this->mean_optimizer(optimizer);
      }
      return loss;
    }

    /// One elastic update (the strategy's step runs it every period).
    void elastic_update(model_type& model) {
      model.space().fence();
      Scalar* const x = model.parameters().data();
      std::size_t const n = model.parameters().extent(0);
      Scalar const alpha = Scalar(alpha_);
      difference_.resize(n);
      for (std::size_t i = 0; i < n; ++i) {
        difference_[i] = x[i] - centre_[i];
        x[i] -= alpha * difference_[i];
      }
      this->communicator().all_reduce(std::span<Scalar>(difference_), comm::ReduceOp::sum);
      for (std::size_t i = 0; i < n; ++i) {
        centre_[i] += alpha * difference_[i];
      }
      this->traffic_.bytes += size() > 1 ? n * sizeof(Scalar) : 0;
      this->mean_states(model);
    }

    /// Every replica trains on its own rows.
    bool trains_apart() const { return true; }
    /// α in use (options().alpha, or 0.9 / K).
    double alpha() const { return alpha_; }
    /// The centre variable, laid out like the parameters (the same on every rank).
    std::span<Scalar const> centre() const { return centre_; }

    /// Runs f with the centre in the model's parameters (evaluation, prediction,
    /// checkpoints), then puts this rank's replica back.
    template <class F>
    decltype(auto) with_model_parameters(model_type& model, F&& f) {
      struct Swap {
        model_type& model;
        std::vector<Scalar>& centre;
        std::vector<Scalar> replica;
        Swap(model_type& m, std::vector<Scalar>& c)
            : model(m)
            , centre(c)
            , replica(detail::to_host(m.parameters())) {
          detail::from_host(model.parameters(), centre);
        }
        ~Swap() { detail::from_host(model.parameters(), replica); }
      } swap(model, centre_);
      return f();
    }

  private:
    options options_;
    double alpha_;
    std::vector<Scalar> centre_, difference_;
  };
};

} // namespace loom
