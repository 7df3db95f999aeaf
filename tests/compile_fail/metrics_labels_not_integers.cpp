// A classification metric takes class labels, one per sample, not regression targets.
#include <loom/train/metrics.hpp>

int main(int argc, char* argv[]) {
  Kokkos::ScopeGuard guard(argc, argv);
  Kokkos::View<float**, Kokkos::HostSpace> output("output", 2, 3);
  loom::metrics::TopK top(2);
#ifdef LOOM_SHOULD_FAIL_TO_BUILD
  Kokkos::View<float**, Kokkos::HostSpace> targets("targets", 2, 3);
#else
  Kokkos::View<std::int32_t*, Kokkos::HostSpace> targets("targets", 2);
#endif
  top.update(Kokkos::DefaultHostExecutionSpace(), output, targets);
  return top.count() == 2 ? 0 : 1;
}
