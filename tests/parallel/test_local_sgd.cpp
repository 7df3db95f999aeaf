// LocalSGD: with period 1 and SGD it is DataParallel; with a longer period each rank's replica
// equals a hand-run of K replicas on their rows, averaged every period (optimizer state local
// or averaged, a data-parallel warm-up first: post-local SGD); after every average all ranks
// hold the same bits, and between averages they differ; through the Trainer its checkpoints
// resume bit for bit and load under other strategies. ElasticAveraging: each replica and the
// centre equal a hand-run of the elastic updates; the centre is what evaluation and
// checkpoints see. Ensemble: evaluation averages the members' probabilities, or their
// parameters once.

#include <loom/loom.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "dataset_copy.hpp"
#include "loom_test.hpp"
#include "split_equivalence.hpp"
#include "synthetic.hpp"

namespace {

using namespace loom;
using ExecutionSpace = test::ExecutionSpace;
using test::relative_difference;

using Mlp = Sequential<Input<6>, Dense<8>, Tanh, Dense<8>, ReLU, Dense<3>>;
constexpr std::size_t batch = 12; // rows 12 / K for K = 1, 2, 4

// A batch of random samples, the same on every rank; `rows` selects the rows a run trains on.
struct Samples {
  std::vector<double> x;
  std::vector<std::int32_t> labels;
  Vector<double, test::MemorySpace> xs;
  Kokkos::View<std::int32_t*, test::MemorySpace> y;

  Samples()
      : x(batch * 6)
      , labels(batch)
      , y("labels", batch) {
    CounterRng rng(23, 1);
    for (std::size_t k = 0; k < x.size(); ++k) {
      x[k] = rng.normal<double>(k);
    }
    for (std::size_t i = 0; i < batch; ++i) {
      labels[i] = std::int32_t(rng.below(3, x.size() + i));
    }
    xs = test::device_values(x);
    Kokkos::deep_copy(y, Kokkos::View<std::int32_t*, Kokkos::HostSpace>(labels.data(), batch));
  }
  test::DoubleWork work(std::size_t first, std::size_t count) const {
    test::DoubleWork w{{MatrixSlice<double, test::MemorySpace>(xs.data(), batch, 6), y}, {}, 0};
    w.indices.resize(count);
    std::iota(w.indices.begin(), w.indices.end(), first);
    return w;
  }
};

template <class Strategy>
using DoubleRuntime = typename Strategy::template runtime<Mlp, ExecutionSpace, double>;

// Whether every rank holds rank 0's parameters, bit for bit.
template <class View>
bool same_on_every_rank(comm::Mpi& comm, View const& parameters) {
  auto mine = test::host_values(parameters);
  auto root = mine;
  comm.broadcast(std::span<double>(root), 0);
  std::vector<double> differs{mine == root ? 0.0 : 1.0};
  comm.all_reduce(std::span<double>(differs), comm::ReduceOp::sum);
  return differs[0] == 0;
}

TEST(local_sgd, period_one_with_sgd_is_data_parallel) {
  Environment env;
  comm::Mpi comm(env);
  Samples const samples;
  for (double momentum : {0.0, 0.9}) {
    DoubleRuntime<DataParallel<>> data_runtime(env, {});
    DoubleRuntime<LocalSGD<>> local_runtime(env, {.period = 1});
    auto data_model = data_runtime.make_model(3);
    auto local_model = local_runtime.make_model(3);
    data_runtime.start(data_model, batch);
    local_runtime.start(local_model, batch);
    SGD::state<double, ExecutionSpace> data_sgd(data_model.parameters().extent(0),
                                                {.momentum = momentum});
    SGD::state<double, ExecutionSpace> local_sgd(local_model.parameters().extent(0),
                                                 {.momentum = momentum});
    auto work = samples.work(0, batch);
    for (work.step = 0; work.step < 10; ++work.step) {
      auto const a = data_runtime.step(data_model, data_sgd, work);
      auto const b = local_runtime.step(local_model, local_sgd, work);
      EXPECT_NEAR(a.sum, b.sum, 1e-12 * std::abs(a.sum)) << "the loss over every rank";
      EXPECT_EQ(b.count, batch);
      EXPECT_TRUE(same_on_every_rank(comm, local_model.parameters())) << "step " << work.step;
    }
    EXPECT_LE(relative_difference(test::host_values(local_model.parameters()),
                                  test::host_values(data_model.parameters())),
              1e-13)
        << "momentum " << momentum << ", rank " << comm.rank();
    auto const traffic = local_runtime.traffic();
    EXPECT_EQ(traffic.data_parallel_bytes, 10 * data_model.parameters().extent(0) * sizeof(double));
    EXPECT_EQ(traffic.bytes, comm.size() == 1 ? 0 : traffic.data_parallel_bytes);
  }
}

// K replicas run by hand on this process: replica r on rows shard(r), each with its own Adam
// state, averaged (and their states with `average_state`) after every `period` steps from the
// warm-up on; in the warm-up one model trains on the whole batch (DataParallel).
struct ByHand {
  using Serial = SingleProcess::runtime<Mlp, ExecutionSpace, double>;
  using Model = Serial::model_type;
  Serial runtime;
  std::vector<Model> models;
  std::vector<Adam::state<double, ExecutionSpace>> states;

  explicit ByHand(std::size_t k) {
    for (std::size_t r = 0; r < k; ++r) {
      models.push_back(runtime.make_model(3));
      states.emplace_back(Model::num_parameters, Adam::options{});
    }
  }
  template <class View>
  static void mean(std::vector<View> const& views) {
    auto sum = test::host_values(views[0]);
    for (std::size_t r = 1; r < views.size(); ++r) {
      auto const other = test::host_values(views[r]);
      for (std::size_t i = 0; i < sum.size(); ++i) {
        sum[i] += other[i];
      }
    }
    for (auto const& view : views) {
      auto host = Kokkos::create_mirror_view(view);
      for (std::size_t i = 0; i < sum.size(); ++i) {
        host(i) = sum[i] / double(views.size());
      }
      Kokkos::deep_copy(view, host);
    }
  }
  void run(Samples const& samples, std::size_t steps, std::size_t period, std::size_t warmup,
           bool average_state) {
    std::size_t const k = models.size();
    for (std::size_t s = 0; s < steps; ++s) {
      if (s < warmup) {
        auto work = samples.work(0, batch);
        work.step = s;
        runtime.step(models[0], states[0], work);
        for (std::size_t r = 1; r < k; ++r) {
          Kokkos::deep_copy(models[r].parameters(), models[0].parameters());
          for (std::size_t b = 0; b < states[r].buffers().size(); ++b) {
            Kokkos::deep_copy(states[r].buffers()[b].view, states[0].buffers()[b].view);
          }
          states[r].set_steps(states[0].steps());
        }
        continue;
      }
      for (std::size_t r = 0; r < k; ++r) {
        auto const rows = data::BatchPlan::shard(batch, r, k);
        auto work = samples.work(rows.begin, rows.size());
        work.step = s;
        runtime.step(models[r], states[r], work);
      }
      if ((s + 1 - warmup) % period == 0) {
        std::vector<Model::buffer_type> parameters;
        for (auto& m : models) {
          parameters.push_back(m.parameters());
        }
        mean(parameters);
        for (std::size_t b = 0; average_state && b < states[0].buffers().size(); ++b) {
          std::vector<Model::buffer_type> buffers;
          for (auto& state : states) {
            buffers.push_back(state.buffers()[b].view);
          }
          mean(buffers);
        }
      }
    }
  }
};

TEST(local_sgd, each_replica_equals_replicas_trained_and_averaged_by_hand) {
  Environment env;
  comm::Mpi comm(env);
  Samples const samples;
  struct Case {
    std::size_t period, warmup;
    bool average_state;
  };
  for (Case const c : {Case{3, 0, false}, Case{3, 0, true}, Case{4, 2, false}, Case{1, 0, false}}) {
    DoubleRuntime<LocalSGD<>> runtime(
        env,
        {.period = c.period, .warmup_steps = c.warmup, .average_optimizer_state = c.average_state});
    auto model = runtime.make_model(3);
    runtime.start(model, batch);
    Adam::state<double, ExecutionSpace> adam(model.parameters().extent(0), {});
    auto work = samples.work(0, batch);
    std::size_t const steps = 11;
    for (work.step = 0; work.step < steps; ++work.step) {
      runtime.step(model, adam, work);
      std::size_t const s = work.step;
      bool const averaged = s < c.warmup || (s + 1 - c.warmup) % c.period == 0;
      if (averaged || comm.size() > 1) {
        EXPECT_EQ(same_on_every_rank(comm, model.parameters()), averaged)
            << "after step " << s + 1 << " (period " << c.period << ", warm-up " << c.warmup << ")";
      }
    }
    ByHand by_hand(std::size_t(comm.size()));
    by_hand.run(samples, steps, c.period, c.warmup, c.average_state);
    std::string const where = "period " + std::to_string(c.period) + ", warm-up " +
                              std::to_string(c.warmup) + ", optimizer state " +
                              (c.average_state ? "averaged" : "local") + ", rank " +
                              std::to_string(comm.rank());
    auto const& mine = by_hand.models[std::size_t(comm.rank())];
    EXPECT_LE(relative_difference(test::host_values(model.parameters()),
                                  test::host_values(mine.parameters())),
              1e-12)
        << where;
    EXPECT_LE(relative_difference(
                  test::host_values(adam.buffers()[1].view),
                  test::host_values(by_hand.states[std::size_t(comm.rank())].buffers()[1].view)),
              1e-12)
        << where << ": Adam's second moment";
  }
}

// In float through the Trainer (the compression policies take float): every average,
// the epoch's last included, leaves the ranks the same bits, and only the updates since the
// last average travel in half precision.
TEST(local_sgd, compressed_averages_leave_every_rank_the_same_bits) {
  Environment env;
  comm::Mpi comm(env);
  auto const data = test::synthetic_labels(150);
  using Net = Sequential<Input<12>, Dense<16>, ReLU, Dense<4>>;
  using Exact = LocalSGD<>;
  using Half = LocalSGD<comm::Mpi, comm::Fp16>;
  Trainer<Net, SoftmaxCrossEntropy, SGD, Exact, ExecutionSpace> exact(
      env, {.batch = 16, .lr = 0.05, .parallel = {.period = 2}});
  Trainer<Net, SoftmaxCrossEntropy, SGD, Half, ExecutionSpace> half(
      env, {.batch = 16, .lr = 0.05, .parallel = {.period = 2}});
  exact.fit(data, epochs(2));
  half.fit(data, epochs(2));
  EXPECT_TRUE(same_on_every_rank(comm, half.model().parameters()));
  EXPECT_LE(relative_difference(test::host_values(half.model().parameters()),
                                test::host_values(exact.model().parameters())),
            comm.size() == 1 ? 0.0 : 1e-2);
  auto const traffic = half.runtime().traffic();
  EXPECT_LT(traffic.bytes, traffic.data_parallel_bytes / 2 + 1) << "every other step";
}

TEST(local_sgd, a_period_of_zero_errs_on_every_rank) {
  Environment env;
  try {
    DoubleRuntime<LocalSGD<>> runtime(env, {.period = 0});
    FAIL() << "no error";
  } catch (loom::Error const& e) {
    EXPECT_NE(std::string(e.what()).find("loom::LocalSGD: period = 0"), std::string::npos)
        << e.what();
    EXPECT_TRUE(e.collective());
  }
}

// EASGD by hand: K replicas on their rows with their own SGD state, and every `period` steps
// dᵢ = xᵢ − x̃, xᵢ −= α dᵢ, x̃ += α Σ dᵢ.
TEST(elastic_averaging, replicas_and_centre_equal_the_updates_by_hand) {
  Environment env;
  comm::Mpi comm(env);
  Samples const samples;
  using Strategy = ElasticAveraging<>;
  std::size_t const k = std::size_t(comm.size()), period = 3, steps = 8;
  DoubleRuntime<Strategy> runtime(env, {.period = period});
  EXPECT_DOUBLE_EQ(runtime.alpha(), 0.9 / double(k));
  auto model = runtime.make_model(3);
  runtime.start(model, batch);
  SGD::state<double, ExecutionSpace> sgd(model.parameters().extent(0), {.momentum = 0.9});
  auto work = samples.work(0, batch);
  for (work.step = 0; work.step < steps; ++work.step) {
    runtime.step(model, sgd, work);
  }

  using Serial = SingleProcess::runtime<Mlp, ExecutionSpace, double>;
  Serial serial;
  std::vector<Serial::model_type> replicas;
  std::vector<SGD::state<double, ExecutionSpace>> states;
  for (std::size_t r = 0; r < k; ++r) {
    replicas.push_back(serial.make_model(3));
    states.emplace_back(Serial::model_type::num_parameters, SGD::options{.momentum = 0.9});
  }
  auto centre = test::host_values(replicas[0].parameters());
  double const alpha = 0.9 / double(k);
  for (std::size_t s = 0; s < steps; ++s) {
    for (std::size_t r = 0; r < k; ++r) {
      auto const rows = data::BatchPlan::shard(batch, r, k);
      auto w = samples.work(rows.begin, rows.size());
      w.step = s;
      serial.step(replicas[r], states[r], w);
    }
    if ((s + 1) % period == 0) {
      std::vector<double> sum(centre.size(), 0.0);
      for (auto& replica : replicas) {
        auto x = test::host_values(replica.parameters());
        auto host = Kokkos::create_mirror_view(replica.parameters());
        for (std::size_t i = 0; i < x.size(); ++i) {
          double const d = x[i] - centre[i];
          sum[i] += d;
          host(i) = x[i] - alpha * d;
        }
        Kokkos::deep_copy(replica.parameters(), host);
      }
      for (std::size_t i = 0; i < centre.size(); ++i) {
        centre[i] += alpha * sum[i];
      }
    }
  }
  std::string const where = "rank " + std::to_string(comm.rank()) + " of " + std::to_string(k);
  EXPECT_LE(relative_difference(test::host_values(model.parameters()),
                                test::host_values(replicas[std::size_t(comm.rank())].parameters())),
            1e-12)
      << where << ": the replica";
  std::vector<double> const mine(runtime.centre().begin(), runtime.centre().end());
  EXPECT_LE(relative_difference(mine, centre), 1e-12) << where << ": the centre";
  EXPECT_TRUE(same_on_every_rank(comm, test::device_values(mine))) << "the centre";
  // The centre takes the replica's place while f runs, and the replica comes back after.
  auto const replica = test::host_values(model.parameters());
  auto const seen =
      runtime.with_model_parameters(model, [&] { return test::host_values(model.parameters()); });
  EXPECT_EQ(seen, mine);
  EXPECT_EQ(test::host_values(model.parameters()), replica);
  if (k > 1) {
    EXPECT_NE(replica, mine) << "two steps after the last update the replicas have moved";
  }
}

TEST(elastic_averaging, a_pull_the_centre_would_overshoot_errs_on_every_rank) {
  Environment env;
  try {
    DoubleRuntime<ElasticAveraging<>> runtime(env, {.alpha = 1.5});
    FAIL() << "no error";
  } catch (loom::Error const& e) {
    EXPECT_NE(std::string(e.what()).find("loom::ElasticAveraging: period = 4, alpha = 1.5 over"),
              std::string::npos)
        << e.what();
    EXPECT_TRUE(e.collective());
  }
}

// Between averages no rank waits on another, the losses included: a loss that is not finite on
// one rank stops every rank together at the next average, before it, naming that step; the
// rank that saw it skipped its step, so every replica stays finite. The steps' losses reach
// the callbacks where the replicas meet, summed over the ranks.
struct LossCounts {
  std::vector<std::size_t> counts;
  std::size_t epoch = 0;
  template <class T>
  void on_batch_end(T&, BatchInfo const& info) {
    counts.push_back(info.loss.count);
  }
  template <class T>
  void on_epoch_end(T&, EpochInfo const& info) {
    epoch = info.train.count;
  }
};

template <class Strategy>
void stops_every_rank_at_the_next_meeting(typename Strategy::options parallel) {
  Environment env;
  comm::Mpi comm(env);
  // Sample 9 lies in the first batch: rank 0's rows on one rank, rank 1's on 2, rank 2's on 4.
  auto const data = test::with_feature(test::synthetic_labels(64), 9 * 12,
                                       std::numeric_limits<float>::infinity());
  using Net = Sequential<Input<12>, Dense<16>, ReLU, Dense<4>>;
  Trainer<Net, SoftmaxCrossEntropy, SGD, Strategy, ExecutionSpace> trainer(
      env, {.batch = 16, .shuffle = false, .parallel = parallel});
  try {
    trainer.fit(data, epochs(1));
    ADD_FAILURE() << "rank " << env.rank() << " trained on";
  } catch (loom::Error const& e) {
    std::string const what = e.what();
    EXPECT_TRUE(what.find("the loss became") != std::string::npos &&
                what.find("in epoch 1, batch 3 of 4 (optimizer step 3)") != std::string::npos)
        << "rank " << env.rank() << ": " << what;
    EXPECT_TRUE(e.collective());
  }
  for (double p : test::host_values(trainer.model().parameters())) {
    ASSERT_TRUE(std::isfinite(p)) << "rank " << env.rank();
  }

  // Clean data: the losses reported at the meetings add up to the epoch's, over all rows.
  LossCounts count;
  Trainer<Net, SoftmaxCrossEntropy, SGD, Strategy, ExecutionSpace> clean(
      env, {.batch = 16, .shuffle = false, .parallel = parallel});
  clean.fit(test::synthetic_labels(64), epochs(1), count);
  EXPECT_EQ(count.counts, (std::vector<std::size_t>{0, 0, 48, 16}));
  EXPECT_EQ(count.epoch, 64u);
}

TEST(local_sgd, a_non_finite_loss_on_one_rank_stops_every_rank_at_the_next_average) {
  stops_every_rank_at_the_next_meeting<LocalSGD<>>({.period = 3});
}

TEST(elastic_averaging, a_non_finite_loss_on_one_rank_stops_every_rank_at_the_next_update) {
  stops_every_rank_at_the_next_meeting<ElasticAveraging<>>({.period = 3});
}

std::filesystem::path temporary(std::string const& name) {
  return std::filesystem::temp_directory_path() / ("loom_local_sgd_" + name + ".ckpt");
}

// Through the Trainer: an epoch's end averages parameters and optimizer state, so a
// checkpoint written there resumes bit for bit, and loads under DataParallel and serially.
TEST(local_sgd, trainer_checkpoints_resume_bit_for_bit_and_move_to_other_strategies) {
  Environment env;
  auto const data = test::synthetic_labels(150);
  using Strategy = LocalSGD<comm::Ring, comm::TopK<0.25>>;
  TrainerOptions<Adam, Strategy> options{
      .batch = 16, .lr = 0.01, .seed = 5, .parallel = {.period = 3, .warmup_steps = 4}};
  using Net = Sequential<Input<12>, Dense<16>, ReLU, Dropout<0.2>, Dense<4>>;
  Trainer<Net, SoftmaxCrossEntropy, Adam, Strategy, ExecutionSpace> trainer(env, options);
  trainer.fit(data, epochs(2));
  comm::Mpi comm(env);
  EXPECT_TRUE(same_on_every_rank(comm, trainer.model().parameters())) << "at an epoch's end";
  auto const file = temporary("trainer");
  trainer.save(file);
  auto const saved = test::host_values(trainer.model().parameters());
  Trainer<Net, SoftmaxCrossEntropy, Adam, Strategy, ExecutionSpace> resumed(env, options);
  resumed.load(file);
  trainer.fit(data, epochs(4));
  resumed.fit(data, epochs(4));
  EXPECT_EQ(test::host_values(resumed.model().parameters()),
            test::host_values(trainer.model().parameters()));
  auto const trained = trainer.evaluate(data);
  EXPECT_EQ(trained.count, data.size());
  EXPECT_LT(trained.mean(), std::log(4.0)) << "it learns";

  Trainer<Net, SoftmaxCrossEntropy, Adam, DataParallel<>, ExecutionSpace> data_parallel(
      env, {.batch = 16, .lr = 0.01, .seed = 5});
  data_parallel.load(file);
  data_parallel.fit(data, epochs(3));
  Trainer<Net, SoftmaxCrossEntropy, Adam, SingleProcess, ExecutionSpace> serial(
      {.batch = 16, .lr = 0.01, .seed = 5});
  serial.load(file);
  EXPECT_EQ(test::host_values(serial.model().parameters()), saved);
  EXPECT_LT(data_parallel.evaluate(data).mean(), std::log(4.0));
  comm.barrier();
  if (env.rank() == 0) {
    std::filesystem::remove(file);
  }
}

// Through the Trainer: evaluation sees the centre; at an epoch's end the replicas restart from
// it, so a checkpoint resumes bit for bit and loads elsewhere.
TEST(elastic_averaging, trainer_evaluates_the_centre_and_resumes_bit_for_bit) {
  Environment env;
  comm::Mpi comm(env);
  auto const data = test::synthetic_labels(150);
  using Strategy = ElasticAveraging<>;
  using Net = Sequential<Input<12>, Dense<16>, ReLU, Dense<4>>;
  TrainerOptions<SGD, Strategy> options{.batch = 16,
                                        .lr = 0.05,
                                        .optimizer = {.momentum = 0.9},
                                        .seed = 5,
                                        .parallel = {.period = 2}};
  Trainer<Net, SoftmaxCrossEntropy, SGD, Strategy, ExecutionSpace> trainer(env, options);
  trainer.fit(data, epochs(2));
  EXPECT_TRUE(same_on_every_rank(comm, trainer.model().parameters()));
  auto const file = temporary("elastic");
  trainer.save(file);
  auto const saved = test::host_values(trainer.model().parameters());
  Trainer<Net, SoftmaxCrossEntropy, SGD, Strategy, ExecutionSpace> resumed(env, options);
  resumed.load(file);
  trainer.fit(data, epochs(4));
  resumed.fit(data, epochs(4));
  EXPECT_EQ(test::host_values(resumed.model().parameters()),
            test::host_values(trainer.model().parameters()));
  Trainer<Net, SoftmaxCrossEntropy, SGD, SingleProcess, ExecutionSpace> serial(
      {.batch = 16, .lr = 0.05, .optimizer = {.momentum = 0.9}, .seed = 5});
  serial.load(file);
  EXPECT_EQ(test::host_values(serial.model().parameters()), saved);
  // The centre after 4 epochs is what evaluation on every rank and the serial copy see.
  auto const moved = temporary("elastic_moved");
  trainer.save(moved);
  serial.load(moved);
  auto const centre = trainer.evaluate(data), copy = serial.evaluate(data);
  EXPECT_NEAR(centre.mean(), copy.mean(), 1e-6 * copy.mean());
  EXPECT_LT(centre.mean(), std::log(4.0)) << "it learns";
  comm.barrier();
  if (env.rank() == 0) {
    std::filesystem::remove(file);
    std::filesystem::remove(moved);
  }
}

// Ensemble, combine = predictions: the members differ, and evaluation and prediction give the
// mean of their probabilities, computed here by hand from each rank's member.
TEST(ensemble, averages_the_members_probabilities) {
  Environment env;
  comm::Mpi comm(env);
  auto const data = test::synthetic_labels(96);
  using Net = Sequential<Input<12>, Dense<16>, ReLU, Dense<4>>;
  Trainer<Net, SoftmaxCrossEntropy, SGD, Ensemble<>, ExecutionSpace> trainer(
      env, {.batch = 16, .lr = 0.1, .seed = 2});
  trainer.fit(data, epochs(2));
  if (env.size() > 1) {
    EXPECT_FALSE(same_on_every_rank(comm, trainer.model().parameters())) << "members differ";
  }
  // By hand: each member's probabilities, averaged over the ranks.
  auto const logits = trainer.model().predict(data);
  std::vector<double> mean(logits.size());
  for (std::size_t i = 0; i < data.size(); ++i) {
    double top = -1e300, total = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      top = std::max(top, double(logits[i * 4 + j]));
    }
    for (std::size_t j = 0; j < 4; ++j) {
      total += std::exp(double(logits[i * 4 + j]) - top);
    }
    for (std::size_t j = 0; j < 4; ++j) {
      mean[i * 4 + j] = std::exp(double(logits[i * 4 + j]) - top) / total / env.size();
    }
  }
  comm.all_reduce(std::span<double>(mean), comm::ReduceOp::sum);
  double loss = 0;
  std::size_t correct = 0;
  for (std::size_t i = 0; i < data.size(); ++i) {
    auto const label = std::size_t(data.targets()[i]);
    loss -= std::log(mean[i * 4 + label]);
    correct += std::size_t(std::max_element(mean.begin() + std::ptrdiff_t(i * 4),
                                            mean.begin() + std::ptrdiff_t(i * 4 + 4)) -
                           mean.begin() - std::ptrdiff_t(i * 4)) == label;
  }
  auto const result = trainer.evaluate(data);
  EXPECT_EQ(result.count, data.size()) << "every sample once, whatever the ranks";
  EXPECT_NEAR(result.mean(), loss / double(data.size()), 1e-5);
  EXPECT_EQ(result.correct, correct);
  auto const predicted = trainer.predict(data);
  for (std::size_t k = 0; k < predicted.size(); ++k) {
    ASSERT_NEAR(std::exp(double(predicted[k])), mean[k], 1e-5) << k;
  }
}

// Ensemble, combine = parameters: the members start alike and train on their rows; evaluation
// and checkpoints see their mean parameters, and the members train on unchanged.
TEST(ensemble, averages_the_members_parameters_once_for_evaluation_and_checkpoints) {
  Environment env;
  comm::Mpi comm(env);
  auto const data = test::synthetic_labels(96);
  using Net = Sequential<Input<12>, Dense<16>, ReLU, Dense<4>>;
  using Strategy = Ensemble<>;
  Trainer<Net, SoftmaxCrossEntropy, SGD, Strategy, ExecutionSpace> trainer(
      env, {.batch = 16, .lr = 0.1, .seed = 2, .parallel = {.combine = Strategy::parameters}});
  trainer.fit(data, epochs(2));
  auto const member = test::host_values(trainer.model().parameters());
  auto mean = member;
  comm.all_reduce(std::span<double>(mean), comm::ReduceOp::sum);
  for (double& m : mean) {
    m /= env.size();
  }
  auto const file = temporary("ensemble");
  auto const result = trainer.evaluate(data);
  trainer.save(file);
  EXPECT_EQ(test::host_values(trainer.model().parameters()), member) << "the member is back";
  Trainer<Net, SoftmaxCrossEntropy, SGD, SingleProcess, ExecutionSpace> serial(
      {.batch = 16, .lr = 0.1, .seed = 2});
  serial.load(file);
  auto const saved = test::host_values(serial.model().parameters());
  for (std::size_t k = 0; k < saved.size(); ++k) {
    ASSERT_NEAR(saved[k], mean[k], 1e-6 * (1 + std::abs(mean[k]))) << k;
  }
  auto const alone = serial.evaluate(data);
  EXPECT_NEAR(result.mean(), alone.mean(), 1e-6);
  EXPECT_EQ(result.correct, alone.correct);
  EXPECT_LT(result.mean(), std::log(4.0)) << "it learns";
  comm.barrier();
  if (env.rank() == 0) {
    std::filesystem::remove(file);
  }
}

} // namespace
