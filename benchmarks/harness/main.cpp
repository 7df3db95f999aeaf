// main() of the Google Benchmark programs: Kokkos around the benchmark run, so that
// --kokkos-* arguments work alongside --benchmark_* ones.

#include <Kokkos_Core.hpp>

#include <benchmark/benchmark.h>

int main(int argc, char* argv[]) {
  Kokkos::initialize(argc, argv);
  ::benchmark::Initialize(&argc, argv);
  if (::benchmark::ReportUnrecognizedArguments(argc, argv)) {
    Kokkos::finalize();
    return 1;
  }
  ::benchmark::AddCustomContext("loom.execution_space", Kokkos::DefaultExecutionSpace::name());
  ::benchmark::RunSpecifiedBenchmarks();
  ::benchmark::Shutdown();
  Kokkos::finalize();
  return 0;
}
