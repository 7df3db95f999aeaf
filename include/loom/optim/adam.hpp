#pragma once

#include <loom/core/detail/format.hpp>
#include <loom/core/error.hpp>
#include <loom/core/math.hpp>
#include <loom/core/tensor.hpp>
#include <loom/optim/concepts.hpp>
#include <loom/optim/detail/state_base.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstddef>
#include <string>

namespace loom {

namespace detail {
template <class Options>
std::string describe_adam(Options const& o) {
  return "beta1=" + format_number(o.beta1) + ", beta2=" + format_number(o.beta2) +
         ", eps=" + format_number(o.eps) + ", weight_decay=" + format_number(o.weight_decay);
}

// Adam's update; Decoupled selects AdamW's weight decay (θ ← θ - ηλθ) over L2 (g ← g + λθ).
template <bool Decoupled, class Options, class Scalar, class ExecutionSpace>
class AdamState : public OptimizerStateBase<Options, Scalar, ExecutionSpace, 2> {
  using base = OptimizerStateBase<Options, Scalar, ExecutionSpace, 2>;

public:
  AdamState(std::size_t n, Options const& opts, char const* who)
      : base(n, check(opts, who), {"first_moment", "second_moment"}, {true, true}) {}

  template <class ParamView, class GradView>
  void step(ExecutionSpace const& space, ParamView const& params, GradView const& grads, double lr,
            double gradient_scale = 1.0) {
    ++this->steps_;
    // Constants are computed in double and rounded once, as PyTorch does: 1 - float(0.999)
    // is 1.3e-5 (relative) away from float(1 - 0.999), which would bias every float step.
    Options const& o = this->options_;
    double const t = static_cast<double>(this->steps_);
    Scalar const scale = static_cast<Scalar>(gradient_scale);
    Scalar const b1 = static_cast<Scalar>(o.beta1);
    Scalar const b2 = static_cast<Scalar>(o.beta2);
    Scalar const one_minus_b1 = static_cast<Scalar>(1.0 - o.beta1);
    Scalar const one_minus_b2 = static_cast<Scalar>(1.0 - o.beta2);
    Scalar const eps = static_cast<Scalar>(o.eps);
    Scalar const decay = static_cast<Scalar>(o.weight_decay);
    Scalar const kept = static_cast<Scalar>(1.0 - lr * o.weight_decay); // AdamW: θ ← (1 - ηλ)θ
    Scalar const step_size = static_cast<Scalar>(lr / (1.0 - std::pow(o.beta1, t)));
    Scalar const correction2_sqrt = static_cast<Scalar>(std::sqrt(1.0 - std::pow(o.beta2, t)));
    auto p = params;
    auto g = grads;
    auto m = this->buffer(0);
    auto v = this->buffer(1);
    Kokkos::parallel_for(
        Decoupled ? "loom::AdamW::step" : "loom::Adam::step",
        Kokkos::RangePolicy<ExecutionSpace>(space, 0, p.extent(0)), KOKKOS_LAMBDA(std::size_t i) {
          Scalar const pi = p(i);
          Scalar const gi = Decoupled ? scale * g(i) : scale * g(i) + decay * pi;
          Scalar const mi = b1 * m(i) + one_minus_b1 * gi;
          Scalar const vi = b2 * v(i) + one_minus_b2 * gi * gi;
          m(i) = mi;
          v(i) = vi;
          Scalar const denom = math::sqrt(vi) / correction2_sqrt + eps;
          Scalar const decayed = Decoupled ? pi * kept : pi;
          p(i) = decayed - step_size * (mi / denom);
        });
  }

private:
  static Options const& check(Options const& opts, char const* who) {
    if (opts.weight_decay < 0 || opts.eps <= 0 || opts.beta1 < 0 || opts.beta1 >= 1 ||
        opts.beta2 < 0 || opts.beta2 >= 1) {
      fail(who, ": needs weight_decay ≥ 0, eps > 0 and beta1, beta2 in [0, 1); got beta1 ",
           opts.beta1, ", beta2 ", opts.beta2, ", eps ", opts.eps, ", weight_decay ",
           opts.weight_decay);
    }
    return opts;
  }
};
} // namespace detail

/// \brief Adam (Kingma & Ba) with bias correction and optional L2 weight decay added to the
///        gradient, as PyTorch's torch.optim.Adam.
struct Adam {
  using optimizer_type = Adam;
  struct options {
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    double weight_decay = 0.0; ///< L2: added to the gradient
  };
  static constexpr double default_lr = 1e-3;
  static std::string name() { return "Adam"; }
  static std::string describe(options const& o) { return detail::describe_adam(o); }
  template <class Scalar, class ExecutionSpace>
  class state : public detail::AdamState<false, options, Scalar, ExecutionSpace> {
  public:
    using optimizer_type = Adam;
    state(std::size_t n, options const& opts)
        : detail::AdamState<false, options, Scalar, ExecutionSpace>(n, opts, "loom::Adam") {}
  };
};

/// \brief AdamW (Loshchilov & Hutter): Adam with weight decay decoupled from the gradient,
///        θ ← θ - ηλθ, as PyTorch's torch.optim.AdamW (default λ = 0.01).
struct AdamW {
  using optimizer_type = AdamW;
  struct options {
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    double weight_decay = 0.01; ///< decoupled
  };
  static constexpr double default_lr = 1e-3;
  static std::string name() { return "AdamW"; }
  static std::string describe(options const& o) { return detail::describe_adam(o); }
  template <class Scalar, class ExecutionSpace>
  class state : public detail::AdamState<true, options, Scalar, ExecutionSpace> {
  public:
    using optimizer_type = AdamW;
    state(std::size_t n, options const& opts)
        : detail::AdamState<true, options, Scalar, ExecutionSpace>(n, opts, "loom::AdamW") {}
  };
};

} // namespace loom
