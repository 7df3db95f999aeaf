#pragma once

// What SpatialParallel and TensorParallel share at run time: a group of exactly P ranks that
// hold one sample each between them (a band of rows each, a slice of a layer's units each),
// a Model of this rank's part, the partial gradients summed over the group in buckets
// overlapped with backward, and the checkpoints gathered into the whole network's layout.

#include <loom/comm/compression.hpp>
#include <loom/comm/concepts.hpp>
#include <loom/core/detail/consensus.hpp>
#include <loom/core/detail/host_copy.hpp>
#include <loom/core/environment.hpp>
#include <loom/core/error.hpp>
#include <loom/data/sampler.hpp>
#include <loom/loss/concepts.hpp>
#include <loom/model/model.hpp>
#include <loom/parallel/detail/gradient_sync.hpp>
#include <loom/parallel/detail/layout.hpp>
#include <loom/parallel/detail/sample_group.hpp>
#include <loom/parallel/detail/step.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace loom::detail {

/// The runtime of a strategy that splits every sample over a group of Ranks ranks with the
/// placement Placement (model/placement.hpp); Strategy names it in messages, and Derived (the
/// strategy's runtime, which adds input()) is what the step runs.
template <class Derived, class Strategy, std::size_t Ranks, class Placement, class Comm, class Net,
          class ExecutionSpace, class Scalar>
class SplitRuntime {
public:
  using model_type = Model<Net, ExecutionSpace, Scalar, Placement>;
  static_assert(is_host_accessible<typename model_type::memory_space>,
                "loom::SpatialParallel, loom::TensorParallel: the model's memory space must be "
                "host accessible (GPU-aware communication is not supported yet)");

  /// The ranks of `comm` (env.comm(), or one axis of a Hybrid's grid); there must be exactly
  /// Ranks of them (the same error on every rank otherwise: each rank sees the same size, so
  /// none waits for another).
  SplitRuntime(Comm comm, std::size_t bucket_bytes, bool overlap)
      : comm_(checked(std::move(comm)))
      , group_(comm_)
      , sync_(comm_, plan_buckets(partial_ranges(probe_map()), bucket_bytes / sizeof(Scalar)),
              overlap) {}
  SplitRuntime(SplitRuntime const&) = delete; // the group and the synchroniser point at comm_
  SplitRuntime& operator=(SplitRuntime const&) = delete;

  /// This rank's part, drawn as the whole network's parameters would be.
  model_type make_model(std::uint64_t seed) {
    model_type model(seed, Shard{comm_.rank(), comm_.size()});
    model.set_group(&group_);
    return model;
  }
  /// Every rank holds every sample: nothing to broadcast (the parts are drawn from the same
  /// seed, which check_configuration has compared).
  void start(model_type& model, std::size_t) { model.set_group(&group_); }

  template <class Optimizer, class Work>
  LossValue step(model_type& model, Optimizer& optimizer, Work& work) {
    return standard_step(static_cast<Derived&>(*this), model, optimizer, work);
  }

  int rank() const { return comm_.rank(); }
  int size() const { return comm_.size(); }
  bool is_root() const { return rank() == 0; }
  Comm& communicator() { return comm_; }
  std::vector<Bucket> const& buckets() const { return sync_.buckets(); }

  /// Every rank computes every sample of a batch (its part of each).
  data::IndexRange shard(std::size_t rows) const { return {0, rows}; }

  /// Starts the sums of the partial gradients backward has finished.
  void gradients_ready(model_type& model, std::size_t offset, bool last_micro_batch) {
    sync_.ready(model.gradients().data(), offset, last_micro_batch);
  }
  void finish_gradients(model_type& model) { sync_.finish(model.gradients().data()); }

  /// The whole network's gradient norm: the replicated values once, the sharded ones summed
  /// over the group.
  double gradient_norm(model_type const& model) {
    auto const gradients = to_host(model.gradients());
    double squares[2] = {0, 0}; // replicated, sharded
    for (auto const& run : model.parameter_map()) {
      for (std::size_t k = 0; k < run.count; ++k) {
        double const g = gradients[run.local + k];
        squares[run.sharded ? 1 : 0] += g * g;
      }
    }
    if (comm_.size() > 1) {
      comm_.all_reduce(std::span<double>(squares + 1, 1), comm::ReduceOp::sum);
    }
    return std::sqrt(squares[0] + squares[1]);
  }

  /// Every rank computed the same loss and metrics over the same samples: nothing to sum.
  LossValue combine(LossValue const& local) const { return local; }
  void sum(std::span<double>) {}
  void start_combine(LossValue const& local) { pending_ = local; }
  LossValue finish_combine() const { return pending_; }

  void check_configuration(Configuration const& configuration) {
    comm_.check_configuration(configuration, who_.c_str());
  }
  template <class F>
  auto collectively(F&& f) -> decltype(f()) {
    return comm_.collectively(std::forward<F>(f));
  }
  void broadcast(std::vector<std::byte>& bytes) { broadcast_bytes(comm_, bytes); }
  /// The parts gathered into, and taken from, the whole network's layout.
  SplitLayout<Comm> layout(model_type const& model) {
    return SplitLayout<Comm>(comm_, model.parameter_map(), model_type::num_logical_parameters);
  }

private:
  static Comm checked(Comm comm) {
    if (std::size_t(comm.size()) != Ranks) {
      fail_collective("loom::" + Strategy::name() + " splits every sample over exactly " +
                      std::to_string(Ranks) + " processes; this run has " +
                      std::to_string(comm.size()) + " (rank " + std::to_string(comm.rank()) +
                      "): start it with mpiexec -n " + std::to_string(Ranks) +
                      ", or change the strategy's rank count");
    }
    return comm;
  }
  // The parameter map does not depend on the parameters' values: a rank's roles, known
  // before its model exists.
  std::vector<ParameterRun> probe_map() const {
    return model_type::parameter_map_of(Shard{comm_.rank(), comm_.size()});
  }

  std::string who_ = "loom::" + Strategy::name();
  Comm comm_;
  CommGroup<Comm, Scalar> group_;
  GradientSync<Comm, comm::NoCompression, Scalar> sync_;
  LossValue pending_;
};

} // namespace loom::detail
