#pragma once

// What a Trainer tells its callbacks.

#include <loom/loss/concepts.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace loom {

/// \brief How long to train: fit() runs until this many epochs are complete (counting epochs
///        completed before a checkpoint was loaded), as Keras's `epochs`.
struct Epochs {
  std::uint64_t count;
};
inline constexpr Epochs epochs(std::uint64_t count) {
  return Epochs{count};
}

/// \brief Given to callbacks when fit() starts.
struct FitInfo {
  std::uint64_t first_epoch = 0; ///< 0-based epoch fit() starts in (after a resume: later)
  std::size_t first_batch = 0;   ///< batch within it
  std::uint64_t epochs = 0;      ///< fit() ends when this many epochs are complete
  std::size_t batches_per_epoch = 0;
  std::size_t samples = 0;     ///< samples per epoch
  std::size_t batch_size = 0;  ///< global batch
  bool classification = false; ///< accuracy is meaningful
  std::string model;           ///< the network type
  std::string data;            ///< the training data's source
};

/// \brief Given to callbacks after each optimizer step.
struct BatchInfo {
  std::uint64_t epoch = 0; ///< 0-based
  std::uint64_t epochs = 0;
  std::size_t batch = 0;   ///< 0-based, within the epoch
  std::size_t batches = 0; ///< per epoch
  std::uint64_t step = 0;  ///< optimizer steps taken so far
  /// this step (all processes); LocalSGD and ElasticAveraging sum their steps' losses where
  /// the replicas meet: there the steps since the last meeting, in between empty (count 0)
  LossValue loss;
  LossValue running;             ///< this epoch so far
  double lr = 0;                 ///< learning rate of this step
  double seconds = 0;            ///< training time this epoch so far
  double samples_per_second = 0; ///< this epoch so far
  bool classification = false;
};

/// \brief Given to callbacks at the end of each epoch.
struct EpochInfo {
  std::uint64_t epoch = 0; ///< 0-based index of the epoch just completed
  std::uint64_t epochs = 0;
  std::uint64_t step = 0;
  LossValue train;                     ///< over the epoch's batches (after a resume: the rest)
  std::optional<LossValue> validation; ///< set by an evaluating callback (callbacks::validation)
  double lr = 0;                       ///< learning rate of the epoch's last step
  double seconds = 0;                  ///< training time (evaluation excluded)
  double samples_per_second = 0;
  bool classification = false;
};

} // namespace loom
