// Dense takes a flat vector: an image needs Flatten first.
#include <loom/layers/dense.hpp>
#include <loom/layers/flatten.hpp>
#include <loom/model/sequential.hpp>

#ifdef LOOM_SHOULD_FAIL_TO_BUILD
using Net = loom::Sequential<loom::Input<1, 28, 28>, loom::Dense<10>>;
#else
using Net = loom::Sequential<loom::Input<1, 28, 28>, loom::Flatten, loom::Dense<10>>;
#endif

int main() {
  return Net::num_parameters > 0 ? 0 : 1;
}
