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

namespace detail {

// One instantiation per (execution space, scalar, memory space), whatever view types the
// caller holds: the public gemm() hands over unmanaged row-major views.
template <class ExecutionSpace, class Scalar, class MemorySpace>
void gemm_dispatch(ExecutionSpace const& space, Op op_a, Op op_b, Scalar alpha,
                   MatrixSlice<Scalar const, MemorySpace> const& a,
                   MatrixSlice<Scalar const, MemorySpace> const& b, Scalar beta,
                   MatrixSlice<Scalar, MemorySpace> const& c) {
  auto const dims = gemm_dims(op_a, op_b, a, b, c);
  if (dims.m == 0 || dims.n == 0) {
    return;
  }
  constexpr GemmBackend backend = gemm_backend<Scalar, MemorySpace>();
  if (dims.k == 0) { // C = beta * C
    auto flat = c;
    Kokkos::parallel_for(
        "loom::kernels::gemm (k = 0)",
        Kokkos::RangePolicy<ExecutionSpace>(space, 0, dims.m * dims.n),
        KOKKOS_LAMBDA(std::size_t i) {
          flat.data()[i] = beta == Scalar(0) ? Scalar(0) : beta * flat.data()[i];
        });
  } else if constexpr (backend == GemmBackend::kokkos_kernels) {
#if defined(LOOM_HAVE_KOKKOSKERNELS)
    loom::detail::fence(space, "loom::kernels::gemm (before KokkosBlas::gemm)");
    char const ta[] = {static_cast<char>(op_a), '\0'};
    char const tb[] = {static_cast<char>(op_b), '\0'};
    KokkosBlas::gemm(ta, tb, alpha, a, b, beta, c);
#endif
  } else if constexpr (backend == GemmBackend::blas) {
#if defined(LOOM_HAVE_BLAS)
    loom::detail::fence(space, "loom::kernels::gemm (before BLAS)");
    gemm_blas(op_a, op_b, dims, alpha, a.data(), a.extent(1), b.data(), b.extent(1), beta, c.data(),
              c.extent(1));
#endif
  } else {
    gemm_tiled(space, op_a, op_b, alpha, a, b, beta, c);
  }
}

template <class View>
void check_row_major(View const& v, char const* name) {
  if (v.extent(0) > 1 && v.extent(1) > 0 &&
      (v.stride(1) != 1 || v.stride(0) != static_cast<std::size_t>(v.extent(1)))) {
    loom::detail::fail("loom::kernels::gemm: ", name,
                       " must be a contiguous row-major (LayoutRight) matrix");
  }
}

} // namespace detail

/// \brief C = alpha * op(A) * op(B) + beta * C for row-major matrices.
///
/// Dispatches to KokkosBlas::gemm where KokkosKernels was found (its BLAS TPL on host memory),
/// else to the BLAS library on host memory, else to loom's tiled Kokkos kernel (any execution
/// space, any scalar type). With beta == 0, C is overwritten and may hold garbage.
/// \param op_a, op_b  Op::none or Op::transpose
/// \param a, b, c     contiguous row-major rank-2 views in one memory space
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
  static_assert(std::is_same_v<typename AView::non_const_value_type, Scalar> &&
                    std::is_same_v<typename BView::non_const_value_type, Scalar>,
                "loom::kernels::gemm: A, B and C must hold the same scalar type");
  static_assert(std::is_same_v<typename AView::memory_space, MemorySpace> &&
                    std::is_same_v<typename BView::memory_space, MemorySpace>,
                "loom::kernels::gemm: A, B and C must live in the same memory space");
  detail::check_row_major(a, "A");
  detail::check_row_major(b, "B");
  detail::check_row_major(c, "C");
  detail::gemm_dispatch<ExecutionSpace, Scalar, MemorySpace>(
      space, op_a, op_b, alpha,
      MatrixSlice<Scalar const, MemorySpace>(a.data(), a.extent(0), a.extent(1)),
      MatrixSlice<Scalar const, MemorySpace>(b.data(), b.extent(0), b.extent(1)), beta,
      MatrixSlice<Scalar, MemorySpace>(c.data(), c.extent(0), c.extent(1)));
}

} // namespace loom::kernels
