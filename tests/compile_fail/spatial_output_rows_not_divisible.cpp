// Example 04's CNN at P = 2: the second pooling leaves 7 rows, which 2 bands cannot share.
#include <loom/loom.hpp>

#include <cstdio>

#ifdef LOOM_SHOULD_FAIL_TO_BUILD
using Net = loom::Sequential<loom::Input<1, 28, 28>, loom::Conv2D<8, 3, 1, 1>, loom::ReLU,
                             loom::MaxPool2D<2>, loom::Conv2D<8, 3, 1, 1>, loom::ReLU,
                             loom::MaxPool2D<2>, loom::Flatten, loom::Dense<10>>;
#else
using Net = loom::Sequential<loom::Input<1, 32, 32>, loom::Conv2D<8, 3, 1, 1>, loom::ReLU,
                             loom::MaxPool2D<2>, loom::Conv2D<8, 3, 1, 1>, loom::ReLU,
                             loom::MaxPool2D<2>, loom::Flatten, loom::Dense<10>>;
#endif

int main(int argc, char* argv[]) {
  loom::Environment env(argc, argv);
  loom::Trainer<Net, loom::SoftmaxCrossEntropy, loom::SGD, loom::SpatialParallel<2>> trainer(
      env, {.batch = 8});
  std::printf("%s", trainer.model().summary().c_str());
  return 0;
}
