#include <loom/core/random.hpp>
#include <loom/kernels/gemm.hpp>

#include <Kokkos_Core.hpp>

#include <gtest/gtest.h>

#include <cstddef>
#include <limits>
#include <vector>

#include "loom_test.hpp"

namespace {

using loom::kernels::Op;
using ExecutionSpace = loom::test::ExecutionSpace;
using Memory = loom::test::MemorySpace;

template <class Scalar>
using Mat = Kokkos::View<Scalar**, Kokkos::LayoutRight, Memory>;

template <class Scalar>
Mat<Scalar> random_matrix(std::size_t rows, std::size_t cols, std::uint64_t stream) {
  Mat<Scalar> m("m", rows, cols);
  auto h = Kokkos::create_mirror_view(m);
  loom::CounterRng rng(11, stream);
  for (std::size_t k = 0; k < rows * cols; ++k) {
    h.data()[k] = static_cast<Scalar>(rng.uniform<double>(k) * 2 - 1);
  }
  Kokkos::deep_copy(m, h);
  return m;
}

// C = alpha op(A) op(B) + beta C, in double on the host, as the reference.
template <class Scalar>
std::vector<double> reference(Op op_a, Op op_b, double alpha, Mat<Scalar> const& a,
                              Mat<Scalar> const& b, double beta, Mat<Scalar> const& c) {
  auto ha = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), a);
  auto hb = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), b);
  auto hc = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), c);
  std::size_t const m = c.extent(0);
  std::size_t const n = c.extent(1);
  std::size_t const k = op_a == Op::none ? a.extent(1) : a.extent(0);
  std::vector<double> out(m * n);
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      double sum = 0;
      for (std::size_t p = 0; p < k; ++p) {
        double const av = op_a == Op::none ? ha(i, p) : ha(p, i);
        double const bv = op_b == Op::none ? hb(p, j) : hb(j, p);
        sum += av * bv;
      }
      out[i * n + j] = alpha * sum + (beta == 0 ? 0.0 : beta * hc(i, j));
    }
  }
  return out;
}

template <class Scalar>
void expect_near(Mat<Scalar> const& c, std::vector<double> const& expected, double tol,
                 char const* what) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), c);
  for (std::size_t k = 0; k < expected.size(); ++k) {
    ASSERT_NEAR(h.data()[k], expected[k], tol * (1 + std::abs(expected[k])))
        << what << " element " << k;
  }
}

template <class Scalar>
void check_all(double tol) {
  ExecutionSpace space;
  struct Case {
    std::size_t m, n, k;
  };
  for (Case dims :
       {Case{1, 1, 1}, Case{5, 7, 3}, Case{17, 9, 33}, Case{64, 40, 100}, Case{3, 130, 2}}) {
    for (Op op_a : {Op::none, Op::transpose}) {
      for (Op op_b : {Op::none, Op::transpose}) {
        for (double beta : {0.0, 1.0, -0.5}) {
          auto a = op_a == Op::none ? random_matrix<Scalar>(dims.m, dims.k, 1)
                                    : random_matrix<Scalar>(dims.k, dims.m, 1);
          auto b = op_b == Op::none ? random_matrix<Scalar>(dims.k, dims.n, 2)
                                    : random_matrix<Scalar>(dims.n, dims.k, 2);
          auto c0 = random_matrix<Scalar>(dims.m, dims.n, 3);
          auto expected = reference<Scalar>(op_a, op_b, 0.75, a, b, beta, c0);

          Mat<Scalar> c_dispatch("c", dims.m, dims.n);
          Mat<Scalar> c_tiled("c", dims.m, dims.n);
          Kokkos::deep_copy(c_dispatch, c0);
          Kokkos::deep_copy(c_tiled, c0);
          loom::kernels::gemm(space, op_a, op_b, Scalar(0.75), a, b, Scalar(beta), c_dispatch);
          loom::kernels::detail::gemm_tiled(space, op_a, op_b, Scalar(0.75), a, b, Scalar(beta),
                                            c_tiled);
          space.fence();
          expect_near(c_dispatch, expected, tol, "gemm (dispatch)");
          expect_near(c_tiled, expected, tol, "gemm_tiled");
        }
      }
    }
  }
}

TEST(gemm, dispatch_and_tiled_agree_with_reference_float) {
  check_all<float>(1e-5);
}
TEST(gemm, dispatch_and_tiled_agree_with_reference_double) {
  check_all<double>(1e-12);
}

TEST(gemm, beta_zero_ignores_garbage_in_c) {
  ExecutionSpace space;
  auto a = random_matrix<float>(4, 3, 1);
  auto b = random_matrix<float>(3, 5, 2);
  Mat<float> c("c", 4, 5);
  Kokkos::deep_copy(c, std::numeric_limits<float>::quiet_NaN());
  auto expected = reference<float>(Op::none, Op::none, 1.0, a, b, 0.0, c);
  loom::kernels::gemm(space, Op::none, Op::none, 1.0f, a, b, 0.0f, c);
  expect_near(c, expected, 1e-5, "beta = 0");
  Kokkos::deep_copy(c, std::numeric_limits<float>::quiet_NaN());
  loom::kernels::detail::gemm_tiled(space, Op::none, Op::none, 1.0f, a, b, 0.0f, c);
  expect_near(c, expected, 1e-5, "beta = 0 (tiled)");
}

TEST(gemm, empty_inner_dimension_scales_c) {
  ExecutionSpace space;
  Mat<double> a("a", 3, 0);
  Mat<double> b("b", 0, 2);
  auto c = random_matrix<double>(3, 2, 4);
  auto expected = reference<double>(Op::none, Op::none, 1.0, a, b, 2.0, c);
  loom::kernels::gemm(space, Op::none, Op::none, 1.0, a, b, 2.0, c);
  expect_near(c, expected, 1e-14, "k = 0");
}

TEST(gemm, mismatched_shapes_throw_with_the_shapes) {
  ExecutionSpace space;
  Mat<float> a("a", 3, 4);
  Mat<float> b("b", 5, 2);
  Mat<float> c("c", 3, 2);
  try {
    loom::kernels::gemm(space, Op::none, Op::none, 1.0f, a, b, 0.0f, c);
    FAIL() << "expected loom::Error";
  } catch (loom::Error const& e) {
    EXPECT_NE(std::string(e.what()).find("op(A) is 3x4, op(B) is 5x2"), std::string::npos)
        << e.what();
  }
}

TEST(gemm, reports_its_backend) {
  using Host = Kokkos::HostSpace;
  constexpr auto backend = loom::kernels::gemm_backend<float, Host>();
#if defined(LOOM_HAVE_KOKKOSKERNELS)
  EXPECT_EQ(backend, loom::kernels::GemmBackend::kokkos_kernels);
#elif defined(LOOM_HAVE_BLAS)
  EXPECT_EQ(backend, loom::kernels::GemmBackend::blas);
#else
  EXPECT_EQ(backend, loom::kernels::GemmBackend::tiled);
#endif
  EXPECT_EQ((loom::kernels::gemm_backend<int, Host>()), loom::kernels::GemmBackend::tiled);
}

} // namespace
