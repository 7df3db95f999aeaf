// A metric's update() takes the execution space instance first, as loom's kernels do.
#include <loom/train/metrics.hpp>

int main(int argc, char* argv[]) {
  Kokkos::ScopeGuard guard(argc, argv);
  Kokkos::View<float**, Kokkos::HostSpace> output("output", 2, 3);
  Kokkos::View<std::int32_t*, Kokkos::HostSpace> labels("labels", 2);
  loom::metrics::TopK top(1);
#ifdef LOOM_SHOULD_FAIL_TO_BUILD
  top.update(Kokkos::HostSpace(), output, labels);
#else
  top.update(Kokkos::DefaultHostExecutionSpace(), output, labels);
#endif
  return top.count() == 2 ? 0 : 1;
}
