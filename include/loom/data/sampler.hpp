#pragma once

// Epoch order and batching. The order of an epoch is a pure function of (seed, epoch), so a
// run resumed at (epoch, batch k) sees exactly the indices it would have seen, and every rank
// of a data-parallel run computes the same global batches without communicating:
//
//   epoch e:  permutation of 0 … N-1  (Fisher–Yates, loom::CounterRng(seed, stream(e)))
//             | batch 0 | batch 1 | … | batch K-1 |        each batch_size indices; the last
//                                                          may be short (or dropped)
//   batch k on R ranks:  | rank 0 | rank 1 | … | rank R-1 |  contiguous, sizes differ by ≤ 1
//
// Rank r's rows are rows [shard(rows, r, R).begin, .end) of the global batch, in the global
// order, so data-parallel training on R ranks sees the same samples as serial training.

#include <loom/core/error.hpp>
#include <loom/core/random.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <span>
#include <utility>
#include <vector>

namespace loom::data {

/// \brief A half-open range [begin, end) of rows.
struct IndexRange {
  std::size_t begin = 0; ///< first row
  std::size_t end = 0;   ///< one past the last row

  /// \brief Number of rows.
  std::size_t size() const { return end - begin; }
  friend bool operator==(IndexRange const&, IndexRange const&) = default;
};

/// \brief Options of a BatchPlan (designated initialisers: {.batch_size = 256, .seed = 1}).
struct BatchPlanOptions {
  std::size_t batch_size = 32; ///< samples per global batch (all ranks together)
  std::uint64_t seed = 0;      ///< the shuffle seed
  bool shuffle = true;         ///< false: every epoch visits 0, 1, …, N-1 in order
  bool drop_last = false;      ///< drop the last batch when it is short
};

/// \brief The sample order and batches of each epoch of a dataset: deterministic, seeded,
///        and resumable (the order of epoch e depends on nothing but the seed and e).
class BatchPlan {
public:
  /// \brief A plan for a dataset of dataset_size samples, positioned at epoch 0.
  /// \param dataset_size samples in the dataset (≥ 1)
  /// \param batch_size   samples per global batch (≥ 1)
  /// \param seed         the shuffle seed
  /// \param shuffle      false: every epoch visits the samples in order
  /// \param drop_last    drop the last batch of an epoch when it is short
  /// \throws loom::Error when there are no samples, batch_size is 0, or drop_last leaves no
  ///         batch
  BatchPlan(std::size_t dataset_size, std::size_t batch_size, std::uint64_t seed = 0,
            bool shuffle = true, bool drop_last = false)
      : BatchPlan(dataset_size, BatchPlanOptions{.batch_size = batch_size,
                                                 .seed = seed,
                                                 .shuffle = shuffle,
                                                 .drop_last = drop_last}) {}

  /// \brief A plan for a dataset of dataset_size samples, positioned at epoch 0.
  /// \throws loom::Error as the other constructor does
  BatchPlan(std::size_t dataset_size, BatchPlanOptions const& options)
      : size_(dataset_size)
      , options_(options)
      , order_(dataset_size) {
    if (size_ == 0) {
      loom::detail::fail("loom::data::BatchPlan: the dataset has no samples");
    }
    if (options_.batch_size == 0) {
      loom::detail::fail("loom::data::BatchPlan: batch_size is 0; it must be at least 1");
    }
    if (options_.drop_last && size_ < options_.batch_size) {
      loom::detail::fail("loom::data::BatchPlan: drop_last with ", size_,
                         " samples and batch_size ", options_.batch_size,
                         " leaves no batch; use a smaller batch or drop_last = false");
    }
    set_epoch(0);
  }

  /// \brief Moves to epoch e: regenerates the order as a pure function of (seed, e).
  void set_epoch(std::uint64_t e) {
    epoch_ = e;
    std::iota(order_.begin(), order_.end(), std::size_t{0});
    if (!options_.shuffle) {
      return;
    }
    // Fisher–Yates: position i swaps with a uniform j in [0, i], drawn from counter i.
    CounterRng const rng(options_.seed, shuffle_stream + e);
    for (std::size_t i = size_ - 1; i > 0; --i) {
      auto const j = static_cast<std::size_t>(rng.below(i + 1, i));
      std::swap(order_[i], order_[j]);
    }
  }

  /// \brief The current epoch.
  std::uint64_t epoch() const { return epoch_; }

  /// \brief Global batches per epoch: ⌈N / batch_size⌉, or ⌊N / batch_size⌋ with drop_last.
  std::size_t num_batches() const {
    return options_.drop_last ? size_ / options_.batch_size
                              : (size_ + options_.batch_size - 1) / options_.batch_size;
  }

  /// \brief Samples visited per epoch (fewer than dataset_size() with drop_last).
  std::size_t samples_per_epoch() const {
    return options_.drop_last ? num_batches() * options_.batch_size : size_;
  }

  /// \brief The sample indices of global batch k of the current epoch, in order.
  /// \throws loom::Error when k ≥ num_batches()
  std::span<std::size_t const> batch(std::size_t k) const {
    if (k >= num_batches()) {
      loom::detail::fail("loom::data::BatchPlan::batch: batch ", k, " does not exist; epoch ",
                         epoch_, " has ", num_batches(), " batches (0 to ", num_batches() - 1, ")");
    }
    std::size_t const first = k * options_.batch_size;
    std::size_t const count = std::min(options_.batch_size, size_ - first);
    return std::span<std::size_t const>(order_).subspan(first, count);
  }

  /// \brief Rank `rank`'s contiguous slice of global batch k (see shard()).
  /// \throws loom::Error when k ≥ num_batches() or rank ≥ ranks
  std::span<std::size_t const> batch(std::size_t k, std::size_t rank, std::size_t ranks) const {
    auto const global = batch(k);
    IndexRange const part = shard(global.size(), rank, ranks);
    return global.subspan(part.begin, part.size());
  }

  /// \brief The whole order of the current epoch (a permutation of 0 … N-1).
  std::span<std::size_t const> order() const { return order_; }

  /// \brief The contiguous slice [begin, end) of `rows` rows that rank `rank` of `ranks`
  ///        takes: the first rows % ranks ranks get one row more, so sizes differ by at most
  ///        one; the slices are in rank order and cover [0, rows) exactly once.
  /// \throws loom::Error when ranks is 0 or rank ≥ ranks
  static IndexRange shard(std::size_t rows, std::size_t rank, std::size_t ranks) {
    if (ranks == 0 || rank >= ranks) {
      loom::detail::fail("loom::data::BatchPlan::shard: rank ", rank, " of ", ranks,
                         " ranks does not exist; ranks must be at least 1 and rank < ranks");
    }
    std::size_t const base = rows / ranks;
    std::size_t const extra = rows % ranks;
    std::size_t const begin = rank * base + std::min(rank, extra);
    return {begin, begin + base + (rank < extra ? 1 : 0)};
  }

  /// \brief Samples in the dataset.
  std::size_t dataset_size() const { return size_; }
  /// \brief Samples per global batch.
  std::size_t batch_size() const { return options_.batch_size; }
  /// \brief The shuffle seed.
  std::uint64_t seed() const { return options_.seed; }
  /// \brief Whether epochs are shuffled.
  bool shuffle() const { return options_.shuffle; }
  /// \brief Whether a short last batch is dropped.
  bool drop_last() const { return options_.drop_last; }

private:
  // Keeps shuffles apart from the other CounterRng streams of the same seed (parameter
  // initialisation uses small streams, dropout (step << 16) ^ stage).
  static constexpr std::uint64_t shuffle_stream = 0x7368756666000000ULL; // "shuff"

  std::size_t size_;
  BatchPlanOptions options_;
  std::vector<std::size_t> order_;
  std::uint64_t epoch_ = 0;
};

} // namespace loom::data
