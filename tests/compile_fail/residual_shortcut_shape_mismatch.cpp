// The block halves the image (stride 2); a projection without the stride does not.
#include <loom/layers/activations.hpp>
#include <loom/layers/conv2d.hpp>
#include <loom/layers/residual.hpp>
#include <loom/model/sequential.hpp>

#ifdef LOOM_SHOULD_FAIL_TO_BUILD
using Net =
    loom::Sequential<loom::Input<2, 6, 6>, loom::Residual<loom::Conv2D<4, 3, 2, 1>, loom::ReLU,
                                                          loom::Shortcut<loom::Conv2D<4, 1>>>>;
#else
using Net =
    loom::Sequential<loom::Input<2, 6, 6>, loom::Residual<loom::Conv2D<4, 3, 2, 1>, loom::ReLU,
                                                          loom::Shortcut<loom::Conv2D<4, 1, 2>>>>;
#endif

int main() {
  return Net::num_parameters > 0 ? 0 : 1;
}
