// A Conv2D shape mistake as a user meets it: a Trainer of a CNN whose second convolution's
// kernel is larger than the image left after pooling. The Conv2D diagnostic is the whole story:
// no complaint from the loss about the network's output, no errors inside loom after it.
#include <loom/loom.hpp>

#include <cstdio>

#ifdef LOOM_SHOULD_FAIL_TO_BUILD
using Net =
    loom::Sequential<loom::Input<1, 28, 28>, loom::Conv2D<8, 3>, loom::ReLU, loom::MaxPool2D<2>,
                     loom::Conv2D<16, 15>, loom::ReLU, loom::Flatten, loom::Dense<10>>;
#else
using Net =
    loom::Sequential<loom::Input<1, 28, 28>, loom::Conv2D<8, 3>, loom::ReLU, loom::MaxPool2D<2>,
                     loom::Conv2D<16, 3>, loom::ReLU, loom::Flatten, loom::Dense<10>>;
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
