#pragma once

// Callbacks for loom::Trainer::fit(): progress on the terminal, a JSON-lines metrics log,
// checkpoints, evaluation on held-out data after each epoch, early stopping and a learning
// rate that drops on a plateau. A callback is any object with some of the hooks
// Trainer::fit() documents; these are the ones loom ships.

#include <loom/core/error.hpp>
#include <loom/io/bytes.hpp>
#include <loom/loss/concepts.hpp>
#include <loom/train/info.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <termios.h>
#include <unistd.h>

namespace loom::callbacks {

namespace detail {

// 24512.3 → "24.5k"
inline std::string compact(double value) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(1);
  if (value >= 1e6) {
    out << value / 1e6 << "M";
  } else if (value >= 1e4) {
    out << value / 1e3 << "k";
  } else {
    out << std::setprecision(0) << value;
  }
  return out.str();
}

inline std::string duration(double seconds) {
  long const s = std::lround(seconds);
  std::ostringstream out;
  out << s / 60 << ":" << std::setw(2) << std::setfill('0') << s % 60;
  return out.str();
}

inline std::string metrics(LossValue const& value, bool classification, char const* prefix) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(4) << prefix << "loss " << value.mean();
  if (classification) {
    out << "  " << prefix << "acc " << value.accuracy();
  }
  return out.str();
}

} // namespace detail

/// \brief Options of progress().
struct ProgressOptions {
  std::ostream* stream = &std::cout; ///< where to write (only the root process writes)
  bool terminal = true;              ///< a live bar when `stream` is a terminal; false: lines
  int lines_per_epoch = 4;           ///< progress lines per epoch when not a live bar
};

namespace detail {
/// Whether `stream` writes to this process's own terminal: std::cout or std::cerr/std::clog
/// on a file descriptor that is the controlling terminal of the process. Under mpiexec the
/// ranks write into pseudo-terminals of the launcher, which are not their controlling
/// terminal (whatever mpiexec's own output is: a terminal, a file or a pipe), so they get
/// plain lines; a program started directly on a terminal gets the bar, whether or not MPI
/// was initialised (a singleton MPI start sets launcher variables such as PMIX_RANK).
inline bool writes_to_own_terminal(std::ostream const* stream) {
  int fd = -1;
  if (stream == &std::cout) {
    fd = STDOUT_FILENO;
  } else if (stream == &std::cerr || stream == &std::clog) {
    fd = STDERR_FILENO;
  }
  return fd >= 0 && ::isatty(fd) != 0 && ::tcgetsid(fd) != -1;
}
} // namespace detail

/// \brief Shows training progress: epoch, batch, loss, accuracy and samples/s. On the
///        process's own terminal a bar redrawn in place (about 10 times a second);
///        otherwise (a file, a pipe, a CI log, a rank under mpiexec) a few plain lines per
///        epoch. Each epoch ends with a summary line. The environment variable
///        LOOM_PROGRESS=bar or LOOM_PROGRESS=lines overrides.
class Progress {
public:
  explicit Progress(ProgressOptions options = {})
      : options_(options) {
    char const* choice = std::getenv("LOOM_PROGRESS");
    bool const terminal = detail::writes_to_own_terminal(options_.stream);
    live_ = options_.terminal && (choice ? std::string(choice) == "bar" : terminal);
  }

  /// Whether progress is a live bar (true) or plain lines.
  bool live() const { return live_; }

  template <class Trainer>
  void on_fit_begin(Trainer& trainer, FitInfo const& info) {
    if (!trainer.is_root()) {
      return;
    }
    std::ostream& out = *options_.stream;
    out << "training " << info.model << " on " << info.data << ": " << info.samples
        << " samples, batch " << info.batch_size << ", " << info.batches_per_epoch
        << " batches per epoch";
    if (info.first_epoch > 0 || info.first_batch > 0) {
      out << "; resuming at epoch " << info.first_epoch + 1 << ", batch " << info.first_batch + 1;
    }
    out << std::endl;
  }

  template <class Trainer>
  void on_batch_end(Trainer& trainer, BatchInfo const& info) {
    if (!trainer.is_root()) {
      return;
    }
    std::ostream& out = *options_.stream;
    std::size_t const done = info.batch + 1;
    if (live_) {
      auto const now = std::chrono::steady_clock::now();
      if (done < info.batches && now - last_draw_ < std::chrono::milliseconds(100)) {
        return;
      }
      last_draw_ = now;
      int const width = 24;
      int const filled = static_cast<int>(double(width) * double(done) / double(info.batches));
      if (info.loss.count > 0 && info.running.count > 0) {
        // (a strategy whose replicas train apart reports its losses only where they meet)
        eta_ = info.seconds / double(info.running.count) * double(info.batches - done) *
               double(info.loss.count);
      }
      double const eta = eta_;
      out << "\r\033[K" << epoch_label(info.epoch, info.epochs) << " [" << std::string(filled, '=')
          << (filled < width ? ">" : "")
          << std::string(width - filled - (filled < width ? 1 : 0), ' ') << "] " << done << "/"
          << info.batches << "  " << detail::metrics(info.running, info.classification, "") << "  "
          << detail::compact(info.samples_per_second) << " samples/s  eta " << detail::duration(eta)
          << std::flush;
      drawn_ = true;
    } else if (options_.lines_per_epoch > 0) {
      std::size_t const every =
          std::max<std::size_t>(1, info.batches / std::size_t(options_.lines_per_epoch));
      if (done % every == 0 && done < info.batches) {
        out << epoch_label(info.epoch, info.epochs) << "  batch " << done << "/" << info.batches
            << "  " << detail::metrics(info.running, info.classification, "") << "  "
            << detail::compact(info.samples_per_second) << " samples/s" << std::endl;
      }
    }
  }

  template <class Trainer>
  void on_epoch_end(Trainer& trainer, EpochInfo const& info) {
    if (!trainer.is_root()) {
      return;
    }
    std::ostream& out = *options_.stream;
    if (drawn_) {
      out << "\r\033[K";
      drawn_ = false;
    }
    out << epoch_label(info.epoch, info.epochs) << "  "
        << detail::metrics(info.train, info.classification, "");
    if (info.validation) {
      out << "  " << detail::metrics(*info.validation, info.classification, "val_");
    }
    out << "  " << detail::compact(info.samples_per_second) << " samples/s  " << std::fixed
        << std::setprecision(1) << info.seconds << " s" << std::endl;
  }

private:
  static std::string epoch_label(std::uint64_t epoch, std::uint64_t epochs) {
    return "epoch " + std::to_string(epoch + 1) + "/" + std::to_string(epochs);
  }

  ProgressOptions options_;
  bool live_ = false;
  bool drawn_ = false;
  double eta_ = 0;
  std::chrono::steady_clock::time_point last_draw_{};
};

inline Progress progress(ProgressOptions options = {}) {
  return Progress(options);
}

/// \brief Writes one JSON object per epoch (and, with every_steps, per that many steps, its
///        loss over those steps) to a
///        file, appending, so that a resumed run continues the same log (an empty path
///        switches it off):
///        {"epoch":3,"step":5625,"loss":0.31,"accuracy":0.89,"val_loss":...,"lr":0.05,...}
class MetricsLog {
public:
  explicit MetricsLog(std::filesystem::path path, std::size_t every_steps = 0)
      : path_(std::move(path))
      , every_steps_(every_steps) {}

  template <class Trainer>
  void on_fit_begin(Trainer& trainer, FitInfo const&) {
    if (!trainer.is_root() || path_.empty()) {
      return;
    }
    if (path_.has_parent_path()) {
      std::error_code ignored;
      std::filesystem::create_directories(path_.parent_path(), ignored);
    }
    file_ = std::make_unique<std::ofstream>(path_, std::ios::app);
    if (!*file_) {
      loom::detail::fail("loom::callbacks::metrics_log: cannot open '", path_.string(),
                         "' for appending: ", std::strerror(errno));
    }
  }

  template <class Trainer>
  void on_batch_end(Trainer& trainer, BatchInfo const& info) {
    if (!trainer.is_root() || every_steps_ == 0) {
      return;
    }
    since_ += info.loss;
    if (info.step % every_steps_ != 0) {
      return;
    }
    std::ostringstream line;
    line << "{\"epoch\":" << info.epoch + 1 << ",\"batch\":" << info.batch + 1
         << ",\"step\":" << info.step;
    if (since_.count > 0) {
      // Over the steps since the last line (LocalSGD and ElasticAveraging report their
      // losses where the replicas meet: a line between has none).
      line << ",\"loss\":" << number(since_.mean());
      if (info.classification) {
        line << ",\"accuracy\":" << number(since_.accuracy());
      }
    }
    since_ = {};
    line << ",\"lr\":" << number(info.lr) << "}";
    write(line.str());
  }

  template <class Trainer>
  void on_epoch_end(Trainer& trainer, EpochInfo const& info) {
    if (!trainer.is_root()) {
      return;
    }
    std::ostringstream line;
    line << "{\"epoch\":" << info.epoch + 1 << ",\"step\":" << info.step
         << ",\"loss\":" << number(info.train.mean());
    if (info.classification) {
      line << ",\"accuracy\":" << number(info.train.accuracy());
    }
    if (info.validation) {
      line << ",\"val_loss\":" << number(info.validation->mean());
      if (info.classification) {
        line << ",\"val_accuracy\":" << number(info.validation->accuracy());
      }
    }
    line << ",\"lr\":" << number(info.lr) << ",\"seconds\":" << number(info.seconds)
         << ",\"samples_per_second\":" << number(info.samples_per_second) << "}";
    write(line.str());
  }

private:
  // JSON has no NaN or Inf: write null.
  static std::string number(double value) {
    if (!std::isfinite(value)) {
      return "null";
    }
    std::ostringstream out;
    out << std::setprecision(9) << value;
    return out.str();
  }

  void write(std::string const& line) {
    if (!file_) {
      return;
    }
    *file_ << line << '\n' << std::flush;
    if (!*file_) {
      loom::detail::fail("loom::callbacks::metrics_log: writing '", path_.string(),
                         "' failed: ", std::strerror(errno));
    }
  }

  std::filesystem::path path_;
  std::size_t every_steps_;
  LossValue since_; // the steps' losses since the last step line
  std::unique_ptr<std::ofstream> file_;
};

inline MetricsLog metrics_log(std::filesystem::path path, std::size_t every_steps = 0) {
  return MetricsLog(std::move(path), every_steps);
}

/// \brief Options of checkpoint().
struct CheckpointOptions {
  std::uint64_t every_epochs = 1; ///< after every n-th epoch (0: never at epoch ends)
  std::uint64_t every_steps = 0;  ///< also every n optimizer steps (0: never)
  bool keep_epochs = false;       ///< keep epoch-NNNN.ckpt besides last.ckpt
};

/// \brief Saves the trainer to `<directory>/last.ckpt` (atomically) after epochs and/or steps;
///        resume with trainer.load("<directory>/last.ckpt"). An empty directory switches it off.
class Checkpoint {
public:
  Checkpoint(std::filesystem::path directory, CheckpointOptions options)
      : directory_(std::move(directory))
      , options_(options) {}

  std::filesystem::path last() const { return directory_ / "last.ckpt"; }

  template <class Trainer>
  void on_batch_end(Trainer& trainer, BatchInfo const& info) {
    if (!directory_.empty() && options_.every_steps > 0 && info.step % options_.every_steps == 0 &&
        info.batch + 1 < info.batches) {
      trainer.save(last());
    }
  }

  /// Saves after the other callbacks' decisions of the epoch (early stopping, learning-rate
  /// changes), so that the checkpoint holds them.
  template <class Trainer>
  void on_epoch_save(Trainer& trainer, EpochInfo const& info) {
    if (directory_.empty() || options_.every_epochs == 0 ||
        (info.epoch + 1) % options_.every_epochs != 0) {
      return;
    }
    if (options_.keep_epochs) {
      char name[32];
      std::snprintf(name, sizeof name, "epoch-%04llu.ckpt",
                    static_cast<unsigned long long>(info.epoch + 1));
      trainer.save(directory_ / name);
    }
    trainer.save(last());
  }

private:
  std::filesystem::path directory_;
  CheckpointOptions options_;
};

inline Checkpoint checkpoint(std::filesystem::path directory, CheckpointOptions options = {}) {
  return Checkpoint(std::move(directory), options);
}

/// \brief The quantity early_stopping() and reduce_lr_on_plateau() watch at the end of each
///        epoch: the training loss or accuracy of the epoch, or the validation loss or
///        accuracy (which need callbacks::validation() among the callbacks). Losses improve
///        downwards, accuracies upwards.
enum class Monitor { loss, accuracy, val_loss, val_accuracy };

namespace detail {
inline char const* monitor_name(Monitor monitor) {
  switch (monitor) {
  case Monitor::loss:
    return "loss";
  case Monitor::accuracy:
    return "accuracy";
  case Monitor::val_loss:
    return "val_loss";
  default:
    return "val_accuracy";
  }
}

inline bool higher_is_better(Monitor monitor) {
  return monitor == Monitor::accuracy || monitor == Monitor::val_accuracy;
}

// The monitored value of an epoch, or an error naming the callback and what is missing.
inline double monitored(EpochInfo const& info, Monitor monitor, char const* who) {
  bool const validation = monitor == Monitor::val_loss || monitor == Monitor::val_accuracy;
  if (validation && !info.validation) {
    loom::detail::fail(who, ": it watches ", monitor_name(monitor),
                       ", but no callback evaluated held-out data; give "
                       "loom::callbacks::validation(data) before it, or watch Monitor::loss");
  }
  if (higher_is_better(monitor) && !info.classification) {
    loom::detail::fail(who, ": it watches ", monitor_name(monitor),
                       ", but the loss is a regression loss, which has no accuracy; watch "
                       "Monitor::val_loss or Monitor::loss");
  }
  LossValue const& value = validation ? *info.validation : info.train;
  return higher_is_better(monitor) ? value.accuracy() : value.mean();
}

// What early stopping and the plateau share: the best value of the watched quantity so far
// and the epochs since it last improved (by more than min_delta), saved with checkpoints.
struct Watch {
  Monitor monitor;
  double min_delta;
  std::optional<double> best;
  std::size_t waited = 0;

  // Takes an epoch's value; true when it improves on the best. `count` false: an epoch
  // without improvement is not counted (the plateau's cooldown).
  bool update(double value, bool count = true) {
    bool const improved =
        std::isfinite(value) && (!best || (higher_is_better(monitor) ? value > *best + min_delta
                                                                     : value < *best - min_delta));
    if (improved) {
      best = value;
      waited = 0;
    } else if (count) {
      ++waited;
    }
    return improved;
  }
  void write(io::ByteWriter& out) const {
    out.write_u64(best ? 1 : 0);
    out.write_f64(best.value_or(0.0));
    out.write_u64(waited);
  }
  void read(io::ByteReader& in) {
    bool const has_best = in.read_u64() != 0;
    double const value = in.read_f64();
    best = has_best ? std::optional<double>(value) : std::nullopt;
    waited = static_cast<std::size_t>(in.read_u64());
  }
};

inline void check_watch_options(char const* who, double min_delta) {
  if (!(min_delta >= 0)) {
    loom::detail::fail(who, ": min_delta must not be negative; got ", min_delta);
  }
}
} // namespace detail

/// \brief Options of early_stopping().
struct EarlyStoppingOptions {
  Monitor monitor = Monitor::val_loss; ///< what to watch
  std::size_t patience = 5;            ///< epochs without improvement before stopping (≥ 1)
  double min_delta = 0;                ///< an improvement is a change by more than this
  bool restore_best = false;           ///< at the end of fit(), the best epoch's parameters
};

/// \brief Stops fit() when the watched quantity has not improved for `patience` epochs
///        (Keras's EarlyStopping). With restore_best, the parameters and states of the best
///        epoch are kept (on the host) and put back when fit() ends. Its state (the best
///        value, the epochs since, the kept parameters) travels in the Trainer's checkpoints,
///        so a resumed run stops where the original would have.
class EarlyStopping {
public:
  explicit EarlyStopping(EarlyStoppingOptions options)
      : options_(options)
      , watch_{options.monitor, options.min_delta, std::nullopt, 0} {
    detail::check_watch_options("loom::callbacks::early_stopping", options_.min_delta);
    if (options_.patience == 0) {
      loom::detail::fail("loom::callbacks::early_stopping: patience must be at least 1 epoch");
    }
  }

  template <class Trainer>
  void on_fit_begin(Trainer& trainer, FitInfo const&) {
    read(trainer.callback_state(state_name));
  }

  template <class Trainer>
  void on_epoch_end(Trainer& trainer, EpochInfo const& info) {
    double const value =
        detail::monitored(info, options_.monitor, "loom::callbacks::early_stopping");
    if (watch_.update(value)) {
      best_epoch_ = info.epoch;
      if (options_.restore_best) {
        best_parameters_ = trainer.model().get_parameters();
        best_states_ = trainer.model().get_states();
      }
    } else if (watch_.waited >= options_.patience) {
      stopped_epoch_ = info.epoch;
      trainer.stop();
    }
    write(trainer.callback_state(state_name));
  }

  template <class Trainer>
  void on_fit_end(Trainer& trainer) {
    if (options_.restore_best && watch_.best && !best_parameters_.empty()) {
      trainer.model().set_parameters(best_parameters_);
      trainer.model().set_states(best_states_);
    }
  }

  /// The best value seen, and the (0-based) epoch it was seen in; empty before the first.
  std::optional<double> best() const { return watch_.best; }
  std::uint64_t best_epoch() const { return best_epoch_; }
  /// The epoch after which it stopped fit(), if it did.
  std::optional<std::uint64_t> stopped_epoch() const { return stopped_epoch_; }

private:
  static constexpr char const* state_name = "early_stopping";

  void write(std::vector<std::byte>& state) const {
    io::ByteWriter out;
    watch_.write(out);
    out.write_u64(best_epoch_);
    out.write_array(best_parameters_);
    out.write_array(best_states_);
    state = out.take();
  }
  void read(std::vector<std::byte> const& state) {
    if (state.empty()) {
      return;
    }
    io::ByteReader in(state, "the state of loom::callbacks::early_stopping in the checkpoint");
    watch_.read(in);
    best_epoch_ = in.read_u64();
    best_parameters_ = in.read_array<float>();
    best_states_ = in.read_array<float>();
    in.expect_end();
  }

  EarlyStoppingOptions options_;
  detail::Watch watch_;
  std::uint64_t best_epoch_ = 0;
  std::optional<std::uint64_t> stopped_epoch_;
  std::vector<float> best_parameters_;
  std::vector<float> best_states_;
};

inline EarlyStopping early_stopping(EarlyStoppingOptions options = {}) {
  return EarlyStopping(options);
}

/// \brief Options of reduce_lr_on_plateau().
struct ReduceLrOnPlateauOptions {
  Monitor monitor = Monitor::val_loss; ///< what to watch
  double factor = 0.1;                 ///< the learning rate is multiplied by it, in (0, 1)
  std::size_t patience = 10;           ///< epochs without improvement before a reduction
  double min_delta = 1e-4;             ///< an improvement is a change by more than this
  std::size_t cooldown = 0;            ///< epochs after a reduction before watching again
  double min_scale = 0;                ///< the learning rate's scale stays at or above it
  bool verbose = true;                 ///< the root process prints each reduction
};

/// \brief Multiplies the learning rate by `factor` when the watched quantity has not
///        improved for `patience` epochs (Keras's ReduceLROnPlateau, PyTorch's
///        ReduceLROnPlateau with an absolute threshold). It sets Trainer::set_lr_scale(), which
///        multiplies the schedule's rate from the next epoch on; the scale and this
///        callback's counters travel in checkpoints.
class ReduceLrOnPlateau {
public:
  explicit ReduceLrOnPlateau(ReduceLrOnPlateauOptions options)
      : options_(options)
      , watch_{options.monitor, options.min_delta, std::nullopt, 0} {
    char const* const who = "loom::callbacks::reduce_lr_on_plateau";
    detail::check_watch_options(who, options_.min_delta);
    if (!(options_.factor > 0 && options_.factor < 1) || !(options_.min_scale >= 0) ||
        options_.patience == 0) {
      loom::detail::fail(who, ": needs 0 < factor < 1, patience ≥ 1 and min_scale ≥ 0; got factor ",
                         options_.factor, ", patience ", options_.patience, ", min_scale ",
                         options_.min_scale);
    }
  }

  template <class Trainer>
  void on_fit_begin(Trainer& trainer, FitInfo const&) {
    read(trainer.callback_state(state_name));
  }

  template <class Trainer>
  void on_epoch_end(Trainer& trainer, EpochInfo const& info) {
    double const value =
        detail::monitored(info, options_.monitor, "loom::callbacks::reduce_lr_on_plateau");
    watch_.update(value, /*count=*/cooldown_left_ == 0);
    if (cooldown_left_ > 0) {
      --cooldown_left_;
    }
    if (watch_.waited >= options_.patience) {
      double const scale = std::max(trainer.lr_scale() * options_.factor, options_.min_scale);
      if (scale < trainer.lr_scale()) {
        trainer.set_lr_scale(scale);
        if (options_.verbose && trainer.is_root()) {
          std::cout << "epoch " << info.epoch + 1 << ": " << detail::monitor_name(options_.monitor)
                    << " has not improved for " << watch_.waited
                    << " epochs; the learning rate is scaled by " << scale << std::endl;
        }
      }
      watch_.waited = 0;
      cooldown_left_ = options_.cooldown;
    }
    write(trainer.callback_state(state_name));
  }

private:
  static constexpr char const* state_name = "reduce_lr_on_plateau";

  void write(std::vector<std::byte>& state) const {
    io::ByteWriter out;
    watch_.write(out);
    out.write_u64(cooldown_left_);
    state = out.take();
  }
  void read(std::vector<std::byte> const& state) {
    if (state.empty()) {
      return;
    }
    io::ByteReader in(state,
                      "the state of loom::callbacks::reduce_lr_on_plateau in the checkpoint");
    watch_.read(in);
    cooldown_left_ = static_cast<std::size_t>(in.read_u64());
    in.expect_end();
  }

  ReduceLrOnPlateauOptions options_;
  detail::Watch watch_;
  std::size_t cooldown_left_ = 0;
};

inline ReduceLrOnPlateau reduce_lr_on_plateau(ReduceLrOnPlateauOptions options = {}) {
  return ReduceLrOnPlateau(options);
}

/// \brief Evaluates the network on held-out data after each epoch; progress and the metrics
///        log then show val_loss and val_acc. The data set must outlive fit().
template <class Data>
class Validation {
public:
  explicit Validation(Data const& data)
      : data_(&data) {}

  template <class Trainer>
  void on_epoch_evaluate(Trainer& trainer, EpochInfo& info) {
    info.validation = trainer.evaluate(*data_);
  }

private:
  Data const* data_;
};

template <class Data>
Validation<Data> validation(Data const& data) {
  return Validation<Data>(data);
}

} // namespace loom::callbacks
