#pragma once

// Batches of a data set in an execution space's memory: BatchBuffers gathers given samples
// there (what the Trainer does for every step), BatchLoader walks the shuffled batches of
// each epoch for a hand-written training loop.

#include <loom/core/error.hpp>
#include <loom/core/tensor.hpp>
#include <loom/data/concepts.hpp>
#include <loom/data/sampler.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <span>
#include <string>
#include <type_traits>
#include <utility>

namespace loom::data {

/// \brief A batch in an execution space's memory: features x (rows × features, row-major)
///        and targets (rows × targets per sample), with the sample indices it holds. The views
///        stay valid until the next batch is gathered into the same buffers.
template <class Scalar, class Target, class MemorySpace>
struct Batch {
  /// rows × features
  MatrixSlice<Scalar, MemorySpace> x;
  /// rows × targets per sample (a class label per row for classification)
  MatrixSlice<Target, MemorySpace> targets;
  /// the samples' indices in the data set, in row order
  std::span<std::size_t const> indices;

  /// \brief The number of samples.
  std::size_t rows() const { return x.extent(0); }
  /// \brief The class labels, one per row (the targets as a vector; one target per sample).
  VectorSlice<Target, MemorySpace> labels() const {
    return VectorSlice<Target, MemorySpace>(targets.data(), targets.extent(0) * targets.extent(1));
  }
};

/// \brief Reusable buffers that gather samples of a data set (loom::data::Dataset) into an
///        execution space's memory: on the host, then one copy to the device where the memory
///        is not host-accessible. They grow to the largest batch gathered.
/// \tparam Scalar      the feature type of the batches (float, or double)
/// \tparam Target      the data set's target_type
/// \tparam MemorySpace where the batches live
template <class Scalar, class Target, class MemorySpace>
class BatchBuffers {
public:
  using batch_type = Batch<Scalar, Target, MemorySpace>;

  /// \brief Gathers samples indices[0], indices[1], … into rows 0, 1, … of the buffers.
  /// \throws loom::Error naming the data set when an index is out of range
  template <Dataset Data>
  batch_type gather(Data const& data, std::span<std::size_t const> indices) {
    static_assert(std::is_same_v<typename Data::target_type, Target>,
                  "loom::data::BatchBuffers<Scalar, Target, MemorySpace>: Target must be the data "
                  "set's target_type");
    std::size_t const rows = indices.size();
    std::size_t const features = data.sample_size();
    std::size_t const targets = data.target_size();
    if (rows * features > x_.extent(0) || rows * targets > y_.extent(0)) {
      x_ = Vector<Scalar, MemorySpace>(
          Kokkos::view_alloc(Kokkos::WithoutInitializing, "loom::data::BatchBuffers::x"),
          rows * features);
      y_ = Vector<Target, MemorySpace>(
          Kokkos::view_alloc(Kokkos::WithoutInitializing, "loom::data::BatchBuffers::targets"),
          rows * targets);
      x_host_ = Kokkos::create_mirror_view(x_);
      y_host_ = Kokkos::create_mirror_view(y_);
    }
    data.gather(indices, x_host_.data(), y_host_.data());
    if constexpr (!is_host_accessible<MemorySpace>) {
      auto const head = std::make_pair(std::size_t{0}, rows * features);
      Kokkos::deep_copy(Kokkos::subview(x_, head), Kokkos::subview(x_host_, head));
      auto const target_head = std::make_pair(std::size_t{0}, rows * targets);
      Kokkos::deep_copy(Kokkos::subview(y_, target_head), Kokkos::subview(y_host_, target_head));
    }
    return {MatrixSlice<Scalar, MemorySpace>(x_.data(), rows, features),
            MatrixSlice<Target, MemorySpace>(y_.data(), rows, targets), indices};
  }

private:
  Vector<Scalar, MemorySpace> x_;
  Vector<Target, MemorySpace> y_;
  typename Vector<Scalar, MemorySpace>::host_mirror_type x_host_;
  typename Vector<Target, MemorySpace>::host_mirror_type y_host_;
};

/// \brief The batches of a data set, epoch by epoch, in an execution space's memory: for
///        training loops written by hand. The order of each epoch is the BatchPlan's (a pure
///        function of the seed and the epoch, so a resumed run sees the same batches); with
///        several processes, each takes its contiguous slice of every global batch.
/// \code
/// loom::data::BatchLoader loader(train, {.batch_size = 64, .seed = 1});
/// for (std::uint64_t epoch = 0; epoch < 5; ++epoch) {
///   loader.set_epoch(epoch);
///   for (auto const& batch : loader) {
///     auto logits = model.forward(batch.x);
///     loom::SoftmaxCrossEntropy::compute(space, logits, batch.labels(),
///                                        model.output_gradient(), 1.0 / batch.rows());
///     model.backward();
///     optimizer.step(space, model.parameters(), model.gradients(), lr);
///   }
/// }
/// \endcode
/// \tparam Data           a loom::data::Dataset (the loader keeps a reference: it must outlive it)
/// \tparam ExecutionSpace whose memory the batches live in
/// \tparam Scalar         the feature type (float, or double)
template <Dataset Data, class ExecutionSpace = Kokkos::DefaultExecutionSpace, class Scalar = float>
class BatchLoader {
public:
  using memory_space = typename ExecutionSpace::memory_space;
  using batch_type = Batch<Scalar, typename Data::target_type, memory_space>;

  /// \param data    the samples
  /// \param options batch size, seed, shuffling, dropping a short last batch
  /// \param rank    this process's rank: it takes its slice of each global batch
  /// \param ranks   the number of processes
  /// \throws loom::Error as BatchPlan does (no samples, batch size 0, ...) or when rank ≥ ranks
  explicit BatchLoader(Data const& data, BatchPlanOptions const& options = {}, std::size_t rank = 0,
                       std::size_t ranks = 1)
      : data_(&data)
      , plan_(data.size(), options)
      , rank_(rank)
      , ranks_(ranks) {
    (void)BatchPlan::shard(options.batch_size, rank, ranks); // checks rank < ranks
  }

  /// \brief Moves to epoch `epoch` (its order depends on nothing but the seed and epoch).
  void set_epoch(std::uint64_t epoch) { plan_.set_epoch(epoch); }
  /// \brief The current epoch.
  std::uint64_t epoch() const { return plan_.epoch(); }
  /// \brief Global batches per epoch.
  std::size_t num_batches() const { return plan_.num_batches(); }
  /// \brief The plan that orders the samples.
  BatchPlan const& plan() const { return plan_; }

  /// \brief This process's part of global batch k of the current epoch, gathered into the
  ///        loader's buffers (valid until the next batch is gathered). A process may get no
  ///        rows from a short last batch.
  /// \throws loom::Error when k ≥ num_batches()
  batch_type batch(std::size_t k) { return buffers_.gather(*data_, plan_.batch(k, rank_, ranks_)); }

  /// \brief Walks the batches of the current epoch in order.
  class iterator {
  public:
    using value_type = batch_type;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    iterator(BatchLoader* loader, std::size_t k)
        : loader_(loader)
        , k_(k) {}
    batch_type operator*() const { return loader_->batch(k_); }
    iterator& operator++() {
      ++k_;
      return *this;
    }
    iterator operator++(int) {
      iterator before = *this;
      ++k_;
      return before;
    }
    bool operator==(iterator const& other) const { return k_ == other.k_; }

  private:
    BatchLoader* loader_ = nullptr;
    std::size_t k_ = 0;
  };
  iterator begin() { return iterator(this, 0); }
  iterator end() { return iterator(this, num_batches()); }

private:
  Data const* data_;
  BatchPlan plan_;
  std::size_t rank_;
  std::size_t ranks_;
  BatchBuffers<Scalar, typename Data::target_type, memory_space> buffers_;
};

} // namespace loom::data
