// Conv2D reads images: a flattened input needs to stay (C, H, W).
#include <loom/layers/conv2d.hpp>
#include <loom/layers/flatten.hpp>
#include <loom/model/sequential.hpp>

#ifdef LOOM_SHOULD_FAIL_TO_BUILD
using Net = loom::Sequential<loom::Input<1, 28, 28>, loom::Flatten, loom::Conv2D<8, 3>>;
#else
using Net = loom::Sequential<loom::Input<1, 28, 28>, loom::Conv2D<8, 3>, loom::Flatten>;
#endif

int main() {
  return Net::num_parameters > 0 ? 0 : 1;
}
