#pragma once

// What the strategies whose ranks each hold the whole network share (DataParallel, LocalSGD,
// ElasticAveraging): every rank computes its rows of each global batch; losses and metrics are
// summed over the ranks; rank 0's parameters start every replica; checkpoints are rank 0's.
// How the replicas meet (gradients every step, parameters now and then) is the strategy's;
// the bytes the averaging strategies all-reduce are counted against DataParallel's.

#include <loom/comm/concepts.hpp>
#include <loom/core/detail/consensus.hpp>
#include <loom/core/detail/host_copy.hpp>
#include <loom/core/environment.hpp>
#include <loom/core/error.hpp>
#include <loom/data/sampler.hpp>
#include <loom/loss/concepts.hpp>
#include <loom/model/model.hpp>
#include <loom/optim/clip.hpp>
#include <loom/parallel/detail/gradient_sync.hpp>
#include <loom/parallel/detail/layout.hpp>
#include <loom/parallel/detail/replicas.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace loom {

/// \brief What a rank passed to all-reduces (values × their size, before compression; the
///        losses' few bytes a step not counted), and what DataParallel would have passed over
///        the same steps (every step's gradients).
struct Traffic {
  std::uint64_t bytes = 0;
  std::uint64_t data_parallel_bytes = 0;
};

} // namespace loom

namespace loom::detail {

template <class Strategy, class Comm, class Compression, class Net, class ExecutionSpace,
          class Scalar>
class ReplicaRuntime {
public:
  using model_type = Model<Net, ExecutionSpace, Scalar>;
  static_assert(is_host_accessible<typename model_type::memory_space>,
                "loom::DataParallel, LocalSGD, ElasticAveraging: the model's memory space must "
                "be host accessible (GPU-aware communication is not supported yet)");
  /// Backward never writes the step into the parameters: the step's loss is summed over the
  /// ranks first, so that all stop together on a non-finite one.
  static constexpr bool local_gradients = false;

  /// `who` names the strategy in configuration mismatches ("loom::DataParallel").
  ReplicaRuntime(Environment const& env, std::size_t bucket_bytes, char const* who)
      : replicas_(Comm(env), bucket_bytes)
      , who_(who) {}
  ReplicaRuntime(ReplicaRuntime const&) = delete; // the synchronisers point at the communicator
  ReplicaRuntime& operator=(ReplicaRuntime const&) = delete;

  model_type make_model(std::uint64_t seed) const { return model_type(seed); }

  int rank() const { return replicas_.rank(); }
  int size() const { return replicas_.size(); }
  bool is_root() const { return rank() == 0; }
  Comm& communicator() { return replicas_.communicator(); }
  /// Bytes all-reduced so far, against DataParallel's.
  Traffic traffic() const { return traffic_; }

  data::IndexRange shard(std::size_t rows) const { return replicas_.shard(rows); }
  template <class Batch>
  auto input(model_type const&, Batch const& batch) const {
    return batch.x;
  }
  void gradients_ready(model_type&, std::size_t, bool) {}
  void finish_gradients(model_type&) {}
  double gradient_norm(model_type const& model) const {
    return global_norm(model.space(), model.gradients());
  }

  LossValue combine(LossValue const& local) { return replicas_.combine(local); }
  void sum(std::span<double> values) { replicas_.sum(values); }
  void start_combine(LossValue const& local) { replicas_.start_combine(local); }
  /// The replicas train apart: the step's loss (this rank's rows) waits for the next meeting.
  /// Returns whether the step may be taken.
  bool keep_loss(LossValue const& loss) {
    kept_ += loss;
    return std::isfinite(loss.sum) && loss.invalid == 0;
  }
  LossValue finish_combine() { return replicas_.finish_combine(); }

  void check_configuration(Configuration const& configuration) {
    communicator().check_configuration(configuration, who_);
  }
  template <class F>
  auto collectively(F&& f) -> decltype(f()) {
    return communicator().collectively(std::forward<F>(f));
  }
  void broadcast(std::vector<std::byte>& bytes) { broadcast_bytes(communicator(), bytes); }
  /// Every rank holds the whole network (rank 0's is written).
  WholeLayout layout(model_type const&) const { return {}; }

protected:
  /// Every rank checks that it has a sample of each global batch, then takes rank 0's
  /// parameters.
  void start_replicas(model_type& model, std::size_t batch) {
    if (batch < std::size_t(size())) {
      fail_collective(concat("loom::Trainer: ", Strategy::name(), " over ", size(),
                             " processes needs a global batch of at least ", size(),
                             " samples, one per process; batch is ", batch));
    }
    auto host = to_host(model.parameters());
    communicator().broadcast(std::span(host), 0);
    from_host(model.parameters(), host);
  }

  template <class Work>
  static bool ends_epoch(Work const& work) {
    if constexpr (requires { work.ends_epoch(); }) {
      return work.ends_epoch();
    } else {
      return false;
    }
  }

  /// The mean over the ranks, in place, uncompressed.
  void mean(Scalar* values, std::size_t count) {
    if (count == 0 || size() == 1) {
      return;
    }
    communicator().all_reduce(std::span<Scalar>(values, count), comm::ReduceOp::sum);
    Scalar const k = Scalar(size());
    for (std::size_t i = 0; i < count; ++i) {
      values[i] /= k;
    }
    traffic_.bytes += count * sizeof(Scalar);
  }
  /// Batch norm's running statistics averaged over the ranks.
  void mean_states(model_type& model) { mean(model.states().data(), model.states().extent(0)); }
  /// The optimizer's state (momentum, Adam's moments) averaged over the ranks.
  template <class Optimizer>
  void mean_optimizer(Optimizer& optimizer) {
    for (auto const& buffer : optimizer.buffers()) {
      if (buffer.used) {
        mean(buffer.view.data(), buffer.view.extent(0));
      }
    }
  }
  /// The losses kept since the last meeting, summed over the ranks (one small all-reduce)
  /// and checked on every rank alike (work.check throws on each, so that all stop together).
  template <class Work>
  LossValue meet(Work const& work) {
    LossValue total = kept_;
    kept_ = {};
    if (size() > 1) {
      total = replicas_.combine(total);
    }
    if (!std::isfinite(total.sum) || total.invalid > 0) {
      work.check(total, work.micro_batches() - 1);
    }
    return total;
  }

  /// Counts a step: DataParallel would have all-reduced its gradients.
  void count_step(model_type const& model) {
    traffic_.data_parallel_bytes += model.parameters().extent(0) * sizeof(Scalar);
  }

  Replicas<Comm, Compression, Scalar> replicas_;
  Traffic traffic_;

private:
  LossValue kept_; // apart: this rank's losses since the last meeting
  char const* who_;
};

} // namespace loom::detail
