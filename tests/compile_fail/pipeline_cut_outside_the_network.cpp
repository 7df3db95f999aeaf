// The network has 7 layers (positions 0 to 6 after Input): a cut at 7 leaves an empty stage.
#include <loom/loom.hpp>

#include <cstdio>

using Net =
    loom::Sequential<loom::Input<2, 8, 8>, loom::Conv2D<4, 3, 1, 1>, loom::ReLU, loom::MaxPool2D<2>,
                     loom::Flatten, loom::Dense<16>, loom::ReLU, loom::Dense<10>>;
#ifdef LOOM_SHOULD_FAIL_TO_BUILD
using Strategy = loom::Pipeline<loom::Cuts<2, 7>, loom::MicroBatches<4>>;
#else
using Strategy = loom::Pipeline<loom::Cuts<2, 6>, loom::MicroBatches<4>>;
#endif

int main(int argc, char* argv[]) {
  loom::Environment env(argc, argv);
  loom::Trainer<Net, loom::SoftmaxCrossEntropy, loom::SGD, Strategy> trainer(env, {.batch = 8});
  std::printf("%s", trainer.model().summary().c_str());
  return 0;
}
