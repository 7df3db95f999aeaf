// SpatialParallel<P> equals SingleProcess: every layer's forward and backward, and whole
// networks trained for 20 steps (run at 1, 2 and 4 ranks: P is the rank count).

#include <loom/loom.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "loom_test.hpp"
#include "split_equivalence.hpp"

namespace {

using namespace loom;
using ExecutionSpace = test::ExecutionSpace;
using Memory = ExecutionSpace::memory_space;

using test::at_rank_count;
using test::relative_difference;

template <class View>
std::vector<double> host(View const& v) {
  return test::host_values(v);
}

// Net split into P bands against the whole network: rank r holds rows [r·H/P, (r+1)·H/P) of
// every channel.
template <class Net, std::size_t P>
void check_layers(std::string const& what, bool training = true) {
  using In = typename Net::input_shape;
  constexpr std::size_t plane = In::dims[1] * In::dims[2], band_plane = plane / P;
  Environment env;
  std::size_t const first = std::size_t(env.rank()) * band_plane;
  test::check_split<Net, detail::SpatialPlacement<P>>(
      what, [first](std::size_t k) { return k / band_plane * plane + first + k % band_plane; },
      training);
}

template <std::size_t P>
struct Convolutions {
  static void run() {
    // 8 rows: bands of 8, 4 and 2 rows; a 3×3 window with padding 1 reads one row of each
    // neighbour.
    check_layers<Sequential<Input<2, 8, 5>, Conv2D<3, 3, 1, 1>, Flatten, Dense<4>>, P>("3x3 pad 1");
    check_layers<Sequential<Input<2, 16, 5>, Conv2D<3, 2, 2, 0>, ReLU, Conv2D<2, 5, 1, 2>, Flatten,
                            Dense<4>>,
                 P>("padding 0 then 2");
    check_layers<Sequential<Input<2, 16, 5>, Conv2D<3, 3, 2, 1>, Flatten, Dense<3>>, P>("stride 2");
    check_layers<Sequential<Input<1, 8, 6>, Conv2D<2, Window{3, 2}, Window{1, 2}, Window{1, 0}>,
                            Flatten, Dense<3>>,
                 P>("rectangular kernel, stride and padding");
    check_layers<
        Sequential<Input<1, 8, 4>, Conv2D<2, Window{5, 3}, 1, Window{2, 1}>, Flatten, Dense<3>>, P>(
        "a halo of two rows");
    check_layers<Sequential<Input<2, 8, 5>, Conv2D<3, 3, 1, 1, conv::Direct>, Flatten, Dense<4>>,
                 P>("direct convolution");
    check_layers<Sequential<Input<2, 8, 6>, Conv2D<3, 3, 1, 1, conv::Winograd>, Flatten, Dense<4>>,
                 P>("Winograd convolution");
  }
};
TEST(spatial_parallel, convolutions_equal_serial) {
  at_rank_count<Convolutions>();
}

template <std::size_t P>
struct Bands {
  static void run() {
    // At P = 4: a band of one row, and a halo as wide as a band.
    check_layers<Sequential<Input<1, 4, 5>, Conv2D<2, 3, 1, 1>, Flatten, Dense<3>>, P>(
        "bands of one row");
    check_layers<Sequential<Input<1, 8, 3>, Conv2D<2, 5, 1, 2>, Flatten, Dense<3>>, P>(
        "a halo as wide as a band");
  }
};
TEST(spatial_parallel, narrow_bands_equal_serial) {
  at_rank_count<Bands>();
}

template <std::size_t P>
struct Pooling {
  static void run() {
    check_layers<Sequential<Input<2, 16, 6>, MaxPool2D<2>, Flatten, Dense<3>>, P>("max pool 2");
    check_layers<Sequential<Input<2, 8, 6>, MaxPool2D<3, 1, 1>, Flatten, Dense<3>>, P>(
        "max pool with padding");
    check_layers<Sequential<Input<2, 8, 5>, AvgPool2D<3, 1, 1>, Flatten, Dense<3>>, P>(
        "average pool with padding");
    check_layers<Sequential<Input<2, 8, 5>, Conv2D<3, 3, 1, 1>, GlobalAvgPool2D, Dense<4>>, P>(
        "global average pool");
  }
};
TEST(spatial_parallel, pooling_equals_serial) {
  at_rank_count<Pooling>();
}

template <std::size_t P>
struct Normalization {
  static void run() {
    using Net = Sequential<Input<2, 8, 5>, Conv2D<3, 3, 1, 1>, BatchNorm2D<>, ReLU, Dropout<0.3>,
                           Flatten, Dropout<0.2>, Dense<5>, ReLU, Dense<3>>;
    check_layers<Net, P>("batch norm and dropout (training)");
    check_layers<Net, P>("batch norm and dropout (evaluation)", false);
  }
};
TEST(spatial_parallel, batch_norm_and_dropout_equal_serial) {
  at_rank_count<Normalization>();
}

template <std::size_t P>
struct Residuals {
  static void run() {
    check_layers<Sequential<Input<2, 8, 5>,
                            Residual<Conv2D<2, 3, 1, 1>, BatchNorm2D<>, ReLU, Conv2D<2, 3, 1, 1>>,
                            ReLU, Flatten, Dense<3>>,
                 P>("residual block");
    check_layers<Sequential<Input<2, 8, 5>,
                            Residual<Conv2D<4, 3, 2, 1>, ReLU, Conv2D<4, 3, 1, 1>,
                                     Shortcut<Conv2D<4, 1, 2>>>,
                            GlobalAvgPool2D, Dense<3>>,
                 P>("residual block with a strided shortcut");
  }
};
TEST(spatial_parallel, residual_blocks_equal_serial) {
  at_rank_count<Residuals>();
}

// Example 04's CNN with batch norm, dropout and a residual block, on 16×16 images so that
// every band has whole rows at P = 4 (its 28×28 form has 7 rows after the second pooling, a
// compile error at P = 2 that says so).
using Cnn = Sequential<Input<1, 16, 16>, Conv2D<6, 3, 1, 1>, BatchNorm2D<>, ReLU, MaxPool2D<2>,
                       Residual<Conv2D<6, 3, 1, 1>, BatchNorm2D<>, ReLU, Conv2D<6, 3, 1, 1>>, ReLU,
                       MaxPool2D<2>, Flatten, Dropout<0.2>, Dense<16>, ReLU, Dense<4>>;
using Images = data::InMemoryDataset<std::int32_t>;

Images make_images(std::size_t n) {
  CounterRng rng(21, 2);
  std::vector<float> x(n * 256);
  std::vector<std::int32_t> y(n);
  for (std::size_t i = 0; i < n; ++i) {
    y[i] = static_cast<std::int32_t>(rng.below(4, i));
    for (std::size_t j = 0; j < 256; ++j) {
      // A bright quadrant tells the class.
      bool const lit = (j / 16 / 8) * 2 + (j % 16 / 8) == std::size_t(y[i]);
      x[i * 256 + j] = (lit ? 1.0f : 0.0f) + 0.5f * rng.normal<float>(1000 + i * 256 + j);
    }
  }
  return Images(std::move(x), 256, std::move(y), 1, "synthetic images");
}

std::filesystem::path temporary(std::string const& name, int rank) {
  return std::filesystem::temp_directory_path() /
         ("loom_spatial_" + name + "_" + std::to_string(rank) + ".ckpt");
}

template <std::size_t P>
struct ExactTraining {
  static void run() {
    test::check_split_training<Cnn, SpatialParallel<P>>("the CNN", 0.9);
    test::check_split_training<Cnn, SpatialParallel<P>>("the CNN", 0.0, 3);
  }
};
TEST(spatial_parallel, training_in_double_equals_serial_to_rounding) {
  at_rank_count<ExactTraining>();
}

template <std::size_t P>
struct Training {
  static void run() {
    using Strategy = SpatialParallel<P>;
    Environment env;
    // 20 steps: 2 epochs of 10 batches of 8, the last of each short (76 = 9·8 + 4).
    auto const data = make_images(76);
    auto const options = [](auto parallel) {
      return TrainerOptions<SGD, decltype(parallel)>{
          .batch = 8,
          .lr = 0.05,
          .optimizer = {.momentum = 0.9},
          .clip_norm = 1.0,
          .seed = 7,
          .eval_batch = 10}; // evaluate() in batches, a short one last
    };
    Trainer<Cnn, SoftmaxCrossEntropy, SGD, SingleProcess, ExecutionSpace> serial(
        options(SingleProcess{}));
    serial.fit(data, epochs(2));
    Trainer<Cnn, SoftmaxCrossEntropy, SGD, Strategy, ExecutionSpace> split(env,
                                                                           options(Strategy{}));
    split.fit(data, epochs(2));
    EXPECT_EQ(split.state().step, 20u);

    // The split run's checkpoint holds the whole network: loaded serially, it equals the
    // serial run.
    auto const split_file = temporary("split", 0);
    split.save(split_file);
    Trainer<Cnn, SoftmaxCrossEntropy, SGD, SingleProcess, ExecutionSpace> gathered(
        options(SingleProcess{}));
    gathered.load(split_file);
    std::vector<double> const a = host(gathered.model().parameters());
    std::vector<double> const b = host(serial.model().parameters());
    EXPECT_LE(relative_difference(a, b), 1e-4) << "SpatialParallel<" << P << "> after 20 steps";
    EXPECT_EQ(gathered.state().step, 20u);
    // Batch norm's running statistics are the whole images' too.
    EXPECT_LE(relative_difference(host(gathered.model().states()), host(serial.model().states())),
              1e-4);
    EXPECT_NEAR(split.evaluate(data).mean(), serial.evaluate(data).mean(), 1e-4);
    EXPECT_EQ(split.evaluate(data).count, data.size());

    // A serial checkpoint resumes under SpatialParallel, and a SpatialParallel one under
    // SpatialParallel bit for bit: 2 epochs more each.
    auto const serial_file = temporary("serial", env.rank());
    serial.save(serial_file);
    Trainer<Cnn, SoftmaxCrossEntropy, SGD, Strategy, ExecutionSpace> from_serial(
        env, options(Strategy{}));
    from_serial.load(serial_file);
    Trainer<Cnn, SoftmaxCrossEntropy, SGD, Strategy, ExecutionSpace> resumed(env,
                                                                             options(Strategy{}));
    resumed.load(split_file);
    split.fit(data, epochs(3));
    resumed.fit(data, epochs(3));
    from_serial.fit(data, epochs(3));
    serial.fit(data, epochs(3));
    EXPECT_EQ(host(resumed.model().parameters()), host(split.model().parameters()));
    auto const from_serial_file = temporary("from_serial", 0);
    from_serial.save(from_serial_file);
    gathered.load(from_serial_file);
    EXPECT_LE(
        relative_difference(host(gathered.model().parameters()), host(serial.model().parameters())),
        1e-4);
    comm::Mpi(env).barrier(); // every rank is done reading before rank 0 removes the files
    std::filesystem::remove(serial_file);
    if (env.rank() == 0) {
      std::filesystem::remove(split_file);
      std::filesystem::remove(from_serial_file);
    }
  }
};
TEST(spatial_parallel, training_equals_serial_and_checkpoints_move_between_strategies) {
  at_rank_count<Training>();
}

TEST(spatial_parallel, a_rank_count_that_does_not_match_the_type_errs_on_every_rank) {
  Environment env;
  using Wrong = SpatialParallel<8>; // never the rank count of these runs
  using Small = Sequential<Input<1, 8, 4>, Conv2D<2, 3, 1, 1>, Flatten, Dense<3>>;
  try {
    Trainer<Small, SoftmaxCrossEntropy, SGD, Wrong, ExecutionSpace> trainer(env, {.batch = 8});
    ADD_FAILURE() << "no error";
  } catch (Error const& e) {
    EXPECT_EQ(
        std::string(e.what()),
        "loom::SpatialParallel<8, comm::Mpi> splits every sample over exactly 8 processes; this "
        "run has " +
            std::to_string(env.size()) + " (rank " + std::to_string(env.rank()) +
            "): start it with mpiexec -n 8, or change the strategy's rank count");
    EXPECT_TRUE(e.collective());
  }
}

} // namespace
