// A training loop written by hand, with the pieces the Trainer is made of: batches on the
// device from data::BatchLoader, the passes of loom::Model, a loss kernel and an optimizer
// state. After every epoch the model, the optimizer and the training's position are saved with
// io::save; started again with the same --checkpoint, it resumes from there (the next epochs are
// those of an uninterrupted run). At the end: a confusion matrix and top-2 accuracy on the test
// set, and predict() on the first test images. Exits non-zero below --min-accuracy (default 0.86).
//
//   05_hand_written_loop [--epochs 5] [--train-limit N] [--checkpoint FILE]
//                        [--min-accuracy 0.86]

#include <loom/loom.hpp>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

using Net = loom::Sequential<loom::Input<784>, loom::Dense<256>, loom::ReLU, loom::Dense<10>>;
using ExecutionSpace = Kokkos::DefaultExecutionSpace;

int main(int argc, char* argv[]) {
  loom::Environment env(argc, argv);
  std::uint64_t epochs = 5;
  std::size_t train_limit = 0;
  std::string checkpoint;
  double min_accuracy = 0.86;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string const key = argv[i], value = argv[i + 1];
    if (key == "--epochs")
      epochs = std::stoull(value);
    else if (key == "--train-limit")
      train_limit = std::stoul(value);
    else if (key == "--checkpoint")
      checkpoint = value;
    else if (key == "--min-accuracy")
      min_accuracy = std::stod(value);
    else {
      std::fprintf(stderr, "05_hand_written_loop: unknown option %s\n", key.c_str());
      return 2;
    }
  }
  return env.run([&] {
    auto train = loom::data::fashion_mnist(env, "train");
    auto test = loom::data::fashion_mnist(env, "test");
    if (train_limit > 0 && train_limit < train.size()) {
      train = train.subset(0, train_limit); // a view: nothing is copied
    }
    loom::data::standardize(train, test);

    loom::Model<Net> model(/*seed=*/7);
    loom::Adam::state<float, ExecutionSpace> adam(model.num_parameters, {});
    auto const space = model.space();
    // Where the training stands, kept in the checkpoint with the model and the optimizer.
    loom::io::TrainingRecord record{.seed = 1, .batch = 64, .samples = train.size()};
    if (!checkpoint.empty() && std::filesystem::exists(checkpoint)) {
      // Parameters, dropout stream, Adam's moments, and the record.
      loom::io::load(checkpoint, model, adam, record);
      std::printf("resuming after epoch %llu\n",
                  static_cast<unsigned long long>(record.position.epoch));
    }

    loom::data::BatchLoader loader(train, {.batch_size = record.batch, .seed = record.seed});
    for (std::uint64_t epoch = record.position.epoch; epoch < epochs; ++epoch) {
      loader.set_epoch(epoch); // the order of an epoch depends only on (seed, epoch)
      loom::LossValue total;
      model.train();
      for (auto const& batch : loader) {
        auto const logits = model.forward(batch.x);
        total += loom::SoftmaxCrossEntropy::compute(space, logits, batch.labels(),
                                                    model.output_gradient(), 1.0 / batch.rows());
        model.backward();
        adam.step(space, model.parameters(), model.gradients(), /*lr=*/1e-3);
      }
      std::printf("epoch %llu/%llu  loss %.4f  acc %.4f\n",
                  static_cast<unsigned long long>(epoch + 1),
                  static_cast<unsigned long long>(epochs), total.mean(), total.accuracy());
      if (!checkpoint.empty()) {
        record.position = {.epoch = epoch + 1, .batch = 0, .step = adam.steps()};
        loom::io::save(checkpoint, model, adam, record);
      }
    }

    // Metrics over the test set, batch by batch, in evaluation mode.
    loom::metrics::ConfusionMatrix confusion(10);
    loom::metrics::TopK top2(2);
    loom::data::BatchLoader test_loader(test, {.batch_size = 1000, .shuffle = false});
    model.eval();
    for (auto const& batch : test_loader) {
      auto const logits = model.forward(batch.x);
      confusion.update(space, logits, batch.labels());
      top2.update(space, logits, batch.labels());
    }
    auto const names = loom::data::fashion_mnist_class_names();
    std::cout << confusion.to_string(names);
    std::printf("top2_accuracy=%.4f\n", top2.accuracy());

    // Inference from host data: the classes of the first five test images.
    auto const outputs = model.predict(test.subset(0, 5));
    auto const classes = loom::Model<Net>::classes_of(outputs);
    for (std::size_t i = 0; i < classes.size(); ++i) {
      std::printf("test image %zu: %s (label %s)\n", i, std::string(names[classes[i]]).c_str(),
                  std::string(names[test.targets()[i]]).c_str());
    }
    std::printf("test_accuracy=%.4f\n", confusion.accuracy());
    if (confusion.accuracy() < min_accuracy) {
      std::fprintf(stderr, "05_hand_written_loop: test accuracy %.4f is below %.4f\n",
                   confusion.accuracy(), min_accuracy);
      return 1;
    }
    return 0;
  });
}
