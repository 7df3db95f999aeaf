// A 7-row kernel reads three rows beyond a band of two.
#include <loom/loom.hpp>

#include <cstdio>

#ifdef LOOM_SHOULD_FAIL_TO_BUILD
using Net = loom::Sequential<loom::Input<1, 8, 8>, loom::Conv2D<4, 7, 1, 3>, loom::Flatten,
                             loom::Dense<10>>;
#else
using Net = loom::Sequential<loom::Input<1, 8, 8>, loom::Conv2D<4, 5, 1, 2>, loom::Flatten,
                             loom::Dense<10>>;
#endif

int main(int argc, char* argv[]) {
  loom::Environment env(argc, argv);
  loom::Trainer<Net, loom::SoftmaxCrossEntropy, loom::SGD, loom::SpatialParallel<4>> trainer(
      env, {.batch = 8});
  std::printf("%s", trainer.model().summary().c_str());
  return 0;
}
