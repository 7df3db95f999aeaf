#pragma once

#include <loom/config.hpp>

#include <loom/comm/compression.hpp>
#include <loom/comm/concepts.hpp>
#include <loom/comm/mpi.hpp>
#include <loom/comm/self.hpp>
#include <loom/core/detail/consensus.hpp>
#include <loom/core/detail/host_copy.hpp>
#include <loom/core/environment.hpp>
#include <loom/core/error.hpp>
#include <loom/core/tensor.hpp>
#include <loom/data/sampler.hpp>
#include <loom/loss/concepts.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace loom {

template <class Comm>
struct loom_error_not_a_communicator;
template <class Compression>
struct loom_error_not_a_compression;

namespace detail {
template <class Comm>
constexpr bool check_communicator() {
  if constexpr (!comm::Communicator<Comm>) {
    using show [[maybe_unused]] = decltype(sizeof(loom_error_not_a_communicator<Comm>));
    static_assert(comm::Communicator<Comm>,
                  "loom::DataParallel<Comm, Compression>: Comm must be a communicator policy such "
                  "as loom::comm::Mpi, comm::Ring, comm::RecursiveHalving or comm::Self");
    return false;
  }
  return true;
}
template <class Compression>
constexpr bool check_compression() {
  if constexpr (!requires { typename Compression::compression_type; }) {
    using show [[maybe_unused]] = decltype(sizeof(loom_error_not_a_compression<Compression>));
    static_assert(
        requires { typename Compression::compression_type; },
        "loom::DataParallel<Comm, Compression>: Compression must be a compression policy "
        "such as loom::comm::NoCompression, comm::Fp16, comm::Int8 or comm::TopK<0.01>");
    return false;
  }
  return true;
}

/// Contiguous ranges of the gradient buffer, all-reduced as one message each: the layers'
/// slices grouped in reverse order (the order backward finishes them) until a bucket holds
/// at least `bytes`.
struct Bucket {
  std::size_t offset = 0;
  std::size_t count = 0;
};
template <class Model>
std::vector<Bucket> plan_buckets(std::size_t bytes) {
  std::vector<Bucket> buckets;
  std::size_t const target = std::max<std::size_t>(1, bytes / sizeof(typename Model::value_type));
  auto const& offsets = Model::parameter_offsets;
  std::size_t end = Model::num_parameters;
  for (std::size_t i = offsets.size(); i-- > 0;) {
    std::size_t const begin = offsets[i];
    if (begin == end) {
      continue; // a stage without parameters
    }
    if (!buckets.empty() && buckets.back().count < target) {
      buckets.back().offset = begin; // extend the open bucket downwards
      buckets.back().count = end - begin + buckets.back().count;
    } else {
      buckets.push_back({begin, end - begin});
    }
    end = begin;
  }
  return buckets;
}
} // namespace detail

/// \brief Split each global batch over the ranks of a communicator; all-reduce gradients in
///        buckets, each started as soon as backward has produced it and overlapped with the
///        rest of backward. Equals serial training on the same global batch, to float
///        rounding.
///
/// \code
///   global batch of 256, p = 2            backward (last layer first)
///   rank 0: samples   0..127  ──┐        ┌ bucket 0: Dense<10>, Dense<512>#2 ─ all-reduce ┐
///   rank 1: samples 128..255  ──┘        └ bucket 1: Dense<512>#1 ─────────── all-reduce ┤
///                                                                        optimizer step ◀┘
/// \endcode
/// Every rank holds the whole model; rank 0's initial parameters are broadcast; each rank
/// takes a contiguous slice of every global batch in the serial order, so the global batch
/// size does not depend on the rank count. At start-up the ranks check that they run the same
/// model, strategy, options and data.
/// \tparam Comm         communicator policy: comm::Mpi (default), comm::Ring,
///                      comm::RecursiveHalving, comm::Self
/// \tparam Compression  gradient compression: comm::NoCompression (default), comm::Fp16,
///                      comm::Int8, comm::TopK<ratio>
#if defined(LOOM_ENABLE_MPI)
template <class Comm = comm::Mpi, class Compression = comm::NoCompression>
#else
template <class Comm = comm::Self, class Compression = comm::NoCompression>
#endif
struct DataParallel {
  static_assert(detail::checked<detail::check_communicator<Comm>()>);
  static_assert(detail::checked<detail::check_compression<Compression>()>);

  using strategy_type = DataParallel;
  using comm_type = Comm;
  using compression_type = Compression;
  static constexpr bool needs_environment = true;

  static std::string name() {
    return "DataParallel<" + Comm::name() + ", " + Compression::name() + ">";
  }

  /// \brief Runtime options (TrainerOptions::parallel).
  struct options {
    std::size_t bucket_bytes = std::size_t{1} << 20; ///< gradient bytes per all-reduce
    bool overlap = true; ///< start each bucket during backward (false: all after backward)
  };
  static std::string describe(options const& o) {
    return "bucket_bytes=" + std::to_string(o.bucket_bytes) +
           ", overlap=" + (o.overlap ? "true" : "false");
  }

  template <class Model>
  class runtime {
    static_assert(is_host_accessible<typename Model::memory_space>,
                  "loom::DataParallel: the model's memory space must be host accessible (GPU-aware "
                  "communication is not supported yet)");

  public:
    /// Gradients are summed over ranks before the optimizer step.
    static constexpr bool local_gradients = false;

    runtime(Environment const& env, options const& opts)
        : comm_(make_comm(env))
        , options_(opts)
        , buckets_(detail::plan_buckets<Model>(opts.bucket_bytes))
        , compression_(comm_, bucket_sizes()) {
      requests_.resize(buckets_.size());
    }
    runtime(runtime const&) = delete; // the compression state points at comm_
    runtime& operator=(runtime const&) = delete;

    int rank() const { return comm_.rank(); }
    int size() const { return comm_.size(); }
    bool is_root() const { return rank() == 0; }
    Comm& communicator() { return comm_; }
    std::vector<detail::Bucket> const& buckets() const { return buckets_; }

    data::IndexRange shard(std::size_t rows) const {
      return data::BatchPlan::shard(rows, std::size_t(rank()), std::size_t(size()));
    }

    /// Rank 0's parameters on every rank.
    void synchronize_parameters(Model& model) {
      auto host = detail::to_host(model.parameters());
      comm_.broadcast(std::span(host), 0);
      detail::from_host(model.parameters(), host);
    }

    /// Starts the all-reduce of each bucket as soon as its last layer is done, and advances
    /// those in flight; only on the last micro-batch of a step.
    void gradients_ready(Model& model, std::size_t offset, std::size_t, bool last_micro_batch) {
      if (!last_micro_batch || !options_.overlap) {
        return;
      }
      if (next_ < buckets_.size() && buckets_[next_].offset == offset) {
        start(model, next_++);
      }
      for (std::size_t b = 0; b < next_; ++b) {
        requests_[b].test();
      }
    }

    /// The gradients summed over ranks.
    void finish_gradients(Model& model) {
      while (next_ < buckets_.size()) {
        start(model, next_++);
      }
      for (auto& request : requests_) {
        request.wait();
      }
      next_ = 0;
    }

    /// A loss or accuracy summed over ranks (one small all-reduce).
    LossValue combine(LossValue const& local) {
      start_combine(local);
      return finish_combine();
    }
    /// Sums values (a metric's sums()) over ranks, in place.
    void sum(std::span<double> values) { comm_.all_reduce(values, comm::ReduceOp::sum); }
    /// combine() in two halves, so that the sum travels while backward runs.
    void start_combine(LossValue const& local) {
      regression_ = local.regression;
      metrics_ = {local.sum, double(local.count), double(local.correct), double(local.invalid)};
      metrics_request_ = comm_.iall_reduce(std::span<double>(metrics_), comm::ReduceOp::sum);
    }
    LossValue finish_combine() {
      metrics_request_.wait();
      LossValue total;
      total.sum = metrics_[0];
      total.count = static_cast<std::size_t>(metrics_[1]);
      total.correct = static_cast<std::size_t>(metrics_[2]);
      total.invalid = static_cast<std::size_t>(metrics_[3]);
      total.regression = regression_;
      return total;
    }

    /// Every rank stops with the same message if any rank's configuration differs.
    void check_configuration(detail::Configuration const& configuration) {
#if defined(LOOM_ENABLE_MPI)
      if constexpr (!std::is_same_v<Comm, comm::Self>) {
        detail::check_same_configuration(comm_.mpi_comm(), configuration, "loom::DataParallel");
      }
#endif
      (void)configuration;
    }

    /// Runs f on every rank; an error on any rank becomes the same error on every rank.
    template <class F>
    auto collectively(F&& f) -> decltype(f()) {
#if defined(LOOM_ENABLE_MPI)
      if constexpr (!std::is_same_v<Comm, comm::Self>) {
        return detail::collectively(comm_.mpi_comm(), std::forward<F>(f));
      }
#endif
      return f();
    }

    /// Rank 0's bytes on every rank.
    void broadcast(std::vector<std::byte>& bytes) {
      std::uint64_t size = bytes.size();
      comm_.broadcast(std::span<std::uint64_t>(&size, 1), 0);
      bytes.resize(size);
      comm_.broadcast(std::span<std::byte>(bytes), 0);
    }

  private:
    static Comm make_comm(Environment const& env) {
#if defined(LOOM_ENABLE_MPI)
      if constexpr (std::is_constructible_v<Comm, MPI_Comm>) {
        return Comm(env.comm());
      } else {
        return Comm();
      }
#else
      (void)env;
      return Comm();
#endif
    }

    std::vector<std::size_t> bucket_sizes() const {
      std::vector<std::size_t> sizes;
      for (auto const& bucket : buckets_) {
        sizes.push_back(bucket.count);
      }
      return sizes;
    }

    void start(Model& model, std::size_t b) {
      auto const& bucket = buckets_[b];
      std::span<typename Model::value_type> gradients(model.gradients().data() + bucket.offset,
                                                      bucket.count);
      requests_[b] = compression_.start(b, gradients);
    }

    Comm comm_;
    options options_;
    std::vector<detail::Bucket> buckets_;
    typename Compression::template state<Comm> compression_;
    std::vector<comm::Request> requests_;
    std::size_t next_ = 0;
    std::array<double, 4> metrics_{};
    bool regression_ = false;
    comm::Request metrics_request_;
  };
};

} // namespace loom
