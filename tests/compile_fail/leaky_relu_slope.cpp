// LeakyReLU's slope lies in [0, 1).
#include <loom/layers/activations.hpp>
#include <loom/layers/dense.hpp>
#include <loom/model/sequential.hpp>

#ifdef LOOM_SHOULD_FAIL_TO_BUILD
using Net = loom::Sequential<loom::Input<3>, loom::Dense<2>, loom::LeakyReLU<-0.1>>;
#else
using Net = loom::Sequential<loom::Input<3>, loom::Dense<2>, loom::LeakyReLU<0.1>>;
#endif

int main() {
  return Net::num_parameters > 0 ? 0 : 1;
}
