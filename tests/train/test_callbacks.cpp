#include <loom/data/in_memory.hpp>
#include <loom/layers/dense.hpp>
#include <loom/loss/softmax_cross_entropy.hpp>
#include <loom/optim/sgd.hpp>
#include <loom/train/callbacks.hpp>
#include <loom/train/trainer.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "loom_test.hpp"

#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using namespace loom;
using Net = Sequential<Input<2>, Dense<3>>;
using T = Trainer<Net, SoftmaxCrossEntropy, SGD, SingleProcess, test::ExecutionSpace>;

data::InMemoryDataset<std::int32_t> make_data() {
  std::vector<float> x;
  std::vector<std::int32_t> y;
  for (int i = 0; i < 40; ++i) {
    x.insert(x.end(), {float(i % 3), float(i % 5)});
    y.push_back(i % 3);
  }
  return {x, 2, y, 1, "tiny"};
}

TEST(callbacks, progress_writes_plain_lines_off_a_terminal) {
  std::ostringstream out;
  T trainer({.batch = 4, .lr = 0.1});
  auto const data = make_data();
  trainer.fit(data, epochs(2), callbacks::validation(data),
              callbacks::progress({.stream = &out, .lines_per_epoch = 2}));
  std::string const text = out.str();
  EXPECT_NE(text.find("training Sequential<Input<2>, Dense<3>> on tiny: 40 samples, batch 4, 10 "
                      "batches per epoch"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("epoch 1/2  batch 5/10  loss "), std::string::npos) << text;
  EXPECT_NE(text.find("epoch 2/2  loss "), std::string::npos) << text;
  EXPECT_NE(text.find("val_acc"), std::string::npos) << text;
  EXPECT_NE(text.find("samples/s"), std::string::npos) << text;
  EXPECT_EQ(text.find('\r'), std::string::npos) << "no carriage returns outside a terminal";
}

// Runs Progress's constructor in a child whose standard output is a pseudo-terminal: its
// controlling terminal (a program started on a terminal), or not (a rank under mpiexec,
// which writes into the launcher's pseudo-terminal). Returns whether the child chose the bar.
bool progress_is_live_on_a_pty(bool controlling_terminal) {
  int master = -1;
  pid_t pid = -1;
  if (controlling_terminal) {
    pid = ::forkpty(&master, nullptr, nullptr, nullptr); // the child's session and terminal
  } else {
    int slave = -1;
    if (::openpty(&master, &slave, nullptr, nullptr, nullptr) != 0) {
      ADD_FAILURE() << "openpty failed";
      return false;
    }
    pid = ::fork();
    if (pid == 0) {
      ::dup2(slave, STDOUT_FILENO);
    }
    ::close(slave);
  }
  if (pid == 0) {
    // What Open MPI's singleton start (a program run without mpiexec) leaves behind.
    ::setenv("PMIX_RANK", "0", 1);
    ::unsetenv("LOOM_PROGRESS");
    ::_exit(loom::callbacks::Progress().live() ? 0 : 1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(master);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

TEST(callbacks, progress_draws_a_bar_on_its_own_terminal_only) {
  EXPECT_TRUE(progress_is_live_on_a_pty(true)) << "a program started on a terminal";
  EXPECT_FALSE(progress_is_live_on_a_pty(false)) << "a pseudo-terminal that is not its own";
  std::ostringstream out;
  EXPECT_FALSE(callbacks::Progress({.stream = &out}).live());
}

TEST(callbacks, metrics_log_appends_json_lines) {
  auto const path = std::filesystem::temp_directory_path() /
                    ("loom_test_metrics_" + std::to_string(::getpid())) / "log.jsonl";
  std::filesystem::remove_all(path.parent_path());
  auto const data = make_data();
  T trainer({.batch = 4, .lr = 0.1});
  trainer.fit(data, epochs(1), callbacks::validation(data), callbacks::metrics_log(path));
  trainer.fit(data, epochs(2), callbacks::metrics_log(path, /*every_steps=*/5));
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  // epoch 1; then steps 15 and 20 (every 5 steps within epoch 2) and epoch 2.
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0].rfind("{\"epoch\":1,\"step\":10,\"loss\":", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find("\"val_accuracy\":"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("\"samples_per_second\":"), std::string::npos) << lines[0];
  EXPECT_EQ(lines[1].rfind("{\"epoch\":2,\"batch\":5,\"step\":15,", 0), 0u) << lines[1];
  EXPECT_EQ(lines[3].rfind("{\"epoch\":2,\"step\":20,", 0), 0u) << lines[3];
  EXPECT_EQ(lines[3].find("val_"), std::string::npos) << lines[3];
  std::filesystem::remove_all(path.parent_path());
}

TEST(callbacks, checkpoint_keeps_epochs_when_asked) {
  auto const dir =
      std::filesystem::temp_directory_path() / ("loom_test_ckpt_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  T trainer({.batch = 4, .lr = 0.1});
  trainer.fit(make_data(), epochs(2), callbacks::checkpoint(dir, {.keep_epochs = true}));
  EXPECT_TRUE(std::filesystem::exists(dir / "last.ckpt"));
  EXPECT_TRUE(std::filesystem::exists(dir / "epoch-0001.ckpt"));
  EXPECT_TRUE(std::filesystem::exists(dir / "epoch-0002.ckpt"));
  ASSERT_TRUE(trainer.last_checkpoint().has_value());
  EXPECT_EQ(*trainer.last_checkpoint(), dir / "last.ckpt");
  // An empty directory switches the callback off.
  T quiet({.batch = 4});
  quiet.fit(make_data(), epochs(1), callbacks::checkpoint(""));
  EXPECT_FALSE(quiet.last_checkpoint().has_value());
  std::filesystem::remove_all(dir);
}

} // namespace
