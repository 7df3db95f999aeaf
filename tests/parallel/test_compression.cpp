// Compression policies: exact bookkeeping of top-k, error bounds of fp16 and int8, and
// data-parallel training that still converges with each.

#include <loom/loom.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "loom_test.hpp"

namespace {

using namespace loom;
using ExecutionSpace = test::ExecutionSpace;

TEST(compression, half_conversion_matches_the_hardware_type) {
  // Every float in a wide sweep, and the edges: rounding to nearest even, subnormals, overflow.
  std::vector<float> values{0.0f,     -0.0f,   1.0f,      -2.5f,    65504.0f, 65519.0f,
                            65520.0f, 1e-8f,   5.96e-8f,  2.98e-8f, 6.1e-5f,  1.0f / 3.0f,
                            1e30f,    -1e-30f, 0.099976f, 3.14159f};
  for (int e = -30; e <= 20; ++e) {
    for (int m = 0; m < 97; ++m) {
      values.push_back(std::ldexp(1.0f + float(m) / 97.0f, e));
      values.push_back(-std::ldexp(1.0f + float(m) / 89.0f, e));
    }
  }
  for (float v : values) {
    _Float16 const reference = static_cast<_Float16>(v);
    std::uint16_t bits;
    std::memcpy(&bits, &reference, 2);
    EXPECT_EQ(comm::detail::to_half(v), bits) << v;
    EXPECT_EQ(comm::detail::from_half(bits), static_cast<float>(reference)) << v;
  }
  EXPECT_TRUE(std::isnan(comm::detail::from_half(comm::detail::to_half(NAN))));
}

template <class Compression>
std::vector<float> all_reduce_with(comm::Mpi& comm, std::vector<float> gradient) {
  typename Compression::template state<comm::Mpi> state(comm, {gradient.size()});
  state.start(0, std::span(gradient)).wait();
  return gradient;
}

// Each rank's gradient: smooth values of both signs, different per rank.
std::vector<float> gradient_of(int rank, std::size_t n) {
  std::vector<float> g(n);
  for (std::size_t i = 0; i < n; ++i) {
    g[i] = std::sin(0.37f * float(i) + float(rank)) * (1.0f + 0.1f * float(rank));
  }
  return g;
}

std::vector<double> exact_sum(int ranks, std::size_t n) {
  std::vector<double> sum(n, 0.0);
  for (int r = 0; r < ranks; ++r) {
    auto const g = gradient_of(r, n);
    for (std::size_t i = 0; i < n; ++i) {
      sum[i] += g[i];
    }
  }
  return sum;
}

TEST(compression, fp16_and_int8_stay_within_their_bounds) {
  Environment env;
  comm::Mpi comm(env.comm());
  std::size_t const n = 10007;
  auto const exact = exact_sum(env.size(), n);
  auto const fp16 = all_reduce_with<comm::Fp16>(comm, gradient_of(env.rank(), n));
  auto const int8 = all_reduce_with<comm::Int8>(comm, gradient_of(env.rank(), n));
  auto const none = all_reduce_with<comm::NoCompression>(comm, gradient_of(env.rank(), n));
  for (std::size_t i = 0; i < n; ++i) {
    // fp16: each contribution within 2⁻¹¹ of itself (≤ 1.3 here) plus float summation.
    double const fp16_bound = env.size() * (1.3 * std::ldexp(1.0, -11)) + 1e-6;
    EXPECT_NEAR(fp16[i], exact[i], fp16_bound) << i;
    // int8: each contribution within scale / 2, scale = max|g| / 127 ≤ 1.3 / 127.
    double const int8_bound = env.size() * (1.3 / 127 / 2) + 1e-6;
    EXPECT_NEAR(int8[i], exact[i], int8_bound) << i;
    EXPECT_NEAR(none[i], exact[i], 1e-5) << i;
  }
}

TEST(compression, top_k_sends_plus_keeps_exactly_the_gradient) {
  Environment env;
  comm::Mpi comm(env.comm());
  std::size_t const n = 1000;
  using TopK = comm::TopK<0.05>;
  EXPECT_EQ(TopK::k_of(n), 50u);
  TopK::state<comm::Mpi> state(comm, {n});
  std::vector<float> carried(n, 0.0f); // the residual before each step
  for (int step = 0; step < 3; ++step) {
    auto const g = gradient_of(env.rank() + step, n);
    // What this rank sends is (g + previous residual) minus the new residual; the sum over
    // ranks of what was sent is the result.
    std::vector<float> sent(n);
    auto result = g;
    state.start(0, std::span(result)).wait();
    auto const residual = state.residual(0);
    std::size_t nonzero = 0;
    for (std::size_t i = 0; i < n; ++i) {
      float const corrected = g[i] + carried[i];
      sent[i] = residual[i] == 0.0f ? corrected : 0.0f;
      nonzero += residual[i] == 0.0f && corrected != 0.0f;
      // Exact: each entry is either sent whole or kept whole.
      ASSERT_TRUE(residual[i] == 0.0f || residual[i] == corrected) << i;
      ASSERT_EQ(sent[i] + residual[i], corrected) << i;
    }
    EXPECT_EQ(nonzero, 50u);
    comm.all_reduce(std::span(sent), comm::ReduceOp::sum);
    for (std::size_t i = 0; i < n; ++i) {
      ASSERT_NEAR(result[i], sent[i], 1e-5) << i;
    }
    carried.assign(residual.begin(), residual.end());
  }
}

template <class Compression>
double train_with() {
  Environment env;
  using Net = Sequential<Input<12>, Dense<16>, ReLU, Dense<4>>;
  CounterRng rng(3, 1);
  std::vector<float> x(400 * 12);
  std::vector<std::int32_t> y(400);
  for (std::size_t i = 0; i < 400; ++i) {
    y[i] = static_cast<std::int32_t>(rng.below(4, i));
    for (std::size_t j = 0; j < 12; ++j) {
      x[i * 12 + j] =
          (j % 4 == std::size_t(y[i]) ? 1.5f : -0.5f) + 0.5f * rng.normal<float>(1000 + i * 12 + j);
    }
  }
  data::InMemoryDataset<std::int32_t> data(std::move(x), 12, std::move(y), 1, "synthetic");
  Trainer<Net, SoftmaxCrossEntropy, SGD, DataParallel<comm::Mpi, Compression>, ExecutionSpace>
      trainer(env, {.batch = 16, .lr = 0.1, .optimizer = {.momentum = 0.9}, .seed = 2});
  trainer.fit(data, epochs(4));
  return trainer.evaluate(data).accuracy();
}

TEST(compression, training_converges_with_each_policy) {
  EXPECT_GT(train_with<comm::NoCompression>(), 0.95);
  EXPECT_GT(train_with<comm::Fp16>(), 0.95);
  EXPECT_GT(train_with<comm::Int8>(), 0.95);
  EXPECT_GT(train_with<comm::TopK<0.1>>(), 0.9);
}

} // namespace
