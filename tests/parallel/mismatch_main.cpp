// Two ranks that disagree on the learning rate: both must stop at start-up with the reason.

#include <loom/loom.hpp>

#include <cstdio>

using Net = loom::Sequential<loom::Input<4>, loom::Dense<3>>;

int main(int argc, char* argv[]) {
  loom::Environment env(argc, argv);
  try {
    double const lr = env.rank() == 1 ? 0.2 : 0.1;
    loom::Trainer<Net, loom::SoftmaxCrossEntropy, loom::SGD, loom::DataParallel<>> trainer(
        env, {.batch = 8, .lr = lr});
    std::printf("rank %d: started, which it should not have\n", env.rank());
    return 0;
  } catch (loom::Error const& e) {
    std::fprintf(stderr, "rank %d stopped: %s\n", env.rank(), e.what());
    return 1;
  }
}
