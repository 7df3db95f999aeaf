// The Trainer's fourth argument must be a strategy.
#include <loom/loom.hpp>

#include <cstdio>

#ifdef LOOM_SHOULD_FAIL_TO_BUILD
using Net = loom::Sequential<loom::Input<4>, loom::Dense<2>>;
using Strategy = int;
#else
using Net = loom::Sequential<loom::Input<4>, loom::Dense<2>>;
using Strategy = loom::DataParallel<>;
#endif

int main(int argc, char* argv[]) {
  loom::Environment env(argc, argv);
  loom::Trainer<Net, loom::SoftmaxCrossEntropy, loom::SGD, Strategy> trainer(env, {.batch = 8});
  std::printf("%s", trainer.model().summary().c_str());
  return 0;
}
