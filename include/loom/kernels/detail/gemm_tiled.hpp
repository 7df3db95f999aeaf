#pragma once

#include <loom/core/error.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>

namespace loom::kernels {

/// \brief Whether gemm() reads a matrix as stored or transposed.
enum class Op : char { none = 'N', transpose = 'T' };

namespace detail {

struct GemmDims {
  std::size_t m, n, k;
};

/// The GEMM's m, n, k from op(A) (m×k), op(B) (k×n) and C (m×n); throws on a mismatch.
template <class AView, class BView, class CView>
GemmDims gemm_dims(Op op_a, Op op_b, AView const& a, BView const& b, CView const& c) {
  std::size_t const m = op_a == Op::none ? a.extent(0) : a.extent(1);
  std::size_t const k = op_a == Op::none ? a.extent(1) : a.extent(0);
  std::size_t const kb = op_b == Op::none ? b.extent(0) : b.extent(1);
  std::size_t const n = op_b == Op::none ? b.extent(1) : b.extent(0);
  if (k != kb || c.extent(0) != m || c.extent(1) != n) {
    loom::detail::fail("loom::kernels::gemm: op(A) is ", m, "x", k, ", op(B) is ", kb, "x", n,
                       " and C is ", c.extent(0), "x", c.extent(1),
                       "; op(A) must be m×k, op(B) k×n and C m×n");
  }
  return {m, n, k};
}

/// Register-tiled GEMM on any execution space: each work item computes a TileM×TileN block
/// of C, streaming over k. The portable fallback where no BLAS serves the memory space.
template <bool TransA, bool TransB, class ExecutionSpace, class AView, class BView, class CView>
void gemm_tiled_impl(ExecutionSpace const& space, typename CView::non_const_value_type alpha,
                     AView const& a, BView const& b, typename CView::non_const_value_type beta,
                     CView const& c, std::size_t k) {
  using Scalar = typename CView::non_const_value_type;
  constexpr int tile_m = 4;
  constexpr int tile_n = 8;
  int const m = static_cast<int>(c.extent(0));
  int const n = static_cast<int>(c.extent(1));
  int const kk = static_cast<int>(k);
  int const blocks_m = (m + tile_m - 1) / tile_m;
  int const blocks_n = (n + tile_n - 1) / tile_n;
  Kokkos::parallel_for(
      "loom::kernels::gemm (tiled)",
      Kokkos::MDRangePolicy<ExecutionSpace, Kokkos::Rank<2>>(space, {0, 0}, {blocks_m, blocks_n}),
      KOKKOS_LAMBDA(int bi, int bj) {
        int const i0 = bi * tile_m;
        int const j0 = bj * tile_n;
        Scalar acc[tile_m][tile_n] = {};
        for (int p = 0; p < kk; ++p) {
          Scalar av[tile_m];
          Scalar bv[tile_n];
          for (int ii = 0; ii < tile_m; ++ii) {
            int const i = i0 + ii < m ? i0 + ii : m - 1;
            av[ii] = TransA ? a(p, i) : a(i, p);
          }
          for (int jj = 0; jj < tile_n; ++jj) {
            int const j = j0 + jj < n ? j0 + jj : n - 1;
            bv[jj] = TransB ? b(j, p) : b(p, j);
          }
          for (int ii = 0; ii < tile_m; ++ii) {
            for (int jj = 0; jj < tile_n; ++jj) {
              acc[ii][jj] += av[ii] * bv[jj];
            }
          }
        }
        for (int ii = 0; ii < tile_m && i0 + ii < m; ++ii) {
          for (int jj = 0; jj < tile_n && j0 + jj < n; ++jj) {
            Scalar& out = c(i0 + ii, j0 + jj);
            out = beta == Scalar(0) ? alpha * acc[ii][jj] : alpha * acc[ii][jj] + beta * out;
          }
        }
      });
}

/// loom's own GEMM kernel (see gemm()); callable directly, e.g. to compare with the BLAS path.
template <class ExecutionSpace, class AView, class BView, class CView>
void gemm_tiled(ExecutionSpace const& space, Op op_a, Op op_b,
                typename CView::non_const_value_type alpha, AView const& a, BView const& b,
                typename CView::non_const_value_type beta, CView const& c) {
  auto const dims = gemm_dims(op_a, op_b, a, b, c);
  if (dims.m == 0 || dims.n == 0) {
    return;
  }
  bool const ta = op_a == Op::transpose;
  bool const tb = op_b == Op::transpose;
  if (!ta && !tb) {
    gemm_tiled_impl<false, false>(space, alpha, a, b, beta, c, dims.k);
  } else if (!ta && tb) {
    gemm_tiled_impl<false, true>(space, alpha, a, b, beta, c, dims.k);
  } else if (ta && !tb) {
    gemm_tiled_impl<true, false>(space, alpha, a, b, beta, c, dims.k);
  } else {
    gemm_tiled_impl<true, true>(space, alpha, a, b, beta, c, dims.k);
  }
}

} // namespace detail
} // namespace loom::kernels
