// The fused softmax + cross-entropy (loss, gradient and correct count in one pass) at the
// MLP's batch sizes and 10 classes. items/s = samples/s.

#include <loom/loom.hpp>

#include <Kokkos_Core.hpp>

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>

#include "fill.hpp"

namespace {

using ExecutionSpace = Kokkos::DefaultExecutionSpace;
using MemorySpace = ExecutionSpace::memory_space;

void softmax_cross_entropy(benchmark::State& state) {
  auto const batch = static_cast<std::size_t>(state.range(0));
  std::size_t const classes = 10;
  loom::Matrix<float, MemorySpace> logits("logits", batch, classes);
  loom::Matrix<float, MemorySpace> gradient("gradient", batch, classes);
  loom::Vector<std::int32_t, MemorySpace> labels("labels", batch);
  loom::bench::fill_uniform(logits, -3, 3);
  loom::bench::fill_uniform(labels, 0, double(classes));
  ExecutionSpace const space;
  for (auto _ : state) {
    auto const value =
        loom::SoftmaxCrossEntropy::compute(space, logits, labels, gradient, 1.0 / double(batch));
    benchmark::DoNotOptimize(value);
  }
  Kokkos::fence();
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch));
}

} // namespace

BENCHMARK(softmax_cross_entropy)
    ->Name("softmax_cross_entropy/classes:10")
    ->ArgName("batch")
    ->Arg(32)
    ->Arg(256)
    ->Unit(benchmark::kMicrosecond);
