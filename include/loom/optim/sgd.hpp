#pragma once

#include <loom/core/detail/format.hpp>
#include <loom/core/error.hpp>
#include <loom/core/tensor.hpp>
#include <loom/optim/concepts.hpp>
#include <loom/optim/detail/state_base.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <optional>
#include <string>

namespace loom {

/// \brief Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight
///        decay, as PyTorch's torch.optim.SGD (dampening 0):
///        g ← s·∇ + λθ;  v ← μv + g;  θ ← θ - η(g + μv) with Nesterov, θ - ηv without;
///        with μ = 0, θ ← θ - ηg.
struct SGD {
  using optimizer_type = SGD;
  struct options {
    double momentum = 0.0;     ///< μ
    bool nesterov = false;     ///< Nesterov momentum (needs μ > 0)
    double weight_decay = 0.0; ///< λ, added to the gradient
  };
  static constexpr double default_lr = 0.01;
  static std::string name() { return "SGD"; }
  static std::string describe(options const& o) {
    return "momentum=" + detail::format_number(o.momentum) +
           ", nesterov=" + (o.nesterov ? "true" : "false") +
           ", weight_decay=" + detail::format_number(o.weight_decay);
  }

  template <class Scalar, class ExecutionSpace>
  class state : public detail::OptimizerStateBase<options, Scalar, ExecutionSpace, 1> {
    using base = detail::OptimizerStateBase<options, Scalar, ExecutionSpace, 1>;

  public:
    using optimizer_type = SGD;
    state(std::size_t n, options const& opts)
        : base(n, check(opts), {"momentum"}, {opts.momentum != 0.0}) {}

    template <class ParamView, class GradView>
    void step(ExecutionSpace const& space, ParamView const& params, GradView const& grads,
              double lr, double gradient_scale = 1.0) {
      Scalar const eta = static_cast<Scalar>(lr);
      Scalar const scale = static_cast<Scalar>(gradient_scale);
      Scalar const mu = static_cast<Scalar>(this->options_.momentum);
      Scalar const decay = static_cast<Scalar>(this->options_.weight_decay);
      bool const nesterov = this->options_.nesterov;
      auto p = params;
      auto g = grads;
      if (mu == Scalar(0)) {
        Kokkos::parallel_for(
            "loom::SGD::step", Kokkos::RangePolicy<ExecutionSpace>(space, 0, p.extent(0)),
            KOKKOS_LAMBDA(std::size_t i) { p(i) -= eta * (scale * g(i) + decay * p(i)); });
      } else {
        auto v = this->buffer(0);
        Kokkos::parallel_for(
            "loom::SGD::step (momentum)",
            Kokkos::RangePolicy<ExecutionSpace>(space, 0, p.extent(0)),
            KOKKOS_LAMBDA(std::size_t i) {
              Scalar const gi = scale * g(i) + decay * p(i);
              Scalar const vi = mu * v(i) + gi;
              v(i) = vi;
              p(i) -= eta * (nesterov ? gi + mu * vi : vi);
            });
      }
      ++this->steps_;
    }

    /// Without momentum the step is linear in the gradient, θ ← β·θ + α·∇ with α = -lr·s
    /// and β = 1 - lr·λ, so Model::backward_into(parameters, α, β) can apply it while
    /// computing the gradient: no gradient is stored and no extra pass runs. Empty with
    /// momentum. After such a backward pass, count it with count_step().
    std::optional<LinearUpdate> linear_update(double lr, double gradient_scale = 1.0) const {
      if (this->options_.momentum != 0.0) {
        return std::nullopt;
      }
      return LinearUpdate{-lr * gradient_scale, 1.0 - lr * this->options_.weight_decay};
    }
    /// Records a step applied through linear_update().
    void count_step() { ++this->steps_; }

  private:
    static options const& check(options const& opts) {
      if (opts.momentum < 0 || opts.weight_decay < 0) {
        detail::fail("loom::SGD: momentum (", opts.momentum, ") and weight_decay (",
                     opts.weight_decay, ") must not be negative");
      }
      if (opts.nesterov && opts.momentum == 0.0) {
        detail::fail("loom::SGD: nesterov = true needs momentum > 0");
      }
      return opts;
    }
  };
};

} // namespace loom
