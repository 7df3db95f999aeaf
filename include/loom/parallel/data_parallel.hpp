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
#include <loom/parallel/detail/gradient_sync.hpp>
#include <loom/parallel/detail/layout.hpp>
#include <loom/parallel/detail/step.hpp>

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
                  "loom::DataParallel<Comm, Compression>, LocalSGD<Comm, Compression>: Comm must "
                  "be a communicator policy such "
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
        "loom::DataParallel<Comm, Compression>, LocalSGD<Comm, Compression>: Compression must be a "
        "compression policy "
        "such as loom::comm::NoCompression, comm::Fp16, comm::Int8 or comm::TopK<0.01>");
    return false;
  }
  return true;
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
///                      comm::RecursiveHalving, comm::Self (comm::Default: comm::Mpi, or
///                      comm::Self where loom is built without MPI)
/// \tparam Compression  gradient compression: comm::NoCompression (default), comm::Fp16,
///                      comm::Int8, comm::TopK<ratio>
template <class Comm = comm::Default, class Compression = comm::NoCompression>
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

  template <class Net, class ExecutionSpace, class Scalar = float>
  class runtime {
  public:
    using model_type = Model<Net, ExecutionSpace, Scalar>;
    static_assert(is_host_accessible<typename model_type::memory_space>,
                  "loom::DataParallel: the model's memory space must be host accessible (GPU-aware "
                  "communication is not supported yet)");
    /// Gradients are summed over ranks before the optimizer step.
    static constexpr bool local_gradients = false;

    runtime(Environment const& env, options const& opts)
        : comm_(env)
        , sync_(comm_, detail::plan_buckets<model_type>(opts.bucket_bytes), opts.overlap)
        , loss_(comm_) {}
    runtime(runtime const&) = delete; // the gradient synchroniser points at comm_
    runtime& operator=(runtime const&) = delete;

    model_type make_model(std::uint64_t seed) const { return model_type(seed); }

    /// Every rank checks that it runs rank 0's configuration and has a sample of each global
    /// batch, then starts from rank 0's parameters.
    void start(model_type& model, std::size_t batch) {
      if (batch < std::size_t(size())) {
        detail::fail("loom::Trainer: ", name(), " over ", size(),
                     " processes needs a global batch of at least ", size(),
                     " samples, one per process; batch is ", batch);
      }
      auto host = detail::to_host(model.parameters());
      comm_.broadcast(std::span(host), 0);
      detail::from_host(model.parameters(), host);
    }

    template <class Optimizer, class Work>
    LossValue step(model_type& model, Optimizer& optimizer, Work& work) {
      return detail::standard_step(*this, model, optimizer, work);
    }

    int rank() const { return comm_.rank(); }
    int size() const { return comm_.size(); }
    bool is_root() const { return rank() == 0; }
    Comm& communicator() { return comm_; }
    std::vector<detail::Bucket> const& buckets() const { return sync_.buckets(); }

    data::IndexRange shard(std::size_t rows) const {
      return data::BatchPlan::shard(rows, std::size_t(rank()), std::size_t(size()));
    }
    template <class Batch>
    auto input(model_type const&, Batch const& batch) const {
      return batch.x;
    }

    /// Starts the all-reduce of each bucket as soon as backward has finished it.
    void gradients_ready(model_type& model, std::size_t offset, bool last_micro_batch) {
      sync_.ready(model.gradients().data(), offset, last_micro_batch);
    }
    /// The gradients summed over ranks.
    void finish_gradients(model_type& model) { sync_.finish(model.gradients().data()); }
    double gradient_norm(model_type const& model) const {
      return global_norm(model.space(), model.gradients());
    }

    /// A loss or accuracy summed over ranks (one small all-reduce).
    LossValue combine(LossValue const& local) {
      start_combine(local);
      return finish_combine();
    }
    /// Sums values (a metric's sums()) over ranks, in place.
    void sum(std::span<double> values) { comm_.all_reduce(values, comm::ReduceOp::sum); }
    /// combine() in two halves, so that the sum travels while backward runs.
    void start_combine(LossValue const& local) { loss_.start(local); }
    LossValue finish_combine() { return loss_.finish(); }

    /// Every rank stops with the same message if any rank's configuration differs.
    void check_configuration(detail::Configuration const& configuration) {
      comm_.check_configuration(configuration, "loom::DataParallel");
    }
    /// Runs f on every rank; an error on any rank becomes the same error on every rank.
    template <class F>
    auto collectively(F&& f) -> decltype(f()) {
      return comm_.collectively(std::forward<F>(f));
    }
    /// Rank 0's bytes on every rank.
    void broadcast(std::vector<std::byte>& bytes) { detail::broadcast_bytes(comm_, bytes); }
    /// Every rank holds the whole network.
    detail::WholeLayout layout(model_type const&) const { return {}; }

  private:
    Comm comm_;
    detail::GradientSync<Comm, Compression, Scalar> sync_;
    detail::LossSum<Comm> loss_;
  };
};

} // namespace loom
