// Hybrid<A, B> equals SingleProcess: every pair (DataParallel × SpatialParallel, ×
// TensorParallel, × Pipeline, and Pipeline × TensorParallel) on every grid the rank count
// allows (1, 2 and 4 ranks: 1 × 1, 2 × 1, 1 × 2 and 2 × 2), trained in double through the
// strategy's step and in float through the Trainer; checkpoints move between grids; a world
// that does not fit the grid errs on every rank.

#include <loom/loom.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <type_traits>
#include <vector>

#include "loom_test.hpp"
#include "split_equivalence.hpp"
#include "synthetic.hpp"

namespace {

using namespace loom;
using ExecutionSpace = test::ExecutionSpace;
using test::at_rank_count;
using test::relative_difference;

//                     0         1     2             3         4     5         6     7
using Mlp =
    Sequential<Input<12>, Dense<16>, ReLU, Dropout<0.2>, Dense<8>, Tanh, Dense<8>, ReLU, Dense<4>>;
template <std::size_t Stages>
struct MlpCuts;
template <>
struct MlpCuts<1> {
  using type = Cuts<>;
};
template <>
struct MlpCuts<2> {
  using type = Cuts<3>;
};

// Batch norm normalises each replica's rows alone, as a serial run that accumulates them
// (TrainerOptions::accumulate) does; dropout draws the whole batch's masks, as a serial run on
// the whole batch does: a network with both equals neither, so the CNN has no dropout.
using Cnn = Sequential<Input<1, 16, 16>, Conv2D<6, 3, 1, 1>, BatchNorm2D<>, ReLU, MaxPool2D<2>,
                       Residual<Conv2D<6, 3, 1, 1>, BatchNorm2D<>, ReLU, Conv2D<6, 3, 1, 1>>, ReLU,
                       MaxPool2D<2>, Flatten, Dense<16>, ReLU, Dense<4>>;

// Each pair on a grid of Rows × Columns.
template <std::size_t Rows, std::size_t Columns>
void pairs_train_as_serial() {
  test::check_split_training<Mlp, Hybrid<DataParallel<>, TensorParallel<Columns>>>("the MLP", 0.9,
                                                                                   20, 10);
  test::check_split_training<Cnn, Hybrid<DataParallel<>, SpatialParallel<Columns>>>(
      "the CNN", 0.9, 10, 6, Rows, Rows == 1);
  test::check_split_training<
      Mlp, Hybrid<Pipeline<typename MlpCuts<Rows>::type>, TensorParallel<Columns>>>("the MLP", 0.9,
                                                                                    20, 10);
  // A stage without a Dense (the convolutions) runs whole on each rank of its row.
  using CnnCuts = std::conditional_t<Rows == 2, Cuts<7>, Cuts<>>;
  test::check_split_training<Cnn, Hybrid<Pipeline<CnnCuts>, TensorParallel<Columns>>>("the CNN",
                                                                                      0.9, 10, 6);
  using Stages = Pipeline<typename MlpCuts<Columns>::type, MicroBatches<3>>;
  test::check_split_training<Mlp, Hybrid<DataParallel<>, Stages>>("the MLP", 0.9, 20, 10);
  using Fill = Pipeline<typename MlpCuts<Columns>::type, MicroBatches<2>, schedule::GPipe>;
  test::check_split_training<Mlp, Hybrid<DataParallel<>, Fill>>("the MLP, plain SGD", 0.0, 5, 9);
}

template <std::size_t P>
struct ExactTraining {
  static void run() {
    if constexpr (P == 1) {
      pairs_train_as_serial<1, 1>();
    } else if constexpr (P == 2) {
      pairs_train_as_serial<1, 2>();
      pairs_train_as_serial<2, 1>();
    } else {
      pairs_train_as_serial<2, 2>();
    }
  }
};
TEST(hybrid, every_pair_trains_in_double_as_serial_to_rounding) {
  at_rank_count<ExactTraining>();
}

std::filesystem::path temporary(std::string const& name) {
  return std::filesystem::temp_directory_path() / ("loom_hybrid_" + name + ".ckpt");
}

// The Trainer on a grid, its checkpoint loaded serially and on another grid.
template <std::size_t P>
struct Training {
  static void run() {
    constexpr std::size_t columns = P >= 2 ? 2 : 1, rows = P / columns;
    using Replicated = Hybrid<DataParallel<>, TensorParallel<columns>>;
    using Staged =
        Hybrid<Pipeline<typename MlpCuts<rows>::type, MicroBatches<4>>, TensorParallel<columns>>;
    using Piped = Hybrid<DataParallel<>, Pipeline<typename MlpCuts<columns>::type>>;
    Environment env;
    auto const data = test::synthetic_labels(147);
    auto const options = [](auto parallel) {
      return TrainerOptions<Adam, decltype(parallel)>{
          .batch = 16, .lr = 0.01, .clip_norm = 1.0, .seed = 7, .eval_batch = 50};
    };
    Trainer<Mlp, SoftmaxCrossEntropy, Adam, SingleProcess, ExecutionSpace> serial(
        options(SingleProcess{}));
    serial.fit(data, epochs(2));
    Trainer<Mlp, SoftmaxCrossEntropy, Adam, Replicated, ExecutionSpace> grid(env,
                                                                             options(Replicated{}));
    grid.fit(data, epochs(2));
    auto const result = grid.evaluate(data);
    EXPECT_NEAR(result.mean(), serial.evaluate(data).mean(), 1e-4);
    EXPECT_EQ(result.count, data.size());
    EXPECT_EQ(grid.predict(data).size(), data.size() * 4);

    auto const file = temporary("grid");
    grid.save(file);
    Trainer<Mlp, SoftmaxCrossEntropy, Adam, SingleProcess, ExecutionSpace> gathered(
        options(SingleProcess{}));
    gathered.load(file);
    EXPECT_LE(relative_difference(test::host_values(gathered.model().parameters()),
                                  test::host_values(serial.model().parameters())),
              1e-5)
        << Replicated::name() << " after 20 steps";
    // It resumes bit for bit on its own grid, and continues on the others as serial does.
    Trainer<Mlp, SoftmaxCrossEntropy, Adam, Replicated, ExecutionSpace> resumed(
        env, options(Replicated{}));
    resumed.load(file);
    grid.fit(data, epochs(3));
    resumed.fit(data, epochs(3));
    EXPECT_EQ(test::host_values(resumed.model().parameters()),
              test::host_values(grid.model().parameters()));
    serial.fit(data, epochs(3));
    auto const continues = [&](auto& other, std::string const& name) {
      other.load(file);
      other.fit(data, epochs(3));
      auto const moved = temporary("moved");
      other.save(moved);
      gathered.load(moved);
      EXPECT_LE(relative_difference(test::host_values(gathered.model().parameters()),
                                    test::host_values(serial.model().parameters())),
                1e-4)
          << name << " from " << Replicated::name();
      comm::Mpi(env).barrier(); // every rank is done reading before rank 0 removes it
      if (env.rank() == 0) {
        std::filesystem::remove(moved);
      }
    };
    Trainer<Mlp, SoftmaxCrossEntropy, Adam, Staged, ExecutionSpace> staged(env, options(Staged{}));
    continues(staged, Staged::name());
    Trainer<Mlp, SoftmaxCrossEntropy, Adam, Piped, ExecutionSpace> piped(env, options(Piped{}));
    continues(piped, Piped::name());
    comm::Mpi(env).barrier();
    if (env.rank() == 0) {
      std::filesystem::remove(file);
    }
  }
};
TEST(hybrid, trainer_equals_serial_and_checkpoints_move_between_grids) {
  at_rank_count<Training>();
}

TEST(hybrid, a_world_that_does_not_fit_the_grid_errs_on_every_rank) {
  Environment env;
  auto const attempt = [&](auto strategy, std::string const& grid, std::string const& start) {
    using Strategy = decltype(strategy);
    try {
      Trainer<Mlp, SoftmaxCrossEntropy, SGD, Strategy, ExecutionSpace> trainer(env, {});
      FAIL() << "no error";
    } catch (loom::Error const& e) {
      EXPECT_NE(
          std::string(e.what()).find("loom::" + Strategy::name() + " runs on a grid of " + grid),
          std::string::npos)
          << e.what();
      EXPECT_NE(std::string(e.what()).find("this run has " + std::to_string(env.size()) +
                                           " (rank " + std::to_string(env.rank()) +
                                           "): start it with mpiexec -n " + start),
                std::string::npos)
          << e.what();
      EXPECT_TRUE(e.collective());
    }
  };
  // Three stages of replicas: no run of 1, 2 or 4 ranks fits.
  attempt(Hybrid<DataParallel<>, Pipeline<Cuts<2, 3>>>{}, "a multiple of 3 processes",
          "3, 6, 12, ...");
  if (env.size() != 4) {
    attempt(Hybrid<Pipeline<Cuts<3>>, TensorParallel<2>>{}, "2 × 2 = 4 processes", "4");
  }
  if (env.size() == 1) {
    attempt(Hybrid<DataParallel<>, TensorParallel<2>>{}, "a multiple of 2 processes",
            "2, 4, 8, ...");
  }
}

} // namespace
