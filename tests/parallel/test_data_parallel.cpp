// DataParallel equals serial training on the same global batch, for every communicator
// policy, with and without bucketing, overlap and gradient accumulation (run at 1, 2, 4 ranks).

#include <loom/loom.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "dataset_copy.hpp"
#include "loom_test.hpp"
#include "synthetic.hpp"

namespace {

using namespace loom;
using ExecutionSpace = test::ExecutionSpace;
using Net = Sequential<Input<12>, Dense<16>, ReLU, Dropout<0.2>, Dense<8>, Tanh, Dense<4>>;

template <class View>
std::vector<float> host(View const& v) {
  auto h = test::host_copy(v);
  return {h.data(), h.data() + h.size()};
}

// max |a - b| / max |b|
double relative_difference(std::vector<float> const& a, std::vector<float> const& b) {
  double diff = 0, scale = 0;
  for (std::size_t k = 0; k < a.size(); ++k) {
    diff = std::max(diff, std::abs(double(a[k]) - double(b[k])));
    scale = std::max(scale, std::abs(double(b[k])));
  }
  return diff / scale;
}

template <class Strategy, class Network = Net>
void check_equivalent_to_serial(typename Strategy::options parallel, std::size_t accumulate,
                                bool momentum = true) {
  Environment env;
  // 20 optimizer steps: 2 epochs of 10, the last batch of each epoch short (147 = 9·16 + 3;
  // with two micro-batches a step, 307 = 19·16 + 3).
  auto const data = test::synthetic_labels(accumulate == 1 ? 147 : 307);
  TrainerOptions<SGD, SingleProcess> serial_options{.batch = 16,
                                                    .lr = 0.05,
                                                    .optimizer = {.momentum = momentum ? 0.9 : 0.0},
                                                    .seed = 7,
                                                    .accumulate = accumulate};
  Trainer<Network, SoftmaxCrossEntropy, SGD, SingleProcess, ExecutionSpace> serial(serial_options);
  serial.fit(data, epochs(2));

  TrainerOptions<SGD, Strategy> options{.batch = 16,
                                        .lr = 0.05,
                                        .optimizer = {.momentum = momentum ? 0.9 : 0.0},
                                        .seed = 7,
                                        .accumulate = accumulate,
                                        .parallel = parallel};
  Trainer<Network, SoftmaxCrossEntropy, SGD, Strategy, ExecutionSpace> parallel_trainer(env,
                                                                                        options);
  parallel_trainer.fit(data, epochs(2));

  EXPECT_EQ(parallel_trainer.state().step, 20u);
  EXPECT_EQ(serial.state().step, 20u);
  double const diff = relative_difference(host(parallel_trainer.model().parameters()),
                                          host(serial.model().parameters()));
  EXPECT_LE(diff, 1e-5) << Strategy::name() << " on " << env.size() << " ranks, "
                        << Strategy::describe(parallel) << ", accumulate " << accumulate;
  // Every rank holds the same parameters.
  auto params = host(parallel_trainer.model().parameters());
  auto root = params;
  parallel_trainer.rank();
  comm::Mpi(env.comm()).broadcast(std::span(root), 0);
  EXPECT_EQ(params, root);
  // Metrics are global.
  auto const serial_eval = serial.evaluate(data);
  auto const parallel_eval = parallel_trainer.evaluate(data);
  EXPECT_EQ(parallel_eval.count, data.size());
  EXPECT_NEAR(parallel_eval.mean(), serial_eval.mean(), 1e-4);
  // So are the metrics evaluate() fills, each rank counting its slice of every batch.
  metrics::TopK serial_top2(2), parallel_top2(2);
  metrics::ConfusionMatrix serial_confusion(4), parallel_confusion(4);
  serial.evaluate(data, serial_top2, serial_confusion);
  parallel_trainer.evaluate(data, parallel_top2, parallel_confusion);
  EXPECT_EQ(parallel_top2.count(), data.size());
  EXPECT_EQ(parallel_confusion.count(), data.size());
  EXPECT_NEAR(parallel_top2.accuracy(), serial_top2.accuracy(), 1.5 / double(data.size()));
  EXPECT_NEAR(parallel_confusion.accuracy(), parallel_eval.accuracy(), 1e-12);
}

template <class Comm>
void check_policy() {
  using DP = DataParallel<Comm>;
  check_equivalent_to_serial<DP>({.bucket_bytes = 256, .overlap = true}, 1);     // a bucket a layer
  check_equivalent_to_serial<DP>({.bucket_bytes = 1 << 30, .overlap = true}, 1); // one bucket
  check_equivalent_to_serial<DP>({.bucket_bytes = 256, .overlap = false}, 1);
  check_equivalent_to_serial<DP>({.bucket_bytes = 256, .overlap = true}, 2);         // accumulation
  check_equivalent_to_serial<DP>({.bucket_bytes = 1024, .overlap = true}, 1, false); // plain SGD
}

TEST(data_parallel, equals_serial_training_with_mpi) {
  check_policy<comm::Mpi>();
}
TEST(data_parallel, equals_serial_training_with_ring) {
  check_policy<comm::Ring>();
}
TEST(data_parallel, equals_serial_training_with_recursive_halving) {
  check_policy<comm::RecursiveHalving>();
}

TEST(data_parallel, equals_serial_training_for_a_convolutional_network) {
  // The same 12 values per sample read as 3×2×2 images: convolutions (im2col, and Winograd on
  // host backends for the 3×3 one over 4 channels), pooling and a residual block under
  // bucketed, overlapped all-reduces.
  using Cnn = Sequential<Input<3, 2, 2>, Conv2D<4, 2, 1, 1>, ReLU, Conv2D<4, 3, 1, 1>, ReLU,
                         MaxPool2D<2, 1>, Residual<Conv2D<4, 1>, Tanh>, Flatten, Dense<4>>;
  check_equivalent_to_serial<DataParallel<comm::Ring>, Cnn>({.bucket_bytes = 64, .overlap = true},
                                                            1);
  check_equivalent_to_serial<DataParallel<comm::Mpi>, Cnn>({.bucket_bytes = 1 << 20}, 2);
}

TEST(data_parallel, buckets_follow_backward_order) {
  using M = Model<Net, ExecutionSpace>;
  // Stages: Dense<16> (208), Dropout, Dense<8> (136), Dense<4> (36); backward finishes the
  // last first.
  auto small = detail::plan_buckets<M>(4);
  ASSERT_EQ(small.size(), 3u);
  EXPECT_EQ(small[0].offset, 344u);
  EXPECT_EQ(small[0].count, 36u);
  EXPECT_EQ(small[1].offset, 208u);
  EXPECT_EQ(small[2].offset, 0u);
  auto two = detail::plan_buckets<M>(150 * 4); // 150 floats: 36 + 136 close the first
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[0].offset, 208u);
  EXPECT_EQ(two[0].count, 172u);
  EXPECT_EQ(two[1].count, 208u);
  auto one = detail::plan_buckets<M>(1 << 20);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].count, M::num_parameters);
}

TEST(data_parallel, a_configuration_that_differs_stops_every_rank) {
  Environment env;
  if (env.size() < 2) {
    GTEST_SKIP() << "needs two ranks";
  }
  std::size_t const batch = env.rank() == 1 ? 32 : 16;
  try {
    Trainer<Net, SoftmaxCrossEntropy, SGD, DataParallel<>, ExecutionSpace> trainer(
        env, {.batch = batch});
    ADD_FAILURE() << "rank " << env.rank() << " started";
  } catch (loom::Error const& e) {
    EXPECT_NE(std::string(e.what()).find("loom::DataParallel: rank 1 runs with batch = 32 but "
                                         "rank 0 with batch = 16"),
              std::string::npos)
        << e.what();
  }
  // The data set size is checked when fit() starts.
  Trainer<Net, SoftmaxCrossEntropy, SGD, DataParallel<>, ExecutionSpace> trainer(env,
                                                                                 {.batch = 16});
  auto const data = test::synthetic_labels(env.rank() == 1 ? 40 : 48);
  try {
    trainer.fit(data, epochs(1));
    ADD_FAILURE() << "rank " << env.rank() << " trained";
  } catch (loom::Error const& e) {
    EXPECT_NE(std::string(e.what()).find("rank 1 runs with samples = 40 but rank 0 with samples "
                                         "= 48"),
              std::string::npos)
        << e.what();
  }
}

TEST(data_parallel, too_few_samples_per_batch_for_the_ranks_is_refused_on_every_rank) {
  Environment env;
  if (env.size() < 2) {
    GTEST_SKIP() << "needs two ranks";
  }
  try {
    Trainer<Net, SoftmaxCrossEntropy, SGD, DataParallel<>, ExecutionSpace> trainer(
        env, {.batch = std::size_t(env.size() - 1)});
    ADD_FAILURE() << "started";
  } catch (loom::Error const& e) {
    EXPECT_NE(std::string(e.what()).find("processes needs a global batch of at least"),
              std::string::npos)
        << e.what();
  }
}

TEST(data_parallel, a_non_finite_loss_on_one_rank_stops_every_rank) {
  Environment env;
  // Sample 9 is in the first batch, on rank 0 only when there are several ranks.
  auto const data = test::with_feature(test::synthetic_labels(64), 9 * 12,
                                       std::numeric_limits<float>::infinity());
  Trainer<Net, SoftmaxCrossEntropy, SGD, DataParallel<>, ExecutionSpace> trainer(
      env, {.batch = 16, .shuffle = false});
  try {
    trainer.fit(data, epochs(1));
    ADD_FAILURE() << "rank " << env.rank() << " trained on";
  } catch (loom::Error const& e) {
    EXPECT_NE(std::string(e.what()).find("the loss became"), std::string::npos) << e.what();
  }
}

TEST(data_parallel, a_missing_file_on_one_rank_is_reported_on_every_rank) {
  Environment env;
  Trainer<Net, SoftmaxCrossEntropy, SGD, DataParallel<>, ExecutionSpace> trainer(env,
                                                                                 {.batch = 16});
  try {
    trainer.load("/nonexistent/loom/last.ckpt");
    ADD_FAILURE() << "rank " << env.rank() << " loaded";
  } catch (loom::Error const& e) {
    EXPECT_NE(std::string(e.what()).find("cannot open checkpoint '/nonexistent/loom/last.ckpt'"),
              std::string::npos)
        << e.what();
  }
}

} // namespace
