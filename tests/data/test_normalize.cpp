#include <loom/data/in_memory.hpp>
#include <loom/data/normalize.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
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
  for (float x : loom::test::gathered(train)) {
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
  for (float x : loom::test::gathered(data)) {
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
  EXPECT_EQ(loom::test::gathered(a), loom::test::gathered(b));
}

TEST(DataNormalize, StandardisingChangesTheTransformNotTheData) {
  auto train = train_set();
  auto test = train.subset(2, 2); // shares train's storage
  std::vector<float> const before(train.stored_features<float>().begin(),
                                  train.stored_features<float>().end());
  float const* const stored = train.stored_features<float>().data();
  auto const s = loom::data::standardize(train, test, {.per_feature = true});
  EXPECT_EQ(train.stored_features<float>().data(), stored);
  EXPECT_EQ(test.stored_features<float>().data(), stored + 4);
  EXPECT_TRUE(std::equal(before.begin(), before.end(), stored));
  ASSERT_TRUE(train.transform().per_feature());
  EXPECT_EQ(train.transform().center()[1], 20.0);
  EXPECT_EQ(train.transform().scale()[1], 10.0);
  // Sample 3 of train and sample 1 of test are the same stored sample, standardised alike.
  EXPECT_EQ(train.sample(3), test.sample(1));
  EXPECT_FLOAT_EQ(test.sample(1)[1], 1.0f);

  // A second standardisation composes with the first: the data is already standard.
  auto const again = Standardizer::fit(train, {.per_feature = true});
  EXPECT_NEAR(again.mean()[0], 0.0f, 1e-6f);
  EXPECT_NEAR(again.stddev()[0], 1.0f, 1e-6f);
  auto const first = train.sample(0);
  again.apply(train);
  EXPECT_NEAR(train.sample(0)[0], first[0], 1e-6f);
}

// Bytes stored with a 1/255 transform, standardised, against the float path the data took
// before it was kept as bytes: pixels / 255.0f as floats, standardised in place.
TEST(DataNormalize, StandardisedBytesEqualTheFloatPathToFloatRounding) {
  std::size_t const n = 300;
  std::size_t const features = 7;
  std::vector<std::uint8_t> pixels(n * features);
  std::uint32_t state = 12345;
  for (auto& p : pixels) {
    state = state * 1664525u + 1013904223u;
    p = static_cast<std::uint8_t>(state >> 24);
  }
  pixels[3] = 0; // both ends of the range
  pixels[4] = 255;
  std::vector<float> floats(pixels.size());
  for (std::size_t i = 0; i < pixels.size(); ++i) {
    floats[i] = static_cast<float>(pixels[i]) / 255.0f;
  }
  std::vector<std::int32_t> labels(n, 0);

  for (bool per_feature : {false, true}) {
    SCOPED_TRACE(per_feature ? "per feature" : "global");
    InMemoryDataset<std::int32_t> bytes(pixels, features, labels, 1, "bytes");
    bytes.set_transform(loom::data::FeatureTransform(0.0, 255.0));
    auto train = bytes.subset(0, 200);
    auto test = bytes.subset(200, 100);
    auto const s = loom::data::standardize(train, test, {.per_feature = per_feature});

    // The statistics of the float path agree to float rounding.
    auto const reference = Standardizer::fit(std::span<float const>(floats).first(200 * features),
                                             features, {.per_feature = per_feature});
    for (std::size_t g = 0; g < s.mean().size(); ++g) {
      EXPECT_FLOAT_EQ(s.mean()[g], reference.mean()[g]);
      EXPECT_FLOAT_EQ(s.stddev()[g], reference.stddev()[g]);
    }

    std::vector<float> old_path = floats;
    s.apply(old_path, features); // the float path, with the same statistics
    auto const trained = loom::test::gathered(train);
    auto const tested = loom::test::gathered(test);
    for (std::size_t i = 0; i < n * features; ++i) {
      float const got = i < 200 * features ? trained[i] : tested[i - 200 * features];
      std::size_t const g = per_feature ? i % features : 0;
      // Exact: (p / 255 - mean) / stddev in double, with the statistics as floats.
      double const exact = (pixels[i] / 255.0 - s.mean()[g]) / s.stddev()[g];
      float const ulp = std::nextafter(std::abs(static_cast<float>(exact)), 1e30f) -
                        std::abs(static_cast<float>(exact));
      ASSERT_LE(std::abs(got - exact), ulp + 1e-12) << "value " << i;
      // The float path rounds p / 255 to float first: that error, divided by the deviation,
      // plus one rounding of the result.
      float const input_ulp = std::nextafter(floats[i], 2.0f) - floats[i];
      ASSERT_LE(std::abs(got - old_path[i]), ulp + input_ulp / s.stddev()[g] + 1e-12)
          << "value " << i;
    }
  }
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
