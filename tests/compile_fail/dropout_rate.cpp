// A drop probability lies in [0, 1).
#include <loom/layers/dense.hpp>
#include <loom/layers/dropout.hpp>
#include <loom/model/sequential.hpp>

#ifdef LOOM_SHOULD_FAIL_TO_BUILD
using Net = loom::Sequential<loom::Input<3>, loom::Dropout<1.0>, loom::Dense<2>>;
#else
using Net = loom::Sequential<loom::Input<3>, loom::Dropout<0.5>, loom::Dense<2>>;
#endif

int main() {
  return Net::num_parameters > 0 ? 0 : 1;
}
