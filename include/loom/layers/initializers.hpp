#pragma once

// Weight initialisers, drawn from loom::CounterRng: the same values on every backend and
// rank. Dense<N, init::HeNormal> picks one; by default Dense uses He when a ReLU-family
// activation follows it and Xavier/Glorot otherwise.

#include <loom/core/math.hpp>
#include <loom/core/random.hpp>

#include <Kokkos_Core.hpp>

#include <concepts>
#include <cstdint>

namespace loom::init {

/// \brief He (Kaiming) normal: N(0, 2 / fan_in). For ReLU-family activations.
struct HeNormal {
  static constexpr char const* name = "HeNormal";
  template <class Scalar>
  KOKKOS_INLINE_FUNCTION static Scalar draw(CounterRng const& rng, std::uint64_t n, int fan_in,
                                            int) {
    return rng.normal<Scalar>(n) * static_cast<Scalar>(math::sqrt(2.0 / fan_in));
  }
};

/// \brief He (Kaiming) uniform: U(-√(6 / fan_in), √(6 / fan_in)).
struct HeUniform {
  static constexpr char const* name = "HeUniform";
  template <class Scalar>
  KOKKOS_INLINE_FUNCTION static Scalar draw(CounterRng const& rng, std::uint64_t n, int fan_in,
                                            int) {
    double const limit = math::sqrt(6.0 / fan_in);
    return static_cast<Scalar>((2.0 * rng.uniform<double>(n) - 1.0) * limit);
  }
};

/// \brief Xavier (Glorot) uniform: U(-√(6 / (fan_in + fan_out)), +√(…)).
struct XavierUniform {
  static constexpr char const* name = "XavierUniform";
  template <class Scalar>
  KOKKOS_INLINE_FUNCTION static Scalar draw(CounterRng const& rng, std::uint64_t n, int fan_in,
                                            int fan_out) {
    double const limit = math::sqrt(6.0 / (fan_in + fan_out));
    return static_cast<Scalar>((2.0 * rng.uniform<double>(n) - 1.0) * limit);
  }
};

/// \brief Xavier (Glorot) normal: N(0, 2 / (fan_in + fan_out)).
struct XavierNormal {
  static constexpr char const* name = "XavierNormal";
  template <class Scalar>
  KOKKOS_INLINE_FUNCTION static Scalar draw(CounterRng const& rng, std::uint64_t n, int fan_in,
                                            int fan_out) {
    return rng.normal<Scalar>(n) * static_cast<Scalar>(math::sqrt(2.0 / (fan_in + fan_out)));
  }
};

using He = HeNormal;
using Xavier = XavierUniform;
using Glorot = XavierUniform;

/// \brief The default: He for ReLU-family activations, Xavier otherwise.
struct Auto {};

/// \brief A weight initialiser: a name and draw<Scalar>(rng, n, fan_in, fan_out).
template <class T>
concept Initializer = requires(CounterRng const& rng) {
  T::name;
  { T::template draw<float>(rng, std::uint64_t{0}, 1, 1) } -> std::same_as<float>;
};

} // namespace loom::init
