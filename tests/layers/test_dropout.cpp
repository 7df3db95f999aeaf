#include <loom/layers/dense.hpp>
#include <loom/layers/dropout.hpp>
#include <loom/model/model.hpp>

#include <gtest/gtest.h>

#include "gradient_check.hpp"
#include "loom_test.hpp"

namespace {

using namespace loom;
using ExecutionSpace = test::ExecutionSpace;
using Memory = test::MemorySpace;

TEST(dropout, gradients_in_training_mode) {
  test::check_gradients<Sequential<Input<8>, Dense<9>, Dropout<0.4>, Dense<3>>, ExecutionSpace>();
}

TEST(dropout, gradients_in_evaluation_mode) {
  test::GradientCheckOptions opts;
  opts.training = false;
  test::check_gradients<Sequential<Input<8>, Dropout<0.4>, Dense<3>>, ExecutionSpace>(opts);
}

template <class Model>
auto run(Model& model, std::size_t batch, std::uint64_t offset = 0, std::size_t rows = 0) {
  Kokkos::View<float**, Kokkos::LayoutRight, Memory> x("x", rows ? rows : batch, 1000);
  Kokkos::deep_copy(x, 2.0f);
  model.set_sample_offset(offset);
  return test::host_copy(model.forward(x));
}

TEST(dropout, drops_at_the_rate_and_rescales) {
  Model<Sequential<Input<1000>, Dropout<0.3>>, ExecutionSpace> model(3);
  model.train();
  auto y = run(model, 20);
  std::size_t zeros = 0;
  for (std::size_t k = 0; k < y.size(); ++k) {
    float const v = y.data()[k];
    ASSERT_TRUE(v == 0.0f || std::abs(v - 2.0f / 0.7f) < 1e-5f) << v;
    zeros += v == 0.0f;
  }
  EXPECT_NEAR(double(zeros) / y.size(), 0.3, 0.01);
}

TEST(dropout, passes_through_in_evaluation) {
  Model<Sequential<Input<1000>, Dropout<0.5>>, ExecutionSpace> model(3);
  model.eval();
  auto y = run(model, 4);
  for (std::size_t k = 0; k < y.size(); ++k) {
    ASSERT_EQ(y.data()[k], 2.0f);
  }
}

TEST(dropout, mask_depends_on_step_and_global_sample_only) {
  Model<Sequential<Input<1000>, Dropout<0.5>>, ExecutionSpace> model(3);
  auto whole = run(model, 6);
  // Rows 2..5 of the same batch computed as a slice starting at global sample 2.
  auto slice = run(model, 4, 2);
  for (std::size_t i = 0; i < 4; ++i) {
    for (std::size_t j = 0; j < 1000; ++j) {
      ASSERT_EQ(slice(i, j), whole(i + 2, j));
    }
  }
  // The next step draws a different mask.
  model.set_step(model.step() + 1);
  auto next = run(model, 6);
  std::size_t differ = 0;
  for (std::size_t k = 0; k < next.size(); ++k) {
    differ += next.data()[k] != whole.data()[k];
  }
  EXPECT_GT(differ, next.size() / 4);
}

} // namespace
