// Dense forward + backward (one loom::Model of a single Dense stage, ReLU fused) at the MLP's
// layer sizes. items/s = samples/s; FLOP/s counts the GEMMs only: 2·batch·in·out per GEMM,
// 3 GEMMs (forward, weight gradient, input gradient), 2 for the first layer, which needs no
// input gradient.

#include <loom/loom.hpp>

#include <Kokkos_Core.hpp>

#include <benchmark/benchmark.h>

#include <cstddef>

#include "fill.hpp"

namespace {

using ExecutionSpace = Kokkos::DefaultExecutionSpace;
using MemorySpace = ExecutionSpace::memory_space;

template <class Net, bool InputGradient>
void dense_forward_backward(benchmark::State& state) {
  using Model = loom::Model<Net, ExecutionSpace, float>;
  constexpr std::size_t inputs = Model::input_shape::size;
  constexpr std::size_t outputs = Model::output_shape::size;
  auto const batch = static_cast<std::size_t>(state.range(0));
  Model model(1);
  model.enable_input_gradient(InputGradient);
  loom::Matrix<float, MemorySpace> x("x", batch, inputs);
  loom::bench::fill_uniform(x, 0, 1);
  model.forward(x);
  loom::bench::fill_uniform(model.output_gradient(), -0.01, 0.01);
  for (auto _ : state) {
    model.forward(x);
    model.backward();
  }
  Kokkos::fence();
  double const gemms = InputGradient ? 3 : 2;
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch));
  state.counters["FLOP/s"] = benchmark::Counter(gemms * 2.0 * double(batch * inputs * outputs) *
                                                    double(state.iterations()),
                                                benchmark::Counter::kIsRate);
}

using Layer1 = loom::Sequential<loom::Input<784>, loom::Dense<512>, loom::ReLU>;
using Layer2 = loom::Sequential<loom::Input<512>, loom::Dense<512>, loom::ReLU>;
using Layer3 = loom::Sequential<loom::Input<512>, loom::Dense<10>>;

} // namespace

BENCHMARK(dense_forward_backward<Layer1, false>)
    ->Name("dense_fwd_bwd/784x512_relu_no_dx")
    ->ArgName("batch")
    ->Arg(32)
    ->Arg(256)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(dense_forward_backward<Layer2, true>)
    ->Name("dense_fwd_bwd/512x512_relu")
    ->ArgName("batch")
    ->Arg(32)
    ->Arg(256)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(dense_forward_backward<Layer3, true>)
    ->Name("dense_fwd_bwd/512x10")
    ->ArgName("batch")
    ->Arg(32)
    ->Arg(256)
    ->Unit(benchmark::kMicrosecond);
