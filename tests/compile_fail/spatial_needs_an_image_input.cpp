// SpatialParallel splits an image's rows: a network of vectors has none.
#include <loom/loom.hpp>

#include <cstdio>

#ifdef LOOM_SHOULD_FAIL_TO_BUILD
using Net = loom::Sequential<loom::Input<784>, loom::Dense<64>, loom::ReLU, loom::Dense<10>>;
#else
using Net = loom::Sequential<loom::Input<1, 28, 28>, loom::Flatten, loom::Dense<64>, loom::ReLU,
                             loom::Dense<10>>;
#endif

int main(int argc, char* argv[]) {
  loom::Environment env(argc, argv);
  loom::Trainer<Net, loom::SoftmaxCrossEntropy, loom::SGD, loom::SpatialParallel<2>> trainer(
      env, {.batch = 8});
  std::printf("%s", trainer.model().summary().c_str());
  return 0;
}
