// The GEMMs of one training step of the 784-512-512-10 MLP, at batch 32 and 256, through
//   dispatch  loom::kernels::gemm (what the layers call: KokkosBlas::gemm, BLAS or the tiled
//             kernel, as configured)
//   tiled     loom::kernels::detail::gemm_tiled, loom's portable kernel
//   sgemm     the BLAS library's sgemm_ called directly (row-major by swapping operands)
// FLOP/s = 2·m·n·k per call. Names read <impl>/<gemm>_<m>x<n>x<k>/batch:<b>.

#include <loom/loom.hpp>

#include <Kokkos_Core.hpp>

#include <benchmark/benchmark.h>

#include <cstddef>
#include <string>

#include "blas.hpp"
#include "fill.hpp"

namespace {

using ExecutionSpace = Kokkos::DefaultExecutionSpace;
using MemorySpace = ExecutionSpace::memory_space;
using loom::kernels::Op;

// C (m×n) = op(A)·op(B), op(A) m×k, op(B) k×n.
struct GemmCase {
  std::string name;
  std::size_t batch;
  Op op_a, op_b;
  std::size_t m, n, k;
};

enum class Impl { dispatch, tiled, sgemm };

void gemm(benchmark::State& state, Impl impl, GemmCase const& c) {
  bool const ta = c.op_a == Op::transpose;
  bool const tb = c.op_b == Op::transpose;
  loom::Matrix<float, MemorySpace> a("A", ta ? c.k : c.m, ta ? c.m : c.k);
  loom::Matrix<float, MemorySpace> b("B", tb ? c.n : c.k, tb ? c.k : c.n);
  loom::Matrix<float, MemorySpace> out("C", c.m, c.n);
  loom::bench::fill_uniform(a, -0.5, 0.5, 1);
  loom::bench::fill_uniform(b, -0.5, 0.5, 2);
  ExecutionSpace const space;
  for (auto _ : state) {
    switch (impl) {
    case Impl::dispatch:
      loom::kernels::gemm(space, c.op_a, c.op_b, 1.0f, a, b, 0.0f, out);
      break;
    case Impl::tiled:
      loom::kernels::detail::gemm_tiled(space, c.op_a, c.op_b, 1.0f, a, b, 0.0f, out);
      break;
    case Impl::sgemm:
      if constexpr (loom::is_host_accessible<MemorySpace>) {
        loom::bench::sgemm_row_major(ta, tb, c.m, c.n, c.k, 1.0f, a.data(), b.data(), 0.0f,
                                     out.data());
      } else {
        state.SkipWithError("sgemm_ needs host memory");
      }
      break;
    }
    benchmark::ClobberMemory();
  }
  Kokkos::fence();
  state.counters["FLOP/s"] = benchmark::Counter(
      2.0 * double(c.m * c.n * c.k) * double(state.iterations()), benchmark::Counter::kIsRate);
}

bool register_gemms() {
  for (std::size_t batch : {32, 256}) {
    GemmCase const cases[] = {
        {"fwd1", batch, Op::none, Op::transpose, batch, 512, 784},
        {"fwd2", batch, Op::none, Op::transpose, batch, 512, 512},
        {"fwd3", batch, Op::none, Op::transpose, batch, 10, 512},
        {"dW3", batch, Op::transpose, Op::none, 10, 512, batch},
        {"dx3", batch, Op::none, Op::none, batch, 512, 10},
        {"dW2", batch, Op::transpose, Op::none, 512, 512, batch},
        {"dx2", batch, Op::none, Op::none, batch, 512, 512},
        {"dW1", batch, Op::transpose, Op::none, 512, 784, batch},
    };
    for (auto const& c : cases) {
      for (auto [impl, impl_name] :
           {std::pair{Impl::dispatch, "dispatch"}, std::pair{Impl::tiled, "tiled"},
            std::pair{Impl::sgemm, "sgemm"}}) {
        std::string const name = std::string(impl_name) + "/" + c.name + "_" + std::to_string(c.m) +
                                 "x" + std::to_string(c.n) + "x" + std::to_string(c.k) +
                                 "/batch:" + std::to_string(batch);
        benchmark::RegisterBenchmark(name.c_str(), gemm, impl, c)->Unit(benchmark::kMicrosecond);
      }
    }
  }
  return true;
}

[[maybe_unused]] bool const registered = register_gemms();

} // namespace
