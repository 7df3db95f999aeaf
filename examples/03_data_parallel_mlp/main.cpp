// The Fashion-MNIST MLP of example 02, trained data-parallel: every rank holds the model, takes
// its slice of each global batch of 64, and the gradients are all-reduced in buckets while
// backward runs. The result is the training of example 02 (to float rounding), on any number of
// ranks. Only rank 0 prints; every rank exits non-zero below --min-accuracy (default 0.88).
//
//   mpiexec -n 2 03_data_parallel_mlp [--epochs 10] [--batch 64] [--lr 0.05]
//       [--comm mpi|ring|halving] [--bucket-kib 1024] [--overlap 1] [--train-limit N]
//       [--checkpoint DIR] [--log FILE] [--min-accuracy 0.88]

#include <loom/loom.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

using Net = loom::Sequential<loom::Input<784>, loom::Dense<512>, loom::ReLU, loom::Dense<512>,
                             loom::ReLU, loom::Dense<10>>;

struct Options {
  std::size_t epochs = 10, batch = 64, train_limit = 0, bucket_kib = 1024;
  double lr = 0.05, min_accuracy = 0.88;
  bool overlap = true;
  std::string comm = "mpi", checkpoint, log;
};

template <class Comm>
int run(loom::Environment& env, Options const& o) {
  auto train = loom::data::fashion_mnist(env, "train");
  auto test = loom::data::fashion_mnist(env, "test");
  if (o.train_limit > 0 && o.train_limit < train.size()) {
    train = train.subset(0, o.train_limit);
  }
  loom::data::standardize(train, test);

  using Trainer =
      loom::Trainer<Net, loom::SoftmaxCrossEntropy, loom::SGD, loom::DataParallel<Comm>>;
  Trainer trainer(env, {.batch = o.batch,
                        .lr = o.lr,
                        .optimizer = {.momentum = 0.9, .nesterov = true},
                        .schedule = loom::LrSchedule::cosine(),
                        .seed = 42,
                        .parallel = {.bucket_bytes = o.bucket_kib * 1024, .overlap = o.overlap}});
  if (env.is_root()) {
    std::cout << trainer.model().summary() << loom::DataParallel<Comm>::name() << " over "
              << env.size() << " ranks, a global batch of " << o.batch << "\n";
  }
  std::filesystem::path const last = std::filesystem::path(o.checkpoint) / "last.ckpt";
  if (!o.checkpoint.empty() && std::filesystem::exists(last)) {
    trainer.load(last);
  }
  trainer.fit(train, loom::epochs(o.epochs), loom::callbacks::validation(test),
              loom::callbacks::progress(), loom::callbacks::checkpoint(o.checkpoint),
              loom::callbacks::metrics_log(o.log));
  auto const result = trainer.evaluate(test); // the same on every rank
  if (env.is_root()) {
    std::printf("test_loss=%.4f\n", result.mean());
    std::printf("test_accuracy=%.4f\n", result.accuracy());
    if (result.accuracy() < o.min_accuracy) {
      std::fprintf(stderr, "03_data_parallel_mlp: test accuracy %.4f is below %.4f\n",
                   result.accuracy(), o.min_accuracy);
    }
  }
  return result.accuracy() >= o.min_accuracy ? 0 : 1;
}

int main(int argc, char* argv[]) {
  loom::Environment env(argc, argv);
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string const key = argv[i], value = argv[i + 1];
    if (key == "--epochs")
      o.epochs = std::stoul(value);
    else if (key == "--batch")
      o.batch = std::stoul(value);
    else if (key == "--lr")
      o.lr = std::stod(value);
    else if (key == "--comm")
      o.comm = value;
    else if (key == "--bucket-kib")
      o.bucket_kib = std::stoul(value);
    else if (key == "--overlap")
      o.overlap = value != "0";
    else if (key == "--train-limit")
      o.train_limit = std::stoul(value);
    else if (key == "--checkpoint")
      o.checkpoint = value;
    else if (key == "--log")
      o.log = value;
    else if (key == "--min-accuracy")
      o.min_accuracy = std::stod(value);
    else {
      std::fprintf(stderr, "03_data_parallel_mlp: unknown option %s\n", key.c_str());
      return 2;
    }
  }
  return env.run([&] {
    if (o.comm == "ring") {
      return run<loom::comm::Ring>(env, o);
    } else if (o.comm == "halving") {
      return run<loom::comm::RecursiveHalving>(env, o);
    } else if (o.comm == "mpi") {
      return run<loom::comm::Mpi>(env, o);
    }
    std::fprintf(stderr, "03_data_parallel_mlp: --comm is mpi, ring or halving, not %s\n",
                 o.comm.c_str());
    return 2;
  });
}
