// conv::Direct holds a padded image per work item: a 3×224×224 input is too large for it.
#include <loom/layers/conv2d.hpp>
#include <loom/model/model.hpp>

#ifdef LOOM_SHOULD_FAIL_TO_BUILD
using Net =
    loom::Sequential<loom::Input<3, 224, 224>, loom::Conv2D<8, 7, 2, 3, loom::conv::Direct>>;
#else
using Net =
    loom::Sequential<loom::Input<3, 224, 224>, loom::Conv2D<8, 7, 2, 3, loom::conv::Im2col>>;
#endif
using M = loom::Model<Net, Kokkos::DefaultHostExecutionSpace, float>;

int main() {
  return sizeof(M) > 0 ? 0 : 1;
}
