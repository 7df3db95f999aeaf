// loom::kernels::gemm takes the execution space instance first.
#include <loom/kernels/gemm.hpp>

int main(int argc, char* argv[]) {
  Kokkos::ScopeGuard guard(argc, argv);
  using Matrix = Kokkos::View<float**, Kokkos::LayoutRight, Kokkos::HostSpace>;
  Matrix a("a", 2, 2), b("b", 2, 2), c("c", 2, 2);
  using loom::kernels::Op;
#ifdef LOOM_SHOULD_FAIL_TO_BUILD
  loom::kernels::gemm(Kokkos::HostSpace(), Op::none, Op::none, 1.0f, a, b, 0.0f, c);
#else
  loom::kernels::gemm(Kokkos::DefaultHostExecutionSpace(), Op::none, Op::none, 1.0f, a, b, 0.0f, c);
#endif
  return 0;
}
