#include <loom/data/feature_transform.hpp>

#include <gtest/gtest.h>

#include <limits>
#include <vector>

#include "data_test_files.hpp"

namespace {

using loom::data::FeatureTransform;
using loom::test::error_message;

TEST(DataFeatureTransform, DefaultIsTheIdentity) {
  FeatureTransform const t;
  EXPECT_TRUE(t.is_identity());
  EXPECT_FALSE(t.per_feature());
  EXPECT_EQ(t(3.5, 0), 3.5f);
  EXPECT_EQ(t(-7, 41), -7.0f);
  EXPECT_TRUE(FeatureTransform(0, 1).is_identity());
  EXPECT_TRUE(FeatureTransform({0, 0}, {1, 1}).is_identity());
  EXPECT_FALSE(FeatureTransform({0, 0}, {1, 2}).is_identity());
  EXPECT_FALSE(FeatureTransform(1e-300, 1).is_identity());
}

TEST(DataFeatureTransform, GlobalAndPerFeature) {
  FeatureTransform const global(2, 4); // (x - 2) / 4
  EXPECT_EQ(global(6, 0), 1.0f);
  EXPECT_EQ(global(6, 99), 1.0f); // the same for every feature
  EXPECT_EQ(global.inverse_scale()[0], 0.25);
  FeatureTransform const per({1, -5}, {2, 0.5});
  EXPECT_TRUE(per.per_feature());
  EXPECT_EQ(per(3, 0), 1.0f);
  EXPECT_EQ(per(3, 1), 16.0f);
  ASSERT_EQ(per.scale().size(), 2u);
  EXPECT_EQ(per.center()[1], -5.0);
  EXPECT_EQ(per.inverse_scale()[1], 2.0);
}

TEST(DataFeatureTransform, EvaluatesInDoubleAndRoundsOnceToFloat) {
  // 1 + 2^-30 is not a float: in float arithmetic the difference would be 0.
  EXPECT_EQ(FeatureTransform(1.0, 1.0)(1.0 + 0x1p-30, 0), 0x1p-30f);
  // A value equal to the center gives exactly 0, whatever the scale.
  EXPECT_EQ(FeatureTransform(0.3, 0.7)(0.3, 0), 0.0f);
}

TEST(DataFeatureTransform, ThenComposes) {
  FeatureTransform const first(1, 2);   // x -> (x - 1) / 2
  FeatureTransform const second(3, 4);  // y -> (y - 3) / 4
  auto const both = first.then(second); // (x - 1 - 3 * 2) / 8
  EXPECT_FALSE(both.per_feature());
  EXPECT_EQ(both.center()[0], 7.0);
  EXPECT_EQ(both.scale()[0], 8.0);
  EXPECT_EQ(both(23, 0), 2.0f); // (23 - 1) / 2 = 11; (11 - 3) / 4 = 2

  FeatureTransform const per({0, 10}, {1, 2});
  auto const global_then_per = first.then(per); // f0: (x - 1) / 2; f1: ((x - 1) / 2 - 10) / 2
  ASSERT_TRUE(global_then_per.per_feature());
  EXPECT_EQ(global_then_per(5, 0), 2.0f);
  EXPECT_EQ(global_then_per(25, 1), 1.0f);
  auto const per_then_global = per.then(second); // f0: (x - 3) / 4; f1: ((x - 10) / 2 - 3) / 4
  ASSERT_TRUE(per_then_global.per_feature());
  EXPECT_EQ(per_then_global(7, 0), 1.0f);
  EXPECT_EQ(per_then_global(24, 1), 1.0f);
  auto const per_then_per = per.then(per); // f0: x; f1: ((x - 10) / 2 - 10) / 2
  EXPECT_EQ(per_then_per(5, 0), 5.0f);
  EXPECT_EQ(per_then_per(34, 1), 1.0f);
  EXPECT_TRUE(FeatureTransform().then(FeatureTransform()).is_identity());
}

TEST(DataFeatureTransform, BytesStandardisedWithFloatStatisticsAreCorrectlyRounded) {
  // Pixels / 255, then standardised with a float mean and deviation: the composed center
  // 255 × mean and scale 255 × stddev are exact in double, so every byte gives the float
  // nearest to the exact (p / 255 - mean) / stddev.
  float const mean = 0.28604f;
  float const stddev = 0.35302f;
  auto const t = FeatureTransform(0, 255).then(FeatureTransform(mean, stddev));
  for (int p = 0; p < 256; ++p) {
    long double const exact = (p - 255.0L * mean) / (255.0L * stddev);
    EXPECT_EQ(t(p, 0), static_cast<float>(exact)) << "byte " << p;
  }
}

TEST(DataFeatureTransform, Errors) {
  LOOM_EXPECT_CONTAINS(error_message([] {
                         FeatureTransform({1, 2}, {1});
                       }),
                       "loom::data::FeatureTransform: 2 centers and 1 scales for a per-feature "
                       "transform; expected the same number, at least 1");
  LOOM_EXPECT_CONTAINS(
      error_message([] { FeatureTransform(std::vector<double>{}, std::vector<double>{}); }),
      "0 centers and 0 scales");
  LOOM_EXPECT_CONTAINS(error_message([] { FeatureTransform(1, 0); }),
                       "loom::data::FeatureTransform: (x - 1) / 0 is not a usable map; the "
                       "scale must be finite and not 0, the center finite");
  LOOM_EXPECT_CONTAINS(error_message([] {
                         FeatureTransform({0, std::numeric_limits<double>::quiet_NaN()}, {1, 1});
                       }),
                       "loom::data::FeatureTransform: feature 1: (x - nan) / 1 is not a usable "
                       "map");
  LOOM_EXPECT_CONTAINS(error_message([] {
                         FeatureTransform const one(std::vector<double>{0}, std::vector<double>{1});
                         (void)FeatureTransform({0, 0}, {1, 2}).then(one);
                       }),
                       "loom::data::FeatureTransform::then: a transform of 2 features cannot be "
                       "followed by one of 1");
}

} // namespace
