#pragma once

#include <loom/comm/default.hpp>
#include <loom/core/detail/host_copy.hpp>
#include <loom/core/environment.hpp>
#include <loom/core/error.hpp>
#include <loom/data/sampler.hpp>
#include <loom/loss/concepts.hpp>
#include <loom/model/model.hpp>
#include <loom/parallel/data_parallel.hpp>
#include <loom/parallel/detail/replica_runtime.hpp>
#include <loom/parallel/detail/step.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace loom {

/// \brief K = ranks members trained without communicating, combined for evaluation only.
///
/// `combine = Ensemble<>::predictions` (deep ensembles): each rank's member starts from its
/// own initialization (the seed and the rank) and trains on every global batch; evaluate()
/// and predict() run every member on every sample and average their predicted probabilities
/// (a regression loss: their outputs). predict() gives the logarithm of the mean
/// probabilities, whose arg-max is the ensemble's class and whose softmax is the mean. A
/// checkpoint holds member 0 (save each member with io::save(path, trainer.model()) to keep
/// them all).
///
/// `combine = Ensemble<>::parameters` (one-shot averaging): the members start from rank 0's
/// parameters and each trains on its rows of every global batch, as LocalSGD would without
/// ever averaging; evaluation, prediction and checkpoints see the mean of the members'
/// parameters (the members themselves train on unchanged). A checkpoint therefore holds the
/// average, and training resumed from it restarts every member there.
///
/// Either way the steps' losses are kept on each rank and summed at each epoch's end, where a
/// non-finite one stops every rank; a step's loss is empty between.
/// \tparam Comm  communicator policy (the evaluation's sums)
template <class Comm = comm::Default>
struct Ensemble {
  static_assert(detail::checked<detail::check_communicator<Comm>()>);

  using strategy_type = Ensemble;
  using comm_type = Comm;
  static constexpr bool needs_environment = true;

  enum class Combine { predictions, parameters };
  static constexpr Combine predictions = Combine::predictions;
  static constexpr Combine parameters = Combine::parameters;

  static std::string name() { return "Ensemble<" + Comm::name() + ">"; }

  /// \brief Runtime options (TrainerOptions::parallel).
  struct options {
    Combine combine = Combine::predictions; ///< what evaluation averages
  };
  static std::string describe(options const& o) {
    return std::string("combine=") +
           (o.combine == Combine::predictions ? "predictions" : "parameters");
  }

  template <class Net, class ExecutionSpace, class Scalar = float>
  class runtime
      : public detail::ReplicaRuntime<Ensemble, Comm, comm::NoCompression, Net, ExecutionSpace,
                                      Scalar> {
    using base =
        detail::ReplicaRuntime<Ensemble, Comm, comm::NoCompression, Net, ExecutionSpace, Scalar>;

  public:
    using base::rank;
    using base::size;
    using typename base::model_type;

    runtime(Environment const& env, options const& opts)
        : base(env, std::size_t{1} << 20, "loom::Ensemble")
        , options_(opts) {}

    /// Each member its own initialization (combine = predictions), or rank 0's.
    model_type make_model(std::uint64_t seed) const {
      if (options_.combine == Combine::predictions) {
        return model_type(seed + 0x9E3779B97F4A7C15ull * std::uint64_t(rank()));
      }
      return model_type(seed);
    }
    void start(model_type& model, std::size_t batch) {
      if (options_.combine == Combine::parameters) {
        this->start_replicas(model, batch);
      }
    }

    /// Training: each member on the whole batch (predictions) or its rows (parameters);
    /// evaluation: every member on every row.
    data::IndexRange shard(std::size_t rows) const {
      if (evaluating_ || options_.combine == Combine::predictions) {
        return {0, rows};
      }
      return base::shard(rows);
    }
    /// Every rank evaluates every sample with the same combined model: nothing to sum.
    LossValue combine(LossValue const& local) { return local; }
    void sum(std::span<double>) {}

    template <class Optimizer, class Work>
    LossValue step(model_type& model, Optimizer& optimizer, Work& work) {
      detail::standard_step(*this, model, optimizer, work);
      if (this->ends_epoch(work)) {
        return this->meet(work); // the members' losses, summed
      }
      return {};
    }
    /// Every member trains on its own.
    bool trains_apart() const { return true; }

    /// Runs f (evaluation, prediction, checkpoints) with every member seeing every row, and,
    /// for combine = parameters, with the members' mean parameters in place.
    template <class F>
    decltype(auto) with_model_parameters(model_type& model, F&& f) {
      struct Scope {
        runtime& r;
        model_type& model;
        std::vector<Scalar> member;
        Scope(runtime& rt, model_type& m)
            : r(rt)
            , model(m) {
          r.evaluating_ = true;
          if (r.options_.combine == Combine::parameters) {
            model.space().fence();
            member = detail::to_host(model.parameters());
            auto mean = member;
            r.mean(mean.data(), mean.size());
            detail::from_host(model.parameters(), mean);
          }
        }
        ~Scope() {
          if (!member.empty()) {
            detail::from_host(model.parameters(), member);
          }
          r.evaluating_ = false;
        }
      } scope(*this, model);
      return f();
    }

    /// The members' outputs for the same rows, combined (evaluation and prediction): for
    /// classification the logarithm of their mean probabilities, otherwise their mean.
    template <class Output>
    void combine_outputs(model_type& model, Output const& output, bool classification) {
      if (options_.combine != Combine::predictions) {
        return;
      }
      model.space().fence();
      std::vector<Scalar> values = detail::to_host(output);
      std::size_t const rows = output.extent(0),
                        columns = values.size() / std::max<std::size_t>(rows, 1);
      if (classification) {
        for (std::size_t i = 0; i < rows; ++i) {
          Scalar* const row = values.data() + i * columns;
          Scalar const top = *std::max_element(row, row + columns);
          Scalar total = 0;
          for (std::size_t j = 0; j < columns; ++j) {
            row[j] = std::exp(row[j] - top);
            total += row[j];
          }
          for (std::size_t j = 0; j < columns; ++j) {
            row[j] /= total;
          }
        }
      }
      this->communicator().all_reduce(std::span<Scalar>(values), comm::ReduceOp::sum);
      Scalar const k = Scalar(size());
      for (Scalar& v : values) {
        // (a probability under float's smallest is kept there: the log stays finite)
        v = classification ? std::log(std::max(v / k, std::numeric_limits<Scalar>::min())) : v / k;
      }
      // The output is the model's own activation buffer (host accessible), read-only to
      // the Trainer; its combination replaces it.
      std::copy(values.begin(), values.end(),
                const_cast<Scalar*>(static_cast<Scalar const*>(output.data())));
    }

    options const& settings() const { return options_; }

  private:
    options options_;
    bool evaluating_ = false;
  };
};

} // namespace loom
