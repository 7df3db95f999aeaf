// A Dense of 10 units cannot be split into 4 equal slices.
#include <loom/loom.hpp>

#include <cstdio>

#ifdef LOOM_SHOULD_FAIL_TO_BUILD
using Net = loom::Sequential<loom::Input<784>, loom::Dense<512>, loom::ReLU, loom::Dense<256>,
                             loom::ReLU, loom::Dense<10>>;
#else
using Net = loom::Sequential<loom::Input<784>, loom::Dense<512>, loom::ReLU, loom::Dense<256>,
                             loom::ReLU, loom::Dense<12>>;
#endif

int main(int argc, char* argv[]) {
  loom::Environment env(argc, argv);
  loom::Trainer<Net, loom::SoftmaxCrossEntropy, loom::SGD, loom::TensorParallel<4>> trainer(
      env, {.batch = 8});
  std::printf("%s", trainer.model().summary().c_str());
  return 0;
}
