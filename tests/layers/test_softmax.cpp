#include <loom/layers/dense.hpp>
#include <loom/layers/softmax.hpp>
#include <loom/model/model.hpp>

#include <gtest/gtest.h>

#include "gradient_check.hpp"
#include "loom_test.hpp"

namespace {

using namespace loom;
using ExecutionSpace = test::ExecutionSpace;

TEST(softmax, gradients) {
  test::check_gradients<Sequential<Input<5>, Dense<4>, Softmax>, ExecutionSpace>();
  test::check_gradients<Sequential<Input<6>, Softmax>, ExecutionSpace>();
}

TEST(softmax, rows_are_distributions_even_for_huge_logits) {
  Model<Sequential<Input<3>, Softmax>, ExecutionSpace> model;
  Kokkos::View<float**, Kokkos::LayoutRight, test::MemorySpace> x("x", 2, 3);
  auto hx = Kokkos::create_mirror_view(x);
  float const values[] = {1, 2, 3, 1000, 1000, -1000};
  std::copy(values, values + 6, hx.data());
  Kokkos::deep_copy(x, hx);
  auto y = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), model.forward(x));
  double const e1 = std::exp(-2.0), e2 = std::exp(-1.0);
  EXPECT_NEAR(y(0, 0), e1 / (e1 + e2 + 1), 1e-6);
  EXPECT_NEAR(y(0, 2), 1 / (e1 + e2 + 1), 1e-6);
  EXPECT_FLOAT_EQ(y(1, 0), 0.5f);
  EXPECT_FLOAT_EQ(y(1, 1), 0.5f);
  EXPECT_FLOAT_EQ(y(1, 2), 0.0f);
}

} // namespace
