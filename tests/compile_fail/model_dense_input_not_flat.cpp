// The same mistake one level down: a Model of a network whose Dense takes an image without
// Flatten. A network with a failed layer check is still a network: the Dense diagnostic is the
// only one, not "Net must be a network type".
#include <loom/layers/activations.hpp>
#include <loom/layers/dense.hpp>
#include <loom/layers/flatten.hpp>
#include <loom/model/model.hpp>
#include <loom/model/sequential.hpp>

#include <Kokkos_Core.hpp>

#ifdef LOOM_SHOULD_FAIL_TO_BUILD
using Net = loom::Sequential<loom::Input<1, 28, 28>, loom::Dense<128>, loom::ReLU, loom::Dense<10>>;
#else
using Net = loom::Sequential<loom::Input<1, 28, 28>, loom::Flatten, loom::Dense<128>, loom::ReLU,
                             loom::Dense<10>>;
#endif

int main(int argc, char* argv[]) {
  Kokkos::ScopeGuard guard(argc, argv);
  loom::Model<Net, Kokkos::DefaultHostExecutionSpace> model(/*seed=*/42);
  Kokkos::View<float**, Kokkos::LayoutRight, Kokkos::HostSpace> x("x", 2, 784);
  auto logits = model.forward(x);
  model.backward();
  return logits.extent(1) == 10 ? 0 : 1;
}
