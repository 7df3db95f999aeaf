// The mistake as a user meets it (issue 10): a Trainer of a network whose Dense takes an image
// without Flatten. The Dense diagnostic is the whole story: no "Net must be a network type", no
// complaint from the loss about the network's output, no errors inside loom after it.
#include <loom/loom.hpp>

#include <cstdio>

#ifdef LOOM_SHOULD_FAIL_TO_BUILD
using Net = loom::Sequential<loom::Input<1, 28, 28>, loom::Dense<10>>;
#else
using Net = loom::Sequential<loom::Input<1, 28, 28>, loom::Flatten, loom::Dense<10>>;
#endif

int main(int argc, char* argv[]) {
  loom::Environment env(argc, argv);
  auto train = loom::data::fashion_mnist("train");
  auto test = loom::data::fashion_mnist("test");
  loom::Trainer<Net, loom::SoftmaxCrossEntropy, loom::SGD> trainer(env, {.batch = 64, .lr = 0.01});
  std::printf("%s", trainer.model().summary().c_str());
  trainer.fit(train, loom::epochs(1), loom::callbacks::progress());
  auto const result = trainer.evaluate(test);
  std::printf("test_accuracy=%.4f\n", result.accuracy());
  return 0;
}
