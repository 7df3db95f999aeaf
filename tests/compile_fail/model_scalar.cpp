// Models compute in float or double.
#include <loom/layers/dense.hpp>
#include <loom/model/model.hpp>

using Net = loom::Sequential<loom::Input<2>, loom::Dense<3>>;
#ifdef LOOM_SHOULD_FAIL_TO_BUILD
using M = loom::Model<Net, Kokkos::DefaultHostExecutionSpace, int>;
#else
using M = loom::Model<Net, Kokkos::DefaultHostExecutionSpace, double>;
#endif

int main() {
  return M::num_parameters > 0 ? 0 : 1;
}
