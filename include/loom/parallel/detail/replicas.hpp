#pragma once

// The data-parallel axis of a Hybrid grid: the replicas of one placement (the same part of the
// network on each), each computing its share of every global batch. What a strategy along the
// other axis needs of it: the rows its replica computes, the gradients summed over the
// replicas, and the loss and metrics summed over them.

#include <loom/comm/concepts.hpp>
#include <loom/data/sampler.hpp>
#include <loom/loss/concepts.hpp>
#include <loom/parallel/detail/gradient_sync.hpp>

#include <algorithm>
#include <cstddef>
#include <optional>
#include <span>
#include <utility>
#include <vector>

namespace loom::detail {

/// The replica axis as a strategy's step sees it (Pipeline's step runs it within its
/// schedule).
template <class Scalar>
class ReplicaAxis {
public:
  virtual ~ReplicaAxis() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// The rows of a global batch of `rows` this replica computes.
  data::IndexRange shard(std::size_t rows) const {
    return data::BatchPlan::shard(rows, std::size_t(rank()), std::size_t(size()));
  }
  /// `count` gradients summed over the replicas, in place.
  virtual void sum_gradients(Scalar* gradients, std::size_t count) = 0;
  /// A loss summed over the replicas, in two halves so that it travels while other work runs.
  virtual void start_combine(LossValue const& local) = 0;
  virtual LossValue finish_combine() = 0;
  LossValue combine(LossValue const& local) {
    start_combine(local);
    return finish_combine();
  }
  /// Metric sums over the replicas, in place.
  virtual void sum(std::span<double> values) = 0;
};

/// The replicas over a communicator policy, gradients summed in buckets of `bucket_bytes`
/// through a compression policy (DataParallel's options along the grid's axis).
template <class Comm, class Compression, class Scalar>
class Replicas final : public ReplicaAxis<Scalar> {
public:
  Replicas(Comm comm, std::size_t bucket_bytes)
      : comm_(std::move(comm))
      , bucket_values_(std::max<std::size_t>(1, bucket_bytes / sizeof(Scalar)))
      , loss_(comm_) {}
  Replicas(Replicas const&) = delete; // the synchroniser and the loss sum point at comm_
  Replicas& operator=(Replicas const&) = delete;

  int rank() const override { return comm_.rank(); }
  int size() const override { return comm_.size(); }
  Comm& communicator() { return comm_; }

  void sum_gradients(Scalar* gradients, std::size_t count) override {
    if (!sync_ || count != count_) {
      // The buckets of this rank's part (the same on every replica), planned on first use.
      std::vector<Bucket> ranges;
      for (std::size_t at = 0; at < count; at += bucket_values_) {
        ranges.push_back({at, std::min(bucket_values_, count - at)});
      }
      sync_.reset();
      sync_.emplace(comm_, plan_buckets(ranges, 1), false);
      count_ = count;
    }
    sync_->finish(gradients);
  }
  /// Drops what the compression policy keeps between sums (comm::TopK's unsent remainder).
  void reset_compression() { sync_.reset(); }
  void start_combine(LossValue const& local) override { loss_.start(local); }
  LossValue finish_combine() override { return loss_.finish(); }
  void sum(std::span<double> values) override { comm_.all_reduce(values, comm::ReduceOp::sum); }

private:
  Comm comm_;
  std::size_t bucket_values_;
  std::size_t count_ = 0;
  std::optional<GradientSync<Comm, Compression, Scalar>> sync_;
  LossSum<Comm> loss_;
};

} // namespace loom::detail
