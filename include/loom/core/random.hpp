#pragma once

#include <loom/core/math.hpp>

#include <Kokkos_Core.hpp>

#include <cstdint>

namespace loom {

/// \brief A counter-based random number generator: the n-th number of a stream is a pure
///        function of (seed, stream, n). Results are therefore the same on every backend,
///        thread count and rank count, and a run resumed from a checkpoint draws exactly the
///        numbers it would have drawn (initialisers, dropout masks and shuffles use it).
class CounterRng {
public:
  KOKKOS_INLINE_FUNCTION constexpr CounterRng(std::uint64_t seed, std::uint64_t stream = 0)
      : key_(mix(seed ^ mix(stream + 0x9e3779b97f4a7c15ULL))) {}

  /// 64 random bits for counter n.
  KOKKOS_INLINE_FUNCTION constexpr std::uint64_t bits(std::uint64_t n) const {
    return mix(key_ + (n + 1) * 0x9e3779b97f4a7c15ULL);
  }

  /// Uniform in [0, 1) with 53 random bits (double) or 24 (float).
  template <class Scalar>
  KOKKOS_INLINE_FUNCTION constexpr Scalar uniform(std::uint64_t n) const {
    if constexpr (sizeof(Scalar) >= 8) {
      return static_cast<Scalar>(bits(n) >> 11) * Scalar(0x1.0p-53);
    } else {
      return static_cast<Scalar>(bits(n) >> 40) * Scalar(0x1.0p-24);
    }
  }

  /// Standard normal for counter n (Box-Muller on two uniforms drawn from counters 2n, 2n+1).
  template <class Scalar>
  KOKKOS_INLINE_FUNCTION Scalar normal(std::uint64_t n) const {
    double const u1 = 1.0 - uniform<double>(2 * n); // (0, 1]
    double const u2 = uniform<double>(2 * n + 1);
    return static_cast<Scalar>(math::sqrt(-2.0 * math::log(u1)) *
                               math::cos(6.283185307179586476925 * u2));
  }

  /// Uniform integer in [0, bound) for counter n (bound > 0): the high 64 bits of
  /// bits(n) · bound (Lemire's multiply-shift).
  KOKKOS_INLINE_FUNCTION constexpr std::uint64_t below(std::uint64_t bound, std::uint64_t n) const {
    std::uint64_t const a = bits(n);
    std::uint64_t const a_lo = a & 0xffffffffULL, a_hi = a >> 32;
    std::uint64_t const b_lo = bound & 0xffffffffULL, b_hi = bound >> 32;
    std::uint64_t const lo_lo = a_lo * b_lo, hi_lo = a_hi * b_lo, lo_hi = a_lo * b_hi;
    std::uint64_t const cross = (lo_lo >> 32) + (hi_lo & 0xffffffffULL) + lo_hi;
    return a_hi * b_hi + (hi_lo >> 32) + (cross >> 32);
  }

private:
  // SplitMix64's finaliser: a bijective mix with full avalanche.
  KOKKOS_INLINE_FUNCTION static constexpr std::uint64_t mix(std::uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  std::uint64_t key_;
};

} // namespace loom
