// A 5×5 window does not fit a 4×4 image.
#include <loom/layers/pooling.hpp>
#include <loom/model/sequential.hpp>

#ifdef LOOM_SHOULD_FAIL_TO_BUILD
using Net = loom::Sequential<loom::Input<3, 4, 4>, loom::AvgPool2D<5>>;
#else
using Net = loom::Sequential<loom::Input<3, 4, 4>, loom::AvgPool2D<4>>;
#endif

int main() {
  return Net::output_shape::size == 3 ? 0 : 1;
}
