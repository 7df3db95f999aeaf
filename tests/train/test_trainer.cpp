#include <loom/data/in_memory.hpp>
#include <loom/layers/activations.hpp>
#include <loom/layers/dense.hpp>
#include <loom/layers/dropout.hpp>
#include <loom/loss/mse.hpp>
#include <loom/loss/softmax_cross_entropy.hpp>
#include <loom/optim/adam.hpp>
#include <loom/optim/sgd.hpp>
#include <loom/train/callbacks.hpp>
#include <loom/train/trainer.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "dataset_copy.hpp"
#include "loom_test.hpp"

namespace {

using namespace loom;
using ExecutionSpace = test::ExecutionSpace;
using Net = Sequential<Input<12>, Dense<16>, ReLU, Dropout<0.25>, Dense<8>, Tanh, Dense<4>>;
using Labels = data::InMemoryDataset<std::int32_t>;

// 4 classes, each a noisy prototype: learnable in a few epochs.
Labels make_data(std::size_t n, std::uint64_t seed = 3) {
  CounterRng rng(seed, 1);
  std::vector<float> x(n * 12);
  std::vector<std::int32_t> y(n);
  for (std::size_t i = 0; i < n; ++i) {
    y[i] = static_cast<std::int32_t>(rng.below(4, i));
    for (std::size_t j = 0; j < 12; ++j) {
      float const prototype = (j % 4 == std::size_t(y[i])) ? 1.5f : -0.5f;
      x[i * 12 + j] = prototype + 0.7f * rng.normal<float>(1000 + i * 12 + j);
    }
  }
  return Labels(std::move(x), 12, std::move(y), 1, "synthetic");
}

std::filesystem::path temp_dir(std::string const& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("loom_test_trainer_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

template <class View>
std::vector<float> host(View const& v) {
  auto h = test::host_copy(v);
  return {h.data(), h.data() + h.size()};
}

std::string read_file(std::filesystem::path const& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

template <class Optimizer>
using T = Trainer<Net, SoftmaxCrossEntropy, Optimizer, SingleProcess, ExecutionSpace>;

// Stops fit() like a killed job: after `epochs` epochs, or after `steps` steps.
struct Interrupt {
  std::uint64_t epochs = 0;
  std::uint64_t steps = 0;
  template <class Trainer>
  void on_batch_end(Trainer& trainer, BatchInfo const& info) {
    if (steps > 0 && info.step == steps) {
      trainer.stop();
    }
  }
  template <class Trainer>
  void on_epoch_end(Trainer& trainer, EpochInfo const& info) {
    if (epochs > 0 && info.epoch + 1 == epochs) {
      trainer.stop();
    }
  }
};

// Two epochs straight against: two epochs interrupted (after epoch 1, or at step 17 inside
// epoch 2, just after a checkpoint), then a fresh trainer loaded from the checkpoint.
template <class Optimizer>
void check_bitwise_resume(TrainerOptions<Optimizer> const& options, bool mid_epoch) {
  auto const data = make_data(203); // a short last batch
  auto const dir = temp_dir(Optimizer::name() + (mid_epoch ? "_mid" : "_epoch"));

  T<Optimizer> straight(options);
  straight.fit(data, epochs(2));

  {
    T<Optimizer> first(options);
    if (mid_epoch) {
      first.fit(data, epochs(2), callbacks::checkpoint(dir, {.every_epochs = 0, .every_steps = 17}),
                Interrupt{.steps = 17});
    } else {
      first.fit(data, epochs(2), callbacks::checkpoint(dir), Interrupt{.epochs = 1});
    }
    EXPECT_EQ(first.state().epoch, 1u);
  }
  T<Optimizer> resumed(options);
  resumed.load(dir / "last.ckpt");
  if (mid_epoch) {
    EXPECT_EQ(resumed.state().epoch, 1u);
    EXPECT_GT(resumed.state().batch, 0u);
  } else {
    EXPECT_EQ(resumed.state().epoch, 1u);
    EXPECT_EQ(resumed.state().batch, 0u);
  }
  resumed.fit(data, epochs(2));

  EXPECT_EQ(resumed.state().step, straight.state().step);
  EXPECT_EQ(resumed.model().step(), straight.model().step());
  auto const a = host(straight.model().parameters());
  auto const b = host(resumed.model().parameters());
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t k = 0; k < a.size(); ++k) {
    ASSERT_EQ(a[k], b[k]) << "parameter " << k << " differs after resuming";
  }
  for (std::size_t s = 0; s < straight.optimizer().buffers().size(); ++s) {
    EXPECT_EQ(host(straight.optimizer().buffers()[s].view),
              host(resumed.optimizer().buffers()[s].view));
  }
  std::filesystem::remove_all(dir);
}

TEST(trainer, resumes_bit_for_bit_at_an_epoch_boundary_sgd) {
  check_bitwise_resume<SGD>({.batch = 16,
                             .lr = 0.05,
                             .optimizer = {.momentum = 0.9, .nesterov = true},
                             .schedule = LrSchedule::cosine().with_warmup(3),
                             .clip_norm = 1.0,
                             .seed = 11},
                            false);
}

TEST(trainer, resumes_bit_for_bit_inside_an_epoch_adam) {
  check_bitwise_resume<Adam>({.batch = 16, .lr = 0.01, .seed = 5}, true);
}

TEST(trainer, one_epoch_then_resume_equals_two_epochs_with_a_fixed_schedule) {
  // With a schedule that does not depend on the length of the fit, fit(1 epoch) + save +
  // load + fit(2 epochs) is exactly fit(2 epochs).
  TrainerOptions<SGD> const options{.batch = 16,
                                    .lr = 0.05,
                                    .optimizer = {.momentum = 0.9},
                                    .schedule = LrSchedule::step(7, 0.5),
                                    .seed = 4};
  auto const data = make_data(100);
  auto const dir = temp_dir("fixed");
  T<SGD> straight(options);
  straight.fit(data, epochs(2));
  T<SGD> first(options);
  first.fit(data, epochs(1), callbacks::checkpoint(dir));
  T<SGD> resumed(options);
  resumed.load(dir / "last.ckpt");
  resumed.fit(data, epochs(2));
  EXPECT_EQ(host(resumed.model().parameters()), host(straight.model().parameters()));
  std::filesystem::remove_all(dir);
}

TEST(trainer, sgd_applied_in_backward_equals_a_separate_step) {
  // Plain SGD (with weight decay) is written into the weights by the backward pass; a clip
  // norm too large to clip forces the separate gradient + step path.
  auto const data = make_data(100);
  TrainerOptions<SGD> options{
      .batch = 16, .lr = 0.05, .optimizer = {.weight_decay = 0.01}, .seed = 3};
  T<SGD> fused(options);
  options.clip_norm = 1e30;
  T<SGD> separate(options);
  fused.fit(data, epochs(2));
  separate.fit(data, epochs(2));
  EXPECT_EQ(fused.optimizer().steps(), separate.optimizer().steps());
  auto const a = host(fused.model().parameters());
  auto const b = host(separate.model().parameters());
  for (std::size_t k = 0; k < a.size(); ++k) {
    ASSERT_NEAR(a[k], b[k], 1e-5f * (1 + std::abs(b[k]))) << k;
  }
}

TEST(trainer, learns_and_evaluates) {
  auto const train = make_data(800, 1);
  auto const test = make_data(400, 2);
  T<SGD> trainer({.batch = 32, .lr = 0.1, .optimizer = {.momentum = 0.9}, .seed = 1});
  auto const before = trainer.evaluate(test);
  trainer.fit(train, epochs(5));
  auto const after = trainer.evaluate(test);
  EXPECT_EQ(after.count, 400u);
  EXPECT_LT(after.mean(), before.mean());
  EXPECT_GT(after.accuracy(), 0.9);
}

TEST(trainer, accumulating_k_batches_equals_one_k_times_larger_batch) {
  using Plain = Sequential<Input<12>, Dense<16>, ReLU, Dense<4>>;
  auto const data = make_data(96);
  Trainer<Plain, SoftmaxCrossEntropy, SGD, SingleProcess, ExecutionSpace> big(
      {.batch = 32, .lr = 0.1, .shuffle = false});
  Trainer<Plain, SoftmaxCrossEntropy, SGD, SingleProcess, ExecutionSpace> accumulated(
      {.batch = 8, .lr = 0.1, .shuffle = false, .accumulate = 4});
  big.fit(data, epochs(2));
  accumulated.fit(data, epochs(2));
  EXPECT_EQ(big.state().step, accumulated.state().step);
  auto const a = host(big.model().parameters());
  auto const b = host(accumulated.model().parameters());
  for (std::size_t k = 0; k < a.size(); ++k) {
    ASSERT_NEAR(a[k], b[k], 1e-5f) << k;
  }
}

TEST(trainer, regression_with_mse) {
  using Linear = Sequential<Input<3>, Dense<2>>;
  std::vector<float> x, y;
  CounterRng rng(4);
  for (int i = 0; i < 64; ++i) {
    float const a = rng.normal<float>(3 * i), b = rng.normal<float>(3 * i + 1),
                c = rng.normal<float>(3 * i + 2);
    x.insert(x.end(), {a, b, c});
    y.insert(y.end(), {2 * a - b + 0.5f, c - 1});
  }
  data::InMemoryDataset<float> data(x, 3, y, 2, "linear");
  Trainer<Linear, MSE, Adam, SingleProcess, ExecutionSpace> trainer({.batch = 16, .lr = 0.05});
  trainer.fit(data, epochs(150));
  EXPECT_LT(trainer.evaluate(data).mean(), 1e-4);
}

TEST(trainer, non_finite_loss_stops_and_keeps_the_last_checkpoint) {
  auto const dir = temp_dir("nan");
  auto data = make_data(64);
  T<SGD> trainer({.batch = 16, .lr = 0.1, .seed = 2});
  trainer.fit(data, epochs(1), callbacks::checkpoint(dir));
  std::string const saved = read_file(dir / "last.ckpt");
  auto const saved_params = host(trainer.model().parameters());

  auto const bad =
      test::with_feature(make_data(64), 5 * 12 + 3, std::numeric_limits<float>::quiet_NaN());
  try {
    trainer.fit(bad, epochs(2), callbacks::checkpoint(dir));
    FAIL() << "expected loom::Error";
  } catch (loom::Error const& e) {
    std::string const what = e.what();
    EXPECT_NE(what.find("the loss became nan in epoch 2"), std::string::npos) << what;
    EXPECT_NE(what.find("the last checkpoint, '" + (dir / "last.ckpt").string() +
                        "' (epoch 1, batch 0), is intact"),
              std::string::npos)
        << what;
  }
  EXPECT_EQ(read_file(dir / "last.ckpt"), saved);
  // The step that saw the NaN changed nothing (the steps before it in this epoch did).
  T<SGD> reloaded({.batch = 16, .lr = 0.1, .seed = 2});
  reloaded.load(dir / "last.ckpt");
  EXPECT_EQ(host(reloaded.model().parameters()), saved_params);
  std::filesystem::remove_all(dir);
}

TEST(trainer, checkpoint_of_another_model_type_is_refused) {
  auto const dir = temp_dir("other");
  T<SGD> trainer({.batch = 16, .seed = 2});
  trainer.save(dir / "a.ckpt");
  using Other = Sequential<Input<12>, Dense<16>, ReLU, Dense<4>>;
  Trainer<Other, SoftmaxCrossEntropy, SGD, SingleProcess, ExecutionSpace> other({.batch = 16});
  try {
    other.load(dir / "a.ckpt");
    FAIL();
  } catch (loom::Error const& e) {
    std::string const what = e.what();
    EXPECT_NE(what.find("checkpoint '" + (dir / "a.ckpt").string() +
                        "' was written for the model "
                        "Sequential<Input<12>, Dense<16>, ReLU, Dropout<0.25>, Dense<8>, Tanh, "
                        "Dense<4>> (float), but this trainer's model is Sequential<Input<12>, "
                        "Dense<16>, ReLU, Dense<4>> (float)"),
              std::string::npos)
        << what;
  }
  T<Adam> adam({.batch = 16, .seed = 2});
  try {
    adam.load(dir / "a.ckpt");
    FAIL();
  } catch (loom::Error const& e) {
    EXPECT_NE(std::string(e.what()).find("holds the state of optimizer SGD, but this trainer uses "
                                         "Adam"),
              std::string::npos)
        << e.what();
  }
  std::filesystem::remove_all(dir);
}

TEST(trainer, corrupt_or_truncated_checkpoint_names_the_file) {
  auto const dir = temp_dir("corrupt");
  T<SGD> trainer({.batch = 16, .seed = 2});
  trainer.save(dir / "a.ckpt");
  std::string bytes = read_file(dir / "a.ckpt");
  {
    std::string flipped = bytes;
    flipped[bytes.size() / 2] ^= 0x10;
    std::ofstream(dir / "flipped.ckpt", std::ios::binary) << flipped;
    std::ofstream(dir / "short.ckpt", std::ios::binary) << bytes.substr(0, bytes.size() / 3);
  }
  T<SGD> fresh({.batch = 16, .seed = 2});
  auto const before = host(fresh.model().parameters());
  for (auto const& [name, reason] :
       {std::pair{"flipped.ckpt", "is corrupt"}, std::pair{"short.ckpt", "is truncated"},
        std::pair{"missing.ckpt", "No such file"}}) {
    try {
      fresh.load(dir / name);
      FAIL() << name;
    } catch (loom::Error const& e) {
      std::string const what = e.what();
      EXPECT_NE(what.find((dir / name).string()), std::string::npos) << what;
      EXPECT_NE(what.find(reason), std::string::npos) << what;
    }
  }
  EXPECT_EQ(host(fresh.model().parameters()), before) << "a failed load changes nothing";
  std::filesystem::remove_all(dir);
}

TEST(trainer, resuming_with_other_data_or_options_is_refused) {
  auto const dir = temp_dir("mismatch");
  auto const data = make_data(64);
  T<SGD> trainer({.batch = 16, .seed = 2});
  trainer.fit(data, epochs(1), callbacks::checkpoint(dir));
  T<SGD> other_batch({.batch = 8, .seed = 2});
  other_batch.load(dir / "last.ckpt");
  try {
    other_batch.fit(data, epochs(2));
    FAIL();
  } catch (loom::Error const& e) {
    EXPECT_NE(std::string(e.what()).find("was written training on 64 samples in batches of 16, "
                                         "but this run has 64 samples in batches of 8"),
              std::string::npos)
        << e.what();
  }
  T<SGD> other_seed({.batch = 16, .seed = 3});
  EXPECT_THROW(other_seed.load(dir / "last.ckpt"), loom::Error);
  std::filesystem::remove_all(dir);
}

TEST(trainer, data_that_does_not_fit_the_network_is_refused) {
  T<SGD> trainer({.batch = 16});
  Labels wide(std::vector<float>(13 * 4, 0.f), 13, {0, 1, 2, 3}, 1, "wide.csv");
  try {
    trainer.fit(wide, epochs(1));
    FAIL();
  } catch (loom::Error const& e) {
    EXPECT_STREQ(e.what(), "loom::Trainer::fit: 'wide.csv' has 13 features per sample but the "
                           "network's Input<12> takes 12");
  }
  Labels labels(std::vector<float>(12 * 3, 0.f), 12, {0, 7, 2}, 1, "labels.idx");
  try {
    trainer.evaluate(labels);
    FAIL();
  } catch (loom::Error const& e) {
    EXPECT_STREQ(e.what(), "loom::Trainer::evaluate: 'labels.idx' has labels up to 7 but the "
                           "network has 4 outputs; labels must lie in [0, 4)");
  }
  EXPECT_THROW((T<SGD>({.batch = 0})), loom::Error);
  EXPECT_THROW((T<SGD>({.lr = -1})), loom::Error);
}

} // namespace

namespace {

TEST(trainer, a_schedule_as_long_as_the_fit_keeps_its_length_when_resumed) {
  // LrSchedule::cosine() takes its length from the fit that starts the training. Resumed
  // with the same fit, the run is the uninterrupted one bit for bit (checked above); a fit of
  // another length would silently change the learning rates, so it stops with the reason,
  // after a load and in the same process alike.
  TrainerOptions<SGD> const options{
      .batch = 16, .lr = 0.05, .schedule = LrSchedule::cosine(), .seed = 4};
  auto const data = make_data(100); // 7 steps per epoch
  auto const dir = temp_dir("cosine");
  T<SGD> first(options);
  first.fit(data, epochs(1), callbacks::checkpoint(dir));
  EXPECT_DOUBLE_EQ(first.current_lr(), 0.0) << "the cosine reached its end after one epoch";
  std::string const expected =
      "loom::Trainer::fit: the learning-rate schedule cosine(over the training, min 0) takes its "
      "length from the fit that starts a training: fit(epochs(1)) fixed it at 7 steps (resumed "
      "from '";
  T<SGD> resumed(options);
  resumed.load(dir / "last.ckpt");
  auto const before = host(resumed.model().parameters());
  try {
    resumed.fit(data, epochs(2));
    FAIL() << "a fit of another length went on";
  } catch (loom::Error const& e) {
    std::string const what = e.what();
    EXPECT_EQ(what.find(expected), 0u) << what;
    EXPECT_NE(what.find("fit(epochs(2)) of 7 steps each would make it 14 steps"), std::string::npos)
        << what;
    EXPECT_NE(what.find("Continue with fit(epochs(1)), or give the schedule its length, e.g. "
                        "LrSchedule::cosine(14)"),
              std::string::npos)
        << what;
  }
  EXPECT_EQ(host(resumed.model().parameters()), before) << "nothing was trained";
  EXPECT_THROW(first.fit(data, epochs(2)), loom::Error);
  // With its length given, the schedule continues into a second fit.
  TrainerOptions<SGD> explicit_length = options;
  explicit_length.schedule = LrSchedule::cosine(14);
  T<SGD> straight(explicit_length);
  straight.fit(data, epochs(2));
  T<SGD> in_two(explicit_length);
  in_two.fit(data, epochs(1));
  in_two.fit(data, epochs(2));
  EXPECT_EQ(host(in_two.model().parameters()), host(straight.model().parameters()));
  std::filesystem::remove_all(dir);
}

TEST(trainer, a_checkpoint_of_another_schedule_is_refused) {
  auto const dir = temp_dir("schedule");
  T<SGD> trainer({.batch = 16, .schedule = LrSchedule::cosine(), .seed = 2});
  trainer.save(dir / "a.ckpt");
  T<SGD> other({.batch = 16, .schedule = LrSchedule::step(5, 0.5), .seed = 2});
  try {
    other.load(dir / "a.ckpt");
    FAIL();
  } catch (loom::Error const& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "' was written with the learning-rate schedule cosine(over the training, min "
                  "0); this trainer has step(every 5, gamma 0.5); resume with the same schedule"),
              std::string::npos)
        << e.what();
  }
  // The weights alone load into any trainer of the model.
  io::load(dir / "a.ckpt", other.model());
  EXPECT_EQ(host(other.model().parameters()), host(trainer.model().parameters()));
  std::filesystem::remove_all(dir);
}

// A validation set on which the loss rises once training moves away from the start: the
// labels of the validation set are shuffled, so any learning makes it worse.
Labels make_misleading_validation() {
  return test::changed(make_data(80, 9), [](std::vector<float>&, std::vector<std::int32_t>& y) {
    for (std::size_t i = 0; i < y.size(); ++i) {
      y[i] = static_cast<std::int32_t>((y[i] + 1 + std::int32_t(i % 3)) % 4);
    }
  });
}

// Records each epoch's validation loss, learning rate and parameters.
struct Record {
  std::vector<double>* losses = nullptr;
  std::vector<double>* rates = nullptr;
  std::vector<std::vector<float>>* parameters = nullptr;
  template <class Trainer>
  void on_epoch_end(Trainer& t, EpochInfo const& info) {
    if (losses) {
      losses->push_back(info.validation->mean());
    }
    if (rates) {
      rates->push_back(info.lr);
    }
    if (parameters) {
      parameters->push_back(t.model().get_parameters());
    }
  }
};

TEST(trainer, early_stopping_stops_restores_the_best_and_resumes_the_same) {
  auto const train = make_data(160);
  auto const validation = make_misleading_validation();
  TrainerOptions<SGD> const options{
      .batch = 16, .lr = 0.1, .optimizer = {.momentum = 0.9}, .seed = 6};
  auto const dir = temp_dir("early");
  auto stopping = callbacks::early_stopping({.patience = 2, .restore_best = true});
  T<SGD> trainer(options);
  std::vector<double> val_losses;
  std::vector<std::vector<float>> parameters;
  trainer.fit(train, epochs(20), callbacks::validation(validation),
              Record{.losses = &val_losses, .parameters = &parameters}, stopping,
              callbacks::checkpoint(dir, {.keep_epochs = true}));
  ASSERT_TRUE(stopping.stopped_epoch().has_value()) << "the validation loss kept improving";
  std::size_t const best =
      std::min_element(val_losses.begin(), val_losses.end()) - val_losses.begin();
  EXPECT_EQ(stopping.best_epoch(), best);
  EXPECT_EQ(*stopping.stopped_epoch(), best + 2) << "two epochs without improvement";
  EXPECT_EQ(val_losses.size(), best + 3);
  EXPECT_EQ(trainer.model().get_parameters(), parameters[best]) << "the best epoch's parameters";

  // Resumed from the checkpoint of the epoch after the best, it stops at the same epoch.
  char name[32];
  std::snprintf(name, sizeof name, "epoch-%04zu.ckpt", best + 2);
  T<SGD> resumed(options);
  resumed.load(dir / name);
  auto resumed_stopping = callbacks::early_stopping({.patience = 2, .restore_best = true});
  resumed.fit(train, epochs(20), callbacks::validation(validation), resumed_stopping);
  ASSERT_TRUE(resumed_stopping.stopped_epoch().has_value());
  EXPECT_EQ(*resumed_stopping.stopped_epoch(), *stopping.stopped_epoch());
  EXPECT_EQ(resumed.model().get_parameters(), parameters[best]);
  std::filesystem::remove_all(dir);
}

TEST(trainer, reduce_lr_on_plateau_scales_the_rate_and_checkpoints_keep_it) {
  auto const train = make_data(160);
  auto const validation = make_misleading_validation();
  auto const dir = temp_dir("plateau");
  T<SGD> trainer({.batch = 16, .lr = 0.1, .seed = 6});
  std::vector<double> rates;
  trainer.fit(train, epochs(8), callbacks::validation(validation),
              callbacks::reduce_lr_on_plateau({.factor = 0.5, .patience = 1, .verbose = false}),
              Record{.rates = &rates}, callbacks::checkpoint(dir));
  EXPECT_LT(trainer.lr_scale(), 1.0);
  EXPECT_DOUBLE_EQ(trainer.current_lr(), 0.1 * trainer.lr_scale());
  EXPECT_LT(rates.back(), rates.front());
  T<SGD> resumed({.batch = 16, .lr = 0.1, .seed = 6});
  resumed.load(dir / "last.ckpt");
  EXPECT_EQ(resumed.lr_scale(), trainer.lr_scale());
  EXPECT_THROW(callbacks::reduce_lr_on_plateau({.factor = 1.5}), loom::Error);
  std::filesystem::remove_all(dir);
}

TEST(trainer, watching_a_validation_quantity_needs_validation) {
  T<SGD> trainer({.batch = 16});
  try {
    trainer.fit(make_data(32), epochs(1), callbacks::early_stopping());
    FAIL();
  } catch (loom::Error const& e) {
    EXPECT_STREQ(e.what(), "loom::callbacks::early_stopping: it watches val_loss, but no callback "
                           "evaluated held-out data; give loom::callbacks::validation(data) "
                           "before it, or watch Monitor::loss");
  }
}

TEST(trainer, evaluates_metrics_and_predicts) {
  auto const train = make_data(400, 1);
  auto const test = make_data(200, 2);
  T<SGD> trainer({.batch = 32, .lr = 0.1, .optimizer = {.momentum = 0.9}, .seed = 1});
  trainer.fit(train, epochs(3));
  metrics::TopK top1(1), top2(2);
  metrics::ConfusionMatrix confusion(4);
  auto const result = trainer.evaluate(test, top1, top2, confusion);
  EXPECT_EQ(top1.count(), 200u);
  EXPECT_DOUBLE_EQ(top1.accuracy(), result.accuracy());
  EXPECT_DOUBLE_EQ(confusion.accuracy(), result.accuracy());
  EXPECT_GE(top2.accuracy(), top1.accuracy());
  // Evaluating again starts the metrics afresh.
  trainer.evaluate(test, top1);
  EXPECT_EQ(top1.count(), 200u);

  // predict(): the outputs of every sample, whose arg-max classes are the confusion's.
  auto const outputs = trainer.predict(test);
  ASSERT_EQ(outputs.size(), 200u * 4);
  auto const classes = T<SGD>::model_type::classes_of(outputs);
  std::size_t correct = 0;
  for (std::size_t i = 0; i < classes.size(); ++i) {
    correct += classes[i] == test.targets()[i] ? 1 : 0;
  }
  EXPECT_EQ(correct, result.correct);
  // The same from host arrays, in batches of the same size, then in batches that do not
  // divide the samples (the GEMMs then round differently).
  auto const features = test.stored_features<float>(); // no transform: what gather gives
  EXPECT_EQ(trainer.model().predict(features, 1000), outputs);
  auto const again = trainer.model().predict(features, 7);
  ASSERT_EQ(again.size(), outputs.size());
  for (std::size_t k = 0; k < again.size(); ++k) {
    EXPECT_NEAR(again[k], outputs[k], 1e-5f * (1 + std::abs(outputs[k]))) << k;
  }
  EXPECT_TRUE(trainer.model().training()) << "predict restores the mode";
}

TEST(trainer, a_regression_loss_has_no_accuracy_but_regression_metrics) {
  using Linear = Sequential<Input<3>, Dense<2>>;
  std::vector<float> x, y;
  for (int i = 0; i < 32; ++i) {
    x.insert(x.end(), {float(i % 5), float(i % 3), 1.0f});
    y.insert(y.end(), {float(i % 5) - float(i % 3), 2.0f});
  }
  data::InMemoryDataset<float> data(x, 3, y, 2, "linear");
  Trainer<Linear, MSE, Adam, SingleProcess, ExecutionSpace> trainer({.batch = 8, .lr = 0.05});
  trainer.fit(data, epochs(100));
  metrics::Regression regression;
  auto const result = trainer.evaluate(data, regression);
  EXPECT_NEAR(regression.mse(), result.mean(), 1e-6) << "MSE averages over the outputs too";
  EXPECT_GT(regression.r2(), 0.99);
  try {
    (void)result.accuracy();
    FAIL();
  } catch (loom::Error const& e) {
    EXPECT_NE(std::string(e.what()).find("the loss is a regression loss (MSE), which has no "
                                         "accuracy"),
              std::string::npos);
  }
}

} // namespace
