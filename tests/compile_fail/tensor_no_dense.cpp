// A network without a Dense to split would run whole on every rank: an error, not a silent
// fallback.
#include <loom/loom.hpp>

#include <cstdio>

#ifdef LOOM_SHOULD_FAIL_TO_BUILD
using Net = loom::Sequential<loom::Input<1, 8, 8>, loom::Conv2D<2, 3, 1, 1>, loom::GlobalAvgPool2D>;
#else
using Net = loom::Sequential<loom::Input<1, 8, 8>, loom::Conv2D<2, 3, 1, 1>, loom::GlobalAvgPool2D,
                             loom::Dense<2>>;
#endif

int main(int argc, char* argv[]) {
  loom::Environment env(argc, argv);
  loom::Trainer<Net, loom::SoftmaxCrossEntropy, loom::SGD, loom::TensorParallel<2>> trainer(
      env, {.batch = 8});
  std::printf("%s", trainer.model().summary().c_str());
  return 0;
}
