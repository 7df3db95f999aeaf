#include <loom/layers/activations.hpp>
#include <loom/layers/dense.hpp>
#include <loom/layers/flatten.hpp>
#include <loom/model/model.hpp>

#include <gtest/gtest.h>

#include "gradient_check.hpp"
#include "loom_test.hpp"

namespace {

using namespace loom;
using ExecutionSpace = test::ExecutionSpace;

TEST(dense, shapes_and_parameter_counts) {
  using Net = Sequential<Input<6>, Dense<4>, Dense<3, NoBias>>;
  static_assert(std::is_same_v<Net::output_shape, Shape<3>>);
  static_assert(Net::num_parameters == 6 * 4 + 4 + 4 * 3);
  using Image = Sequential<Input<2, 3, 3>, Flatten, Dense<5>>;
  static_assert(Image::num_parameters == 18 * 5 + 5);
  EXPECT_EQ(Dense<512>::name(), "Dense<512>");
  EXPECT_EQ((Dense<3, NoBias, init::HeUniform>::name()), "Dense<3, NoBias, HeUniform>");
}

TEST(dense, gradients_identity) {
  test::check_gradients<Sequential<Input<5>, Dense<4>>, ExecutionSpace>();
}
TEST(dense, gradients_no_bias) {
  test::check_gradients<Sequential<Input<5>, Dense<4, NoBias>>, ExecutionSpace>();
}
TEST(dense, gradients_fused_relu) {
  test::check_gradients<Sequential<Input<6>, Dense<7>, ReLU, Dense<3>>, ExecutionSpace>();
}
TEST(dense, gradients_fused_leaky_relu) {
  test::check_gradients<Sequential<Input<6>, Dense<7>, LeakyReLU<0.1>, Dense<3>>, ExecutionSpace>();
}
TEST(dense, gradients_fused_sigmoid) {
  test::check_gradients<Sequential<Input<6>, Dense<7>, Sigmoid>, ExecutionSpace>();
}
TEST(dense, gradients_fused_tanh) {
  test::check_gradients<Sequential<Input<6>, Dense<7>, Tanh>, ExecutionSpace>();
}
TEST(dense, gradients_fused_gelu) {
  test::check_gradients<Sequential<Input<6>, Dense<7>, GELU, Dense<2>>, ExecutionSpace>();
}
TEST(dense, gradients_fused_swish_no_bias) {
  test::check_gradients<Sequential<Input<6>, Dense<7, NoBias>, Swish>, ExecutionSpace>();
}
TEST(dense, gradients_after_flatten) {
  test::check_gradients<Sequential<Input<2, 2, 3>, Flatten, Dense<4>, Tanh>, ExecutionSpace>();
}
TEST(dense, gradients_wide_layer_crosses_column_chunks) {
  // 70 outputs spans three 32-column chunks of the host bias-gradient kernel.
  test::GradientCheckOptions opts;
  opts.batch = 5;
  test::check_gradients<Sequential<Input<3>, Dense<70>, ReLU, Dense<2>>, ExecutionSpace>(opts);
}

TEST(dense, forward_matches_hand_computation) {
  using Net = Sequential<Input<2>, Dense<2>, ReLU>;
  Model<Net, ExecutionSpace> model(1);
  auto params = Kokkos::create_mirror_view(model.parameters());
  // W = [[1, -2], [0.5, 1]], b = [0.25, -3]
  float const values[] = {1, -2, 0.5, 1, 0.25, -3};
  std::copy(values, values + 6, params.data());
  Kokkos::deep_copy(model.parameters(), params);
  Kokkos::View<float**, Kokkos::LayoutRight, test::MemorySpace> x("x", 2, 2);
  auto hx = Kokkos::create_mirror_view(x);
  hx(0, 0) = 3;
  hx(0, 1) = 1;
  hx(1, 0) = -1;
  hx(1, 1) = 4;
  Kokkos::deep_copy(x, hx);
  auto y = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), model.forward(x));
  EXPECT_FLOAT_EQ(y(0, 0), 1.25f); // 3 - 2 + 0.25
  EXPECT_FLOAT_EQ(y(0, 1), 0.0f);  // relu(1.5 + 1 - 3)
  EXPECT_FLOAT_EQ(y(1, 0), 0.0f);  // relu(-1 - 8 + 0.25)
  EXPECT_FLOAT_EQ(y(1, 1), 0.5f);  // -0.5 + 4 - 3
}

TEST(dense, he_initialisation_has_the_right_spread) {
  using Net = Sequential<Input<400>, Dense<300>, ReLU, Dense<200>>;
  Model<Net, ExecutionSpace, double> model(5);
  auto p = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), model.parameters());
  // Dense<300> before ReLU: He normal, variance 2 / 400.
  double sum = 0, sq = 0;
  std::size_t const n = 400 * 300;
  for (std::size_t k = 0; k < n; ++k) {
    sum += p(k);
    sq += p(k) * p(k);
  }
  EXPECT_NEAR(sum / n, 0.0, 0.001);
  EXPECT_NEAR(sq / n, 2.0 / 400, 0.05 * 2.0 / 400);
  for (std::size_t k = n; k < n + 300; ++k) {
    EXPECT_EQ(p(k), 0.0) << "biases start at zero";
  }
  // Dense<200> with no activation after it: Xavier uniform, limit √(6 / (300 + 200)).
  double const limit = std::sqrt(6.0 / 500);
  double top = 0;
  sq = 0;
  std::size_t const first = n + 300;
  for (std::size_t k = first; k < first + 300 * 200; ++k) {
    top = std::max(top, std::abs(p(k)));
    sq += p(k) * p(k);
  }
  EXPECT_LE(top, limit);
  EXPECT_GT(top, 0.99 * limit);
  EXPECT_NEAR(sq / (300 * 200), limit * limit / 3, 0.05 * limit * limit / 3);
}

} // namespace
