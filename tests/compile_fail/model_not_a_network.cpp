// loom::Model instantiates network types.
#include <loom/layers/dense.hpp>
#include <loom/model/model.hpp>

#ifdef LOOM_SHOULD_FAIL_TO_BUILD
using M = loom::Model<loom::Dense<3>, Kokkos::DefaultHostExecutionSpace>;
#else
using M = loom::Model<loom::Sequential<loom::Input<2>, loom::Dense<3>>,
                      Kokkos::DefaultHostExecutionSpace>;
#endif

int main() {
  return M::num_parameters > 0 ? 0 : 1;
}
