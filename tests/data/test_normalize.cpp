#include <loom/data/in_memory.hpp>
#include <loom/data/normalize.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "data_test_files.hpp"

namespace {

using loom::data::InMemoryDataset;
using loom::data::Standardizer;
using loom::test::error_message;

// 4 samples of 2 features: column 0 is 1, 2, 3, 4; column 1 is 10, 10, 30, 30.
InMemoryDataset<std::int32_t> train_set() {
  return InMemoryDataset<std::int32_t>({1, 10, 2, 10, 3, 30, 4, 30}, 2, {0, 1, 0, 1}, 1,
                                       "train.csv");
}

TEST(DataNormalize, GlobalStatistics) {
  auto train = train_set();
  auto const s = Standardizer::fit(train);
  // Values 1, 10, 2, 10, 3, 30, 4, 30: mean 90 / 8 = 11.25; population variance
  // (sum of squares 2030 / 8) - 11.25^2 = 253.75 - 126.5625 = 127.1875.
  ASSERT_EQ(s.mean().size(), 1u);
  EXPECT_FALSE(s.per_feature());
  EXPECT_FLOAT_EQ(s.mean()[0], 11.25f);
  EXPECT_FLOAT_EQ(s.stddev()[0], static_cast<float>(std::sqrt(127.1875)));
  EXPECT_EQ(s.source(), "train.csv");

  s.apply(train);
  double sum = 0;
  double squares = 0;
  for (float x : train.features()) {
    sum += x;
    squares += double{x} * x;
  }
  EXPECT_NEAR(sum / 8, 0.0, 1e-6);
  EXPECT_NEAR(squares / 8, 1.0, 1e-6);
  EXPECT_FLOAT_EQ(train.sample(0)[0], static_cast<float>((1 - 11.25) / std::sqrt(127.1875)));
}

TEST(DataNormalize, PerFeatureStatistics) {
  auto train = train_set();
  auto const s = Standardizer::fit(train, {.per_feature = true});
  ASSERT_EQ(s.mean().size(), 2u);
  EXPECT_TRUE(s.per_feature());
  EXPECT_FLOAT_EQ(s.mean()[0], 2.5f);
  EXPECT_FLOAT_EQ(s.mean()[1], 20.0f);
  EXPECT_FLOAT_EQ(s.stddev()[0], static_cast<float>(std::sqrt(1.25))); // (2.25+.25+.25+2.25)/4
  EXPECT_FLOAT_EQ(s.stddev()[1], 10.0f);
  s.apply(train);
  EXPECT_FLOAT_EQ(train.sample(0)[1], -1.0f);
  EXPECT_FLOAT_EQ(train.sample(3)[1], 1.0f);
  EXPECT_FLOAT_EQ(train.sample(3)[0], static_cast<float>(1.5 / std::sqrt(1.25)));
}

TEST(DataNormalize, TestSetGetsTheTrainingStatistics) {
  auto train = train_set();
  InMemoryDataset<std::int32_t> test({2.5f, 20, 12.5f, 40}, 2, {1, 0}, 1, "test.csv");
  auto const s = loom::data::standardize(train, test, {.per_feature = true});
  EXPECT_FLOAT_EQ(s.mean()[1], 20.0f); // from train only
  EXPECT_FLOAT_EQ(test.sample(0)[0], 0.0f);
  EXPECT_FLOAT_EQ(test.sample(0)[1], 0.0f);
  EXPECT_FLOAT_EQ(test.sample(1)[1], 2.0f);
  EXPECT_FLOAT_EQ(test.sample(1)[0], static_cast<float>(10 / std::sqrt(1.25)));
}

TEST(DataNormalize, ConstantFeaturesAreOnlyCentred) {
  InMemoryDataset<std::int32_t> data({0, 1, 0, 3}, 2, {0, 0}, 1, "corners");
  auto const s = Standardizer::fit(data, {.per_feature = true});
  EXPECT_EQ(s.stddev()[0], 0.0f);
  s.apply(data);
  EXPECT_EQ(data.sample(0)[0], 0.0f); // no division by zero
  EXPECT_EQ(data.sample(1)[0], 0.0f);
  EXPECT_FLOAT_EQ(data.sample(0)[1], -1.0f);
  for (float x : data.features()) {
    EXPECT_TRUE(std::isfinite(x));
  }
}

TEST(DataNormalize, RestoredStatisticsApplyTheSame) {
  auto a = train_set();
  auto b = train_set();
  auto const fitted = Standardizer::fit(a, {.per_feature = true});
  Standardizer const restored({fitted.mean().begin(), fitted.mean().end()},
                              {fitted.stddev().begin(), fitted.stddev().end()}, true);
  fitted.apply(a);
  restored.apply(b);
  EXPECT_TRUE(std::equal(a.features().begin(), a.features().end(), b.features().begin()));
}

TEST(DataNormalize, Errors) {
  InMemoryDataset<std::int32_t> const empty({}, 3, {}, 1, "empty.csv");
  LOOM_EXPECT_CONTAINS(error_message([&] { (void)Standardizer::fit(empty); }),
                       "loom::data::Standardizer::fit: 'empty.csv' has no samples to compute a "
                       "mean and deviation from");

  auto const s = Standardizer::fit(train_set(), {.per_feature = true});
  InMemoryDataset<std::int32_t> wide({1, 2, 3}, 3, {0}, 1, "wide.csv");
  LOOM_EXPECT_CONTAINS(error_message([&] { s.apply(wide); }),
                       "loom::data::Standardizer::apply: 'wide.csv' has 3 features per sample "
                       "but the per-feature statistics were computed from 'train.csv' with 2");
  // Global statistics apply to any width.
  Standardizer::fit(train_set()).apply(wide);

  LOOM_EXPECT_CONTAINS(error_message([] {
                         Standardizer({1, 2}, {1}, true);
                       }),
                       "loom::data::Standardizer: 2 means and 1 deviations");
  LOOM_EXPECT_CONTAINS(error_message([] {
                         Standardizer({1, 2}, {1, 1}, false);
                       }),
                       "2 means and 2 deviations for global statistics; expected 1 each");
}

} // namespace
