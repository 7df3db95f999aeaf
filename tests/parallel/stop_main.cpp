// How a run ends when one rank fails: no rank may be left waiting. Run on two ranks with a
// mode (tests/parallel/run_stop.cmake checks the exit status, the time and the messages):
//   local      rank 1 fails alone (a missing data directory) while rank 0 waits in a
//              collective (the Trainer's start-up check); env.run() stops every rank
//   uncaught   the same with no handler: the exception leaves main() on rank 1
//   collective every rank fails together (the collective form of the reader): each prints
//              the message and ends normally with status 1

#include <loom/loom.hpp>

#include <cstdio>
#include <string>

using Net = loom::Sequential<loom::Input<4>, loom::Dense<3>>;
using Trainer = loom::Trainer<Net, loom::SoftmaxCrossEntropy, loom::SGD, loom::DataParallel<>>;

char const* const missing = "/nonexistent-loom-test-directory";

void start(loom::Environment& env, std::string const& mode) {
  if (mode == "collective") {
    auto const train = loom::data::fashion_mnist(env, "train", missing);
  } else if (env.rank() == 1) {
    auto const train = loom::data::fashion_mnist("train", missing);
  }
  Trainer trainer(env, {.batch = 8});
  std::printf("rank %d: started, which it should not have\n", env.rank());
}

int main(int argc, char* argv[]) {
  loom::Environment env(argc, argv);
  std::string const mode = argc > 1 ? argv[1] : "";
  if (mode == "uncaught") {
    start(env, mode);
    return 0;
  }
  return env.run([&] { start(env, mode); });
}
