#pragma once

// Sums ranges of a gradient buffer over a group of ranks, in buckets started as backward
// finishes them and overlapped with the rest of backward: DataParallel's all-reduce of every
// gradient over the replicas, SpatialParallel's of the partial sums its bands leave.

#include <loom/comm/concepts.hpp>
#include <loom/layers/concepts.hpp>
#include <loom/loss/concepts.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace loom::detail {

/// A contiguous range of the gradient buffer, all-reduced as one message.
struct Bucket {
  std::size_t offset = 0;
  std::size_t count = 0;
  std::size_t end() const { return offset + count; }
};

/// Buckets over `ranges` (ascending, not overlapping): grouped in reverse order (the order
/// backward finishes them), each extended downwards over ranges that adjoin it until it holds
/// at least `target` values. Ranges that do not adjoin never share a bucket.
inline std::vector<Bucket> plan_buckets(std::vector<Bucket> const& ranges, std::size_t target) {
  std::vector<Bucket> buckets;
  target = std::max<std::size_t>(1, target);
  bool open = false;
  for (std::size_t i = ranges.size(); i-- > 0;) {
    Bucket const& range = ranges[i];
    if (range.count == 0) {
      continue;
    }
    if (open && buckets.back().count < target && range.end() == buckets.back().offset) {
      buckets.back().offset = range.offset;
      buckets.back().count += range.count;
    } else {
      buckets.push_back(range);
      open = true;
    }
  }
  return buckets;
}

/// DataParallel's buckets for a model: every stage's gradients, at least `bytes` a bucket.
template <class Model>
std::vector<Bucket> plan_buckets(std::size_t bytes) {
  std::vector<Bucket> ranges;
  auto const& offsets = Model::parameter_offsets;
  for (std::size_t i = 0; i < offsets.size(); ++i) {
    std::size_t const end = i + 1 < offsets.size() ? offsets[i + 1] : Model::num_parameters;
    ranges.push_back({offsets[i], end - offsets[i]});
  }
  return plan_buckets(ranges, bytes / sizeof(typename Model::value_type));
}

/// The ranges of a parameter map whose gradients backward leaves partial (ascending).
inline std::vector<Bucket> partial_ranges(std::vector<ParameterRun> runs) {
  std::sort(runs.begin(), runs.end(),
            [](ParameterRun const& a, ParameterRun const& b) { return a.local < b.local; });
  std::vector<Bucket> ranges;
  for (auto const& run : runs) {
    if (!run.partial) {
      continue;
    }
    if (!ranges.empty() && ranges.back().end() == run.local) {
      ranges.back().count += run.count;
    } else {
      ranges.push_back({run.local, run.count});
    }
  }
  return ranges;
}

/// \brief Sums buckets of a gradient buffer over the ranks of a communicator, through a
///        compression policy. ready() starts every bucket that backward has finished;
///        finish() starts the rest and waits for all.
template <class Comm, class Compression, class Scalar>
class GradientSync {
public:
  GradientSync(Comm& comm, std::vector<Bucket> buckets, bool overlap)
      : comm_(&comm)
      , buckets_(std::move(buckets))
      , overlap_(overlap)
      , compression_(comm, sizes(buckets_))
      , requests_(buckets_.size()) {}
  GradientSync(GradientSync const&) = delete; // the compression state points at the comm
  GradientSync& operator=(GradientSync const&) = delete;

  std::vector<Bucket> const& buckets() const { return buckets_; }

  /// Backward has finished every gradient from `offset` on (it runs last layer first):
  /// starts the buckets that lie there, on the last micro-batch of a step, and advances
  /// those in flight.
  void ready(Scalar* gradients, std::size_t offset, bool last_micro_batch) {
    if (!last_micro_batch || !overlap_) {
      return;
    }
    while (next_ < buckets_.size() && buckets_[next_].offset >= offset) {
      start(gradients, next_++);
    }
    for (std::size_t b = 0; b < next_; ++b) {
      requests_[b].test();
    }
  }

  /// Every bucket summed over the ranks.
  void finish(Scalar* gradients) {
    while (next_ < buckets_.size()) {
      start(gradients, next_++);
    }
    for (auto& request : requests_) {
      request.wait();
    }
    next_ = 0;
  }

private:
  static std::vector<std::size_t> sizes(std::vector<Bucket> const& buckets) {
    std::vector<std::size_t> out;
    for (auto const& bucket : buckets) {
      out.push_back(bucket.count);
    }
    return out;
  }

  void start(Scalar* gradients, std::size_t b) {
    requests_[b] =
        compression_.start(b, std::span<Scalar>(gradients + buckets_[b].offset, buckets_[b].count));
  }

  Comm* comm_;
  std::vector<Bucket> buckets_;
  bool overlap_;
  typename Compression::template state<Comm> compression_;
  std::vector<comm::Request> requests_;
  std::size_t next_ = 0;
};

/// \brief A step's loss summed over the ranks that hold different samples, travelling while
///        backward runs.
template <class Comm>
class LossSum {
public:
  explicit LossSum(Comm& comm)
      : comm_(&comm) {}
  void start(LossValue const& local) {
    regression_ = local.regression;
    values_ = {local.sum, double(local.count), double(local.correct), double(local.invalid)};
    request_ = comm_->iall_reduce(std::span<double>(values_), comm::ReduceOp::sum);
  }
  LossValue finish() {
    request_.wait();
    LossValue total;
    total.sum = values_[0];
    total.count = static_cast<std::size_t>(values_[1]);
    total.correct = static_cast<std::size_t>(values_[2]);
    total.invalid = static_cast<std::size_t>(values_[3]);
    total.regression = regression_;
    return total;
  }

private:
  Comm* comm_;
  std::array<double, 4> values_{};
  bool regression_ = false;
  comm::Request request_;
};

/// Rank 0's bytes on every rank of `comm` (its size first, then the bytes): how a checkpoint
/// read by rank 0 reaches the others.
template <class Comm>
void broadcast_bytes(Comm& comm, std::vector<std::byte>& bytes) {
  std::uint64_t size = bytes.size();
  comm.broadcast(std::span<std::uint64_t>(&size, 1), 0);
  bytes.resize(size);
  comm.broadcast(std::span<std::byte>(bytes), 0);
}

} // namespace loom::detail
