// A small convolutional network on Fashion-MNIST (Debian package dataset-fashion-mnist):
// two 3×3 convolutions with ReLU and 2×2 max pooling, then two dense layers; SGD with
// Nesterov momentum and a cosine schedule, progress while it trains, test accuracy at the end.
// Exits non-zero below --min-accuracy (default 0.91).
//
//   04_fashion_mnist_cnn [--epochs 5] [--batch 32] [--lr 0.01] [--train-limit N]
//                        [--checkpoint DIR] [--log FILE] [--min-accuracy 0.91]
//
// With --checkpoint, a run that is stopped resumes from DIR/last.ckpt when started again.

#include <loom/loom.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>

using Net = loom::Sequential<loom::Input<1, 28, 28>,                                    //
                             loom::Conv2D<32, 3, 1, 1>, loom::ReLU, loom::MaxPool2D<2>, // 32×14×14
                             loom::Conv2D<64, 3, 1, 1>, loom::ReLU, loom::MaxPool2D<2>, // 64×7×7
                             loom::Flatten, loom::Dense<128>, loom::ReLU, loom::Dense<10>>;

int main(int argc, char* argv[]) {
  loom::Environment env(argc, argv);
  std::size_t epochs = 5, batch = 32, train_limit = 0;
  double lr = 0.01, min_accuracy = 0.91;
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
      std::fprintf(stderr, "04_fashion_mnist_cnn: unknown option %s\n", key.c_str());
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
              .seed = 42,
              .eval_batch = 500});
    std::cout << trainer.model().summary();
    std::filesystem::path const last = std::filesystem::path(checkpoint_dir) / "last.ckpt";
    if (!checkpoint_dir.empty() && std::filesystem::exists(last)) {
      trainer.load(last);
    }
    // An empty directory or file name switches that callback off.
    trainer.fit(train, loom::epochs(epochs), loom::callbacks::validation(test),
                loom::callbacks::progress(), loom::callbacks::checkpoint(checkpoint_dir),
                loom::callbacks::metrics_log(log_file));
    auto const result = trainer.evaluate(test);
    std::printf("test_loss=%.4f\n", result.mean());
    std::printf("test_accuracy=%.4f\n", result.accuracy());
    if (result.accuracy() < min_accuracy) {
      std::fprintf(stderr, "04_fashion_mnist_cnn: test accuracy %.4f is below %.4f\n",
                   result.accuracy(), min_accuracy);
      return 1;
    }
    return 0;
  });
}
