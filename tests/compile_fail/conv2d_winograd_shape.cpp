// conv::Winograd computes 3×3 kernels with stride 1 only: a stride-2 layer cannot take it.
#include <loom/layers/conv2d.hpp>
#include <loom/model/model.hpp>

#ifdef LOOM_SHOULD_FAIL_TO_BUILD
using Net =
    loom::Sequential<loom::Input<8, 16, 16>, loom::Conv2D<8, 3, 2, 1, loom::conv::Winograd>>;
#else
using Net = loom::Sequential<loom::Input<8, 16, 16>, loom::Conv2D<8, 3, 2, 1, loom::conv::Im2col>>;
#endif
using M = loom::Model<Net, Kokkos::DefaultHostExecutionSpace, float>;

int main() {
  return sizeof(M) > 0 ? 0 : 1;
}
