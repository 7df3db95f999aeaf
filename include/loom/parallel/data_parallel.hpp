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
#include <loom/parallel/detail/replica_runtime.hpp>
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
  class runtime
      : public detail::ReplicaRuntime<DataParallel, Comm, Compression, Net, ExecutionSpace,
                                      Scalar> {
    using base =
        detail::ReplicaRuntime<DataParallel, Comm, Compression, Net, ExecutionSpace, Scalar>;

  public:
    using typename base::model_type;

    runtime(Environment const& env, options const& opts)
        : base(env, opts.bucket_bytes, "loom::DataParallel")
        , sync_(this->communicator(), detail::plan_buckets<model_type>(opts.bucket_bytes),
                opts.overlap) {}

    /// Every rank checks that it has a sample of each global batch, then starts from rank 0's
    /// parameters.
    void start(model_type& model, std::size_t batch) { this->start_replicas(model, batch); }

    template <class Optimizer, class Work>
    LossValue step(model_type& model, Optimizer& optimizer, Work& work) {
      return detail::standard_step(*this, model, optimizer, work);
    }

    std::vector<detail::Bucket> const& buckets() const { return sync_.buckets(); }

    /// Starts the all-reduce of each bucket as soon as backward has finished it.
    void gradients_ready(model_type& model, std::size_t offset, bool last_micro_batch) {
      sync_.ready(model.gradients().data(), offset, last_micro_batch);
    }
    /// The gradients summed over ranks.
    void finish_gradients(model_type& model) { sync_.finish(model.gradients().data()); }

  private:
    detail::GradientSync<Comm, Compression, Scalar> sync_;
  };
};

} // namespace loom
