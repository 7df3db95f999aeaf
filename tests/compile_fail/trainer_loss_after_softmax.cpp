// A loss that does not fit the network, as a user meets it: SoftmaxCrossEntropy applies
// softmax itself, so a network that ends with Softmax is a mistake. The loss's diagnostic is
// the whole story: no errors inside the Trainer or the Model after it.
#include <loom/loom.hpp>

#include <cstdio>

#ifdef LOOM_SHOULD_FAIL_TO_BUILD
using Net = loom::Sequential<loom::Input<784>, loom::Dense<128>, loom::ReLU, loom::Dense<10>,
                             loom::Softmax>;
#else
using Net = loom::Sequential<loom::Input<784>, loom::Dense<128>, loom::ReLU, loom::Dense<10>>;
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
