// Pipeline<Cuts, MicroBatches<M>, Schedule> equals SingleProcess: both schedules, M = 1, 3
// and 8 (batches M does not divide, and shorter than M), networks with Dropout, Conv2D,
// BatchNorm2D (micro-batch statistics) and a Residual block, trained in double through the
// strategy's step and in float through the Trainer, with checkpoints moving between
// strategies (run at 1, 2 and 4 ranks: the stages are the rank count).

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

TEST(pipeline, schedules_order_the_passes_as_gpipe_and_1f1b) {
  auto const text = [](bool one_f_one_b, std::size_t stage) {
    std::string out;
    for (auto const op : detail::pipeline_order(one_f_one_b, 4, stage, 8)) {
      out += (op.forward ? "F" : "B") + std::to_string(op.micro_batch) + " ";
    }
    return out;
  };
  EXPECT_EQ(text(true, 0), "F0 F1 F2 F3 B0 F4 B1 F5 B2 F6 B3 F7 B4 B5 B6 B7 ");
  EXPECT_EQ(text(true, 2), "F0 F1 B0 F2 B1 F3 B2 F4 B3 F5 B4 F6 B5 F7 B6 B7 ");
  EXPECT_EQ(text(true, 3), "F0 B0 F1 B1 F2 B2 F3 B3 F4 B4 F5 B5 F6 B6 F7 B7 ");
  EXPECT_EQ(text(false, 1), "F0 F1 F2 F3 F4 F5 F6 F7 B0 B1 B2 B3 B4 B5 B6 B7 ");
  // Fewer micro-batches than stages: 1F1B fills with all of them.
  std::string few;
  for (auto const op : detail::pipeline_order(true, 4, 0, 2)) {
    few += (op.forward ? "F" : "B") + std::to_string(op.micro_batch) + " ";
  }
  EXPECT_EQ(few, "F0 F1 B0 B1 ");
  EXPECT_EQ(detail::pipeline_slots(true, 4, 0, 8), 4u);
  EXPECT_EQ(detail::pipeline_slots(true, 4, 3, 8), 1u);
  EXPECT_EQ(detail::pipeline_slots(false, 4, 3, 8), 8u);
  // 10 rows in 4 micro-batches: 3, 3, 2, 2.
  std::vector<std::size_t> sizes;
  for (std::size_t m = 0; m < 4; ++m) {
    sizes.push_back(detail::micro_batch(10, 4, m).count);
  }
  EXPECT_EQ(sizes, (std::vector<std::size_t>{3, 3, 2, 2}));
  EXPECT_EQ(detail::micro_batch(10, 4, 2).first, 6u);
}

//                     0         1     2             3         4     5         6     7
using Mlp =
    Sequential<Input<12>, Dense<16>, ReLU, Dropout<0.2>, Dense<8>, Tanh, Dense<8>, ReLU, Dense<4>>;
template <std::size_t P>
struct MlpCuts;
template <>
struct MlpCuts<1> {
  using type = Cuts<>;
};
template <>
struct MlpCuts<2> {
  using type = Cuts<3>;
};
template <>
struct MlpCuts<4> {
  using type = Cuts<2, 3, 5>; // a stage of Dropout alone
};

//                     0                   1              2     3
using Cnn = Sequential<Input<2, 8, 8>, Conv2D<4, 3, 1, 1>, BatchNorm2D<>, ReLU,
                       Residual<Conv2D<4, 3, 1, 1>, ReLU, Conv2D<4, 3, 1, 1>>, ReLU, MaxPool2D<2>,
                       Flatten, Dense<6>, ReLU, Dense<3>>;
//                     4     5             6        7         8     9
template <std::size_t P>
struct CnnCuts;
template <>
struct CnnCuts<1> {
  using type = Cuts<>;
};
template <>
struct CnnCuts<2> {
  using type = Cuts<3>;
};
template <>
struct CnnCuts<4> {
  using type = Cuts<1, 3, 7>;
};

template <std::size_t P>
struct ExactTraining {
  template <class Schedule, std::size_t M>
  static void mlp(std::size_t batch) {
    using Strategy = Pipeline<typename MlpCuts<P>::type, MicroBatches<M>, Schedule>;
    test::check_split_training<Mlp, Strategy>("the MLP, batch " + std::to_string(batch), 0.9, 20,
                                              batch);
  }
  template <class Schedule, std::size_t M>
  static void cnn(std::size_t batch) {
    using Strategy = Pipeline<typename CnnCuts<P>::type, MicroBatches<M>, Schedule>;
    // Batch norm normalises each micro-batch alone: the serial run accumulates the same ones.
    test::check_split_training<Cnn, Strategy>("the CNN, batch " + std::to_string(batch), 0.9, 20,
                                              batch, std::min(M, batch));
  }
  static void run() {
    mlp<schedule::OneFOneB, 1>(10);
    mlp<schedule::OneFOneB, 3>(10); // 4, 3, 3 rows
    mlp<schedule::OneFOneB, 8>(10);
    mlp<schedule::OneFOneB, 8>(5); // fewer rows than micro-batches
    mlp<schedule::GPipe, 3>(10);
    mlp<schedule::GPipe, 8>(10);
    cnn<schedule::OneFOneB, 1>(6);
    cnn<schedule::OneFOneB, 3>(7);
    cnn<schedule::GPipe, 8>(9);
    // Recomputing the activations changes nothing but memory and time (batch norm's
    // running statistics are updated once per micro-batch).
    using Recomputed = Pipeline<typename MlpCuts<P>::type, MicroBatches<4>>;
    test::check_split_training<Mlp, Recomputed>("the MLP, recomputed", 0.9, 20, 10, 1, true,
                                                {.recompute = true});
    using RecomputedCnn = Pipeline<typename CnnCuts<P>::type, MicroBatches<3>, schedule::GPipe>;
    test::check_split_training<Cnn, RecomputedCnn>("the CNN, recomputed", 0.9, 20, 7, 3, true,
                                                   {.recompute = true});
    // Without momentum too (plain SGD steps each stage's parameters).
    test::check_split_training<Mlp, Pipeline<typename MlpCuts<P>::type, MicroBatches<3>>>(
        "the MLP, plain SGD", 0.0, 5, 9);
  }
};
TEST(pipeline, training_in_double_equals_serial_to_rounding) {
  at_rank_count<ExactTraining>();
}

using Labels = data::InMemoryDataset<std::int32_t>;

std::filesystem::path temporary(std::string const& name) {
  return std::filesystem::temp_directory_path() / ("loom_pipeline_" + name + ".ckpt");
}

template <std::size_t P>
struct Training {
  static void run() {
    using Strategy = Pipeline<typename MlpCuts<P>::type, MicroBatches<4>>;
    Environment env;
    auto const data =
        test::synthetic_labels(147); // 2 epochs of 10 steps, the last batch of each short
    auto const options = [](auto parallel) {
      return TrainerOptions<Adam, decltype(parallel)>{
          .batch = 16, .lr = 0.01, .clip_norm = 1.0, .seed = 7, .eval_batch = 50};
    };
    Trainer<Mlp, SoftmaxCrossEntropy, Adam, SingleProcess, ExecutionSpace> serial(
        options(SingleProcess{}));
    serial.fit(data, epochs(2));
    Trainer<Mlp, SoftmaxCrossEntropy, Adam, Strategy, ExecutionSpace> piped(env,
                                                                            options(Strategy{}));
    piped.fit(data, epochs(2));
    EXPECT_EQ(piped.state().step, 20u);
    auto const piped_result = piped.evaluate(data);
    EXPECT_NEAR(piped_result.mean(), serial.evaluate(data).mean(), 1e-4);
    EXPECT_EQ(piped_result.count, data.size());
    EXPECT_EQ(piped.predict(data).size(), data.size() * 4);

    // The checkpoint holds the whole network: loaded serially it equals the serial run, and
    // it resumes under the pipeline bit for bit.
    auto const file = temporary("piped");
    piped.save(file);
    Trainer<Mlp, SoftmaxCrossEntropy, Adam, SingleProcess, ExecutionSpace> gathered(
        options(SingleProcess{}));
    gathered.load(file);
    EXPECT_LE(relative_difference(test::host_values(gathered.model().parameters()),
                                  test::host_values(serial.model().parameters())),
              1e-5)
        << Strategy::name() << " after 20 steps";
    Trainer<Mlp, SoftmaxCrossEntropy, Adam, Strategy, ExecutionSpace> resumed(env,
                                                                              options(Strategy{}));
    resumed.load(file);
    piped.fit(data, epochs(3));
    resumed.fit(data, epochs(3));
    EXPECT_EQ(test::host_values(resumed.model().parameters()),
              test::host_values(piped.model().parameters()));

    // A TensorParallel checkpoint on these ranks continues under the pipeline.
    if constexpr (P <= 2) {
      Trainer<Mlp, SoftmaxCrossEntropy, Adam, TensorParallel<P>, ExecutionSpace> split(
          env, options(TensorParallel<P>{}));
      split.fit(data, epochs(2));
      auto const split_file = temporary("split");
      split.save(split_file);
      Trainer<Mlp, SoftmaxCrossEntropy, Adam, Strategy, ExecutionSpace> from_split(
          env, options(Strategy{}));
      from_split.load(split_file);
      from_split.fit(data, epochs(3));
      serial.fit(data, epochs(3));
      from_split.save(split_file);
      gathered.load(split_file);
      EXPECT_LE(relative_difference(test::host_values(gathered.model().parameters()),
                                    test::host_values(serial.model().parameters())),
                1e-4);
      comm::Mpi(env).barrier();
      if (env.rank() == 0) {
        std::filesystem::remove(split_file);
      }
    }
    comm::Mpi(env).barrier(); // every rank is done reading before rank 0 removes it
    if (env.rank() == 0) {
      std::filesystem::remove(file);
    }
  }
};
TEST(pipeline, trainer_equals_serial_and_checkpoints_move_between_strategies) {
  at_rank_count<Training>();
}

// A CNN with batch norm's running statistics gathered from the stages into the checkpoint.
template <std::size_t P>
struct States {
  static void run() {
    using Strategy = Pipeline<typename CnnCuts<P>::type, MicroBatches<1>, schedule::GPipe>;
    Environment env;
    Trainer<Cnn, SoftmaxCrossEntropy, SGD, Strategy, ExecutionSpace> piped(
        env, {.batch = 4, .lr = 0.05, .seed = 3});
    Trainer<Cnn, SoftmaxCrossEntropy, SGD, SingleProcess, ExecutionSpace> serial(
        {.batch = 4, .lr = 0.05, .seed = 3});
    std::vector<float> x(12 * 128);
    std::vector<std::int32_t> y(12);
    CounterRng rng(2, 2);
    for (std::size_t k = 0; k < x.size(); ++k) {
      x[k] = rng.normal<float>(k);
    }
    for (std::size_t i = 0; i < y.size(); ++i) {
      y[i] = std::int32_t(i % 3);
    }
    Labels const images(std::move(x), 128, std::move(y), 1, "images");
    piped.fit(images, epochs(1));
    serial.fit(images, epochs(1));
    auto const file = temporary("cnn");
    piped.save(file);
    Trainer<Cnn, SoftmaxCrossEntropy, SGD, SingleProcess, ExecutionSpace> gathered(
        {.batch = 4, .lr = 0.05, .seed = 3});
    gathered.load(file);
    EXPECT_LE(relative_difference(test::host_values(gathered.model().states()),
                                  test::host_values(serial.model().states())),
              1e-5)
        << "batch norm's running statistics";
    EXPECT_LE(relative_difference(test::host_values(gathered.model().parameters()),
                                  test::host_values(serial.model().parameters())),
              1e-5);
    comm::Mpi(env).barrier(); // every rank is done reading before rank 0 removes it
    if (env.rank() == 0) {
      std::filesystem::remove(file);
    }
  }
};
TEST(pipeline, batch_norm_states_gather_into_the_checkpoint) {
  at_rank_count<States>();
}

TEST(pipeline, a_world_that_is_not_one_rank_per_stage_errs_on_every_rank) {
  Environment env;
  auto const attempt = [&](auto strategy, std::size_t stages) {
    using Strategy = decltype(strategy);
    try {
      Trainer<Mlp, SoftmaxCrossEntropy, SGD, Strategy, ExecutionSpace> trainer(env, {});
      FAIL() << "no error";
    } catch (loom::Error const& e) {
      EXPECT_NE(std::string(e.what()).find("stages on exactly as many processes; this run has " +
                                           std::to_string(env.size()) + " (rank " +
                                           std::to_string(env.rank()) +
                                           "): start it with mpiexec -n " + std::to_string(stages)),
                std::string::npos)
          << e.what();
    }
  };
  if (env.size() != 3) {
    attempt(Pipeline<Cuts<3, 5>>{}, 3);
  }
  if (env.size() != 2) {
    attempt(Pipeline<Cuts<3>, MicroBatches<2>, schedule::GPipe>{}, 2);
  }
}

} // namespace
