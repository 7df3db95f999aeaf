// A 784-512-512-10 ReLU network on Fashion-MNIST (Debian package dataset-fashion-mnist):
// SGD with Nesterov momentum and a cosine schedule, progress while it trains, test accuracy
// (and top-2 accuracy) at the end. Exits non-zero below --min-accuracy (default 0.88).
//
//   02_fashion_mnist_mlp [--epochs 10] [--batch 64] [--lr 0.05] [--train-limit N]
//                        [--checkpoint DIR] [--log FILE] [--min-accuracy 0.88]
//
// With --checkpoint, a run that is stopped resumes from DIR/last.ckpt when started again.

#include <loom/loom.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>

using Net = loom::Sequential<loom::Input<784>, loom::Dense<512>, loom::ReLU, loom::Dense<512>,
                             loom::ReLU, loom::Dense<10>>;

int main(int argc, char* argv[]) {
  loom::Environment env(argc, argv);
  std::size_t epochs = 10, batch = 64, train_limit = 0;
  double lr = 0.05, min_accuracy = 0.88;
  std::string checkpoint_dir, log_file;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string const key = argv[i], value = argv[i + 1];
    if (key == "--epochs")
      epochs = std::stoul(value);
    else if (key == "--batch")
      batch = std::stoul(value);
    else if (key == "--lr")
      lr = std::stod(value);
    else if (key == "--train-limit")
      train_limit = std::stoul(value);
    else if (key == "--checkpoint")
      checkpoint_dir = value;
    else if (key == "--log")
      log_file = value;
    else if (key == "--min-accuracy")
      min_accuracy = std::stod(value);
    else {
      std::fprintf(stderr, "02_fashion_mnist_mlp: unknown option %s\n", key.c_str());
      return 2;
    }
  }
  return env.run([&] {
    auto train = loom::data::fashion_mnist(env, "train");
    auto test = loom::data::fashion_mnist(env, "test");
    if (train_limit > 0 && train_limit < train.size()) {
      train = train.subset(0, train_limit);
    }
    loom::data::standardize(train, test); // statistics of the training set, applied to both

    loom::Trainer<Net, loom::SoftmaxCrossEntropy, loom::SGD> trainer(
        env, {.batch = batch,
              .lr = lr,
              .optimizer = {.momentum = 0.9, .nesterov = true},
              .schedule = loom::LrSchedule::cosine(),
              .seed = 42});
    std::cout << trainer.model().summary();
    std::filesystem::path const last = std::filesystem::path(checkpoint_dir) / "last.ckpt";
    if (!checkpoint_dir.empty() && std::filesystem::exists(last)) {
      trainer.load(last);
    }
    // An empty directory or file name switches that callback off.
    trainer.fit(train, loom::epochs(epochs), loom::callbacks::validation(test),
                loom::callbacks::progress(), loom::callbacks::checkpoint(checkpoint_dir),
                loom::callbacks::metrics_log(log_file));
    loom::metrics::TopK top2(2);
    auto const result = trainer.evaluate(test, top2);
    std::printf("test_loss=%.4f\n", result.mean());
    std::printf("test_top2_accuracy=%.4f\n", top2.accuracy());
    std::printf("test_accuracy=%.4f\n", result.accuracy());
    if (result.accuracy() < min_accuracy) {
      std::fprintf(stderr, "02_fashion_mnist_mlp: test accuracy %.4f is below %.4f\n",
                   result.accuracy(), min_accuracy);
      return 1;
    }
    return 0;
  });
}
