// ParameterServer: one worker with staleness 0 is serial SGD bit for bit (over one server, or
// the parameters sharded over the other ranks); three workers converge on Fashion-MNIST; a
// delayed worker does not hold the others back unless the staleness bound says so; a worker
// that goes silent is given up on and the others go on; a non-finite loss stops every rank;
// checkpoints resume and load under other strategies; bad options err on every rank.

#include <loom/loom.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "dataset_copy.hpp"
#include "loom_test.hpp"
#include "split_equivalence.hpp"
#include "synthetic.hpp"

namespace {

using namespace loom;
using ExecutionSpace = test::ExecutionSpace;
using Server = ParameterServer<>;
using Net = Sequential<Input<12>, Dense<16>, ReLU, Dense<4>>;
template <class Strategy, class Optimizer = SGD>
using T = Trainer<Net, SoftmaxCrossEntropy, Optimizer, Strategy, ExecutionSpace>;

std::size_t all_but_one(Environment const& env) {
  return env.size() > 1 ? env.size() - 1 : 1;
}

TEST(parameter_server, one_worker_without_staleness_is_serial_sgd_bit_for_bit) {
  Environment env;
  auto const data = test::synthetic_labels(150);
  SGD::options const sgd{.momentum = 0.9, .weight_decay = 1e-4};
  // Every rank but the last a server: the shards are as many as the servers.
  T<Server> server(env, {.batch = 16,
                         .lr = 0.05,
                         .optimizer = sgd,
                         .clip_norm = 1.0,
                         .seed = 3,
                         .parallel = {.servers = all_but_one(env), .staleness = 0}});
  T<SingleProcess> serial({.batch = 16, .lr = 0.05, .optimizer = sgd, .clip_norm = 1.0, .seed = 3});
  server.fit(data, epochs(2));
  serial.fit(data, epochs(2));
  EXPECT_EQ(test::host_values(server.model().parameters()),
            test::host_values(serial.model().parameters()))
      << "rank " << env.rank();
  EXPECT_EQ(server.optimizer().steps(), serial.optimizer().steps());
}

TEST(parameter_server, three_workers_converge_on_fashion_mnist) {
  Environment env;
  if (!std::filesystem::exists(data::fashion_mnist_default_dir() + "/train-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "Fashion-MNIST not installed (Debian package dataset-fashion-mnist)";
  }
  auto const train = data::fashion_mnist("train").subset(0, 12000);
  auto const test = data::fashion_mnist("test").subset(0, 2000);
  using Mlp = Sequential<Input<1, 28, 28>, Flatten, Dense<128>, ReLU, Dense<10>>;
  TrainerOptions<SGD, Server> const options{
      .batch = 64, .lr = 0.05, .optimizer = {.momentum = 0.5}, .parallel = {.staleness = 4}};
  Trainer<Mlp, SoftmaxCrossEntropy, SGD, Server, ExecutionSpace> trainer(env, options);
  trainer.fit(train, epochs(3));
  Trainer<Mlp, SoftmaxCrossEntropy, SGD, SingleProcess, ExecutionSpace> serial(
      {.batch = 64, .lr = 0.05, .optimizer = {.momentum = 0.5}});
  serial.fit(train, epochs(3));
  double const accuracy = trainer.evaluate(test).accuracy();
  double const reference = serial.evaluate(test).accuracy(); // 0.79
  EXPECT_GT(accuracy, 0.75) << "over " << env.size() << " processes, rank " << env.rank();
  EXPECT_GT(accuracy, reference - 0.02) << "serial SGD: " << reference;
}

// Rank 3 (a worker) sleeps after each of its steps.
struct Delay {
  int rank;
  template <class Trainer>
  void on_batch_end(Trainer& trainer, BatchInfo const&) {
    if (trainer.runtime().rank() == rank) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
};

TEST(parameter_server, a_delayed_worker_holds_the_others_back_only_within_the_staleness_bound) {
  Environment env;
  if (env.size() != 4) {
    GTEST_SKIP() << "one server and three workers";
  }
  auto const data = test::synthetic_labels(16 * 60);
  comm::Mpi comm(env);
  std::vector<double> counts(4);
  for (std::size_t staleness : {Server::unbounded_staleness, std::size_t{0}}) {
    T<Server> trainer(env, {.batch = 16, .lr = 0.05, .parallel = {.staleness = staleness}});
    trainer.fit(data, epochs(1), Delay{3});
    std::fill(counts.begin(), counts.end(), 0.0);
    counts[std::size_t(env.rank())] = double(trainer.runtime().batches());
    comm.all_reduce(std::span<double>(counts), comm::ReduceOp::sum);
    EXPECT_EQ(counts[0], 60) << "the server applies every batch";
    EXPECT_EQ(counts[1] + counts[2] + counts[3], 60) << "each batch trained on once";
    if (staleness == Server::unbounded_staleness) {
      EXPECT_GE(std::min(counts[1], counts[2]), 3 * counts[3])
          << counts[1] << " " << counts[2] << " " << counts[3];
    } else {
      // Synchronous rounds: each worker one push a round.
      EXPECT_LE(std::max({counts[1], counts[2], counts[3]}) -
                    std::min({counts[1], counts[2], counts[3]}),
                1)
          << counts[1] << " " << counts[2] << " " << counts[3];
    }
  }
}

// Rank 3 stops after its third step, holding a batch, and sends nothing more.
struct Vanish {
  template <class Trainer>
  void on_batch_end(Trainer& trainer, BatchInfo const& info) {
    if (trainer.runtime().rank() == 3 && info.step == 3) {
      throw std::runtime_error("vanished");
    }
  }
};

TEST(parameter_server, a_silent_worker_is_given_up_on_and_the_others_go_on) {
  Environment env;
  if (env.size() != 4) {
    GTEST_SKIP() << "one server and three workers";
  }
  auto const data = test::synthetic_labels(16 * 30);
  {
    T<Server> trainer(env, {.batch = 16, .lr = 0.05, .parallel = {.worker_timeout = 2}});
    try {
      trainer.fit(data, epochs(3), Vanish{});
      EXPECT_NE(env.rank(), 3);
      if (env.rank() == 0) {
        EXPECT_EQ(trainer.runtime().lost_workers(), std::vector<int>{3});
        // 30 batches an epoch, one lost with the worker.
        EXPECT_EQ(trainer.runtime().batches(), 89u);
      }
      auto const result = trainer.evaluate(data); // on this rank alone
      EXPECT_LT(result.mean(), std::log(4.0)) << "rank " << env.rank();
      EXPECT_THROW(trainer.load("unused.ckpt"), loom::Error) << "no broadcast over rank 3";
    } catch (std::runtime_error const& e) {
      EXPECT_EQ(env.rank(), 3) << e.what();
    }
  }
  comm::Mpi(env).barrier();
}

TEST(parameter_server, a_non_finite_loss_on_one_worker_stops_every_rank) {
  Environment env;
  auto const data = test::with_feature(test::synthetic_labels(64), 9 * 12,
                                       std::numeric_limits<float>::infinity());
  T<Server> trainer(env, {.batch = 16, .shuffle = false});
  try {
    trainer.fit(data, epochs(2));
    ADD_FAILURE() << "rank " << env.rank() << " trained on";
  } catch (loom::Error const& e) {
    EXPECT_NE(std::string(e.what()).find("the loss became"), std::string::npos) << e.what();
  }
  for (double p : test::host_values(trainer.model().parameters())) {
    ASSERT_TRUE(std::isfinite(p)) << "rank " << env.rank();
  }
}

TEST(parameter_server, checkpoints_resume_and_load_under_other_strategies) {
  Environment env;
  auto const data = test::synthetic_labels(160);
  auto const file = std::filesystem::temp_directory_path() / "loom_parameter_server.ckpt";
  TrainerOptions<Adam, Server> const options{
      .batch = 16, .lr = 0.01, .seed = 4, .parallel = {.servers = all_but_one(env)}};
  T<Server, Adam> trainer(env, options);
  trainer.fit(data, epochs(1));
  trainer.save(file);
  auto const saved = test::host_values(trainer.model().parameters());
  T<Server, Adam> resumed(env, options);
  resumed.load(file);
  EXPECT_EQ(test::host_values(resumed.model().parameters()), saved);
  resumed.fit(data, epochs(3));
  trainer.fit(data, epochs(3));
  // One worker with staleness 0: even resumed, the same run.
  EXPECT_EQ(test::host_values(resumed.model().parameters()),
            test::host_values(trainer.model().parameters()));
  EXPECT_LT(resumed.evaluate(data).mean(), std::log(4.0));
  T<SingleProcess, Adam> serial({.batch = 16, .lr = 0.01, .seed = 4});
  serial.load(file);
  EXPECT_EQ(test::host_values(serial.model().parameters()), saved);
  T<DataParallel<>, Adam> data_parallel(env, {.batch = 16, .lr = 0.01, .seed = 4});
  data_parallel.load(file);
  data_parallel.fit(data, epochs(2));
  comm::Mpi(env).barrier();
  if (env.rank() == 0) {
    std::filesystem::remove(file);
  }
}

TEST(parameter_server, options_without_a_worker_err_on_every_rank) {
  Environment env;
  try {
    T<Server> trainer(env, {.parallel = {.servers = std::size_t(env.size() > 1 ? env.size() : 0)}});
    ADD_FAILURE() << "started";
  } catch (loom::Error const& e) {
    EXPECT_NE(std::string(e.what()).find("there must be at least one server and one worker"),
              std::string::npos)
        << e.what();
    EXPECT_TRUE(e.collective());
  }
}

} // namespace
