// Spatial parallelism for images too large for one process: Fashion-MNIST upsampled to
// 224×224 on the fly (from the same IDX files), a CNN of four convolutions with batch norm,
// each image's rows split into two bands over two processes with SpatialParallel<2>. One step
// equals the serial step to float rounding; over many steps the rounding differences grow as
// they do between any two orders of summation. With --check-serial the example trains the
// serial run of the same network and seed too, and fails when the first epoch's training
// losses differ by more than --loss-tolerance (relative) or the test accuracies by more than
// --tolerance. (Two serial runs whose only difference is OpenBLAS's kernel, Haswell or
// SkylakeX, differ by 0.6 % and 1.8 points after 16 steps: short runs agree loosely.)
//
//   mpiexec -n 2 06_spatial_parallel_cnn [--epochs 3] [--batch 16] [--lr 0.02]
//                                        [--train-limit 10000] [--test-limit 10000]
//                                        [--check-serial 0|1] [--tolerance 0.003]
//                                        [--loss-tolerance 0.02]
//                                        [--min-accuracy 0.8]
//   06_spatial_parallel_cnn --serial 1 ...   the same network on one process
//
// Prints test_accuracy=<value>, the seconds per step and the peak memory of each process.

#include <loom/loom.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "network.hpp"

#include <sys/resource.h>

namespace {

using example06::Net;

struct Settings {
  std::size_t epochs = 3, batch = 16, train_limit = 10000, test_limit = 10000;
  double lr = 0.02, min_accuracy = 0.8, tolerance = 0.003, loss_tolerance = 0.02;
  bool serial = false, check_serial = false;
};

double peak_memory_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) / 1024.0; // kilobytes on Linux
}

struct Outcome {
  double first_loss = 0; // the mean training loss of the first epoch
  double accuracy = 0;   // on the test set, at the end
};

// Records each epoch's mean training loss.
struct LossLog {
  std::vector<double>* losses;
  template <class Trainer>
  void on_epoch_end(Trainer&, loom::EpochInfo const& info) {
    losses->push_back(info.train.mean());
  }
};

template <class Strategy, class... Env>
Outcome train(Settings const& s, auto const& train_data, auto const& test_data, int rank,
              Env&... env) {
  loom::TrainerOptions<loom::SGD, Strategy> options{.batch = s.batch,
                                                    .lr = s.lr,
                                                    .optimizer = {.momentum = 0.9},
                                                    .schedule = loom::LrSchedule::cosine(),
                                                    .seed = 42,
                                                    .eval_batch = 100};
  loom::Trainer<Net, loom::SoftmaxCrossEntropy, loom::SGD, Strategy> trainer(env..., options);
  if (rank == 0) {
    std::cout << Strategy::name() << "\n" << trainer.model().summary();
  }
  auto const start = std::chrono::steady_clock::now();
  std::vector<double> losses;
  trainer.fit(train_data, loom::epochs(s.epochs), loom::callbacks::progress(), LossLog{&losses});
  double const seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double const accuracy = trainer.evaluate(test_data).accuracy();
  std::printf("rank %d: %s: %.3f s per step, peak memory %.0f MiB\n", rank,
              Strategy::name().c_str(), seconds / double(trainer.state().step), peak_memory_mib());
  return {losses.front(), accuracy};
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
    else if (key == "--check-serial")
      s.check_serial = value != "0";
    else if (key == "--loss-tolerance")
      s.loss_tolerance = std::stod(value);
    else if (key == "--tolerance")
      s.tolerance = std::stod(value);
    else if (key == "--min-accuracy")
      s.min_accuracy = std::stod(value);
    else {
      std::fprintf(stderr, "06_spatial_parallel_cnn: unknown option %s\n", key.c_str());
      return 2;
    }
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

    Outcome const run =
        s.serial ? train<loom::SingleProcess>(s, train_data, test_data, 0)
                 : train<loom::SpatialParallel<2>>(s, train_data, test_data, env.rank(), env);
    double const accuracy = run.accuracy;
    if (env.rank() == 0) {
      std::printf("test_accuracy=%.4f\n", accuracy);
    }
    if (s.check_serial && !s.serial) {
      // The same network and seed on one process (every rank computes it: a check, not a
      // speed-up).
      Outcome const serial = train<loom::SingleProcess>(s, train_data, test_data, env.rank());
      if (env.rank() == 0) {
        std::printf(
            "serial_test_accuracy=%.4f\nfirst_epoch_loss=%.4f serial_first_epoch_loss=%.4f\n",
            serial.accuracy, run.first_loss, serial.first_loss);
      }
      if (std::abs(serial.first_loss - run.first_loss) > s.loss_tolerance * serial.first_loss) {
        std::fprintf(stderr,
                     "06_spatial_parallel_cnn: the first epoch's training loss is %.4f under "
                     "SpatialParallel<2> and %.4f serially: more than %.0f %% apart\n",
                     run.first_loss, serial.first_loss, 100 * s.loss_tolerance);
        return 1;
      }
      if (std::abs(serial.accuracy - accuracy) > s.tolerance) {
        std::fprintf(stderr,
                     "06_spatial_parallel_cnn: SpatialParallel<2> reached %.4f, the serial run "
                     "%.4f: more than %.1f percentage points apart\n",
                     accuracy, serial.accuracy, 100 * s.tolerance);
        return 1;
      }
    }
    if (accuracy < s.min_accuracy) {
      std::fprintf(stderr, "06_spatial_parallel_cnn: test accuracy %.4f is below %.4f\n", accuracy,
                   s.min_accuracy);
      return 1;
    }
    return 0;
  });
}
