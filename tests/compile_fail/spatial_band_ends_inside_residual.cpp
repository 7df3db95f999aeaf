// A Residual whose block ends the image part (GlobalAvgPool2D) cannot keep its branches in bands.
#include <loom/loom.hpp>

#include <cstdio>

#ifdef LOOM_SHOULD_FAIL_TO_BUILD
using Net =
    loom::Sequential<loom::Input<2, 8, 8>,
                     loom::Residual<loom::GlobalAvgPool2D, loom::Shortcut<loom::GlobalAvgPool2D>>,
                     loom::Dense<10>>;
#else
using Net = loom::Sequential<loom::Input<2, 8, 8>, loom::Residual<loom::Conv2D<2, 3, 1, 1>>,
                             loom::GlobalAvgPool2D, loom::Dense<10>>;
#endif

int main(int argc, char* argv[]) {
  loom::Environment env(argc, argv);
  loom::Trainer<Net, loom::SoftmaxCrossEntropy, loom::SGD, loom::SpatialParallel<2>> trainer(
      env, {.batch = 8});
  std::printf("%s", trainer.model().summary().c_str());
  return 0;
}
