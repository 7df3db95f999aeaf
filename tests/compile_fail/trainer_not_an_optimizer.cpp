// A Trainer's third argument is an optimizer.
#include <loom/layers/dense.hpp>
#include <loom/loss/softmax_cross_entropy.hpp>
#include <loom/optim/sgd.hpp>
#include <loom/train/trainer.hpp>

using Net = loom::Sequential<loom::Input<4>, loom::Dense<3>>;
struct NotAnOptimizer {
  static constexpr double default_lr = 0.1;
  struct options {};
};
#ifdef LOOM_SHOULD_FAIL_TO_BUILD
using T = loom::Trainer<Net, loom::SoftmaxCrossEntropy, NotAnOptimizer>;
#else
using T = loom::Trainer<Net, loom::SoftmaxCrossEntropy, loom::SGD>;
#endif

int main() {
  return T::outputs > 0 ? 0 : 1;
}
