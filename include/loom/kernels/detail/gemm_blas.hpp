#pragma once

// GEMM straight to the BLAS library (Fortran interface, which every BLAS exports), for builds
// without KokkosKernels. Row-major C = op(A) op(B) is column-major Cᵀ = op(B)ᵀ op(A)ᵀ.

#include <loom/kernels/detail/gemm_tiled.hpp>

#include <type_traits>

extern "C" {
void sgemm_(char const* transa, char const* transb, int const* m, int const* n, int const* k,
            float const* alpha, float const* a, int const* lda, float const* b, int const* ldb,
            float const* beta, float* c, int const* ldc);
void dgemm_(char const* transa, char const* transb, int const* m, int const* n, int const* k,
            double const* alpha, double const* a, int const* lda, double const* b, int const* ldb,
            double const* beta, double* c, int const* ldc);
}

namespace loom::kernels::detail {

template <class Scalar>
void gemm_blas(Op op_a, Op op_b, GemmDims dims, Scalar alpha, Scalar const* a, std::size_t lda,
               Scalar const* b, std::size_t ldb, Scalar beta, Scalar* c, std::size_t ldc) {
  char const ta = static_cast<char>(op_a);
  char const tb = static_cast<char>(op_b);
  int const m = static_cast<int>(dims.m);
  int const n = static_cast<int>(dims.n);
  int const k = static_cast<int>(dims.k);
  int const la = static_cast<int>(lda);
  int const lb = static_cast<int>(ldb);
  int const lc = static_cast<int>(ldc);
  if constexpr (std::is_same_v<Scalar, float>) {
    sgemm_(&tb, &ta, &n, &m, &k, &alpha, b, &lb, a, &la, &beta, c, &lc);
  } else {
    dgemm_(&tb, &ta, &n, &m, &k, &alpha, b, &lb, a, &la, &beta, c, &lc);
  }
}

} // namespace loom::kernels::detail
