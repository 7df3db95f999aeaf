#include <loom/optim/adam.hpp>
#include <loom/optim/clip.hpp>
#include <loom/optim/rmsprop.hpp>
#include <loom/optim/sgd.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "loom_test.hpp"

namespace {

using namespace loom;
using ExecutionSpace = test::ExecutionSpace;
using Memory = test::MemorySpace;
using Buffer = Kokkos::View<double*, Kokkos::LayoutRight, Memory>;

Buffer make(std::vector<double> const& values) {
  Buffer b("b", values.size());
  auto h = Kokkos::create_mirror_view(b);
  std::copy(values.begin(), values.end(), h.data());
  Kokkos::deep_copy(b, h);
  return b;
}

std::vector<double> host(Buffer const& b) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), b);
  return {h.data(), h.data() + h.extent(0)};
}

// Runs `steps` steps with constant gradients g on parameters p0, returns the parameters.
template <class Opt>
std::vector<double> run(double lr, typename Opt::options const& opts, std::vector<double> const& p0,
                        std::vector<double> const& g, int steps, double scale = 1.0) {
  auto p = make(p0);
  auto grad = make(g);
  typename Opt::template state<double, ExecutionSpace> state(p0.size(), opts);
  for (int s = 0; s < steps; ++s) {
    state.step(ExecutionSpace(), p, grad, lr, scale);
  }
  EXPECT_EQ(state.steps(), std::uint64_t(steps));
  return host(p);
}

// Steps a float parameter vector with the gradient gradient(step, i), returns it.
template <class Opt, class Gradient>
std::vector<float> run_float(double lr, typename Opt::options const& opts,
                             std::vector<float> const& p0, int steps, Gradient gradient) {
  using FloatBuffer = Kokkos::View<float*, Kokkos::LayoutRight, Memory>;
  FloatBuffer p("p", p0.size());
  FloatBuffer g("g", p0.size());
  auto ph = Kokkos::create_mirror_view(p);
  auto gh = Kokkos::create_mirror_view(g);
  std::copy(p0.begin(), p0.end(), ph.data());
  Kokkos::deep_copy(p, ph);
  typename Opt::template state<float, ExecutionSpace> state(p0.size(), opts);
  for (int s = 0; s < steps; ++s) {
    for (std::size_t i = 0; i < p0.size(); ++i) {
      gh(i) = gradient(s, i);
    }
    Kokkos::deep_copy(g, gh);
    state.step(ExecutionSpace(), p, g, lr);
  }
  Kokkos::deep_copy(ph, p);
  return {ph.data(), ph.data() + ph.extent(0)};
}

TEST(sgd, plain_step_by_hand) {
  auto p = run<SGD>(0.1, {}, {1.0, -2.0}, {0.5, -1.0}, 1);
  EXPECT_DOUBLE_EQ(p[0], 0.95);
  EXPECT_DOUBLE_EQ(p[1], -1.9);
}

TEST(sgd, momentum_by_hand) {
  // v1 = 0.5, p1 = 0.95; v2 = 0.9·0.5 + 0.5 = 0.95, p2 = 0.95 - 0.095 = 0.855
  auto p = run<SGD>(0.1, {.momentum = 0.9}, {1.0}, {0.5}, 2);
  EXPECT_NEAR(p[0], 0.855, 1e-15);
}

TEST(sgd, nesterov_by_hand) {
  // v1 = 0.5; p1 = 1 - 0.1 (0.5 + 0.9·0.5) = 0.905
  auto p = run<SGD>(0.1, {.momentum = 0.9, .nesterov = true}, {1.0}, {0.5}, 1);
  EXPECT_NEAR(p[0], 0.905, 1e-15);
}

TEST(sgd, weight_decay_and_gradient_scale) {
  // g = 0.5·2 + 0.1·1 = 1.1; p = 1 - 0.1·1.1
  auto p = run<SGD>(0.1, {.weight_decay = 0.1}, {1.0}, {2.0}, 1, 0.5);
  EXPECT_NEAR(p[0], 0.89, 1e-15);
}

TEST(sgd, rejects_bad_options) {
  EXPECT_THROW((SGD::state<double, ExecutionSpace>(3, {.momentum = -1})), loom::Error);
  try {
    SGD::state<double, ExecutionSpace> s(3, {.nesterov = true});
    FAIL();
  } catch (loom::Error const& e) {
    EXPECT_STREQ(e.what(), "loom::SGD: nesterov = true needs momentum > 0");
  }
}

TEST(adam, first_step_moves_by_lr) {
  // m̂ = g and v̂ = g² after one step: θ ← θ - lr·g/(|g| + ε).
  auto p = run<Adam>(0.01, {}, {1.0, 1.0}, {0.5, -3.0}, 1);
  EXPECT_NEAR(p[0], 0.99, 1e-9);
  EXPECT_NEAR(p[1], 1.01, 1e-9);
}

TEST(adam, two_steps_by_hand) {
  double const g = 0.5, lr = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8;
  double p = 1, m = 0, v = 0;
  for (int t = 1; t <= 2; ++t) {
    double const gt = g + 0.01 * p; // L2 weight decay
    m = b1 * m + (1 - b1) * gt;
    v = b2 * v + (1 - b2) * gt * gt;
    p -= lr / (1 - std::pow(b1, t)) * m / (std::sqrt(v) / std::sqrt(1 - std::pow(b2, t)) + eps);
  }
  auto out = run<Adam>(lr, {.weight_decay = 0.01}, {1.0}, {g}, 2);
  EXPECT_NEAR(out[0], p, 1e-14);
}

TEST(adamw, decoupled_weight_decay_by_hand) {
  // One step: θ = 1 - 0.1·0.5·1 - 0.1·sign(g) = 0.85
  auto p = run<AdamW>(0.1, {.weight_decay = 0.5}, {1.0}, {2.0}, 1);
  EXPECT_NEAR(p[0], 0.85, 1e-8);
  // Weight decay does not enter the moments: with g = 0 the parameter only decays.
  auto q = run<AdamW>(0.1, {.weight_decay = 0.5}, {1.0}, {0.0}, 2);
  EXPECT_NEAR(q[0], 0.95 * 0.95, 1e-12);
}

TEST(rmsprop, steps_by_hand) {
  // r1 = 0.01·0.25 = 0.0025, θ1 = 1 - 0.01·0.5/0.05 = 0.9
  auto p = run<RMSprop>(0.01, {.eps = 0}, {1.0}, {0.5}, 1);
  EXPECT_NEAR(p[0], 0.9, 1e-12);
  // with momentum 0.5: b1 = 10, b2 = 0.5·10 + 0.5/√(0.99·0.0025 + 0.0025)
  double const r2 = 0.99 * 0.0025 + 0.01 * 0.25;
  double const b2 = 0.5 * 10 + 0.5 / std::sqrt(r2);
  auto q = run<RMSprop>(0.01, {.eps = 0, .momentum = 0.5}, {1.0}, {0.5}, 2);
  EXPECT_NEAR(q[0], 1 - 0.01 * 10 - 0.01 * b2, 1e-12);
}

// The float path against the same update in double, from the same float inputs (as PyTorch
// computes its float32 step: hyperparameter constants in double, rounded once). A constant
// such as 1 - β₂ formed in float is 1.3e-5 (relative) off, which makes each Adam step about
// 6.6e-6 too long: 20 steps of lr 0.1 then drift 1e-5 from the reference, where float
// rounding stays below 1e-6.
float sample_gradient(int step, std::size_t i) {
  return static_cast<float>(0.5 + 0.25 * std::sin(0.7 * step + double(i)));
}

TEST(adam, float_steps_follow_the_double_update) {
  for (bool decoupled : {false, true}) {
    double const lr = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8, decay = decoupled ? 0.01 : 0.001;
    std::vector<float> const p0 = {1.0f, -0.5f, 2.0f, 0.25f};
    std::vector<double> p(p0.begin(), p0.end()), m(p.size()), v(p.size());
    for (int t = 1; t <= 20; ++t) {
      for (std::size_t i = 0; i < p.size(); ++i) {
        double g = sample_gradient(t - 1, i);
        if (decoupled) {
          p[i] *= 1 - lr * decay;
        } else {
          g += decay * p[i];
        }
        m[i] = b1 * m[i] + (1 - b1) * g;
        v[i] = b2 * v[i] + (1 - b2) * g * g;
        p[i] -= lr / (1 - std::pow(b1, t)) * m[i] /
                (std::sqrt(v[i]) / std::sqrt(1 - std::pow(b2, t)) + eps);
      }
    }
    std::vector<float> const out =
        decoupled ? run_float<AdamW>(lr, {.weight_decay = decay}, p0, 20, sample_gradient)
                  : run_float<Adam>(lr, {.weight_decay = decay}, p0, 20, sample_gradient);
    for (std::size_t i = 0; i < p.size(); ++i) {
      EXPECT_NEAR(out[i], p[i], 1e-6) << (decoupled ? "AdamW" : "Adam") << ", parameter " << i;
    }
  }
}

TEST(rmsprop, float_steps_follow_the_double_update) {
  // 1 - float(0.999) is 1.3e-5 off 0.001: each early step would be 6.4e-6 too long.
  double const lr = 0.01, alpha = 0.999, eps = 1e-8;
  std::vector<float> const p0 = {1.0f, -0.5f, 2.0f, 0.25f};
  std::vector<double> p(p0.begin(), p0.end()), r(p.size());
  for (int t = 0; t < 20; ++t) {
    for (std::size_t i = 0; i < p.size(); ++i) {
      double const g = sample_gradient(t, i);
      r[i] = alpha * r[i] + (1 - alpha) * g * g;
      p[i] -= lr * g / (std::sqrt(r[i]) + eps);
    }
  }
  auto const out = run_float<RMSprop>(lr, {.alpha = alpha, .eps = eps}, p0, 20, sample_gradient);
  for (std::size_t i = 0; i < p.size(); ++i) {
    EXPECT_NEAR(out[i], p[i], 1e-6) << "parameter " << i;
  }
}

TEST(optimizers, state_buffers_are_named_and_sized) {
  SGD::state<double, ExecutionSpace> plain(10, {});
  EXPECT_EQ(plain.buffers()[0].name, "momentum");
  EXPECT_EQ(plain.buffers()[0].view.extent(0), 0u);
  SGD::state<double, ExecutionSpace> momentum(10, {.momentum = 0.9});
  EXPECT_EQ(momentum.buffers()[0].view.extent(0), 10u);
  Adam::state<float, ExecutionSpace> adam(7, {});
  EXPECT_EQ(adam.buffers()[0].name, "first_moment");
  EXPECT_EQ(adam.buffers()[1].name, "second_moment");
  EXPECT_EQ(adam.buffers()[1].view.extent(0), 7u);
}

TEST(clipping, global_norm_and_factor) {
  auto g = make({3.0, 4.0});
  double const norm = global_norm(ExecutionSpace(), g);
  EXPECT_DOUBLE_EQ(norm, 5.0);
  EXPECT_NEAR(clip_factor(norm, 1.0), 1.0 / (5.0 + 1e-6), 1e-15);
  EXPECT_EQ(clip_factor(norm, 10.0), 1.0);
  // Clipping through the optimizer's gradient scale: the step has norm lr · max_norm.
  auto p = run<SGD>(1.0, {}, {0.0, 0.0}, {3.0, 4.0}, 1, clip_factor(norm, 1.0));
  EXPECT_NEAR(std::hypot(p[0], p[1]), 1.0, 1e-6);
}

} // namespace
