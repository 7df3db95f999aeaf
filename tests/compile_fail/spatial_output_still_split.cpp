// A network whose output is a split image (no Dense or GlobalAvgPool2D at its end).
#include <loom/loom.hpp>

#include <cstdio>

#ifdef LOOM_SHOULD_FAIL_TO_BUILD
using Net = loom::Sequential<loom::Input<1, 8, 8>, loom::Conv2D<2, 3, 1, 1>, loom::Flatten>;
#else
using Net =
    loom::Sequential<loom::Input<1, 8, 8>, loom::Conv2D<2, 3, 1, 1>, loom::Flatten, loom::Dense<2>>;
#endif

int main(int argc, char* argv[]) {
  loom::Environment env(argc, argv);
  loom::Trainer<Net, loom::SoftmaxCrossEntropy, loom::SGD, loom::SpatialParallel<2>> trainer(
      env, {.batch = 8});
  std::printf("%s", trainer.model().summary().c_str());
  return 0;
}
