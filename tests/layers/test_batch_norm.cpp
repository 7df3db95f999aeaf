#include <loom/comm/self.hpp>
#include <loom/core/environment.hpp>
#include <loom/data/in_memory.hpp>
#include <loom/io/checkpoint.hpp>
#include <loom/layers/activations.hpp>
#include <loom/layers/batch_norm.hpp>
#include <loom/layers/conv2d.hpp>
#include <loom/layers/dense.hpp>
#include <loom/layers/flatten.hpp>
#include <loom/loss/softmax_cross_entropy.hpp>
#include <loom/model/model.hpp>
#include <loom/optim/adam.hpp>
#include <loom/optim/sgd.hpp>
#include <loom/parallel/data_parallel.hpp>
#include <loom/train/trainer.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "gradient_check.hpp"
#include "loom_test.hpp"

#include <unistd.h>

namespace {

using namespace loom;
using ExecutionSpace = test::ExecutionSpace;
using DoubleBatch = Kokkos::View<double**, Kokkos::LayoutRight, test::MemorySpace>;

template <class View>
std::vector<double> host(View const& v) {
  auto h = test::host_copy(v);
  return std::vector<double>(h.data(), h.data() + h.size());
}

TEST(batch_norm, shapes_parameter_counts_states_and_names) {
  using Net = Sequential<Input<3, 4, 5>, BatchNorm2D<>>;
  static_assert(std::is_same_v<Net::output_shape, Shape<3, 4, 5>>);
  static_assert(Net::num_parameters == 2 * 3);
  static_assert(Model<Net, ExecutionSpace>::num_states == 2 * 3);
  using Cnn = Sequential<Input<2, 6, 6>, Conv2D<4, 3, 1, 1>, BatchNorm2D<>, ReLU, Flatten, Dense<5>,
                         ReLU, Dense<2>>;
  static_assert(Cnn::num_parameters == (4 * 2 * 9 + 4) + 2 * 4 + (4 * 36 * 5 + 5) + (5 * 2 + 2));
  static_assert(Model<Cnn, ExecutionSpace>::num_states == 2 * 4);
  static_assert(Model<Sequential<Input<4>, Dense<2>>, ExecutionSpace>::num_states == 0);
  EXPECT_EQ(BatchNorm2D<>::name(), "BatchNorm2D");
  EXPECT_EQ((BatchNorm2D<0.01>::name()), "BatchNorm2D<0.01>");
  EXPECT_EQ((BatchNorm2D<0.1, 0.001>::name()), "BatchNorm2D<0.1, 0.001>");
  EXPECT_EQ(Net::name(), "Sequential<Input<3, 4, 5>, BatchNorm2D>");

  std::string const text = Model<Cnn, ExecutionSpace>::summary();
  EXPECT_NE(text.find("BatchNorm2D"), std::string::npos) << text;
  EXPECT_NE(text.find("(4, 6, 6)"), std::string::npos) << text;
  EXPECT_NE(text.find("Total params: " + std::to_string(Cnn::num_parameters)), std::string::npos)
      << text;
}

TEST(batch_norm, initial_parameters_and_running_statistics) {
  using Net = Sequential<Input<3, 2, 2>, BatchNorm2D<>>;
  Model<Net, ExecutionSpace> model(5);
  EXPECT_EQ(host(model.parameters()), (std::vector<double>{1, 1, 1, 0, 0, 0}));
  EXPECT_EQ(host(model.states()), (std::vector<double>{0, 0, 0, 1, 1, 1}));
}

TEST(batch_norm, gradients_in_training) {
  test::check_gradients<Sequential<Input<3, 4, 5>, BatchNorm2D<>>, ExecutionSpace>({.batch = 3});
}
TEST(batch_norm, gradients_in_training_one_pixel_per_channel) {
  // Statistics over the batch only (N values per channel).
  test::check_gradients<Sequential<Input<4, 1, 1>, BatchNorm2D<>>, ExecutionSpace>({.batch = 5});
}
TEST(batch_norm, gradients_after_conv_before_relu_and_dense) {
  test::check_gradients<
      Sequential<Input<2, 5, 5>, Conv2D<3, 3, 1, 1>, BatchNorm2D<>, ReLU, Flatten, Dense<4>>,
      ExecutionSpace>({.batch = 4});
}
TEST(batch_norm, gradients_of_two_batch_norms_with_cross_entropy) {
  test::check_gradients<Sequential<Input<2, 3, 3>, BatchNorm2D<>, Conv2D<3, 3, 1, 1, NoBias>,
                                   BatchNorm2D<0.3, 1e-3>, Tanh, Flatten, Dense<3>>,
                        ExecutionSpace, SoftmaxCrossEntropy>({.batch = 3});
}
TEST(batch_norm, gradients_in_evaluation) {
  // The running statistics are constants: an affine map per channel.
  test::check_gradients<
      Sequential<Input<2, 5, 5>, Conv2D<3, 3, 1, 1>, BatchNorm2D<>, ReLU, Flatten, Dense<4>>,
      ExecutionSpace>({.batch = 3, .training = false});
}

// The layer's definition, on the host: per channel over (N, H, W).
struct Reference {
  std::vector<double> mean, variance; // biased variance
  std::vector<double> unbiased;
};
Reference batch_statistics(std::vector<double> const& x, int n, int c, int area) {
  Reference r{std::vector<double>(c), std::vector<double>(c), std::vector<double>(c)};
  double const count = double(n) * area;
  for (int ch = 0; ch < c; ++ch) {
    double sum = 0;
    for (int b = 0; b < n; ++b) {
      for (int k = 0; k < area; ++k) {
        sum += x[(std::size_t(b) * c + ch) * area + k];
      }
    }
    double const mean = sum / count;
    double squares = 0;
    for (int b = 0; b < n; ++b) {
      for (int k = 0; k < area; ++k) {
        double const d = x[(std::size_t(b) * c + ch) * area + k] - mean;
        squares += d * d;
      }
    }
    r.mean[ch] = mean;
    r.variance[ch] = squares / count;
    r.unbiased[ch] = squares / (count - 1);
  }
  return r;
}
std::vector<double> normalize(std::vector<double> const& x, std::vector<double> const& params,
                              std::vector<double> const& mean, std::vector<double> const& variance,
                              double epsilon, int n, int c, int area) {
  std::vector<double> y(x.size());
  for (int b = 0; b < n; ++b) {
    for (int ch = 0; ch < c; ++ch) {
      for (int k = 0; k < area; ++k) {
        std::size_t const i = (std::size_t(b) * c + ch) * area + k;
        y[i] = params[ch] * (x[i] - mean[ch]) / std::sqrt(variance[ch] + epsilon) + params[c + ch];
      }
    }
  }
  return y;
}

TEST(batch_norm, training_uses_batch_statistics_and_evaluation_the_running_ones) {
  constexpr int n = 3, c = 2, area = 3 * 4;
  constexpr double momentum = 0.25, epsilon = 1e-3;
  using Net = Sequential<Input<c, 3, 4>, BatchNorm2D<momentum, epsilon>>;
  Model<Net, ExecutionSpace, double> model(1);
  std::vector<double> const params{1.5, -0.5, 0.25, 2.0}; // γ then β
  {
    auto h = test::host_copy(model.parameters());
    std::copy(params.begin(), params.end(), h.data());
    Kokkos::deep_copy(model.parameters(), h);
  }
  CounterRng rng(3, 0);
  auto make_batch = [&](std::uint64_t stream, double shift) {
    DoubleBatch x("x", n, c * area);
    auto h = Kokkos::create_mirror_view(x);
    for (std::size_t k = 0; k < h.size(); ++k) {
      h.data()[k] = shift + 2.0 * rng.normal<double>(stream * 1000 + k);
    }
    Kokkos::deep_copy(x, h);
    return std::pair{x, std::vector<double>(h.data(), h.data() + h.size())};
  };
  auto expect_near = [](std::vector<double> const& a, std::vector<double> const& b,
                        char const* what) {
    ASSERT_EQ(a.size(), b.size()) << what;
    for (std::size_t k = 0; k < a.size(); ++k) {
      EXPECT_NEAR(a[k], b[k], 1e-12 * std::max(1.0, std::abs(b[k]))) << what << " " << k;
    }
  };

  // One training pass: batch statistics; running ← 0.75·running + 0.25·batch.
  model.train();
  auto const [x1, h1] = make_batch(1, 3.0);
  auto const s1 = batch_statistics(h1, n, c, area);
  expect_near(host(model.forward(x1)),
              normalize(h1, params, s1.mean, s1.variance, epsilon, n, c, area), "train output");
  std::vector<double> mean(c), var(c);
  for (int ch = 0; ch < c; ++ch) {
    mean[ch] = (1 - momentum) * 0 + momentum * s1.mean[ch];
    var[ch] = (1 - momentum) * 1 + momentum * s1.unbiased[ch];
  }
  expect_near(host(model.states()), {mean[0], mean[1], var[0], var[1]}, "states after 1 update");

  // A second one.
  auto const [x2, h2] = make_batch(2, -1.0);
  auto const s2 = batch_statistics(h2, n, c, area);
  expect_near(host(model.forward(x2)),
              normalize(h2, params, s2.mean, s2.variance, epsilon, n, c, area), "train output 2");
  for (int ch = 0; ch < c; ++ch) {
    mean[ch] = (1 - momentum) * mean[ch] + momentum * s2.mean[ch];
    var[ch] = (1 - momentum) * var[ch] + momentum * s2.unbiased[ch];
  }
  expect_near(host(model.states()), {mean[0], mean[1], var[0], var[1]}, "states after 2 updates");

  // Evaluation: the running statistics, which it leaves as they are.
  model.eval();
  auto const [x3, h3] = make_batch(3, 0.5);
  auto const states = host(model.states());
  expect_near(host(model.forward(x3)), normalize(h3, params, mean, var, epsilon, n, c, area),
              "eval output");
  EXPECT_EQ(host(model.states()), states);
  // One sample is enough in evaluation, and gives that sample's normalisation.
  DoubleBatch one(x3, std::make_pair(0, 1), Kokkos::ALL);
  std::vector<double> const h3_first(h3.begin(), h3.begin() + c * area);
  expect_near(host(model.forward(one)), normalize(h3_first, params, mean, var, epsilon, 1, c, area),
              "eval output of one sample");
}

TEST(batch_norm, backward_into_the_parameters_applies_an_sgd_step) {
  // backward_into(parameters, -lr, 1) reads γ for the input gradient before writing it.
  using Net =
      Sequential<Input<2, 4, 4>, Conv2D<3, 3, 1, 1>, BatchNorm2D<>, ReLU, Flatten, Dense<2>>;
  double const lr = 0.5;
  Model<Net, ExecutionSpace, double> a(6), b(6);
  DoubleBatch x("x", 4, 32);
  {
    auto h = Kokkos::create_mirror_view(x);
    CounterRng rng(8, 0);
    for (std::size_t k = 0; k < h.size(); ++k) {
      h.data()[k] = rng.normal<double>(k);
    }
    Kokkos::deep_copy(x, h);
  }
  a.forward(x);
  Kokkos::deep_copy(a.output_gradient(), 1.0);
  a.backward();
  auto expected = host(a.parameters());
  auto const gradients = host(a.gradients());
  for (std::size_t k = 0; k < expected.size(); ++k) {
    expected[k] += -lr * gradients[k];
  }
  b.forward(x);
  Kokkos::deep_copy(b.output_gradient(), 1.0);
  b.backward_into(b.parameters(), -lr, 1.0);
  auto const got = host(b.parameters());
  for (std::size_t k = 0; k < expected.size(); ++k) {
    EXPECT_NEAR(got[k], expected[k], 1e-12) << "parameter " << k;
  }
}

// Checkpoints: the running statistics travel with the parameters.
using Cnn =
    Sequential<Input<2, 4, 4>, Conv2D<3, 3, 1, 1, NoBias>, BatchNorm2D<>, ReLU, Flatten, Dense<4>>;
template <class Optimizer>
using T = Trainer<Cnn, SoftmaxCrossEntropy, Optimizer, SingleProcess, ExecutionSpace>;
using Labels = data::InMemoryDataset<std::int32_t>;

Labels make_images(std::size_t n) {
  CounterRng rng(4, 1);
  std::vector<float> x(n * 32);
  std::vector<std::int32_t> y(n);
  for (std::size_t i = 0; i < n; ++i) {
    y[i] = static_cast<std::int32_t>(rng.below(4, i));
    for (std::size_t j = 0; j < 32; ++j) {
      x[i * 32 + j] =
          (j % 4 == std::size_t(y[i]) ? 2.0f : 0.5f) + 0.8f * rng.normal<float>(1000 + i * 32 + j);
    }
  }
  return Labels(std::move(x), 32, std::move(y), 1, "images");
}

std::filesystem::path temp_dir(std::string const& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("loom_test_batch_norm_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

template <class Optimizer>
void check_checkpoint_round_trip(TrainerOptions<Optimizer> const& options) {
  auto const data = make_images(70); // a short last batch
  auto const dir = temp_dir(Optimizer::name());
  T<Optimizer> straight(options);
  straight.fit(data, epochs(2));

  T<Optimizer> first(options);
  first.fit(data, epochs(1));
  auto const states = host(first.model().states());
  std::vector<double> const initial{0, 0, 0, 1, 1, 1};
  EXPECT_NE(states, initial) << "training updates the running statistics";
  first.save(dir / "a.ckpt");

  T<Optimizer> resumed(options);
  resumed.load(dir / "a.ckpt");
  EXPECT_EQ(host(resumed.model().states()), states);
  EXPECT_EQ(host(resumed.model().parameters()), host(first.model().parameters()));
  EXPECT_EQ(resumed.evaluate(data).sum, first.evaluate(data).sum);
  // Resuming continues bit for bit, running statistics included.
  resumed.fit(data, epochs(2));
  EXPECT_EQ(host(resumed.model().states()), host(straight.model().states()));
  EXPECT_EQ(host(resumed.model().parameters()), host(straight.model().parameters()));
  std::filesystem::remove_all(dir);
}

TEST(batch_norm, checkpoint_round_trip_sgd_step_in_backward) {
  check_checkpoint_round_trip<SGD>({.batch = 16, .lr = 0.1, .seed = 2});
}
TEST(batch_norm, checkpoint_round_trip_adam) {
  check_checkpoint_round_trip<Adam>({.batch = 16, .lr = 1e-2, .seed = 3});
}

TEST(batch_norm, data_parallel_on_one_process_trains_and_checkpoints_like_a_single_process) {
  // Every rank starts from the same running statistics (initialize() is deterministic); with
  // several ranks each then normalises with its own part of the batch.
  Environment env;
  auto const data = make_images(50);
  auto const dir = temp_dir("data_parallel");
  T<Adam> single({.batch = 8, .lr = 1e-2, .seed = 4});
  Trainer<Cnn, SoftmaxCrossEntropy, Adam, DataParallel<comm::Self>, ExecutionSpace> parallel(
      env, {.batch = 8, .lr = 1e-2, .seed = 4, .parallel = {.bucket_bytes = 64}});
  single.fit(data, epochs(2));
  parallel.fit(data, epochs(2));
  EXPECT_EQ(host(parallel.model().parameters()), host(single.model().parameters()));
  EXPECT_EQ(host(parallel.model().states()), host(single.model().states()));
  parallel.save(dir / "a.ckpt");
  T<Adam> resumed({.batch = 8, .lr = 1e-2, .seed = 4});
  resumed.load(dir / "a.ckpt");
  EXPECT_EQ(host(resumed.model().states()), host(single.model().states()));
  std::filesystem::remove_all(dir);
}

// Rewrites a checkpoint with its "states" section replaced (or dropped when `states` is
// empty).
void rewrite_states(std::filesystem::path const& from, std::filesystem::path const& to,
                    std::vector<float> const& states) {
  io::CheckpointReader reader(from);
  io::CheckpointWriter writer;
  for (auto const& name : reader.names()) {
    if (name == "states") {
      if (!states.empty()) {
        io::ByteWriter section;
        section.write_array(states);
        writer.add(name, std::move(section));
      }
      continue;
    }
    auto section = reader.section(name);
    auto const bytes = section.read_bytes(section.remaining());
    writer.add(name, std::vector<std::byte>(bytes.begin(), bytes.end()));
  }
  writer.write(to);
}

TEST(batch_norm, checkpoint_with_wrong_or_missing_states_is_refused) {
  auto const dir = temp_dir("states");
  auto const data = make_images(40);
  T<SGD> trainer({.batch = 16, .lr = 0.1, .seed = 2});
  trainer.fit(data, epochs(1));
  trainer.save(dir / "a.ckpt");
  {
    io::CheckpointReader reader(dir / "a.ckpt");
    ASSERT_TRUE(reader.has("states"));
    auto section = reader.section("states");
    auto const saved = section.read_array<float>();
    EXPECT_EQ(std::vector<double>(saved.begin(), saved.end()), host(trainer.model().states()));
  }
  rewrite_states(dir / "a.ckpt", dir / "short.ckpt", {0.f, 0.f, 0.f, 1.f, 1.f});
  rewrite_states(dir / "a.ckpt", dir / "none.ckpt", {});

  T<SGD> fresh({.batch = 16, .lr = 0.1, .seed = 2});
  auto const parameters = host(fresh.model().parameters());
  auto const states = host(fresh.model().states());
  for (auto const& [name, reason] :
       {std::pair{"short.ckpt", "holds 5 state values; the model has 6"},
        std::pair{"none.ckpt", "has no section 'states'"}}) {
    try {
      fresh.load(dir / name);
      FAIL() << name;
    } catch (loom::Error const& e) {
      std::string const what = e.what();
      EXPECT_NE(what.find("checkpoint '" + (dir / name).string() + "'"), std::string::npos) << what;
      EXPECT_NE(what.find(reason), std::string::npos) << what;
    }
  }
  EXPECT_EQ(host(fresh.model().parameters()), parameters) << "a failed load changes nothing";
  EXPECT_EQ(host(fresh.model().states()), states) << "a failed load changes nothing";
  std::filesystem::remove_all(dir);
}

} // namespace
