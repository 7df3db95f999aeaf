// BatchNorm2D normalises the channels of images: it goes before Flatten.
#include <loom/layers/batch_norm.hpp>
#include <loom/layers/flatten.hpp>
#include <loom/model/sequential.hpp>

#ifdef LOOM_SHOULD_FAIL_TO_BUILD
using Net = loom::Sequential<loom::Input<1, 28, 28>, loom::Flatten, loom::BatchNorm2D<>>;
#else
using Net = loom::Sequential<loom::Input<1, 28, 28>, loom::BatchNorm2D<>, loom::Flatten>;
#endif

int main() {
  return Net::num_parameters > 0 ? 0 : 1;
}
