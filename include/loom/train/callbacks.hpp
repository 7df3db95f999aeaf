#pragma once

// Callbacks for loom::Trainer::fit(): progress on the terminal, a JSON-lines metrics log,
// checkpoints, and evaluation on held-out data after each epoch. A callback is any object
// with some of the hooks Trainer::fit() documents; these are the ones loom ships.

#include <loom/core/error.hpp>
#include <loom/loss/concepts.hpp>
#include <loom/train/info.hpp>

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
#include <sstream>
#include <string>

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
      double const eta = info.samples_per_second > 0
                             ? info.seconds / double(info.running.count) *
                                   double(info.batches - done) * double(info.loss.count)
                             : 0.0;
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
  std::chrono::steady_clock::time_point last_draw_{};
};

inline Progress progress(ProgressOptions options = {}) {
  return Progress(options);
}

/// \brief Writes one JSON object per epoch (and, with every_steps, per that many steps) to a
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
    if (!trainer.is_root() || every_steps_ == 0 || info.step % every_steps_ != 0) {
      return;
    }
    std::ostringstream line;
    line << "{\"epoch\":" << info.epoch + 1 << ",\"batch\":" << info.batch + 1
         << ",\"step\":" << info.step << ",\"loss\":" << number(info.loss.mean());
    if (info.classification) {
      line << ",\"accuracy\":" << number(info.loss.accuracy());
    }
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

  template <class Trainer>
  void on_epoch_end(Trainer& trainer, EpochInfo const& info) {
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
