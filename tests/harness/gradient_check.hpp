#pragma once

// One generic finite-difference gradient checker for every layer and loss (dlib's test_layer):
// runs a network in double, takes the scalar L = loss(network(x)), and compares the gradients
// of L with respect to every parameter and every input, as computed by backward(), with
// central differences.

#include <loom/core/random.hpp>
#include <loom/loss/concepts.hpp>
#include <loom/loss/mse.hpp>
#include <loom/model/model.hpp>

#include <Kokkos_Core.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace loom::test {

/// A loss for gradient checks: L = Σᵢⱼ wᵢⱼ yᵢⱼ with fixed random weights, so that every output
/// element carries a different weight into the checked gradient.
struct WeightedSum {
  using target_type = double;
};

struct GradientCheckOptions {
  std::size_t batch = 3;
  std::uint64_t seed = 7;
  double step = 1e-6;           ///< central-difference step
  double tolerance = 1e-6;      ///< |analytic - numeric| ≤ tolerance · max(1, |numeric|)
  double input_scale = 1.0;     ///< inputs drawn from N(0, input_scale²)
  bool training = true;         ///< mode of the network (dropout active)
  std::size_t max_checks = 400; ///< parameters checked (evenly spaced) when there are more
};

namespace detail {

template <class ExecutionSpace>
using DoubleMatrix =
    Kokkos::View<double**, Kokkos::LayoutRight, typename ExecutionSpace::memory_space>;

template <class Model>
std::vector<double>
to_host(Kokkos::View<double*, Kokkos::LayoutRight, typename Model::memory_space> const& v) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
  return std::vector<double>(h.data(), h.data() + h.extent(0));
}

template <class View>
std::vector<double> matrix_to_host(View const& v) {
  Kokkos::View<double**, Kokkos::LayoutRight, Kokkos::HostSpace> h("h", v.extent(0), v.extent(1));
  Kokkos::deep_copy(h, v);
  return std::vector<double>(h.data(), h.data() + h.size());
}

} // namespace detail

/// Checks ∂L/∂θ and ∂L/∂x of Model<Net, ExecutionSpace, double> for L = Loss(network(x), t),
/// or, with Loss = WeightedSum, L = Σ w ⊙ network(x), with random inputs and targets.
template <class Net, class ExecutionSpace, class Loss = WeightedSum>
void check_gradients(GradientCheckOptions const& opts = {}) {
  using Model = loom::Model<Net, ExecutionSpace, double>;
  using Memory = typename ExecutionSpace::memory_space;
  constexpr std::size_t in = Model::input_shape::size;
  constexpr std::size_t out = Model::output_shape::size;
  std::size_t const batch = opts.batch;
  ExecutionSpace space;

  Model model(opts.seed);
  model.train(opts.training);
  model.set_step(3);
  model.enable_input_gradient();
  // Non-zero biases, so that bias terms are exercised.
  {
    auto params = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), model.parameters());
    loom::CounterRng rng(opts.seed, 99);
    for (std::size_t k = 0; k < params.extent(0); ++k) {
      params(k) += 0.1 * rng.normal<double>(k);
    }
    Kokkos::deep_copy(model.parameters(), params);
  }

  Kokkos::View<double**, Kokkos::LayoutRight, Memory> x("x", batch, in);
  auto hx = Kokkos::create_mirror_view(x);
  loom::CounterRng rng(opts.seed, 1);
  for (std::size_t k = 0; k < batch * in; ++k) {
    hx.data()[k] = opts.input_scale * rng.normal<double>(k);
  }
  Kokkos::deep_copy(x, hx);

  // The loss's targets and the weights of WeightedSum.
  std::vector<double> weights(batch * out);
  for (std::size_t k = 0; k < weights.size(); ++k) {
    weights[k] = rng.normal<double>(100000 + k);
  }
  using TargetValue =
      std::conditional_t<std::is_same_v<Loss, WeightedSum>, double, typename Loss::target_type>;
  constexpr bool label_targets = std::is_integral_v<TargetValue>;
  Kokkos::View<TargetValue**, Kokkos::LayoutRight, Memory> targets("targets", batch,
                                                                   label_targets ? 1 : out);
  Kokkos::View<TargetValue*, Memory> labels("labels", batch);
  {
    auto ht = Kokkos::create_mirror_view(targets);
    auto hl = Kokkos::create_mirror_view(labels);
    for (std::size_t i = 0; i < batch; ++i) {
      for (std::size_t j = 0; j < ht.extent(1); ++j) {
        if constexpr (label_targets) {
          ht(i, j) = static_cast<TargetValue>(rng.below(out, 200000 + i));
        } else {
          ht(i, j) = static_cast<TargetValue>(rng.normal<double>(200000 + i * out + j));
        }
      }
      hl(i) = ht(i, 0);
    }
    Kokkos::deep_copy(targets, ht);
    Kokkos::deep_copy(labels, hl);
  }
  Kokkos::View<double**, Kokkos::LayoutRight, Memory> w("w", batch, out);
  {
    auto hw = Kokkos::create_mirror_view(w);
    std::copy(weights.begin(), weights.end(), hw.data());
    Kokkos::deep_copy(w, hw);
  }
  Kokkos::View<double**, Kokkos::LayoutRight, Memory> scratch("scratch", batch, out);

  // L(x) with the current parameters; with_gradient also writes ∂L/∂output.
  auto evaluate = [&](bool with_gradient) -> double {
    auto y = model.forward(x);
    auto grad = with_gradient ? model.output_gradient()
                              : typename Model::batch_type(scratch.data(), batch, out);
    if constexpr (std::is_same_v<Loss, WeightedSum>) {
      double sum = 0;
      Kokkos::parallel_reduce(
          "weighted_sum", Kokkos::RangePolicy<ExecutionSpace>(space, 0, batch * out),
          KOKKOS_LAMBDA(std::size_t k, double& acc) {
            acc += w.data()[k] * y.data()[k];
            grad.data()[k] = w.data()[k];
          },
          sum);
      return sum;
    } else if constexpr (label_targets) {
      return Loss::compute(space, y, labels, grad, 1.0 / double(batch)).mean();
    } else {
      return Loss::compute(space, y, targets, grad, 1.0 / double(batch)).mean();
    }
  };

  evaluate(true);
  model.backward();
  model.set_step(3); // the same dropout masks in every evaluation below
  auto const analytic_params = detail::to_host<Model>(model.gradients());
  auto const analytic_input = detail::matrix_to_host(model.input_gradient());

  auto compare = [&](double analytic, double numeric, std::string const& what) {
    double const err = std::abs(analytic - numeric);
    EXPECT_LE(err, opts.tolerance * std::max(1.0, std::abs(numeric)))
        << what << ": backward gives " << analytic << ", finite differences " << numeric << " ("
        << Net::name() << ")";
  };

  // Parameters.
  auto params = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), model.parameters());
  std::size_t const n = params.extent(0);
  std::size_t const stride = n > opts.max_checks ? n / opts.max_checks : 1;
  for (std::size_t k = 0; k < n; k += stride) {
    double const saved = params(k);
    params(k) = saved + opts.step;
    Kokkos::deep_copy(model.parameters(), params);
    double const plus = evaluate(false);
    params(k) = saved - opts.step;
    Kokkos::deep_copy(model.parameters(), params);
    double const minus = evaluate(false);
    params(k) = saved;
    Kokkos::deep_copy(model.parameters(), params);
    compare(analytic_params[k], (plus - minus) / (2 * opts.step), "parameter " + std::to_string(k));
  }

  // Inputs.
  std::size_t const inputs = batch * in;
  std::size_t const input_stride = inputs > opts.max_checks ? inputs / opts.max_checks : 1;
  for (std::size_t k = 0; k < inputs; k += input_stride) {
    double const saved = hx.data()[k];
    hx.data()[k] = saved + opts.step;
    Kokkos::deep_copy(x, hx);
    double const plus = evaluate(false);
    hx.data()[k] = saved - opts.step;
    Kokkos::deep_copy(x, hx);
    double const minus = evaluate(false);
    hx.data()[k] = saved;
    Kokkos::deep_copy(x, hx);
    compare(analytic_input[k], (plus - minus) / (2 * opts.step), "input " + std::to_string(k));
  }
}

} // namespace loom::test
