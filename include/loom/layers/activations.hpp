#pragma once

// Elementwise activation layers. Each is a Layer without parameters and a pair of scalar
// functions that kernels inline: forward(x) and backward(saved, dy), where `saved` is the
// layer's output when `derivative_from == DerivativeFrom::output` (ReLU, Sigmoid, Tanh: no
// extra memory, works in place) and its input otherwise (GELU, Swish). Sequential fuses an
// activation that follows Dense into Dense's bias epilogue, forward and backward.

#include <loom/core/detail/format.hpp>
#include <loom/core/math.hpp>
#include <loom/core/shape.hpp>
#include <loom/layers/activation_stage.hpp>
#include <loom/layers/concepts.hpp>

#include <Kokkos_Core.hpp>

#include <string>

namespace loom {

namespace detail {

/// The members every elementwise activation shares; Derived supplies name(), forward() and
/// backward().
template <class Derived, DerivativeFrom From>
struct ActivationLayer {
  using layer_type = Derived;
  static constexpr bool is_activation = true;
  static constexpr DerivativeFrom derivative_from = From;
  template <class In>
  using output_shape = In;
  template <class In>
  static constexpr std::size_t parameter_count = 0;
  template <std::size_t Index, class In>
  static constexpr bool check() {
    return true;
  }
  template <class In, class Scalar, class ExecutionSpace>
  using stage = ActivationStage<In, Scalar, ExecutionSpace, Derived>;
};
} // namespace detail

/// \brief The identity; what Dense applies when no activation follows it.
struct Identity : detail::ActivationLayer<Identity, DerivativeFrom::output> {
  static std::string name() { return "Identity"; }
  template <class T>
  KOKKOS_INLINE_FUNCTION static T forward(T x) {
    return x;
  }
  template <class T>
  KOKKOS_INLINE_FUNCTION static T backward(T, T dy) {
    return dy;
  }
};

/// \brief max(x, 0).
struct ReLU : detail::ActivationLayer<ReLU, DerivativeFrom::output> {
  static std::string name() { return "ReLU"; }
  template <class T>
  KOKKOS_INLINE_FUNCTION static T forward(T x) {
    return x < T(0) ? T(0) : x; // NaN passes through, so a diverged run is noticed
  }
  template <class T>
  KOKKOS_INLINE_FUNCTION static T backward(T y, T dy) {
    return y > T(0) ? dy : T(0);
  }
};

/// \brief x for x > 0, Slope·x otherwise (0 ≤ Slope < 1).
template <Real Slope = 0.01>
struct LeakyReLU : detail::ActivationLayer<LeakyReLU<Slope>, DerivativeFrom::output> {
  static constexpr double slope = Slope.value;
  static_assert(slope >= 0.0 && slope < 1.0,
                "loom::LeakyReLU<Slope>: Slope must lie in [0, 1); use loom::ReLU for Slope = 0");
  static constexpr bool is_leaky_relu = true;
  static std::string name() { return "LeakyReLU<" + detail::format_number(slope) + ">"; }
  template <class T>
  KOKKOS_INLINE_FUNCTION static T forward(T x) {
    return x < T(0) ? T(slope) * x : x;
  }
  // y > 0 exactly when x > 0, because Slope ≥ 0.
  template <class T>
  KOKKOS_INLINE_FUNCTION static T backward(T y, T dy) {
    return y > T(0) ? dy : T(slope) * dy;
  }
};

/// \brief 1 / (1 + exp(-x)), evaluated without overflow for large |x|.
struct Sigmoid : detail::ActivationLayer<Sigmoid, DerivativeFrom::output> {
  static std::string name() { return "Sigmoid"; }
  template <class T>
  KOKKOS_INLINE_FUNCTION static T forward(T x) {
    if (x >= T(0)) {
      return T(1) / (T(1) + math::exp(-x));
    }
    T const e = math::exp(x);
    return e / (T(1) + e);
  }
  template <class T>
  KOKKOS_INLINE_FUNCTION static T backward(T y, T dy) {
    return dy * y * (T(1) - y);
  }
};

/// \brief tanh(x).
struct Tanh : detail::ActivationLayer<Tanh, DerivativeFrom::output> {
  static std::string name() { return "Tanh"; }
  template <class T>
  KOKKOS_INLINE_FUNCTION static T forward(T x) {
    return math::tanh(x);
  }
  template <class T>
  KOKKOS_INLINE_FUNCTION static T backward(T y, T dy) {
    return dy * (T(1) - y * y);
  }
};

/// \brief x·Φ(x), Φ the standard normal CDF (the exact form, not the tanh approximation).
struct GELU : detail::ActivationLayer<GELU, DerivativeFrom::input> {
  static std::string name() { return "GELU"; }
  template <class T>
  KOKKOS_INLINE_FUNCTION static T forward(T x) {
    return T(0.5) * x * (T(1) + math::erf(x * T(0.70710678118654752440)));
  }
  template <class T>
  KOKKOS_INLINE_FUNCTION static T backward(T x, T dy) {
    T const cdf = T(0.5) * (T(1) + math::erf(x * T(0.70710678118654752440)));
    T const pdf = T(0.39894228040143267794) * math::exp(T(-0.5) * x * x);
    return dy * (cdf + x * pdf);
  }
};

/// \brief x·sigmoid(x), also called SiLU.
struct Swish : detail::ActivationLayer<Swish, DerivativeFrom::input> {
  static std::string name() { return "Swish"; }
  template <class T>
  KOKKOS_INLINE_FUNCTION static T forward(T x) {
    return x * Sigmoid::forward(x);
  }
  template <class T>
  KOKKOS_INLINE_FUNCTION static T backward(T x, T dy) {
    T const s = Sigmoid::forward(x);
    return dy * (s + x * s * (T(1) - s));
  }
};
using SiLU = Swish;

/// \brief True for the elementwise activations above (and user types built the same way).
template <class L>
concept ElementwiseActivation = requires {
  requires L::is_activation;
  { L::derivative_from } -> std::convertible_to<DerivativeFrom>;
};

} // namespace loom
