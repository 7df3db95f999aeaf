// Two strategies on a grid of processes: example 06's CNN on Fashion-MNIST upsampled to 224×224,
// trained with Hybrid<DataParallel<>, SpatialParallel<2>>. Each row of two consecutive ranks
// splits every image into two bands (SpatialParallel<2>); the rows are replicas that share each
// global batch (DataParallel, as many rows as the world size leaves: 4 ranks are 2 replicas ×
// 2 bands, 2 ranks 1 × 2). Batch norm normalises each replica's rows alone, so the serial run
// that equals this training accumulates each global batch in one micro-batch per replica
// (batch / replicas rows each, TrainerOptions::accumulate = replicas): with --check-serial the
// example trains that run of the same network and seed too, on every rank, and fails when the
// first epoch's training losses differ by more than --loss-tolerance (relative) or the test
// accuracies by more than --tolerance. One step equals the serial step to float rounding; over
// many steps the rounding differences grow as they do between any two orders of summation
// (see example 06: short runs agree loosely).
//
//   mpiexec -n 4 07_hybrid_parallel [--epochs 3] [--batch 16] [--lr 0.02]
//                                   [--train-limit 10000] [--test-limit 10000]
//                                   [--check-serial 0|1] [--tolerance 0.003]
//                                   [--loss-tolerance 0.02]
//                                   [--min-accuracy 0.8]
//   07_hybrid_parallel --serial 1 [--replicas 2] ...   the serial run of a grid with that
//                                                      many replicas, on one process
//
// Prints the grid, the seconds per step and the peak memory of each process, and
// test_accuracy=<value> on the last line. Where ranks share cores, give each one BLAS thread
// (OPENBLAS_NUM_THREADS=1, as the tests do): it is faster, and OpenBLAS's thread count changes
// its rounding, so runs with different counts are not comparable.

#include <loom/loom.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <span>
#include <string>
#include <vector>

#include "network.hpp"

#include <sys/resource.h>

namespace {

using example07::Net;
using Strategy = loom::Hybrid<loom::DataParallel<>, loom::SpatialParallel<2>>;
constexpr int bands = 2; // the ranks of a row: SpatialParallel<2>

struct Settings {
  std::size_t epochs = 3, batch = 16, train_limit = 10000, test_limit = 10000, replicas = 2;
  double lr = 0.02, min_accuracy = 0.8, tolerance = 0.003, loss_tolerance = 0.02;
  bool serial = false, check_serial = false;
};

double peak_memory_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) / 1024.0; // kilobytes on Linux
}

struct Outcome {
  double first_loss = 0;       // the mean training loss of the first epoch
  double accuracy = 0;         // on the test set, at the end
  double seconds_per_step = 0; // per optimizer step
  double peak_mib = 0;         // this process's peak memory after training
};

// Records each epoch's mean training loss.
struct LossLog {
  std::vector<double>* losses;
  template <class Trainer>
  void on_epoch_end(Trainer&, loom::EpochInfo const& info) {
    losses->push_back(info.train.mean());
  }
};

// Trains Net with S on global batches of `micro_batch` × `accumulate` rows; rank 0 prints
// `title`, the model and the progress.
template <class S, class... Env>
Outcome train(Settings const& s, std::string const& title, std::size_t micro_batch,
              std::size_t accumulate, auto const& train_data, auto const& test_data, int rank,
              Env&... env) {
  loom::TrainerOptions<loom::SGD, S> options{.batch = micro_batch,
                                             .lr = s.lr,
                                             .optimizer = {.momentum = 0.9},
                                             .schedule = loom::LrSchedule::cosine(),
                                             .seed = 42,
                                             .accumulate = accumulate,
                                             .eval_batch = 100};
  loom::Trainer<Net, loom::SoftmaxCrossEntropy, loom::SGD, S> trainer(env..., options);
  if (rank == 0) {
    std::cout << title << "\n" << trainer.model().summary();
  }
  std::ostream quiet(nullptr); // a serial run on every rank: only rank 0 shows its progress
  auto const start = std::chrono::steady_clock::now();
  std::vector<double> losses;
  trainer.fit(train_data, loom::epochs(s.epochs),
              loom::callbacks::progress({.stream = rank == 0 ? &std::cout : &quiet}),
              LossLog{&losses});
  double const seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double const accuracy = trainer.evaluate(test_data).accuracy();
  return {losses.front(), accuracy, seconds / double(trainer.state().step), peak_memory_mib()};
}

// The serial run that equals the grid's training: one micro-batch per replica.
Outcome train_serial(Settings const& s, std::size_t replicas, auto const& train_data,
                     auto const& test_data, int rank) {
  std::string const title = "serial: SingleProcess, batches of " + std::to_string(s.batch) +
                            " accumulated in " + std::to_string(replicas) +
                            (replicas == 1 ? " micro-batch" : " micro-batches") +
                            " (one per replica)";
  return train<loom::SingleProcess>(s, title, s.batch / replicas, replicas, train_data, test_data,
                                    rank);
}

} // namespace

int main(int argc, char* argv[]) {
  loom::Environment env(argc, argv);
  Settings s;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string const key = argv[i], value = argv[i + 1];
    if (key == "--epochs")
      s.epochs = std::stoul(value);
    else if (key == "--batch")
      s.batch = std::stoul(value);
    else if (key == "--lr")
      s.lr = std::stod(value);
    else if (key == "--train-limit")
      s.train_limit = std::stoul(value);
    else if (key == "--test-limit")
      s.test_limit = std::stoul(value);
    else if (key == "--serial")
      s.serial = value != "0";
    else if (key == "--replicas")
      s.replicas = std::stoul(value);
    else if (key == "--check-serial")
      s.check_serial = value != "0";
    else if (key == "--loss-tolerance")
      s.loss_tolerance = std::stod(value);
    else if (key == "--tolerance")
      s.tolerance = std::stod(value);
    else if (key == "--min-accuracy")
      s.min_accuracy = std::stod(value);
    else {
      std::fprintf(stderr, "07_hybrid_parallel: unknown option %s\n", key.c_str());
      return 2;
    }
  }
  // The grid's rows: what the world size leaves after the bands (Hybrid checks that it fits).
  std::size_t const replicas = s.serial ? s.replicas : std::size_t(std::max(1, env.size() / bands));
  if ((s.serial || s.check_serial) && (replicas == 0 || s.batch % replicas != 0)) {
    if (env.rank() == 0) {
      std::fprintf(stderr,
                   "07_hybrid_parallel: the serial run splits each batch of %zu into one "
                   "micro-batch per replica; choose a --batch that %zu replicas divide\n",
                   s.batch, replicas);
    }
    return 2;
  }
  return env.run([&] {
    auto train_images = loom::data::fashion_mnist(env, "train");
    auto test_images = loom::data::fashion_mnist(env, "test");
    train_images = train_images.subset(0, std::min(s.train_limit, train_images.size()));
    test_images = test_images.subset(0, std::min(s.test_limit, test_images.size()));
    loom::data::standardize(train_images, test_images);
    // 28×28 → 224×224 as each batch is gathered: nothing of the large images is stored.
    auto const train_data = loom::data::resized(train_images, {1, 28, 28}, {224, 224});
    auto const test_data = loom::data::resized(test_images, {1, 28, 28}, {224, 224});
    int const rank = env.rank();

    if (s.serial) {
      Outcome const serial = train_serial(s, replicas, train_data, test_data, rank);
      if (rank == 0) {
        std::printf("serial: %.3f s per step, peak memory %.0f MiB\ntest_accuracy=%.4f\n",
                    serial.seconds_per_step, serial.peak_mib, serial.accuracy);
      }
      return serial.accuracy < s.min_accuracy ? 1 : 0;
    }

    std::string const grid = "grid: " + std::to_string(replicas) +
                             (replicas == 1 ? " replica x " : " replicas x ") +
                             std::to_string(bands) + " bands (" + Strategy::name() + ")";
    Outcome const run = train<Strategy>(s, grid, s.batch, 1, train_data, test_data, rank, env);
    // Each process's figures, for rank 0 to print in order.
    std::vector<double> figures(2 * std::size_t(env.size()), 0.0);
    figures[2 * std::size_t(rank)] = run.seconds_per_step;
    figures[2 * std::size_t(rank) + 1] = run.peak_mib;
    loom::comm::Mpi(env).all_reduce(std::span<double>(figures), loom::comm::ReduceOp::sum);
    if (rank == 0) {
      for (int r = 0; r < env.size(); ++r) {
        std::printf("rank %d (replica %d, band %d): %.3f s per step, peak memory %.0f MiB\n", r,
                    r / bands, r % bands, figures[2 * std::size_t(r)],
                    figures[2 * std::size_t(r) + 1]);
      }
    }

    int status = 0;
    if (s.check_serial) {
      // The same network and seed on one process (every rank computes it: a check, not a
      // speed-up).
      Outcome const serial = train_serial(s, replicas, train_data, test_data, rank);
      if (rank == 0) {
        std::printf("serial: %.3f s per step\nserial_test_accuracy=%.4f\n"
                    "first_epoch_loss=%.4f serial_first_epoch_loss=%.4f\n",
                    serial.seconds_per_step, serial.accuracy, run.first_loss, serial.first_loss);
      }
      if (std::abs(serial.first_loss - run.first_loss) > s.loss_tolerance * serial.first_loss) {
        if (rank == 0) {
          std::fprintf(stderr,
                       "07_hybrid_parallel: the first epoch's training loss is %.4f under the "
                       "grid and %.4f serially: more than %.0f %% apart\n",
                       run.first_loss, serial.first_loss, 100 * s.loss_tolerance);
        }
        status = 1;
      } else if (std::abs(serial.accuracy - run.accuracy) > s.tolerance) {
        if (rank == 0) {
          std::fprintf(stderr,
                       "07_hybrid_parallel: the grid reached %.4f, the serial run %.4f: more "
                       "than %.1f percentage points apart\n",
                       run.accuracy, serial.accuracy, 100 * s.tolerance);
        }
        status = 1;
      }
    }
    if (run.accuracy < s.min_accuracy) {
      if (rank == 0) {
        std::fprintf(stderr, "07_hybrid_parallel: test accuracy %.4f is below %.4f\n", run.accuracy,
                     s.min_accuracy);
      }
      status = 1;
    }
    if (rank == 0) {
      std::printf("test_accuracy=%.4f\n", run.accuracy);
    }
    return status;
  });
}
