// Padding as wide as the window would let a window cover nothing but padding.
#include <loom/layers/pooling.hpp>
#include <loom/model/sequential.hpp>

#ifdef LOOM_SHOULD_FAIL_TO_BUILD
using Net = loom::Sequential<loom::Input<3, 8, 8>, loom::MaxPool2D<2, 2, 2>>;
#else
using Net = loom::Sequential<loom::Input<3, 8, 8>, loom::MaxPool2D<2, 2, 1>>;
#endif

int main() {
  return Net::output_shape::size > 0 ? 0 : 1;
}
