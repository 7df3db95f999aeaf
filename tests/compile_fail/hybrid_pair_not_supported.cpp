// Hybrid's pairs put DataParallel or Pipeline across the rows; TensorParallel × SpatialParallel
// is not one of them.
#include <loom/loom.hpp>

#include <cstdio>

using Net = loom::Sequential<loom::Input<1, 8, 8>, loom::Conv2D<4, 3, 1, 1>, loom::ReLU,
                             loom::Flatten, loom::Dense<16>, loom::ReLU, loom::Dense<10>>;
#ifdef LOOM_SHOULD_FAIL_TO_BUILD
using Strategy = loom::Hybrid<loom::TensorParallel<2>, loom::SpatialParallel<2>>;
#else
using Strategy = loom::Hybrid<loom::DataParallel<>, loom::SpatialParallel<2>>;
#endif

int main(int argc, char* argv[]) {
  loom::Environment env(argc, argv);
  loom::Trainer<Net, loom::SoftmaxCrossEntropy, loom::SGD, Strategy> trainer(env, {.batch = 8});
  std::printf("%s", trainer.model().summary().c_str());
  return 0;
}
