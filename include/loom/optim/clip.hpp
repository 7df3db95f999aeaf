#pragma once

#include <loom/core/math.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstddef>

namespace loom {

/// \brief The L2 norm of a flat buffer (e.g. all gradients: the global norm).
template <class ExecutionSpace, class View>
double global_norm(ExecutionSpace const& space, View const& values) {
  double sum = 0;
  Kokkos::parallel_reduce(
      "loom::global_norm", Kokkos::RangePolicy<ExecutionSpace>(space, 0, values.extent(0)),
      KOKKOS_LAMBDA(std::size_t i, double& acc) {
        double const v = values(i);
        acc += v * v;
      },
      sum);
  return std::sqrt(sum);
}

/// \brief The factor that clips gradients of global norm `norm` to at most `max_norm`
///        (PyTorch's clip_grad_norm_): min(1, max_norm / (norm + 1e-6)). Optimizers take it as
///        their gradient_scale, so clipping costs no extra pass over the gradients.
inline double clip_factor(double norm, double max_norm) {
  double const factor = max_norm / (norm + 1e-6);
  return factor < 1.0 ? factor : 1.0;
}

} // namespace loom
