#include <loom/data/in_memory.hpp>
#include <loom/data/loader.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <set>
#include <vector>

#include "loom_test.hpp"

namespace {

using namespace loom;
using ExecutionSpace = test::ExecutionSpace;

// Sample i has features (i, -i, 0.5 i) and label i % 3.
data::InMemoryDataset<std::int32_t> make_data(std::size_t n) {
  std::vector<float> x;
  std::vector<std::int32_t> y;
  for (std::size_t i = 0; i < n; ++i) {
    x.insert(x.end(), {float(i), -float(i), 0.5f * float(i)});
    y.push_back(static_cast<std::int32_t>(i % 3));
  }
  return {x, 3, y, 1, "ramp"};
}

TEST(loader, batches_follow_the_plan_and_hold_their_samples) {
  auto const data = make_data(23);
  data::BatchLoader<data::InMemoryDataset<std::int32_t>, ExecutionSpace> loader(
      data, {.batch_size = 5, .seed = 3});
  data::BatchPlan plan(23, {.batch_size = 5, .seed = 3});
  for (std::uint64_t epoch = 0; epoch < 2; ++epoch) {
    loader.set_epoch(epoch);
    plan.set_epoch(epoch);
    std::size_t k = 0;
    std::multiset<std::size_t> seen;
    for (auto const& batch : loader) {
      auto const expected = plan.batch(k++);
      ASSERT_EQ(batch.rows(), expected.size());
      EXPECT_TRUE(std::equal(expected.begin(), expected.end(), batch.indices.begin()));
      auto const x = test::host_copy(batch.x);
      auto const labels = test::host_copy(batch.labels());
      for (std::size_t r = 0; r < batch.rows(); ++r) {
        float const i = float(expected[r]);
        EXPECT_EQ(x(r, 0), i);
        EXPECT_EQ(x(r, 1), -i);
        EXPECT_EQ(x(r, 2), 0.5f * i);
        EXPECT_EQ(labels(r), std::int32_t(expected[r] % 3));
        seen.insert(expected[r]);
      }
    }
    EXPECT_EQ(k, 5u) << "23 samples in batches of 5";
    EXPECT_EQ(seen.size(), 23u);
    EXPECT_EQ(std::set<std::size_t>(seen.begin(), seen.end()).size(), 23u) << "each sample once";
  }
}

TEST(loader, ranks_take_contiguous_slices_of_each_global_batch) {
  auto const data = make_data(10);
  data::BatchPlanOptions const options{.batch_size = 4, .seed = 1};
  data::BatchPlan plan(10, options);
  for (std::size_t ranks : {1u, 3u}) {
    std::vector<std::size_t> joined;
    for (std::size_t rank = 0; rank < ranks; ++rank) {
      data::BatchLoader<data::InMemoryDataset<std::int32_t>, ExecutionSpace> loader(data, options,
                                                                                    rank, ranks);
      auto const batch = loader.batch(2); // the short last batch: 2 samples
      joined.insert(joined.end(), batch.indices.begin(), batch.indices.end());
      EXPECT_EQ(batch.rows(), batch.indices.size());
    }
    auto const global = plan.batch(2);
    EXPECT_EQ(joined, std::vector<std::size_t>(global.begin(), global.end()));
  }
  EXPECT_THROW(
      (data::BatchLoader<data::InMemoryDataset<std::int32_t>, ExecutionSpace>(data, options, 2, 2)),
      loom::Error);
}

TEST(loader, regression_targets_are_rows) {
  std::vector<float> x{1, 2, 3, 4}, y{10, 11, 20, 21, 30, 31, 40, 41};
  data::InMemoryDataset<float> data(x, 1, y, 2, "pairs");
  data::BatchLoader<data::InMemoryDataset<float>, ExecutionSpace> loader(
      data, {.batch_size = 4, .shuffle = false});
  auto const batch = loader.batch(0);
  auto const targets = test::host_copy(batch.targets);
  ASSERT_EQ(targets.extent(0), 4u);
  ASSERT_EQ(targets.extent(1), 2u);
  EXPECT_EQ(targets(2, 0), 30.0f);
  EXPECT_EQ(targets(3, 1), 41.0f);
}

} // namespace
