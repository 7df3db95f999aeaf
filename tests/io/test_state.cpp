#include <loom/io/state.hpp>
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
