#pragma once

#include <loom/core/detail/format.hpp>
#include <loom/core/error.hpp>
#include <loom/core/math.hpp>
#include <loom/core/tensor.hpp>
#include <loom/optim/concepts.hpp>
#include <loom/optim/detail/state_base.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <string>

namespace loom {

/// \brief RMSprop as PyTorch's torch.optim.RMSprop (not centered):
///        g ← s·∇ + λθ;  r ← αr + (1-α)g²;  with momentum μ: b ← μb + g/(√r + ε), θ ← θ - ηb;
///        without: θ ← θ - ηg/(√r + ε).
struct RMSprop {
  using optimizer_type = RMSprop;
  struct options {
    double alpha = 0.99;       ///< α, decay of the squared-gradient average
    double eps = 1e-8;         ///< ε
    double momentum = 0.0;     ///< μ
    double weight_decay = 0.0; ///< λ, added to the gradient
  };
  static constexpr double default_lr = 0.01;
  static std::string name() { return "RMSprop"; }
  static std::string describe(options const& o) {
    return "alpha=" + detail::format_number(o.alpha) + ", eps=" + detail::format_number(o.eps) +
           ", momentum=" + detail::format_number(o.momentum) +
           ", weight_decay=" + detail::format_number(o.weight_decay);
  }

  template <class Scalar, class ExecutionSpace>
  class state : public detail::OptimizerStateBase<options, Scalar, ExecutionSpace, 2> {
    using base = detail::OptimizerStateBase<options, Scalar, ExecutionSpace, 2>;

  public:
    using optimizer_type = RMSprop;
    state(std::size_t n, options const& opts)
        : base(n, check(opts), {"square_average", "momentum"}, {true, opts.momentum != 0.0}) {}

    template <class ParamView, class GradView>
    void step(ExecutionSpace const& space, ParamView const& params, GradView const& grads,
              double lr, double gradient_scale = 1.0) {
      Scalar const eta = static_cast<Scalar>(lr);
      Scalar const scale = static_cast<Scalar>(gradient_scale);
      Scalar const alpha = static_cast<Scalar>(this->options_.alpha);
      // 1 - α in double, rounded once (as PyTorch): not 1 - float(α).
      Scalar const one_minus_alpha = static_cast<Scalar>(1.0 - this->options_.alpha);
      Scalar const eps = static_cast<Scalar>(this->options_.eps);
      Scalar const mu = static_cast<Scalar>(this->options_.momentum);
      Scalar const decay = static_cast<Scalar>(this->options_.weight_decay);
      auto p = params;
      auto g = grads;
      auto r = this->buffer(0);
      auto b = this->buffer(1);
      bool const with_momentum = mu != Scalar(0);
      Kokkos::parallel_for(
          "loom::RMSprop::step", Kokkos::RangePolicy<ExecutionSpace>(space, 0, p.extent(0)),
          KOKKOS_LAMBDA(std::size_t i) {
            Scalar const gi = scale * g(i) + decay * p(i);
            Scalar const ri = alpha * r(i) + one_minus_alpha * gi * gi;
            r(i) = ri;
            Scalar const update = gi / (math::sqrt(ri) + eps);
            if (with_momentum) {
              Scalar const bi = mu * b(i) + update;
              b(i) = bi;
              p(i) -= eta * bi;
            } else {
              p(i) -= eta * update;
            }
          });
      ++this->steps_;
    }

  private:
    static options const& check(options const& opts) {
      if (opts.momentum < 0 || opts.weight_decay < 0 || opts.eps < 0 || opts.alpha < 0 ||
          opts.alpha >= 1) {
        detail::fail("loom::RMSprop: needs momentum, weight_decay, eps ≥ 0 and alpha in [0, 1); "
                     "got alpha ",
                     opts.alpha, ", eps ", opts.eps, ", momentum ", opts.momentum,
                     ", weight_decay ", opts.weight_decay);
      }
      return opts;
    }
  };
};

} // namespace loom
