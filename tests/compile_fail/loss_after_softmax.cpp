// SoftmaxCrossEntropy applies softmax itself: the network ends in logits.
#include <loom/layers/dense.hpp>
#include <loom/layers/softmax.hpp>
#include <loom/loss/softmax_cross_entropy.hpp>
#include <loom/optim/sgd.hpp>
#include <loom/train/trainer.hpp>

#ifdef LOOM_SHOULD_FAIL_TO_BUILD
using Net = loom::Sequential<loom::Input<4>, loom::Dense<3>, loom::Softmax>;
#else
using Net = loom::Sequential<loom::Input<4>, loom::Dense<3>>;
#endif
using T = loom::Trainer<Net, loom::SoftmaxCrossEntropy, loom::SGD>;

int main() {
  return T::outputs > 0 ? 0 : 1;
}
