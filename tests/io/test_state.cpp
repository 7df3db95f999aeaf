#include <loom/io/state.hpp>
#include <loom/io/training.hpp>
#include <loom/layers/activations.hpp>
#include <loom/layers/batch_norm.hpp>
#include <loom/layers/conv2d.hpp>
#include <loom/layers/dense.hpp>
#include <loom/layers/dropout.hpp>
#include <loom/layers/flatten.hpp>
#include <loom/loss/softmax_cross_entropy.hpp>
#include <loom/model/model.hpp>
#include <loom/optim/adam.hpp>
#include <loom/optim/sgd.hpp>
#include <loom/train/trainer.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "loom_test.hpp"

namespace {

using namespace loom;
using ExecutionSpace = test::ExecutionSpace;
using Memory = test::MemorySpace;
using Net = Sequential<Input<2, 4, 4>, Conv2D<3, 3, 1, 1>, BatchNorm2D<>, ReLU, Dropout<0.25>,
                       Flatten, Dense<4>>;
using M = Model<Net, ExecutionSpace, float>;
using AdamState = Adam::state<float, ExecutionSpace>;

std::filesystem::path temp_dir(std::string const& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("loom_test_state_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

Kokkos::View<float**, Kokkos::LayoutRight, Memory> inputs(std::uint64_t seed) {
  Kokkos::View<float**, Kokkos::LayoutRight, Memory> x("x", 8, 32);
  auto h = Kokkos::create_mirror_view(x);
  CounterRng rng(seed);
  for (std::size_t k = 0; k < h.size(); ++k) {
    h.data()[k] = rng.normal<float>(k);
  }
  Kokkos::deep_copy(x, h);
  return x;
}

// One hand-written Adam step on a fixed batch with its own labels.
void step(M& model, AdamState& adam, std::uint64_t seed) {
  auto const x = inputs(seed);
  Kokkos::View<std::int32_t*, Memory> labels("labels", 8);
  auto h = Kokkos::create_mirror_view(labels);
  for (int i = 0; i < 8; ++i) {
    h(i) = static_cast<std::int32_t>((i + seed) % 4);
  }
  Kokkos::deep_copy(labels, h);
  auto const logits = model.forward(x);
  SoftmaxCrossEntropy::compute(model.space(), logits, labels, model.output_gradient(), 1.0 / 8);
  model.backward();
  adam.step(model.space(), model.parameters(), model.gradients(), 0.01);
}

TEST(state, a_hand_written_loop_resumes_bit_for_bit) {
  auto const dir = temp_dir("loop");
  M straight(7);
  AdamState straight_adam(M::num_parameters, {});
  for (std::uint64_t s = 0; s < 6; ++s) {
    step(straight, straight_adam, s);
  }
  {
    M first(7);
    AdamState adam(M::num_parameters, {});
    for (std::uint64_t s = 0; s < 3; ++s) {
      step(first, adam, s);
    }
    io::save(dir / "loop.ckpt", first, adam);
  }
  M resumed(99); // other parameters and dropout seed, all replaced
  AdamState adam(M::num_parameters, {});
  io::load(dir / "loop.ckpt", resumed, adam);
  EXPECT_EQ(adam.steps(), 3u);
  for (std::uint64_t s = 3; s < 6; ++s) {
    step(resumed, adam, s);
  }
  EXPECT_EQ(resumed.get_parameters(), straight.get_parameters());
  EXPECT_EQ(resumed.get_states(), straight.get_states()) << "batch norm's running statistics";
  EXPECT_EQ(resumed.step(), straight.step());
  std::filesystem::remove_all(dir);
}

TEST(state, a_training_record_travels_between_a_hand_written_loop_and_a_trainer) {
  auto const dir = temp_dir("record");
  M model(7);
  AdamState adam(M::num_parameters, {});
  step(model, adam, 0);
  io::TrainingRecord record{.position = {.epoch = 2, .batch = 3, .step = 1},
                            .seed = 5,
                            .batch = 16,
                            .shuffle = false,
                            .samples = 100,
                            .schedule = LrSchedule::step(4, 0.5),
                            .schedule_length = 40,
                            .lr_scale = 0.25,
                            .callbacks = {{"early_stopping", {std::byte{1}, std::byte{2}}}}};
  io::save(dir / "loop.ckpt", model, adam, record);
  M other(8);
  AdamState other_adam(M::num_parameters, {});
  io::TrainingRecord read;
  io::load(dir / "loop.ckpt", other, other_adam, read);
  EXPECT_EQ(other.get_parameters(), model.get_parameters());
  EXPECT_EQ(read.position.epoch, 2u);
  EXPECT_EQ(read.position.batch, 3u);
  EXPECT_EQ(read.position.step, 1u);
  EXPECT_EQ(read.seed, 5u);
  EXPECT_EQ(read.batch, 16u);
  EXPECT_FALSE(read.shuffle);
  EXPECT_EQ(read.samples, 100u);
  ASSERT_TRUE(read.schedule.has_value());
  EXPECT_EQ(*read.schedule, LrSchedule::step(4, 0.5));
  EXPECT_EQ(read.schedule_length, std::optional<std::uint64_t>(40));
  EXPECT_EQ(read.lr_scale, 0.25);
  EXPECT_EQ(read.callbacks, record.callbacks);

  // A Trainer with the same options resumes the loop's file where the loop stood ...
  using T = Trainer<Net, SoftmaxCrossEntropy, Adam, SingleProcess, ExecutionSpace>;
  T trainer({.batch = 16, .schedule = LrSchedule::step(4, 0.5), .seed = 5, .shuffle = false});
  trainer.load(dir / "loop.ckpt");
  EXPECT_EQ(trainer.state().epoch, 2u);
  EXPECT_EQ(trainer.state().step, 1u);
  EXPECT_EQ(trainer.lr_scale(), 0.25);
  EXPECT_EQ(trainer.callback_state("early_stopping"), record.callbacks["early_stopping"]);
  EXPECT_EQ(trainer.model().get_parameters(), model.get_parameters());
  // ... and the loop reads the Trainer's.
  trainer.save(dir / "trainer.ckpt");
  io::load(dir / "trainer.ckpt", other, other_adam, read);
  EXPECT_EQ(read.position.epoch, 2u);
  EXPECT_EQ(read.lr_scale, 0.25);

  // A model file without a record is refused, and nothing changes.
  io::save(dir / "model.ckpt", model, adam);
  M untouched(9);
  auto const before = untouched.get_parameters();
  try {
    io::load(dir / "model.ckpt", untouched, other_adam, read);
    FAIL();
  } catch (loom::Error const& e) {
    EXPECT_NE(std::string(e.what()).find("has no section 'trainer'"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(untouched.get_parameters(), before);
  std::filesystem::remove_all(dir);
}

TEST(state, weights_alone_from_a_model_file_or_a_trainer_checkpoint) {
  auto const dir = temp_dir("weights");
  M model(3);
  io::save(dir / "model.ckpt", model);
  M other(4);
  io::load(dir / "model.ckpt", other);
  EXPECT_EQ(other.get_parameters(), model.get_parameters());
  EXPECT_EQ(other.seed(), 3u);

  Trainer<Net, SoftmaxCrossEntropy, SGD, SingleProcess, ExecutionSpace> trainer({.seed = 5});
  trainer.save(dir / "trainer.ckpt");
  io::load(dir / "trainer.ckpt", other);
  EXPECT_EQ(other.get_parameters(), trainer.model().get_parameters());
  SGD::state<float, ExecutionSpace> sgd(M::num_parameters, {});
  io::load(dir / "trainer.ckpt", other, sgd);

  // A file without optimizer state, or with another optimizer's, is refused unchanged.
  AdamState adam(M::num_parameters, {});
  auto const before = other.get_parameters();
  try {
    io::load(dir / "model.ckpt", other, adam);
    FAIL();
  } catch (loom::Error const& e) {
    EXPECT_NE(std::string(e.what()).find("has no section 'optimizer'"), std::string::npos)
        << e.what();
  }
  try {
    io::load(dir / "trainer.ckpt", other, adam);
    FAIL();
  } catch (loom::Error const& e) {
    EXPECT_NE(std::string(e.what()).find("loom::io::load: checkpoint '" +
                                         (dir / "trainer.ckpt").string() +
                                         "' holds the state of optimizer SGD, but the optimizer "
                                         "is Adam"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(other.get_parameters(), before);
  std::filesystem::remove_all(dir);
}

TEST(state, another_model_or_scalar_is_refused) {
  auto const dir = temp_dir("other");
  M model(3);
  io::save(dir / "model.ckpt", model);
  Model<Net, ExecutionSpace, double> in_double(3);
  try {
    io::load(dir / "model.ckpt", in_double);
    FAIL();
  } catch (loom::Error const& e) {
    EXPECT_NE(std::string(e.what()).find("' was written for the model " + Net::name() +
                                         " (float), but the model is " + Net::name() +
                                         " (double); load it into a model of the type it was "
                                         "written for"),
              std::string::npos)
        << e.what();
  }
  Model<Sequential<Input<32>, Dense<4>>, ExecutionSpace, float> small(1);
  EXPECT_THROW(io::load(dir / "model.ckpt", small), loom::Error);
  EXPECT_THROW(io::load(dir / "missing.ckpt", small), loom::Error);
  std::filesystem::remove_all(dir);
}

} // namespace
