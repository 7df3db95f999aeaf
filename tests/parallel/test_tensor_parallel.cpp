// TensorParallel<P> equals SingleProcess: every layer's forward and backward (column- and
// row-parallel pairs, a lone gathered Dense, activations and Dropout between them, Residual
// blocks), and MLPs trained for 20 steps (run at 1, 2 and 4 ranks: P is the rank count).

#include <loom/loom.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "loom_test.hpp"
#include "split_equivalence.hpp"
#include "synthetic.hpp"

namespace {

using namespace loom;
using ExecutionSpace = test::ExecutionSpace;
using test::at_rank_count;
using test::relative_difference;

template <class Net, std::size_t P>
void check_layers(std::string const& what, bool training = true) {
  test::check_split<Net, detail::TensorPlacement<P>>(
      what, [](std::size_t k) { return k; }, training);
}

template <std::size_t P>
struct Layers {
  static void run() {
    check_layers<Sequential<Input<6>, Dense<8>, Dense<4>>, P>("a pair");
    check_layers<Sequential<Input<6>, Dense<8>, ReLU, Dropout<0.3>, Dense<4, NoBias>, Tanh>, P>(
        "a pair with an activation and dropout between");
    check_layers<Sequential<Input<6>, Dense<8>, Sigmoid, Dense<4>, ReLU, Dense<12>, Dense<4>>, P>(
        "two pairs");
    check_layers<Sequential<Input<6>, Dense<8>, ReLU, Dense<4>, Tanh, Dense<8>>, P>(
        "a pair and a lone Dense, gathered");
    check_layers<Sequential<Input<6>, Dense<8>, ReLU, Dropout<0.3>, Dense<4>>, P>(
        "dropout in evaluation", false);
    check_layers<
        Sequential<Input<2, 4, 4>, Conv2D<3, 3, 1, 1>, ReLU, Flatten, Dense<8>, ReLU, Dense<4>>, P>(
        "replicated layers before the first Dense");
    check_layers<Sequential<Input<8>, Residual<Dense<16>, GELU, Dense<8>>, ReLU, Dense<4>>, P>(
        "a residual MLP block");
  }
};
TEST(tensor_parallel, layers_equal_serial) {
  at_rank_count<Layers>();
}

using Mlp = Sequential<Input<12>, Dense<16>, ReLU, Dropout<0.2>, Dense<8>, Tanh, Dense<4>>;

std::filesystem::path temporary(std::string const& name, int rank) {
  return std::filesystem::temp_directory_path() /
         ("loom_tensor_" + name + "_" + std::to_string(rank) + ".ckpt");
}

template <std::size_t P>
struct ExactTraining {
  static void run() {
    test::check_split_training<Mlp, TensorParallel<P>>("the MLP", 0.9);
    // Without momentum the step is written by backward itself (complete gradients).
    test::check_split_training<Mlp, TensorParallel<P>>("the MLP", 0.0, 3);
  }
};
TEST(tensor_parallel, training_in_double_equals_serial_to_rounding) {
  at_rank_count<ExactTraining>();
}

template <std::size_t P>
struct Training {
  // Plain SGD (the update written by backward itself) and Adam.
  template <class Optimizer>
  static void train(typename Optimizer::options optimizer, double lr) {
    using Strategy = TensorParallel<P>;
    Environment env;
    auto const data =
        test::synthetic_labels(147); // 2 epochs of 10 steps, the last batch of each short
    auto const options = [&](auto parallel) {
      return TrainerOptions<Optimizer, decltype(parallel)>{
          .batch = 16, .lr = lr, .optimizer = optimizer, .seed = 7};
    };
    Trainer<Mlp, SoftmaxCrossEntropy, Optimizer, SingleProcess, ExecutionSpace> serial(
        options(SingleProcess{}));
    serial.fit(data, epochs(2));
    Trainer<Mlp, SoftmaxCrossEntropy, Optimizer, Strategy, ExecutionSpace> split(
        env, options(Strategy{}));
    split.fit(data, epochs(2));
    EXPECT_EQ(split.state().step, 20u);
    EXPECT_NEAR(split.evaluate(data).mean(), serial.evaluate(data).mean(), 1e-4);

    // The checkpoint holds the whole network: loaded serially it equals the serial run, and
    // it resumes under TensorParallel bit for bit.
    auto const file = temporary("split", 0);
    split.save(file);
    Trainer<Mlp, SoftmaxCrossEntropy, Optimizer, SingleProcess, ExecutionSpace> gathered(
        options(SingleProcess{}));
    gathered.load(file);
    EXPECT_LE(relative_difference(test::host_values(gathered.model().parameters()),
                                  test::host_values(serial.model().parameters())),
              1e-5)
        << Strategy::name() << " after 20 steps";
    Trainer<Mlp, SoftmaxCrossEntropy, Optimizer, Strategy, ExecutionSpace> resumed(
        env, options(Strategy{}));
    resumed.load(file);
    split.fit(data, epochs(3));
    resumed.fit(data, epochs(3));
    EXPECT_EQ(test::host_values(resumed.model().parameters()),
              test::host_values(split.model().parameters()));

    // A checkpoint of a DataParallel run on these ranks continues under TensorParallel.
    Trainer<Mlp, SoftmaxCrossEntropy, Optimizer, DataParallel<>, ExecutionSpace> replicas(
        env, options(DataParallel<>{}));
    replicas.fit(data, epochs(2));
    auto const replicas_file = temporary("replicas", 0);
    replicas.save(replicas_file);
    Trainer<Mlp, SoftmaxCrossEntropy, Optimizer, Strategy, ExecutionSpace> from_replicas(
        env, options(Strategy{}));
    from_replicas.load(replicas_file);
    from_replicas.fit(data, epochs(3));
    serial.fit(data, epochs(3));
    from_replicas.save(replicas_file);
    gathered.load(replicas_file);
    EXPECT_LE(relative_difference(test::host_values(gathered.model().parameters()),
                                  test::host_values(serial.model().parameters())),
              1e-5);
    comm::Mpi(env).barrier(); // every rank is done reading before rank 0 removes the files
    if (env.rank() == 0) {
      std::filesystem::remove(file);
      std::filesystem::remove(replicas_file);
    }
  }
  static void run() {
    train<SGD>({.momentum = 0.0}, 0.05);
    train<Adam>({}, 0.01);
  }
};
TEST(tensor_parallel, training_equals_serial_and_checkpoints_move_between_strategies) {
  at_rank_count<Training>();
}

TEST(tensor_parallel, a_rank_count_that_does_not_match_the_type_errs_on_every_rank) {
  Environment env;
  try {
    using Wide = Sequential<Input<12>, Dense<16>, ReLU, Dense<8>>; // splits into 8
    Trainer<Wide, SoftmaxCrossEntropy, SGD, TensorParallel<8>, ExecutionSpace> trainer(
        env, {.batch = 8});
    ADD_FAILURE() << "no error";
  } catch (Error const& e) {
    EXPECT_EQ(std::string(e.what()),
              "loom::TensorParallel<8, comm::Mpi> splits every sample over exactly 8 processes; "
              "this run has " +
                  std::to_string(env.size()) + " (rank " + std::to_string(env.rank()) +
                  "): start it with mpiexec -n 8, or change the strategy's rank count");
    EXPECT_TRUE(e.collective());
  }
}

} // namespace
