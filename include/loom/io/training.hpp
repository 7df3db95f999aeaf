#pragma once

// What a checkpoint records of a training besides the model and the optimizer (io/state.hpp):
// where it stands, its data order, its learning-rate schedule and its callbacks' states. The
// Trainer writes these sections; a hand-written loop writes and reads them with
// io::save(path, model, optimizer, record) and io::load(path, model, optimizer, record).
//
//   section      contents
//   "trainer"    epoch, batch and optimizer step; seed, batch size, shuffling, samples
//   "schedule"   the schedule's parameters, the length a fit gave it (0: none), the lr scale
//   "callbacks"  each callback's state by name
//
// Checkpoints of loom before 0.1 hold no "schedule" and no "callbacks" section.

#include <loom/core/error.hpp>
#include <loom/io/bytes.hpp>
#include <loom/io/checkpoint.hpp>
#include <loom/io/state.hpp>
#include <loom/optim/schedule.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace loom {

/// \brief Where a training stands: what a checkpoint saves and a resumed run continues from.
struct TrainingState {
  std::uint64_t epoch = 0; ///< the epoch in progress (0-based) = epochs completed
  std::size_t batch = 0;   ///< the next batch within it
  std::uint64_t step = 0;  ///< optimizer steps taken
};

namespace io {

/// \brief A training's record in a checkpoint, besides its model and optimizer.
struct TrainingRecord {
  TrainingState position = {}; ///< where the training stands
  std::uint64_t seed = 0;      ///< of the parameters, the data order and dropout
  std::uint64_t batch = 0;     ///< the batch size
  bool shuffle = true;         ///< a new sample order every epoch
  std::uint64_t samples = 0;   ///< the training set's size (0: not known)
  /// The schedule as configured; empty in checkpoints that predate it.
  std::optional<LrSchedule> schedule = {};
  std::optional<std::uint64_t> schedule_length = {}; ///< the length a fit gave the schedule
  double lr_scale = 1.0;                             ///< the factor callbacks put on the rate
  std::map<std::string, std::vector<std::byte>> callbacks = {}; ///< callbacks' states by name
};

/// \brief Adds the sections "trainer", "schedule" and "callbacks".
inline void add_training(CheckpointWriter& writer, TrainingRecord const& record) {
  ByteWriter trainer;
  trainer.write_u64(record.position.epoch);
  trainer.write_u64(record.position.batch);
  trainer.write_u64(record.position.step);
  trainer.write_u64(record.seed);
  trainer.write_u64(record.batch);
  trainer.write_u64(record.shuffle ? 1 : 0);
  trainer.write_u64(record.samples);
  writer.add("trainer", std::move(trainer));

  ByteWriter schedule;
  auto const p = record.schedule.value_or(LrSchedule::constant()).parameters();
  schedule.write_u64(static_cast<std::uint64_t>(p.kind));
  schedule.write_u64(p.every);
  schedule.write_f64(p.gamma);
  schedule.write_u64(p.total);
  schedule.write_f64(p.min_factor);
  schedule.write_u64(p.warmup);
  schedule.write_u64(record.schedule_length.value_or(0));
  schedule.write_f64(record.lr_scale);
  writer.add("schedule", std::move(schedule));

  ByteWriter callbacks;
  callbacks.write_u64(record.callbacks.size());
  for (auto const& [name, bytes] : record.callbacks) {
    callbacks.write_string(name);
    callbacks.write_array(bytes);
  }
  writer.add("callbacks", std::move(callbacks));
}

/// \brief Reads what add_training() wrote; `who` begins the messages.
/// \throws loom::Error naming the file when the sections are missing or damaged
inline TrainingRecord read_training(CheckpointReader const& reader, char const* who) {
  TrainingRecord record;
  {
    auto in = reader.section("trainer");
    record.position.epoch = in.read_u64();
    record.position.batch = in.read_u64();
    record.position.step = in.read_u64();
    record.seed = in.read_u64();
    record.batch = in.read_u64();
    record.shuffle = in.read_u64() != 0;
    record.samples = in.read_u64();
    in.expect_end();
  }
  if (reader.has("schedule")) {
    auto in = reader.section("schedule");
    LrSchedule::Parameters p;
    std::uint64_t const kind = in.read_u64();
    p.every = in.read_u64();
    p.gamma = in.read_f64();
    p.total = in.read_u64();
    p.min_factor = in.read_f64();
    p.warmup = in.read_u64();
    std::uint64_t const length = in.read_u64();
    record.lr_scale = in.read_f64();
    in.expect_end();
    if (kind > static_cast<std::uint64_t>(LrSchedule::Kind::cosine)) {
      loom::detail::fail(who, ": checkpoint '", reader.path().string(),
                         "' holds a learning-rate schedule of unknown kind ", kind,
                         "; it is damaged or was written by a newer loom");
    }
    if (!(record.lr_scale >= 0)) {
      loom::detail::fail(who, ": checkpoint '", reader.path().string(),
                         "' holds the learning-rate scale ", record.lr_scale, "; it is damaged");
    }
    p.kind = static_cast<LrSchedule::Kind>(kind);
    record.schedule = LrSchedule::from_parameters(p);
    if (length > 0) {
      record.schedule_length = length;
    }
  }
  if (reader.has("callbacks")) {
    auto in = reader.section("callbacks");
    std::uint64_t const count = in.read_u64();
    for (std::uint64_t i = 0; i < count; ++i) {
      std::string name = in.read_string();
      record.callbacks[std::move(name)] = in.template read_array<std::byte>();
    }
    in.expect_end();
  }
  return record;
}

/// \brief Saves a model, its optimizer's state and the training's record to `path`,
///        atomically: a hand-written loop's checkpoint with everything loom::Trainer keeps.
template <class M, class State>
void save(std::filesystem::path const& path, M const& model, State const& optimizer,
          TrainingRecord const& record) {
  static_assert(loom::detail::checked<detail::holds_whole_network<M>()>);
  CheckpointWriter writer;
  detail::add_model(writer, model);
  detail::add_optimizer(writer, optimizer);
  add_training(writer, record);
  writer.write(path);
}

/// \brief Restores what io::save(path, model, optimizer, record) or loom::Trainer::save()
///        wrote. Nothing changes when the file is refused.
/// \throws loom::Error naming the file when it is missing, damaged, holds another model or
///         optimizer, or no training record
template <class M, class State>
void load(std::filesystem::path const& path, M& model, State& optimizer, TrainingRecord& record) {
  static_assert(loom::detail::checked<detail::holds_whole_network<M>()>);
  CheckpointReader const reader(path);
  auto const contents = detail::read_model<M>(reader, "loom::io::load");
  auto const optimizer_contents = detail::read_optimizer(reader, optimizer, "loom::io::load");
  TrainingRecord read = read_training(reader, "loom::io::load");
  detail::restore_model(model, contents);
  detail::restore_optimizer(optimizer, optimizer_contents);
  record = std::move(read);
}

} // namespace io
} // namespace loom
