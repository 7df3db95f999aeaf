#include <loom/layers/activations.hpp>
#include <loom/layers/conv2d.hpp>
#include <loom/layers/dense.hpp>
#include <loom/layers/dropout.hpp>
#include <loom/layers/flatten.hpp>
#include <loom/layers/pooling.hpp>
#include <loom/layers/residual.hpp>
#include <loom/model/model.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <string>

#include "gradient_check.hpp"
#include "loom_test.hpp"

namespace {

using namespace loom;
using ExecutionSpace = test::ExecutionSpace;

using BasicBlock = Residual<Conv2D<2, 3, 1, 1>, ReLU, Conv2D<2, 3, 1, 1>>;
using DownBlock = Residual<Conv2D<4, 3, 2, 1>, ReLU, Conv2D<4, 3, 1, 1>, Shortcut<Conv2D<4, 1, 2>>>;

TEST(residual, shapes_parameter_counts_and_names) {
  static_assert(Layer<BasicBlock> && Layer<DownBlock>);
  static_assert(!Layer<Shortcut<Dense<2>>>);
  using Net = Sequential<Input<2, 5, 5>, BasicBlock, ReLU, Flatten, Dense<3>>;
  static_assert(std::is_same_v<detail::at<0, Net::layers>::output_shape, Shape<2, 5, 5>>);
  static_assert(BasicBlock::parameter_count<Shape<2, 5, 5>> == 2 * (2 * 2 * 9 + 2));
  static_assert(Net::num_parameters == 2 * (2 * 2 * 9 + 2) + 50 * 3 + 3);
  // The shortcut's parameters follow the block's.
  using Down = Sequential<Input<2, 6, 6>, DownBlock>;
  static_assert(std::is_same_v<Down::output_shape, Shape<4, 3, 3>>);
  static_assert(Down::num_parameters == (4 * 2 * 9 + 4) + (4 * 4 * 9 + 4) + (4 * 2 + 4));
  EXPECT_EQ(BasicBlock::name(), "Residual<Conv2D<2, 3, 1, 1>, ReLU, Conv2D<2, 3, 1, 1>>");
  EXPECT_EQ(DownBlock::name(), "Residual<Conv2D<4, 3, 2, 1>, ReLU, Conv2D<4, 3, 1, 1>, "
                               "Shortcut<Conv2D<4, 1, 2>>>");
  // One stage for the whole residual; its activations fuse inside.
  using Stages = Net::stage_list<float, ExecutionSpace>;
  static_assert(std::is_same_v<detail::at<0, Stages>::output_shape, Shape<2, 5, 5>>);
  static_assert(Model<Net, ExecutionSpace>::num_stages == 3);
}

TEST(residual, summary_shows_the_layers_inside) {
  using Net =
      Sequential<Input<2, 6, 6>,
                 Residual<Conv2D<4, 3, 2, 1>, ReLU, Residual<Conv2D<4, 3, 1, 1, conv::Im2col>>,
                          Shortcut<Conv2D<4, 1, 2>>>,
                 Flatten, Dense<2>>;
  std::string const text = Model<Net, ExecutionSpace>::summary();
  // A row for the Residual with its parameters, then its layers indented (the inner
  // Residual's too), the shortcut's marked, each with its shape and parameters; the layer
  // column widens to the longest name so that the columns stay aligned.
  std::string const rows =
      "Residual                                       (4, 3, 3)             236\n"
      "  Conv2D<4, 3, 2, 1> [im2col]                  (4, 3, 3)             76\n"
      "  ReLU (fused)                                 (4, 3, 3)             0\n"
      "  Residual                                     (4, 3, 3)             148\n"
      "    Conv2D<4, 3, 1, 1, conv::Im2col> [im2col]  (4, 3, 3)             148\n"
      "  shortcut Conv2D<4, 1, 2> [direct]            (4, 3, 3)             12\n"
      "Flatten                                        (36)                  0\n"
      "Dense<2>                                       (2)                   74\n";
  EXPECT_NE(text.find(rows), std::string::npos) << text;
  EXPECT_NE(text.find("Total params: 310"), std::string::npos) << text;
}

TEST(residual, forward_matches_hand_computation) {
  // y = W x + b + x
  using Net = Sequential<Input<2>, Residual<Dense<2>>>;
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
  auto y = test::host_copy(model.forward(x));
  EXPECT_FLOAT_EQ(y(0, 0), 4.25f);  // 3 - 2 + 0.25 + 3
  EXPECT_FLOAT_EQ(y(0, 1), 0.5f);   // 1.5 + 1 - 3 + 1
  EXPECT_FLOAT_EQ(y(1, 0), -9.75f); // -1 - 8 + 0.25 - 1
  EXPECT_FLOAT_EQ(y(1, 1), 4.5f);   // -0.5 + 4 - 3 + 4
  // dx = Wᵀ dy + dy
  model.enable_input_gradient();
  auto dy = Kokkos::create_mirror_view(model.output_gradient());
  dy(0, 0) = 1;
  dy(0, 1) = 2;
  dy(1, 0) = -1;
  dy(1, 1) = 0.5;
  Kokkos::deep_copy(model.output_gradient(), dy);
  model.backward();
  auto dx = test::host_copy(model.input_gradient());
  EXPECT_FLOAT_EQ(dx(0, 0), 3.0f);   // 1 + 1 + 1
  EXPECT_FLOAT_EQ(dx(0, 1), 2.0f);   // -2 + 2 + 2
  EXPECT_FLOAT_EQ(dx(1, 0), -1.75f); // -1 + 0.25 - 1
  EXPECT_FLOAT_EQ(dx(1, 1), 3.0f);   // 2 + 0.5 + 0.5
}

TEST(residual, forward_with_projection_matches_hand_computation) {
  // y = W₁ x + b₁ + W₂ x + b₂, with the block's parameters first.
  using Net = Sequential<Input<2>, Residual<Dense<1>, Shortcut<Dense<1, NoBias>>>>;
  static_assert(Net::num_parameters == 3 + 2);
  Model<Net, ExecutionSpace> model(1);
  auto params = Kokkos::create_mirror_view(model.parameters());
  float const values[] = {1, -2, 0.5, 3, 4};
  std::copy(values, values + 5, params.data());
  Kokkos::deep_copy(model.parameters(), params);
  Kokkos::View<float**, Kokkos::LayoutRight, test::MemorySpace> x("x", 1, 2);
  auto hx = Kokkos::create_mirror_view(x);
  hx(0, 0) = 2;
  hx(0, 1) = -1;
  Kokkos::deep_copy(x, hx);
  auto y = test::host_copy(model.forward(x));
  EXPECT_FLOAT_EQ(y(0, 0), 6.5f); // (2 + 2 + 0.5) + (6 - 4)
}

TEST(residual, gradients_conv_block) {
  test::check_gradients<Sequential<Input<2, 5, 5>, BasicBlock, ReLU, Flatten, Dense<3>>,
                        ExecutionSpace>();
}
TEST(residual, gradients_dense_block) {
  test::check_gradients<Sequential<Input<6>, Residual<Dense<6>, Tanh, Dense<6>>>, ExecutionSpace>();
}
TEST(residual, gradients_projection_shortcut) {
  test::check_gradients<Sequential<Input<2, 6, 6>, DownBlock, ReLU, Flatten, Dense<3>>,
                        ExecutionSpace>();
}
TEST(residual, gradients_shortcut_of_several_stages) {
  // Gradients between the shortcut's stages use the same buffers as the block's.
  test::check_gradients<
      Sequential<Input<3>,
                 Residual<Dense<5>, Tanh, Dense<4>, Shortcut<Dense<6>, Sigmoid, Dense<4>>>,
                 Dense<2>>,
      ExecutionSpace>();
}
TEST(residual, gradients_two_in_a_row) {
  test::check_gradients<
      Sequential<Input<2, 5, 5>, BasicBlock, Residual<Conv2D<2, 3, 1, 1>, GELU, Conv2D<2, 1>>, ReLU,
                 Residual<Conv2D<3, 3, 2, 1>, Tanh, Shortcut<AvgPool2D<2, 2, 1>, Conv2D<3, 1>>>,
                 Flatten, Dense<3>>,
      ExecutionSpace>();
}
TEST(residual, gradients_first_layer) {
  // The first stage, so its input gradient is only computed because the checker asks for it.
  test::check_gradients<Sequential<Input<2, 4, 4>, BasicBlock>, ExecutionSpace>();
}
TEST(residual, gradients_nested_with_standalone_activations_and_dropout) {
  test::check_gradients<Sequential<Input<4>, Tanh,
                                   Residual<Residual<Dense<4>, Swish>, Dropout<0.25>, Sigmoid,
                                            Residual<Dense<4>>, Shortcut<Dense<4>>>,
                                   Dense<2>>,
                        ExecutionSpace>();
}

template <class Net>
void expect_same_parameter_gradients_without_input_gradient() {
  constexpr std::size_t in = Net::input_shape::size;
  Kokkos::View<double**, Kokkos::LayoutRight, test::MemorySpace> x("x", 3, in);
  Kokkos::parallel_for(
      "x", Kokkos::RangePolicy<ExecutionSpace>(0, 3 * in),
      KOKKOS_LAMBDA(std::size_t k) { x.data()[k] = 0.1 * double(k % 7) - 0.3; });
  auto gradients = [&](bool input_gradient) {
    Model<Net, ExecutionSpace, double> model(5);
    model.enable_input_gradient(input_gradient);
    model.forward(x);
    Kokkos::deep_copy(model.output_gradient(), 1.0);
    model.backward();
    return test::host_copy(model.gradients());
  };
  auto const with = gradients(true);
  auto const without = gradients(false);
  for (std::size_t k = 0; k < with.extent(0); ++k) {
    EXPECT_EQ(with(k), without(k)) << "parameter " << k;
  }
}
TEST(residual, first_stage_without_input_gradient) {
  expect_same_parameter_gradients_without_input_gradient<
      Sequential<Input<2, 6, 6>, DownBlock, Flatten, Dense<2>>>();
  expect_same_parameter_gradients_without_input_gradient<
      Sequential<Input<5>, Residual<Dense<5>, ReLU, Dense<5>>, Dense<2>>>();
}

TEST(residual, in_place_sgd_step_equals_gradient_step) {
  // backward_into(parameters, -lr, 1) reads each inner stage's weights before writing them.
  using Net = Sequential<Input<2, 6, 6>, DownBlock, ReLU,
                         Residual<Conv2D<4, 3, 1, 1>, Tanh, Conv2D<4, 3, 1, 1>>, Flatten, Dense<2>>;
  double const lr = 0.1;
  Kokkos::View<double**, Kokkos::LayoutRight, test::MemorySpace> x("x", 2, 72);
  Kokkos::parallel_for(
      "x", Kokkos::RangePolicy<ExecutionSpace>(0, 2 * 72),
      KOKKOS_LAMBDA(std::size_t k) { x.data()[k] = 0.05 * double(k % 11) - 0.2; });
  Model<Net, ExecutionSpace, double> reference(3);
  reference.enable_input_gradient();
  reference.forward(x);
  Kokkos::deep_copy(reference.output_gradient(), 1.0);
  reference.backward();
  auto const before = test::host_copy(reference.parameters());
  auto const gradients = test::host_copy(reference.gradients());
  auto const input_gradient = test::host_copy(reference.input_gradient());

  Model<Net, ExecutionSpace, double> model(3);
  model.enable_input_gradient();
  model.forward(x);
  Kokkos::deep_copy(model.output_gradient(), 1.0);
  model.backward_into(model.parameters(), -lr, 1.0);
  auto const after = test::host_copy(model.parameters());
  for (std::size_t k = 0; k < after.extent(0); ++k) {
    EXPECT_NEAR(after(k), before(k) - lr * gradients(k), 1e-12) << "parameter " << k;
  }
  auto const in_place_input_gradient = test::host_copy(model.input_gradient());
  for (std::size_t k = 0; k < input_gradient.size(); ++k) {
    EXPECT_NEAR(in_place_input_gradient.data()[k], input_gradient.data()[k], 1e-12) << k;
  }
}

TEST(residual, gradients_accumulate_with_beta) {
  using Net = Sequential<Input<2, 6, 6>, DownBlock, Flatten, Dense<2>>;
  Model<Net, ExecutionSpace, double> model(4);
  Kokkos::View<double**, Kokkos::LayoutRight, test::MemorySpace> x("x", 3, 72);
  Kokkos::deep_copy(x, 0.5);
  model.forward(x);
  Kokkos::deep_copy(model.output_gradient(), 1.0);
  model.backward();
  auto once = test::host_copy(model.gradients());
  model.forward(x);
  Kokkos::deep_copy(model.output_gradient(), 1.0);
  model.backward(1.0);
  auto twice = test::host_copy(model.gradients());
  for (std::size_t k = 0; k < once.extent(0); ++k) {
    EXPECT_NEAR(twice(k), 2 * once(k), 1e-12 * (1 + std::abs(once(k))));
  }
}

} // namespace
