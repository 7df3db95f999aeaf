// A block that changes the number of channels cannot be added to its input without a projection.
#include <loom/layers/activations.hpp>
#include <loom/layers/conv2d.hpp>
#include <loom/layers/residual.hpp>
#include <loom/model/sequential.hpp>

#ifdef LOOM_SHOULD_FAIL_TO_BUILD
using Net = loom::Sequential<loom::Input<2, 5, 5>, loom::Conv2D<2, 3, 1, 1>,
                             loom::Residual<loom::Conv2D<4, 3, 1, 1>, loom::ReLU>>;
#else
using Net = loom::Sequential<loom::Input<2, 5, 5>, loom::Conv2D<2, 3, 1, 1>,
                             loom::Residual<loom::Conv2D<2, 3, 1, 1>, loom::ReLU>>;
#endif

int main() {
  return Net::num_parameters > 0 ? 0 : 1;
}
