// A metric's update() takes the network's output as a batch × outputs view.
#include <loom/train/metrics.hpp>

int main(int argc, char* argv[]) {
  Kokkos::ScopeGuard guard(argc, argv);
  Kokkos::View<std::int32_t*, Kokkos::HostSpace> labels("labels", 2);
  loom::metrics::ConfusionMatrix confusion(3);
#ifdef LOOM_SHOULD_FAIL_TO_BUILD
  Kokkos::View<float*, Kokkos::HostSpace> output("output", 6);
#else
  Kokkos::View<float**, Kokkos::HostSpace> output("output", 2, 3);
#endif
  confusion.update(Kokkos::DefaultHostExecutionSpace(), output, labels);
  return confusion.count() == 2 ? 0 : 1;
}
