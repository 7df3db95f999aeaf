// After two 2×2 poolings a 7×7 image is 1×1: a 3×3 kernel without padding no longer fits.
#include <loom/layers/conv2d.hpp>
#include <loom/layers/pooling.hpp>
#include <loom/model/sequential.hpp>

#ifdef LOOM_SHOULD_FAIL_TO_BUILD
using Net = loom::Sequential<loom::Input<1, 7, 7>, loom::MaxPool2D<2>, loom::MaxPool2D<2>,
                             loom::Conv2D<8, 3>>;
#else
using Net = loom::Sequential<loom::Input<1, 7, 7>, loom::MaxPool2D<2>, loom::MaxPool2D<2>,
                             loom::Conv2D<8, 3, 1, 1>>;
#endif

int main() {
  return Net::num_parameters > 0 ? 0 : 1;
}
