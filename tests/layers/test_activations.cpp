#include <loom/layers/activations.hpp>
#include <loom/layers/dense.hpp>
#include <loom/layers/flatten.hpp>
#include <loom/model/model.hpp>

#include <gtest/gtest.h>

#include <cmath>

#include "gradient_check.hpp"
#include "loom_test.hpp"

namespace {

using namespace loom;
using ExecutionSpace = test::ExecutionSpace;

// Standalone activations (not after a Dense) run their own kernels.
template <class Activation>
void check_standalone() {
  test::check_gradients<Sequential<Input<2, 3>, Activation>, ExecutionSpace>();
  test::check_gradients<Sequential<Input<4>, Dense<5>, Activation, Activation>, ExecutionSpace>();
}

TEST(activations, relu_gradients) {
  check_standalone<ReLU>();
}
TEST(activations, leaky_relu_gradients) {
  check_standalone<LeakyReLU<0.2>>();
}
TEST(activations, sigmoid_gradients) {
  check_standalone<Sigmoid>();
}
TEST(activations, tanh_gradients) {
  check_standalone<Tanh>();
}
TEST(activations, gelu_gradients) {
  check_standalone<GELU>();
}
TEST(activations, swish_gradients) {
  check_standalone<Swish>();
}

TEST(activations, values) {
  EXPECT_EQ(ReLU::forward(-2.0), 0.0);
  EXPECT_EQ(ReLU::forward(3.0), 3.0);
  EXPECT_DOUBLE_EQ(LeakyReLU<0.1>::forward(-2.0), -0.2);
  EXPECT_DOUBLE_EQ(Sigmoid::forward(0.0), 0.5);
  EXPECT_DOUBLE_EQ(Sigmoid::forward(-1000.0), 0.0); // no overflow
  EXPECT_DOUBLE_EQ(Sigmoid::forward(1000.0), 1.0);
  EXPECT_NEAR(Sigmoid::forward(2.0), 1 / (1 + std::exp(-2.0)), 1e-15);
  EXPECT_NEAR(Tanh::forward(0.5), std::tanh(0.5), 1e-15);
  // GELU(1) = Φ(1) = 0.8413447460685429
  EXPECT_NEAR(GELU::forward(1.0), 0.8413447460685429, 1e-12);
  EXPECT_NEAR(GELU::forward(-3.0), -3.0 * 0.0013498980316301, 1e-12);
  EXPECT_NEAR(Swish::forward(1.0), 1.0 / (1 + std::exp(-1.0)), 1e-15);
  EXPECT_NEAR(SiLU::forward(-1.0), -1.0 / (1 + std::exp(1.0)), 1e-15);
}

TEST(activations, names) {
  EXPECT_EQ(ReLU::name(), "ReLU");
  EXPECT_EQ(LeakyReLU<>::name(), "LeakyReLU<0.01>");
  EXPECT_EQ(GELU::name(), "GELU");
  EXPECT_EQ(SiLU::name(), "Swish");
}

TEST(activations, summary_marks_fused_activations) {
  using Net = Sequential<Input<4>, Dense<5>, ReLU, Tanh, Dense<2>>;
  std::string const text = Model<Net, ExecutionSpace>::summary();
  EXPECT_NE(text.find("ReLU (fused)"), std::string::npos) << text;
  EXPECT_EQ(text.find("Tanh (fused)"), std::string::npos) << text;
}

} // namespace
