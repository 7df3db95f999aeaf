// Softmax works on flat vectors.
#include <loom/layers/dense.hpp>
#include <loom/layers/flatten.hpp>
#include <loom/layers/softmax.hpp>
#include <loom/model/sequential.hpp>

#ifdef LOOM_SHOULD_FAIL_TO_BUILD
using Net = loom::Sequential<loom::Input<2, 3>, loom::Softmax, loom::Flatten, loom::Dense<2>>;
#else
using Net = loom::Sequential<loom::Input<2, 3>, loom::Flatten, loom::Softmax, loom::Dense<2>>;
#endif

int main() {
  return Net::num_parameters > 0 ? 0 : 1;
}
