#include <loom/layers/activations.hpp>
#include <loom/layers/dense.hpp>
#include <loom/loss/softmax_cross_entropy.hpp>
#include <loom/model/model.hpp>

#include <gtest/gtest.h>

#include <cmath>

#include "gradient_check.hpp"
#include "loom_test.hpp"

namespace {

using namespace loom;
using ExecutionSpace = test::ExecutionSpace;
using Memory = test::MemorySpace;

TEST(softmax_cross_entropy, gradients) {
  test::GradientCheckOptions opts;
  opts.batch = 5;
  test::check_gradients<Sequential<Input<4>, Dense<6>, Tanh, Dense<3>>, ExecutionSpace,
                        SoftmaxCrossEntropy>(opts);
}

template <class Scalar>
struct Batch {
  Kokkos::View<Scalar**, Kokkos::LayoutRight, Memory> logits, grad;
  Kokkos::View<std::int32_t*, Memory> labels;
  Batch(std::vector<Scalar> const& values, std::vector<std::int32_t> const& lab)
      : logits("logits", lab.size(), values.size() / lab.size())
      , grad("grad", lab.size(), values.size() / lab.size())
      , labels("labels", lab.size()) {
    auto hl = Kokkos::create_mirror_view(logits);
    std::copy(values.begin(), values.end(), hl.data());
    Kokkos::deep_copy(logits, hl);
    auto hy = Kokkos::create_mirror_view(labels);
    std::copy(lab.begin(), lab.end(), hy.data());
    Kokkos::deep_copy(labels, hy);
  }
};

TEST(softmax_cross_entropy, values_gradient_and_accuracy_by_hand) {
  Batch<double> b({1, 2, 3, 0, 0, 0}, {2, 0});
  auto v = SoftmaxCrossEntropy::compute(ExecutionSpace(), b.logits, b.labels, b.grad, 0.5);
  double const lse = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
  EXPECT_NEAR(v.sum, (lse - 3) + std::log(3.0), 1e-12);
  EXPECT_EQ(v.count, 2u);
  EXPECT_EQ(v.correct, 2u); // row 0 predicts 2; row 1 ties, and the first maximum (0) wins
  auto g = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), b.grad);
  EXPECT_NEAR(g(0, 0), 0.5 * std::exp(1.0 - lse), 1e-12);
  EXPECT_NEAR(g(0, 2), 0.5 * (std::exp(3.0 - lse) - 1), 1e-12);
  EXPECT_NEAR(g(1, 0), 0.5 * (1.0 / 3 - 1), 1e-12);
  EXPECT_NEAR(g(1, 1), 0.5 / 3, 1e-12);
}

TEST(softmax_cross_entropy, stable_for_huge_logits) {
  Batch<float> b({1e4f, -1e4f, 0, 3e4f, 3e4f, 3e4f}, {1, 2});
  auto v = SoftmaxCrossEntropy::compute(ExecutionSpace(), b.logits, b.labels, b.grad, 1.0);
  EXPECT_TRUE(std::isfinite(v.sum));
  EXPECT_NEAR(v.sum, 2e4 + std::log(3.0), 1.0);
  auto g = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), b.grad);
  for (std::size_t k = 0; k < g.size(); ++k) {
    EXPECT_TRUE(std::isfinite(g.data()[k]));
  }
}

TEST(softmax_cross_entropy, labels_out_of_range_are_counted_not_read) {
  Batch<float> b({0, 1, 2, 3, 4, 5}, {3, -1});
  auto v = SoftmaxCrossEntropy::compute(ExecutionSpace(), b.logits, b.labels, b.grad, 1.0);
  EXPECT_EQ(v.invalid, 2u);
  EXPECT_EQ(v.count, 0u);
  auto g = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), b.grad);
  for (std::size_t k = 0; k < g.size(); ++k) {
    EXPECT_EQ(g.data()[k], 0.0f);
  }
}

} // namespace
