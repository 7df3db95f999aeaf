// loom::Sequential's first argument is the sample shape.
#include <loom/layers/dense.hpp>
#include <loom/model/sequential.hpp>

#ifdef LOOM_SHOULD_FAIL_TO_BUILD
using Net = loom::Sequential<loom::Dense<10>, loom::Dense<3>>;
#else
using Net = loom::Sequential<loom::Input<5>, loom::Dense<10>, loom::Dense<3>>;
#endif

int main() {
  return Net::num_parameters > 0 ? 0 : 1;
}
