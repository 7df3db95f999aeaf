#include <loom/layers/activations.hpp>
#include <loom/layers/dense.hpp>
#include <loom/loss/mse.hpp>
#include <loom/model/model.hpp>

#include <gtest/gtest.h>

#include "gradient_check.hpp"
#include "loom_test.hpp"

namespace {

using namespace loom;
using ExecutionSpace = test::ExecutionSpace;
using Memory = test::MemorySpace;

TEST(mse, gradients) {
  test::check_gradients<Sequential<Input<4>, Dense<5>, Sigmoid, Dense<3>>, ExecutionSpace, MSE>();
}

TEST(mse, value_and_gradient_by_hand) {
  Kokkos::View<double**, Kokkos::LayoutRight, Memory> y("y", 2, 2), t("t", 2, 2), g("g", 2, 2);
  auto hy = Kokkos::create_mirror_view(y);
  auto ht = Kokkos::create_mirror_view(t);
  double const yv[] = {1, 2, 3, 4};
  double const tv[] = {0, 2, 5, 4};
  std::copy(yv, yv + 4, hy.data());
  std::copy(tv, tv + 4, ht.data());
  Kokkos::deep_copy(y, hy);
  Kokkos::deep_copy(t, ht);
  auto v = MSE::compute(ExecutionSpace(), y, t, g, 0.5);
  // Per sample: (1 + 0) / 2 and (4 + 0) / 2; the mean over 4 elements is 5 / 4 as in PyTorch.
  EXPECT_DOUBLE_EQ(v.sum, 2.5);
  EXPECT_DOUBLE_EQ(v.mean(), 1.25);
  auto hg = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), g);
  EXPECT_DOUBLE_EQ(hg(0, 0), 0.5);  // 2 (1 - 0) / 2 · 0.5
  EXPECT_DOUBLE_EQ(hg(1, 0), -1.0); // 2 (3 - 5) / 2 · 0.5
  EXPECT_DOUBLE_EQ(hg(1, 1), 0.0);
}

} // namespace
