#include <loom/layers/activations.hpp>
#include <loom/layers/conv2d.hpp>
#include <loom/layers/dense.hpp>
#include <loom/layers/flatten.hpp>
#include <loom/model/model.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "gradient_check.hpp"
#include "loom_test.hpp"

namespace {

using namespace loom;
using ExecutionSpace = test::ExecutionSpace;

TEST(conv2d, shapes_parameter_counts_and_names) {
  using Net = Sequential<Input<3, 28, 28>, Conv2D<8, 3, 1, 1>, Conv2D<4, 3, 2>, Conv2D<2, 1>>;
  using L = Net::layers;
  static_assert(std::is_same_v<detail::at<0, L>::output_shape, Shape<8, 28, 28>>);
  static_assert(std::is_same_v<detail::at<1, L>::output_shape, Shape<4, 13, 13>>);
  static_assert(std::is_same_v<Net::output_shape, Shape<2, 13, 13>>);
  static_assert(Net::num_parameters == (8 * 3 * 9 + 8) + (4 * 8 * 9 + 4) + (2 * 4 + 2));
  // Rectangular kernel, stride and padding; odd sizes.
  using Rect = Sequential<Input<2, 7, 5>, Conv2D<3, Window{3, 2}, Window{2, 1}, Window{1, 0}>>;
  static_assert(std::is_same_v<Rect::output_shape, Shape<3, 4, 4>>);
  static_assert(Rect::num_parameters == 3 * 2 * 6 + 3);
  EXPECT_EQ((Conv2D<32, 3, 1, 1>::name()), "Conv2D<32, 3, 1, 1>");
  EXPECT_EQ((Conv2D<32, 3>::name()), "Conv2D<32, 3>");
  EXPECT_EQ((Conv2D<8, Window{1, 7}, 2, Window{0, 3}, NoBias>::name()),
            "Conv2D<8, 1x7, 2, 0x3, NoBias>");
  EXPECT_EQ((Conv2D<8, 3, 1, 1, conv::Direct>::name()), "Conv2D<8, 3, 1, 1, conv::Direct>");
  EXPECT_EQ((Conv2D<8, 3, 1, 0, NoBias, conv::Im2col>::name()),
            "Conv2D<8, 3, NoBias, conv::Im2col>");
  EXPECT_EQ((Conv2D<8, 3, 1, 1, conv::Winograd>::name()), "Conv2D<8, 3, 1, 1, conv::Winograd>");
}

TEST(conv2d, chooses_the_direct_kernel_for_small_patches_on_the_host) {
  using HostSpace = Kokkos::DefaultHostExecutionSpace;
  // C·KH·KW = 9: direct; 18 and 27: im2col; named algorithms are kept.
  static_assert(Conv2D<32, 3, 1, 1>::stage<Shape<1, 28, 28>, float, HostSpace>::direct);
  static_assert(!Conv2D<32, 3, 1, 1>::stage<Shape<2, 28, 28>, float, HostSpace>::direct);
  static_assert(!Conv2D<32, 3, 1, 1>::stage<Shape<3, 32, 32>, float, HostSpace>::direct);
  static_assert(
      !Conv2D<32, 3, 1, 1, conv::Im2col>::stage<Shape<1, 28, 28>, float, HostSpace>::direct);
  static_assert(Conv2D<8, 3, 1, 1, conv::Direct>::stage<Shape<16, 8, 8>, float, HostSpace>::direct);
  // A first layer over large images needs more than a work item may hold: im2col.
  static_assert(!Conv2D<64, 7, 2, 3>::stage<Shape<3, 224, 224>, float, HostSpace>::direct);
  // The direct kernel needs no column matrix: only the output's scratch.
  using Direct = Conv2D<32, 3, 1, 1>::stage<Shape<1, 28, 28>, float, HostSpace>;
  static_assert(Direct::workspace_per_sample == 0);
  static_assert(Direct::scratch_per_sample == 32 * 28 * 28);
}

TEST(conv2d, chooses_winograd_for_three_by_three_stride_one_on_the_host) {
  using HostSpace = Kokkos::DefaultHostExecutionSpace;
  using Second = Conv2D<64, 3, 1, 1>::stage<Shape<32, 14, 14>, float, HostSpace>;
  static_assert(Second::winograd && !Second::direct && !Second::im2col);
  static_assert(Conv2D<8, 3>::stage<Shape<4, 9, 9>, float, HostSpace>::winograd);
  // Fewer than conv::winograd_min_channels channels stay with im2col, unless named.
  static_assert(Conv2D<32, 3, 1, 1>::stage<Shape<3, 32, 32>, float, HostSpace>::im2col);
  // The direct kernel keeps small patches; other kernels and strides take im2col.
  static_assert(!Conv2D<32, 3, 1, 1>::stage<Shape<1, 28, 28>, float, HostSpace>::winograd);
  static_assert(Conv2D<8, 3, 2, 1>::stage<Shape<4, 9, 9>, float, HostSpace>::im2col);
  static_assert(Conv2D<8, 5, 1, 2>::stage<Shape<4, 9, 9>, float, HostSpace>::im2col);
  static_assert(Conv2D<8, Window{3, 1}, 1>::stage<Shape<4, 9, 9>, float, HostSpace>::im2col);
  static_assert(Conv2D<8, 3, 1, 1, conv::Im2col>::stage<Shape<4, 9, 9>, float, HostSpace>::im2col);
  static_assert(
      Conv2D<8, 3, 1, 1, conv::Winograd>::stage<Shape<1, 9, 9>, float, HostSpace>::winograd);
  // Kept from forward: the 16 transformed 4×4 tiles of every channel, ⌈14/2⌉² tiles a plane,
  // and a skew of 16 values per block; within a pass the transformed outputs and the
  // transformed input's gradient.
  static_assert(Second::workspace_per_sample == 16 * (32 * 49 + 16));
  static_assert(Second::round_images == 5); // ⌊256 / 49⌋ images of 7×7 tiles
  static_assert(
      Conv2D<2, 3, 1, 1, conv::Winograd>::stage<Shape<2, 20, 19>, float, HostSpace>::round_images ==
      2);
  static_assert(Conv2D<8, 3, 1, 1>::stage<Shape<4, 22, 21>, float, HostSpace>::round_images == 2);
  static_assert(Second::scratch_per_sample == 16 * (64 * 49 + 16) + 16 * (32 * 49 + 16));
}

TEST(conv2d, summary_names_the_algorithm) {
  using Net = Sequential<Input<1, 12, 12>, Conv2D<8, 3, 1, 1>, ReLU, Conv2D<8, 3, 1, 1>,
                         Conv2D<4, 3, 2, 1>, Conv2D<4, 3, 1, 1, conv::Im2col>>;
  std::string const text = Model<Net, ExecutionSpace, float>::summary();
  bool const host = is_host_accessible<ExecutionSpace::memory_space>;
  EXPECT_NE(text.find(host ? "Conv2D<8, 3, 1, 1> [direct] " : "Conv2D<8, 3, 1, 1> [im2col] "),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(host ? "Conv2D<8, 3, 1, 1> [winograd] " : "Conv2D<8, 3, 1, 1> [im2col] "),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("Conv2D<4, 3, 2, 1> [im2col] "), std::string::npos) << text;
  EXPECT_NE(text.find("Conv2D<4, 3, 1, 1, conv::Im2col> [im2col] "), std::string::npos) << text;
}

TEST(conv2d, footprint_gives_halo_widths) {
  using Same = Conv2D<8, 3, 1, 1>::footprint;
  static_assert(Same::halo_before.h == 1 && Same::halo_after.h == 1);
  using Strided = Conv2D<8, 3, 2, 1>::footprint; // rows [2i − 1, 2i + 2)
  static_assert(Strided::halo_before.h == 1 && Strided::halo_after.h == 0);
  using Wide = Conv2D<8, Window{5, 7}>::footprint;
  static_assert(Wide::halo_before.w == 0 && Wide::halo_after.h == 4 && Wide::halo_after.w == 6);
}

TEST(conv2d, winograd_transforms_are_adjoint_pairs) {
  // ⟨T a, b⟩ = ⟨a, Tᵀ b⟩ for each 1-D transform and its adjoint, on integers (exact).
  using W = kernels::Winograd<kernels::ConvGeometry{1, 4, 4, 3, 3, 1, 1, 0, 0, 2, 2}>;
  double const a[4] = {3, -1, 4, 1.5}, b[4] = {2, 7, -1, 8};
  double t[4], u[4];
  W::input(a[0], a[1], a[2], a[3], t[0], t[1], t[2], t[3]);
  W::input_adjoint(b[0], b[1], b[2], b[3], u[0], u[1], u[2], u[3]);
  EXPECT_EQ(t[0] * b[0] + t[1] * b[1] + t[2] * b[2] + t[3] * b[3],
            a[0] * u[0] + a[1] * u[1] + a[2] * u[2] + a[3] * u[3]);
  W::output(a[0], a[1], a[2], a[3], t[0], t[1]);
  W::output_adjoint(b[0], b[1], u[0], u[1], u[2], u[3]);
  EXPECT_EQ(t[0] * b[0] + t[1] * b[1], a[0] * u[0] + a[1] * u[1] + a[2] * u[2] + a[3] * u[3]);
  W::weight(a[0], a[1], a[2], t[0], t[1], t[2], t[3]);
  W::weight_adjoint(b[0], b[1], b[2], b[3], u[0], u[1], u[2]);
  EXPECT_EQ(t[0] * b[0] + t[1] * b[1] + t[2] * b[2] + t[3] * b[3],
            a[0] * u[0] + a[1] * u[1] + a[2] * u[2]);
}

// A direct convolution on the host, the definition the layer must match.
std::vector<double> reference_conv(std::vector<double> const& x, std::vector<double> const& p,
                                   int n, int c, int h, int w, int o, int kh, int kw, int sh,
                                   int sw, int ph, int pw) {
  int const oh = (h + 2 * ph - kh) / sh + 1;
  int const ow = (w + 2 * pw - kw) / sw + 1;
  std::vector<double> y(static_cast<std::size_t>(n * o * oh * ow));
  for (int b = 0; b < n; ++b) {
    for (int f = 0; f < o; ++f) {
      for (int i = 0; i < oh; ++i) {
        for (int j = 0; j < ow; ++j) {
          // The bias follows the weights, when there is one.
          std::size_t const bias = static_cast<std::size_t>(o * c * kh * kw + f);
          double sum = bias < p.size() ? p[bias] : 0.0;
          for (int ch = 0; ch < c; ++ch) {
            for (int u = 0; u < kh; ++u) {
              for (int v = 0; v < kw; ++v) {
                int const r = i * sh - ph + u;
                int const s = j * sw - pw + v;
                if (r >= 0 && r < h && s >= 0 && s < w) {
                  sum += p[static_cast<std::size_t>(((f * c + ch) * kh + u) * kw + v)] *
                         x[static_cast<std::size_t>(((b * c + ch) * h + r) * w + s)];
                }
              }
            }
          }
          y[static_cast<std::size_t>(((b * o + f) * oh + i) * ow + j)] = sum;
        }
      }
    }
  }
  return y;
}

// Every behaviour below holds for both algorithms: im2col + GEMM and the direct kernel.
template <class Algorithm>
class conv2d_algorithm : public ::testing::Test {};
struct AlgorithmNames {
  template <class T>
  static std::string GetName(int) {
    return std::is_same_v<T, conv::Direct> ? "direct" : "im2col";
  }
};
using Algorithms = ::testing::Types<conv::Im2col, conv::Direct>;
TYPED_TEST_SUITE(conv2d_algorithm, Algorithms, AlgorithmNames);

// The network's only layer, a convolution of geometry G with O outputs, against
// reference_conv for a batch of n random images and random weights and biases.
template <class Net, kernels::ConvGeometry G, int O>
void check_forward(int n) {
  Model<Net, ExecutionSpace, double> model(3);
  auto params = test::host_copy(model.parameters());
  CounterRng rng(11, 0);
  for (std::size_t k = 0; k < params.extent(0); ++k) {
    params(k) = rng.normal<double>(k); // biases too
  }
  Kokkos::deep_copy(model.parameters(), params);
  Kokkos::View<double**, Kokkos::LayoutRight, test::MemorySpace> x("x", n, G.image());
  auto hx = Kokkos::create_mirror_view(x);
  for (std::size_t k = 0; k < hx.size(); ++k) {
    hx.data()[k] = rng.normal<double>(1000 + k);
  }
  Kokkos::deep_copy(x, hx);
  auto y = test::host_copy(model.forward(x));
  std::vector<double> const xs(hx.data(), hx.data() + hx.size());
  std::vector<double> const ps(params.data(), params.data() + params.size());
  auto const expected = reference_conv(xs, ps, n, G.channels, G.height, G.width, O, G.kernel_h,
                                       G.kernel_w, G.stride_h, G.stride_w, G.pad_h, G.pad_w);
  ASSERT_EQ(y.size(), expected.size());
  for (std::size_t k = 0; k < expected.size(); ++k) {
    EXPECT_NEAR(y.data()[k], expected[k], 1e-12) << Net::name() << ", output " << k;
  }
}

TYPED_TEST(conv2d_algorithm, forward_matches_a_direct_convolution) {
  using A = TypeParam;
  using Net = Sequential<Input<2, 7, 6>, Conv2D<3, Window{3, 2}, Window{2, 1}, Window{1, 1}, A>>;
  check_forward<Net, kernels::ConvGeometry{2, 7, 6, 3, 2, 2, 1, 1, 1, 4, 7}, 3>(2);
}

TYPED_TEST(conv2d_algorithm, gradients_same_padding) {
  using A = TypeParam;
  test::check_gradients<Sequential<Input<2, 5, 5>, Conv2D<3, 3, 1, 1, A>>, ExecutionSpace>();
}
TYPED_TEST(conv2d_algorithm, gradients_stride_two_odd_image) {
  using A = TypeParam;
  test::check_gradients<Sequential<Input<2, 7, 5>, Conv2D<3, 3, 2, 1, A>>, ExecutionSpace>();
}
TYPED_TEST(conv2d_algorithm, gradients_rectangular_kernel_stride_padding) {
  using A = TypeParam;
  test::check_gradients<
      Sequential<Input<2, 7, 6>, Conv2D<3, Window{3, 2}, Window{2, 1}, Window{1, 0}, A>>,
      ExecutionSpace>();
}
TYPED_TEST(conv2d_algorithm, gradients_stride_larger_than_kernel) {
  using A = TypeParam;
  test::check_gradients<Sequential<Input<1, 7, 7>, Conv2D<2, 2, 3, 0, A>>, ExecutionSpace>();
}
TYPED_TEST(conv2d_algorithm, gradients_no_bias_one_by_one) {
  using A = TypeParam;
  test::check_gradients<Sequential<Input<4, 3, 3>, Conv2D<2, 1, 1, 0, NoBias, A>>,
                        ExecutionSpace>();
}
TYPED_TEST(conv2d_algorithm, gradients_fused_relu_then_conv) {
  using A = TypeParam;
  // The second convolution's input gradient runs col2im into the first's output.
  test::check_gradients<Sequential<Input<1, 6, 6>, Conv2D<4, 3, 1, 1, A>, ReLU,
                                   Conv2D<3, 3, 2, 0, A>, Tanh, Flatten, Dense<2>>,
                        ExecutionSpace>();
}
TYPED_TEST(conv2d_algorithm, gradients_fused_gelu_keeps_preactivation) {
  using A = TypeParam;
  test::check_gradients<Sequential<Input<2, 4, 5>, Conv2D<3, 3, 1, 1, A>, GELU>, ExecutionSpace>();
}
TYPED_TEST(conv2d_algorithm, gradients_accumulate_with_beta) {
  using A = TypeParam;
  // backward(beta = 1) adds to the gradients: twice the same batch gives twice the gradient.
  using Net = Sequential<Input<2, 5, 5>, Conv2D<3, 3, 1, 1, A>, ReLU, Flatten, Dense<2>>;
  Model<Net, ExecutionSpace, double> model(4);
  Kokkos::View<double**, Kokkos::LayoutRight, test::MemorySpace> x("x", 3, 50);
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

// 3×3 kernels with stride 1, which every algorithm takes: odd and even sizes, padding 0 to 2
// (outputs past an odd edge of Winograd's 2×2 tiles), images smaller than a tile.
template <class Algorithm>
class conv2d_three_by_three : public ::testing::Test {};
struct AllAlgorithmNames {
  template <class T>
  static std::string GetName(int) {
    return std::is_same_v<T, conv::Direct>     ? "direct"
           : std::is_same_v<T, conv::Winograd> ? "winograd"
                                               : "im2col";
  }
};
using AllAlgorithms = ::testing::Types<conv::Im2col, conv::Direct, conv::Winograd>;
TYPED_TEST_SUITE(conv2d_three_by_three, AllAlgorithms, AllAlgorithmNames);

TYPED_TEST(conv2d_three_by_three, forward_matches_a_direct_convolution) {
  using A = TypeParam;
  using kernels::ConvGeometry;
  check_forward<Sequential<Input<3, 7, 6>, Conv2D<4, 3, 1, 1, A>>,
                ConvGeometry{3, 7, 6, 3, 3, 1, 1, 1, 1, 7, 6}, 4>(2);
  check_forward<Sequential<Input<2, 6, 9>, Conv2D<3, 3, 1, 0, A>>,
                ConvGeometry{2, 6, 9, 3, 3, 1, 1, 0, 0, 4, 7}, 3>(3);
  check_forward<Sequential<Input<2, 3, 4>, Conv2D<2, 3, 1, 2, A>>,
                ConvGeometry{2, 3, 4, 3, 3, 1, 1, 2, 2, 5, 6}, 2>(1);
  check_forward<Sequential<Input<5, 1, 1>, Conv2D<3, 3, 1, 1, A>>,
                ConvGeometry{5, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1}, 3>(2);
  check_forward<Sequential<Input<1, 5, 5>, Conv2D<2, 3, 1, Window{0, 1}, NoBias, A>>,
                ConvGeometry{1, 5, 5, 3, 3, 1, 1, 0, 1, 3, 5}, 2>(2);
}
TYPED_TEST(conv2d_three_by_three, gradients_same_padding_odd_rows) {
  using A = TypeParam;
  test::check_gradients<Sequential<Input<2, 7, 6>, Conv2D<3, 3, 1, 1, A>>, ExecutionSpace>();
}
TYPED_TEST(conv2d_three_by_three, gradients_no_padding_odd_columns) {
  using A = TypeParam;
  test::check_gradients<Sequential<Input<3, 6, 7>, Conv2D<2, 3, 1, 0, A>>, ExecutionSpace>();
}
TYPED_TEST(conv2d_three_by_three, gradients_padding_two) {
  using A = TypeParam;
  test::check_gradients<Sequential<Input<2, 3, 4>, Conv2D<2, 3, 1, 2, A>>, ExecutionSpace>();
}
TYPED_TEST(conv2d_three_by_three, gradients_one_pixel_image) {
  using A = TypeParam;
  test::check_gradients<Sequential<Input<4, 1, 1>, Conv2D<3, 3, 1, 1, NoBias, A>>,
                        ExecutionSpace>();
}
TYPED_TEST(conv2d_three_by_three, gradients_over_several_rounds) {
  using A = TypeParam;
  // 10×10 tiles an image: Winograd takes two images a round on the host, so a batch of three
  // runs a full round and a short one.
  test::check_gradients<Sequential<Input<2, 20, 19>, Conv2D<2, 3, 1, 1, A>, ReLU>,
                        ExecutionSpace>();
}
TYPED_TEST(conv2d_three_by_three, gradients_relu_then_conv_then_gelu) {
  using A = TypeParam;
  // The second convolution's input gradient flows into the first's fused ReLU; the GELU
  // after it keeps its pre-activation.
  test::check_gradients<Sequential<Input<2, 6, 5>, Conv2D<4, 3, 1, 1, A>, ReLU,
                                   Conv2D<3, 3, 1, 1, A>, GELU, Flatten, Dense<2>>,
                        ExecutionSpace>();
}
// ∂/∂(weights, bias) of Σ dy·y for y = reference_conv(x, p): the reference for the gradients.
std::vector<double> reference_conv_parameter_gradient(std::vector<double> const& x,
                                                      std::vector<double> const& dy, int n, int c,
                                                      int h, int w, int o, int kh, int kw, int ph,
                                                      int pw) {
  int const oh = h + 2 * ph - kh + 1; // stride 1
  int const ow = w + 2 * pw - kw + 1;
  std::vector<double> g(static_cast<std::size_t>(o * c * kh * kw + o));
  for (int b = 0; b < n; ++b) {
    for (int f = 0; f < o; ++f) {
      for (int i = 0; i < oh; ++i) {
        for (int j = 0; j < ow; ++j) {
          double const d = dy[static_cast<std::size_t>(((b * o + f) * oh + i) * ow + j)];
          g[static_cast<std::size_t>(o * c * kh * kw + f)] += d;
          for (int ch = 0; ch < c; ++ch) {
            for (int u = 0; u < kh; ++u) {
              for (int v = 0; v < kw; ++v) {
                int const r = i - ph + u;
                int const s = j - pw + v;
                if (r >= 0 && r < h && s >= 0 && s < w) {
                  g[static_cast<std::size_t>(((f * c + ch) * kh + u) * kw + v)] +=
                      d * x[static_cast<std::size_t>(((b * c + ch) * h + r) * w + s)];
                }
              }
            }
          }
        }
      }
    }
  }
  return g;
}

TYPED_TEST(conv2d_three_by_three, float_training_step_matches_the_reference) {
  using A = TypeParam;
  // One SGD step written into the weights by backward, in float, through the fused ReLU,
  // against the reference convolution and its gradient in double: every algorithm differs
  // from it by float rounding only. Eleven tiles square: Winograd takes two images a round,
  // three rounds for five images.
  constexpr int n = 5, c = 4, h = 22, w = 21, o = 8;
  constexpr float lr = 0.1f;
  Model<Sequential<Input<c, h, w>, Conv2D<o, 3, 1, 1, A>, ReLU>, ExecutionSpace, float> model(5);
  auto params = test::host_copy(model.parameters());
  CounterRng rng(3, 0);
  for (std::size_t k = 0; k < params.extent(0); ++k) {
    params(k) = rng.normal<float>(50000 + k) * 0.2f;
  }
  Kokkos::deep_copy(model.parameters(), params);
  Kokkos::View<float**, Kokkos::LayoutRight, test::MemorySpace> x("x", n, c * h * w);
  auto hx = Kokkos::create_mirror_view(x);
  for (std::size_t k = 0; k < hx.size(); ++k) {
    hx.data()[k] = rng.normal<float>(k);
  }
  Kokkos::deep_copy(x, hx);
  std::vector<double> const xs(hx.data(), hx.data() + hx.size());
  std::vector<double> const ps(params.data(), params.data() + params.size());
  std::vector<double> z = reference_conv(xs, ps, n, c, h, w, o, 3, 3, 1, 1, 1, 1);

  auto const y = test::host_copy(model.forward(x));
  ASSERT_EQ(y.size(), z.size());
  for (std::size_t k = 0; k < z.size(); ++k) {
    EXPECT_NEAR(y.data()[k], std::max(z[k], 0.0), 1e-5 * (1 + std::abs(z[k]))) << "output " << k;
  }
  auto dy = Kokkos::create_mirror_view(model.output_gradient());
  std::vector<double> dz(z.size());
  for (std::size_t k = 0; k < z.size(); ++k) {
    dy.data()[k] = rng.normal<float>(100000 + k);
    dz[k] = z[k] > 0 ? double(dy.data()[k]) : 0.0;
  }
  Kokkos::deep_copy(model.output_gradient(), dy);
  model.backward_into(model.parameters(), -lr, 1.0f);
  auto const stepped = test::host_copy(model.parameters());
  auto const g = reference_conv_parameter_gradient(xs, dz, n, c, h, w, o, 3, 3, 1, 1);
  ASSERT_EQ(stepped.extent(0), g.size());
  for (std::size_t k = 0; k < g.size(); ++k) {
    double const expected = ps[k] - double(lr) * g[k];
    // Each gradient sums about 2000 products of order one.
    EXPECT_NEAR(stepped(k), expected, 2e-4 * (1 + std::abs(g[k]) * double(lr)))
        << "parameter " << k;
  }
}

} // namespace
