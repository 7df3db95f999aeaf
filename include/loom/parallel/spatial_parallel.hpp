#pragma once

#include <loom/comm/concepts.hpp>
#include <loom/comm/default.hpp>
#include <loom/core/environment.hpp>
#include <loom/core/tensor.hpp>
#include <loom/parallel/data_parallel.hpp>
#include <loom/parallel/detail/spatial.hpp>
#include <loom/parallel/detail/split_runtime.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <string>
#include <utility>

namespace loom {

/// \brief Split every image's rows into Ranks bands over Ranks processes: the strategy for
///        samples too large for one process, and for small batches that data parallelism
///        cannot split.
///
/// \code
///   Input<1, 224, 224> ─ Conv2D ─ BatchNorm2D ─ ReLU ─ MaxPool2D ─ … ─ Flatten ─ Dense ─ …
///   rank 0: rows   0..111  ┐ halo rows exchanged     statistics   row-parallel: partial
///   rank 1: rows 112..223  ┘ before each window      summed       products summed
/// \endcode
/// Conv2D, MaxPool2D and AvgPool2D receive the rows their window reads from the neighbouring
/// bands before they run (zero padding only at the image's true edges) and send the halo's
/// gradient back in backward; BatchNorm2D and GlobalAvgPool2D sum their statistics over the
/// group, so they equal the serial layers exactly; Dropout draws the serial masks. After
/// Flatten, the first Dense multiplies the rank's features by its slice of the weights and
/// sums the partial products; from GlobalAvgPool2D or that Dense on, every rank computes the
/// whole layers. Weight gradients of the band layers are summed over the group in buckets
/// overlapped with backward. One step equals SingleProcess training to float rounding.
///
/// The plan is checked at compile time: an input height, or a windowed layer's output
/// height, not divisible by Ranks, a halo wider than a band, or a layer without a split
/// over bands is a compile error naming the layer. At run time the communicator must have
/// exactly Ranks processes (the same error on every rank otherwise).
///
/// \tparam Ranks  the bands of each image: the processes of the run
/// \tparam Comm   communicator policy (comm::Default: comm::Mpi, or comm::Self without MPI)
template <std::size_t Ranks, class Comm = comm::Default>
struct SpatialParallel {
  static_assert(Ranks >= 1, "loom::SpatialParallel<Ranks>: Ranks must be at least 1");
  static_assert(detail::checked<detail::check_communicator<Comm>()>);

  using strategy_type = SpatialParallel;
  using comm_type = Comm;
  using placement_type = detail::SpatialPlacement<Ranks>;
  static constexpr std::size_t ranks = Ranks;
  static constexpr bool needs_environment = true;

  static std::string name() {
    return "SpatialParallel<" + std::to_string(Ranks) + ", " + Comm::name() + ">";
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
      : public detail::SplitRuntime<runtime<Net, ExecutionSpace, Scalar>, SpatialParallel, Ranks,
                                    placement_type, Comm, Net, ExecutionSpace, Scalar> {
    using base = detail::SplitRuntime<runtime, SpatialParallel, Ranks, placement_type, Comm, Net,
                                      ExecutionSpace, Scalar>;

  public:
    using typename base::model_type;
    using memory_space = typename model_type::memory_space;
    /// Band layers leave partial weight gradients, summed before the optimizer step.
    static constexpr bool local_gradients = false;

    runtime(Environment const& env, options const& opts)
        : runtime(Comm(env), opts) {}
    /// Over the ranks of `comm` (one axis of a Hybrid's grid).
    runtime(Comm comm, options const& opts)
        : base(std::move(comm), opts.bucket_bytes, opts.overlap) {}

    /// This rank's band of rows of every image of a gathered batch.
    template <class Batch>
    MatrixSlice<Scalar, memory_space> input(model_type const& model, Batch const& batch) {
      using Whole = typename Net::input_shape;
      using Band = typename model_type::input_shape;
      std::size_t const rows = batch.x.extent(0);
      if (band_.extent(0) < rows * Band::size) {
        band_ = Vector<Scalar, memory_space>(
            Kokkos::view_alloc(Kokkos::WithoutInitializing, "loom::SpatialParallel::band"),
            rows * Band::size);
      }
      constexpr std::size_t plane = Whole::dims[1] * Whole::dims[2];
      constexpr std::size_t band_plane = Band::dims[1] * Band::dims[2];
      std::size_t const first = std::size_t(this->rank()) * band_plane;
      Scalar* band = band_.data();
      auto const x = batch.x;
      Kokkos::parallel_for(
          "loom::SpatialParallel::band",
          Kokkos::RangePolicy<ExecutionSpace>(model.space(), 0, rows * Band::size),
          KOKKOS_LAMBDA(std::size_t k) {
            std::size_t const sample = k / Band::size, at = k % Band::size;
            band[k] = x(sample, at / band_plane * plane + first + at % band_plane);
          });
      return MatrixSlice<Scalar, memory_space>(band_.data(), rows, Band::size);
    }

  private:
    Vector<Scalar, memory_space> band_;
  };
};

} // namespace loom
