// A Dense layer has at least one output.
#include <loom/layers/dense.hpp>
#include <loom/model/sequential.hpp>

#ifdef LOOM_SHOULD_FAIL_TO_BUILD
using Net = loom::Sequential<loom::Input<5>, loom::Dense<0>>;
#else
using Net = loom::Sequential<loom::Input<5>, loom::Dense<1>>;
#endif

int main() {
  return Net::num_parameters > 0 ? 0 : 1;
}
