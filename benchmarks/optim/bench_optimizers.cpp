// One optimizer step over the parameters of the 784-512-512-10 MLP (669,706 floats), next to
// a plain loop doing p -= lr·g, the memory-bandwidth peer. bytes/s counts each array streamed
// once per read and once per write: SGD reads p and g and writes p (12 bytes per parameter),
// momentum adds v (20), Adam and AdamW p, g, m, v (28), RMSprop p, g, r (20).

#include <loom/loom.hpp>

#include <Kokkos_Core.hpp>

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "fill.hpp"

namespace {

using ExecutionSpace = Kokkos::DefaultExecutionSpace;
using MemorySpace = ExecutionSpace::memory_space;
using Mlp = loom::Sequential<loom::Input<784>, loom::Dense<512>, loom::ReLU, loom::Dense<512>,
                             loom::ReLU, loom::Dense<10>>;
constexpr std::size_t parameters = Mlp::num_parameters;
static_assert(parameters == 669706);
constexpr double lr = 1e-4;

void report(benchmark::State& state, int arrays_streamed) {
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(parameters));
  state.SetBytesProcessed(state.iterations() *
                          static_cast<std::int64_t>(parameters * sizeof(float)) * arrays_streamed);
}

template <class Optimizer>
void optimizer_step(benchmark::State& state, typename Optimizer::options options,
                    int arrays_streamed) {
  loom::Vector<float, MemorySpace> params("params", parameters);
  loom::Vector<float, MemorySpace> grads("grads", parameters);
  loom::bench::fill_uniform(params, -0.1, 0.1, 1);
  loom::bench::fill_uniform(grads, -0.01, 0.01, 2);
  typename Optimizer::template state<float, ExecutionSpace> optimizer(parameters, options);
  ExecutionSpace const space;
  for (auto _ : state) {
    optimizer.step(space, params, grads, lr);
  }
  Kokkos::fence();
  report(state, arrays_streamed);
}

void plain_loop(benchmark::State& state) {
  std::vector<float> params(parameters, 0.05f);
  std::vector<float> grads(parameters, 0.001f);
  float const eta = static_cast<float>(lr);
  for (auto _ : state) {
    float* __restrict p = params.data();
    float const* __restrict g = grads.data();
    for (std::size_t i = 0; i < parameters; ++i) {
      p[i] -= eta * g[i];
    }
    benchmark::ClobberMemory();
  }
  report(state, 3);
}

bool register_optimizers() {
  auto unit = [](benchmark::internal::Benchmark* b) { b->Unit(benchmark::kMicrosecond); };
  unit(benchmark::RegisterBenchmark("optimizer_step/plain_loop_p-=lr*g", plain_loop));
  unit(benchmark::RegisterBenchmark("optimizer_step/SGD", optimizer_step<loom::SGD>,
                                    loom::SGD::options{}, 3));
  unit(benchmark::RegisterBenchmark("optimizer_step/SGD_momentum", optimizer_step<loom::SGD>,
                                    loom::SGD::options{.momentum = 0.9}, 5));
  unit(benchmark::RegisterBenchmark("optimizer_step/Adam", optimizer_step<loom::Adam>,
                                    loom::Adam::options{}, 7));
  unit(benchmark::RegisterBenchmark("optimizer_step/AdamW", optimizer_step<loom::AdamW>,
                                    loom::AdamW::options{}, 7));
  unit(benchmark::RegisterBenchmark("optimizer_step/RMSprop", optimizer_step<loom::RMSprop>,
                                    loom::RMSprop::options{}, 5));
  return true;
}

[[maybe_unused]] bool const registered = register_optimizers();

} // namespace
