// SoftmaxCrossEntropy needs one logit per class, at least two.
#include <loom/layers/dense.hpp>
#include <loom/loss/softmax_cross_entropy.hpp>
#include <loom/optim/sgd.hpp>
#include <loom/train/trainer.hpp>

#ifdef LOOM_SHOULD_FAIL_TO_BUILD
using Net = loom::Sequential<loom::Input<4>, loom::Dense<1>>;
#else
using Net = loom::Sequential<loom::Input<4>, loom::Dense<2>>;
#endif
using T = loom::Trainer<Net, loom::SoftmaxCrossEntropy, loom::SGD>;

int main() {
  return T::outputs > 0 ? 0 : 1;
}
