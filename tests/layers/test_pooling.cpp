#include <loom/layers/activations.hpp>
#include <loom/layers/conv2d.hpp>
#include <loom/layers/dense.hpp>
#include <loom/layers/flatten.hpp>
#include <loom/layers/pooling.hpp>
#include <loom/model/model.hpp>

#include <gtest/gtest.h>

#include <vector>

#include "gradient_check.hpp"
#include "loom_test.hpp"

namespace {

using namespace loom;
using ExecutionSpace = test::ExecutionSpace;
using Batch = Kokkos::View<float**, Kokkos::LayoutRight, test::MemorySpace>;

// One 1×4×4 image: 0 1 2 3 / 4 5 6 7 / ... / 12 13 14 15, times the sign pattern below.
Batch ramp_image() {
  Batch x("x", 1, 16);
  auto h = Kokkos::create_mirror_view(x);
  for (int k = 0; k < 16; ++k) {
    h(0, k) = static_cast<float>(k % 3 == 0 ? -k : k);
  }
  Kokkos::deep_copy(x, h);
  return x;
}
// Values: row 0:  0  1  2 -3 | row 1:  4  5 -6  7 | row 2:  8 -9 10 11 | row 3: -12 13 14 -15

template <class Net>
std::vector<float> forward(Batch const& x) {
  Model<Net, ExecutionSpace> model(1);
  auto y = test::host_copy(model.forward(x));
  return std::vector<float>(y.data(), y.data() + y.size());
}

TEST(pooling, shapes_and_names) {
  using Net = Sequential<Input<3, 9, 7>, MaxPool2D<2>, AvgPool2D<3, 1, 1>, GlobalAvgPool2D>;
  using L = Net::layers;
  static_assert(std::is_same_v<detail::at<0, L>::output_shape, Shape<3, 4, 3>>);
  static_assert(std::is_same_v<detail::at<1, L>::output_shape, Shape<3, 4, 3>>);
  static_assert(std::is_same_v<Net::output_shape, Shape<3>>);
  static_assert(Net::num_parameters == 0);
  EXPECT_EQ(MaxPool2D<2>::name(), "MaxPool2D<2>");
  EXPECT_EQ((AvgPool2D<3, 1, 1>::name()), "AvgPool2D<3, 1, 1>");
  EXPECT_EQ((MaxPool2D<Window{2, 3}, 2>::name()), "MaxPool2D<2x3, 2>");
  static_assert(MaxPool2D<3, 2, 1>::footprint::halo_before.h == 1);
}

TEST(pooling, max_pool_by_hand) {
  auto const y = forward<Sequential<Input<1, 4, 4>, MaxPool2D<2>>>(ramp_image());
  EXPECT_EQ(y, (std::vector<float>{5, 7, 13, 14}));
  // Overlapping windows with padding: 3×3, stride 2, padding 1 → 2×2.
  auto const z = forward<Sequential<Input<1, 4, 4>, MaxPool2D<3, 2, 1>>>(ramp_image());
  EXPECT_EQ(z, (std::vector<float>{5, 7, 13, 14}));
  auto const s = forward<Sequential<Input<1, 4, 4>, MaxPool2D<Window{1, 4}>>>(ramp_image());
  EXPECT_EQ(s, (std::vector<float>{2, 7, 11, 14}));
}

TEST(pooling, average_pool_by_hand) {
  auto const y = forward<Sequential<Input<1, 4, 4>, AvgPool2D<2>>>(ramp_image());
  EXPECT_EQ(y, (std::vector<float>{10.0f / 4, 0.0f, 0.0f, 20.0f / 4}));
  // Padding counts as zero: the corner window (2×2 with padding 1) covers only value 0.
  auto const z = forward<Sequential<Input<1, 4, 4>, AvgPool2D<2, 2, 1>>>(ramp_image());
  ASSERT_EQ(z.size(), 9u);
  EXPECT_FLOAT_EQ(z[0], 0.0f / 4);
  EXPECT_FLOAT_EQ(z[1], (1.0f + 2.0f) / 4);
  EXPECT_FLOAT_EQ(z[4], (5.0f - 6.0f - 9.0f + 10.0f) / 4);
  EXPECT_FLOAT_EQ(z[8], -15.0f / 4);
  auto const g = forward<Sequential<Input<1, 4, 4>, GlobalAvgPool2D>>(ramp_image());
  EXPECT_EQ(g, (std::vector<float>{
                   (0 + 1 + 2 - 3 + 4 + 5 - 6 + 7 + 8 - 9 + 10 + 11 - 12 + 13 + 14 - 15) / 16.0f}));
}

TEST(pooling, max_pool_backward_routes_to_the_maximum) {
  using Net = Sequential<Input<1, 4, 4>, MaxPool2D<2>>;
  Model<Net, ExecutionSpace> model(1);
  model.enable_input_gradient();
  auto x = ramp_image();
  model.forward(x);
  auto dy = Kokkos::create_mirror_view(model.output_gradient());
  float const grads[] = {1, 2, 3, 4};
  std::copy(grads, grads + 4, dy.data());
  Kokkos::deep_copy(model.output_gradient(), dy);
  model.backward();
  auto dx = test::host_copy(model.input_gradient());
  std::vector<float> const got(dx.data(), dx.data() + dx.size());
  // Maxima at (1,1) = 5, (1,3) = 7, (3,1) = 13, (3,2) = 14.
  EXPECT_EQ(got, (std::vector<float>{0, 0, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0, 0, 3, 4, 0}));
}

TEST(pooling, gradients_max_pool) {
  test::check_gradients<Sequential<Input<2, 4, 6>, MaxPool2D<2>>, ExecutionSpace>();
}
TEST(pooling, gradients_tiling_pools_leave_uncovered_values_zero) {
  // 5×7 under 2×2 windows: the last row and column belong to no window.
  test::check_gradients<Sequential<Input<2, 5, 7>, MaxPool2D<2>>, ExecutionSpace>();
  test::check_gradients<Sequential<Input<2, 5, 7>, AvgPool2D<Window{2, 3}>>, ExecutionSpace>();
}
TEST(pooling, gradients_max_pool_overlapping_padded_odd) {
  test::check_gradients<Sequential<Input<2, 7, 5>, MaxPool2D<3, 2, 1>>, ExecutionSpace>();
}
TEST(pooling, gradients_average_pool_padded_rectangular) {
  test::check_gradients<Sequential<Input<2, 5, 7>, AvgPool2D<Window{2, 3}, Window{1, 2}, 1>>,
                        ExecutionSpace>();
}
TEST(pooling, gradients_global_average_pool) {
  test::check_gradients<Sequential<Input<3, 3, 5>, GlobalAvgPool2D, Dense<2>>, ExecutionSpace>();
}
TEST(pooling, gradients_small_cnn) {
  test::check_gradients<Sequential<Input<1, 8, 8>, Conv2D<3, 3, 1, 1>, ReLU, MaxPool2D<2>,
                                   Conv2D<4, 3, 1, 1>, ReLU, MaxPool2D<2>, Flatten, Dense<3>>,
                        ExecutionSpace>();
}

} // namespace
