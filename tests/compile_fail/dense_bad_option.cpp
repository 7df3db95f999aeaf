// Dense's options are NoBias and initialisers.
#include <loom/layers/dense.hpp>
#include <loom/model/sequential.hpp>

#ifdef LOOM_SHOULD_FAIL_TO_BUILD
using Net = loom::Sequential<loom::Input<5>, loom::Dense<3, float>>;
#else
using Net = loom::Sequential<loom::Input<5>, loom::Dense<3, loom::NoBias, loom::init::He>>;
#endif

int main() {
  return Net::num_parameters > 0 ? 0 : 1;
}
