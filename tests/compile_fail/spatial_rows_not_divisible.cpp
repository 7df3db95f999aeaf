// The input's 28 rows do not split into 8 equal bands.
#include <loom/loom.hpp>

#include <cstdio>

#ifdef LOOM_SHOULD_FAIL_TO_BUILD
constexpr std::size_t Ranks = 8;
using Net = loom::Sequential<loom::Input<1, 28, 28>, loom::Conv2D<4, 3, 1, 1>, loom::Flatten,
                             loom::Dense<10>>;
#else
constexpr std::size_t Ranks = 4;
using Net = loom::Sequential<loom::Input<1, 28, 28>, loom::Conv2D<4, 3, 1, 1>, loom::Flatten,
                             loom::Dense<10>>;
#endif

int main(int argc, char* argv[]) {
  loom::Environment env(argc, argv);
  loom::Trainer<Net, loom::SoftmaxCrossEntropy, loom::SGD, loom::SpatialParallel<Ranks>> trainer(
      env, {.batch = 8});
  std::printf("%s", trainer.model().summary().c_str());
  return 0;
}
