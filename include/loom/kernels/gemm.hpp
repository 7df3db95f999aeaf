#pragma once

#include <loom/config.hpp>

#include <loom/core/detail/kokkos.hpp>
#include <loom/core/tensor.hpp>
#include <loom/kernels/detail/gemm_tiled.hpp>

#include <Kokkos_Core.hpp>

#if defined(LOOM_HAVE_KOKKOSKERNELS)
#include <KokkosBlas3_gemm.hpp>
#elif defined(LOOM_HAVE_BLAS)
#include <loom/kernels/detail/gemm_blas.hpp>
#endif

#include <type_traits>

namespace loom::kernels {

/// \brief Which GEMM implementation gemm() uses for a scalar type and memory space.
enum class GemmBackend { kokkos_kernels, blas, tiled };

template <class Scalar, class MemorySpace>
constexpr GemmBackend gemm_backend() {
  constexpr bool blas_scalar = std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>;
  if constexpr (blas_scalar && is_host_accessible<MemorySpace>) {
#if defined(LOOM_HAVE_KOKKOSKERNELS)
    return GemmBackend::kokkos_kernels;
#elif defined(LOOM_HAVE_BLAS)
    return GemmBackend::blas;
#endif
  }
  return GemmBackend::tiled;
}

/// \brief C = alpha * op(A) * op(B) + beta * C for row-major matrices.
///
/// Dispatches to KokkosBlas::gemm where KokkosKernels was found (its BLAS TPL on host memory),
/// else to the BLAS library on host memory, else to loom's tiled Kokkos kernel (any execution
/// space, any scalar type). With beta == 0, C is overwritten and may hold garbage.
/// \param op_a, op_b  Op::none or Op::transpose
template <class ExecutionSpace, class AView, class BView, class CView>
void gemm(ExecutionSpace const& space, Op op_a, Op op_b, typename CView::non_const_value_type alpha,
          AView const& a, BView const& b, typename CView::non_const_value_type beta,
          CView const& c) {
  static_assert(Kokkos::is_execution_space<ExecutionSpace>::value,
                "loom::kernels::gemm: first argument must be a Kokkos execution space instance");
  static_assert(AView::rank == 2 && BView::rank == 2 && CView::rank == 2,
                "loom::kernels::gemm: A, B and C must be rank-2 views");
  using Scalar = typename CView::non_const_value_type;
  using MemorySpace = typename CView::memory_space;
  auto const dims = detail::gemm_dims(op_a, op_b, a, b, c);
  if (dims.m == 0 || dims.n == 0) {
    return;
  }
  if (dims.k == 0) { // C = beta * C
    detail::gemm_tiled(space, op_a, op_b, alpha, a, b, beta, c);
    return;
  }
  constexpr GemmBackend backend = gemm_backend<Scalar, MemorySpace>();
  if constexpr (backend == GemmBackend::kokkos_kernels) {
#if defined(LOOM_HAVE_KOKKOSKERNELS)
    loom::detail::fence(space, "loom::kernels::gemm (before KokkosBlas::gemm)");
    char const ta[] = {static_cast<char>(op_a), '\0'};
    char const tb[] = {static_cast<char>(op_b), '\0'};
    KokkosBlas::gemm(ta, tb, alpha, a, b, beta, c);
#endif
  } else if constexpr (backend == GemmBackend::blas) {
#if defined(LOOM_HAVE_BLAS)
    loom::detail::fence(space, "loom::kernels::gemm (before BLAS)");
    detail::gemm_blas(op_a, op_b, dims, alpha, a.data(), a.stride(0), b.data(), b.stride(0), beta,
                      c.data(), c.stride(0));
#endif
  } else {
    detail::gemm_tiled(space, op_a, op_b, alpha, a, b, beta, c);
  }
}

} // namespace loom::kernels
