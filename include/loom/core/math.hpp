#pragma once

// Math functions callable in kernels on every backend. Kokkos 3.x has them in
// Kokkos::Experimental, Kokkos 4.x in Kokkos; loom code calls loom::math::exp and so on.

#include <Kokkos_Core.hpp>

namespace loom::math {
#if KOKKOS_VERSION >= 40000
using Kokkos::abs;
using Kokkos::cos;
using Kokkos::erf;
using Kokkos::exp;
using Kokkos::isfinite;
using Kokkos::log;
using Kokkos::log1p;
using Kokkos::sqrt;
using Kokkos::tanh;
#else
using Kokkos::Experimental::cos;
using Kokkos::Experimental::erf;
using Kokkos::Experimental::exp;
using Kokkos::Experimental::fabs;
using Kokkos::Experimental::isfinite;
using Kokkos::Experimental::log;
using Kokkos::Experimental::log1p;
using Kokkos::Experimental::sqrt;
using Kokkos::Experimental::tanh;
template <class T>
KOKKOS_INLINE_FUNCTION T abs(T x) {
  return fabs(x);
}
#endif
} // namespace loom::math
