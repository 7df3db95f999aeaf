#pragma once

// Row-major single-precision GEMM straight through the BLAS library's Fortran interface: the
// peer that loom's GEMM dispatch is compared with, and the GEMM-only ceiling of the MLP.

#include <cstddef>

extern "C" void sgemm_(char const* transa, char const* transb, int const* m, int const* n,
                       int const* k, float const* alpha, float const* a, int const* lda,
                       float const* b, int const* ldb, float const* beta, float* c, int const* ldc);

namespace loom::bench {

/// C (m×n) = alpha·op(A)·op(B) + beta·C, all row-major and contiguous: op(A) is m×k, op(B)
/// k×n; trans_a/trans_b say whether A and B are stored transposed (A as k×m, B as n×k).
/// Row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ, hence the swap.
inline void sgemm_row_major(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k,
                            float alpha, float const* a, float const* b, float beta, float* c) {
  char const ta = trans_a ? 'T' : 'N';
  char const tb = trans_b ? 'T' : 'N';
  int const mi = static_cast<int>(m);
  int const ni = static_cast<int>(n);
  int const ki = static_cast<int>(k);
  int const lda = static_cast<int>(trans_a ? m : k);
  int const ldb = static_cast<int>(trans_b ? k : n);
  int const ldc = static_cast<int>(n);
  sgemm_(&tb, &ta, &ni, &mi, &ki, &alpha, b, &ldb, a, &lda, &beta, c, &ldc);
}

} // namespace loom::bench
