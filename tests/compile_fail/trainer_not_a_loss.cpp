// A Trainer's second argument is a loss.
#include <loom/layers/dense.hpp>
#include <loom/loss/mse.hpp>
#include <loom/optim/sgd.hpp>
#include <loom/train/trainer.hpp>

using Net = loom::Sequential<loom::Input<4>, loom::Dense<3>>;
struct NotALoss {
  using target_type = float;
};
#ifdef LOOM_SHOULD_FAIL_TO_BUILD
using T = loom::Trainer<Net, NotALoss, loom::SGD>;
#else
using T = loom::Trainer<Net, loom::MSE, loom::SGD>;
#endif

int main() {
  return T::outputs > 0 ? 0 : 1;
}
