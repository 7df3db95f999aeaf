// metrics::Regression takes one target value per output, not class labels.
#include <loom/train/metrics.hpp>

int main(int argc, char* argv[]) {
  Kokkos::ScopeGuard guard(argc, argv);
  Kokkos::View<float**, Kokkos::HostSpace> output("output", 2, 1);
  loom::metrics::Regression regression;
#ifdef LOOM_SHOULD_FAIL_TO_BUILD
  Kokkos::View<std::int32_t*, Kokkos::HostSpace> targets("targets", 2);
#else
  Kokkos::View<float**, Kokkos::HostSpace> targets("targets", 2, 1);
#endif
  regression.update(Kokkos::DefaultHostExecutionSpace(), output, targets);
  return regression.count() == 2 ? 0 : 1;
}
