#include <loom/data/in_memory.hpp>

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "data_test_files.hpp"

namespace {

using loom::data::InMemoryDataset;
using loom::test::error_message;

// 4 samples of 3 features: sample i is (10i, 10i + 1, 10i + 2), label i % 2.
InMemoryDataset<std::int32_t> four_samples() {
  std::vector<float> x;
  for (int i = 0; i < 4; ++i) {
    for (int f = 0; f < 3; ++f) {
      x.push_back(static_cast<float>(10 * i + f));
    }
  }
  return InMemoryDataset<std::int32_t>(std::move(x), 3, {0, 1, 0, 1}, 1, "four.csv");
}

TEST(DataInMemory, Accessors) {
  auto const data = four_samples();
  EXPECT_EQ(data.size(), 4u);
  EXPECT_FALSE(data.empty());
  EXPECT_EQ(data.sample_size(), 3u);
  EXPECT_EQ(data.target_size(), 1u);
  EXPECT_EQ(data.source(), "four.csv");
  EXPECT_EQ(data.num_classes(), 2u);
  EXPECT_TRUE(data.stores<float>());
  EXPECT_EQ(data.stored_features<float>().size(), 12u);
  EXPECT_TRUE(data.transform().is_identity());
  EXPECT_EQ(data.targets().size(), 4u);
  EXPECT_EQ(data.sample(2)[1], 21.0f);
  EXPECT_EQ(data.target(3)[0], 1);
}

TEST(DataInMemory, DefaultIsEmpty) {
  InMemoryDataset<> const data;
  EXPECT_EQ(data.size(), 0u);
  EXPECT_TRUE(data.empty());
  EXPECT_EQ(data.num_classes(), 0u);
}

TEST(DataInMemory, GatherCopiesRowsInIndexOrder) {
  auto const data = four_samples();
  std::vector<std::size_t> const idx{3, 0, 3};
  std::vector<float> x(9);
  std::vector<std::int32_t> y(3);
  data.gather(idx, x.data(), y.data());
  EXPECT_EQ(x, (std::vector<float>{30, 31, 32, 0, 1, 2, 30, 31, 32}));
  EXPECT_EQ(y, (std::vector<std::int32_t>{1, 0, 1}));
}

TEST(DataInMemory, GatherIntoDoubleAndWithoutTargets) {
  auto const data = four_samples();
  std::vector<std::size_t> const idx{1, 2};
  std::vector<double> x(6);
  data.gather(idx, x.data(), nullptr);
  EXPECT_EQ(x, (std::vector<double>{10, 11, 12, 20, 21, 22}));
}

TEST(DataInMemory, GatherOfAnIndexOutOfRangeThrows) {
  auto const data = four_samples();
  std::vector<std::size_t> const idx{1, 4};
  std::vector<float> x(6);
  std::vector<std::int32_t> y(2);
  auto const message = error_message([&] { data.gather(idx, x.data(), y.data()); });
  LOOM_EXPECT_CONTAINS(message, "sample index 4 (row 1 of the batch) is out of range");
  LOOM_EXPECT_CONTAINS(message, "'four.csv', which has 4 samples");
}

TEST(DataInMemory, RegressionTargetsWithSeveralColumns) {
  InMemoryDataset<float> const data({1, 2, 3, 4}, 2, {0.5f, -1, 1.5f, -2}, 2, "reg");
  EXPECT_EQ(data.size(), 2u);
  EXPECT_EQ(data.target_size(), 2u);
  std::vector<std::size_t> const idx{1};
  std::vector<float> x(2);
  std::vector<float> y(2);
  data.gather(idx, x.data(), y.data());
  EXPECT_EQ(x, (std::vector<float>{3, 4}));
  EXPECT_EQ(y, (std::vector<float>{1.5f, -2}));
}

TEST(DataInMemory, Subset) {
  auto const data = four_samples();
  auto const middle = data.subset(1, 2);
  EXPECT_EQ(middle.size(), 2u);
  EXPECT_EQ(middle.sample_size(), 3u);
  EXPECT_EQ(middle.sample(0)[0], 10.0f);
  EXPECT_EQ(middle.sample(1)[2], 22.0f);
  EXPECT_EQ(middle.target(0)[0], 1);
  EXPECT_EQ(middle.source(), "four.csv[1:3]");
  EXPECT_EQ(data.subset(4, 0).size(), 0u);
  EXPECT_EQ(data.subset(0, 4).stored_features<float>().size(), 12u);

  auto const message = error_message([&] { (void)data.subset(3, 2); });
  LOOM_EXPECT_CONTAINS(message, "loom::data::InMemoryDataset::subset: samples [3, 5)");
  LOOM_EXPECT_CONTAINS(message, "'four.csv', which has 4 samples");
  LOOM_EXPECT_CONTAINS(error_message([&] { (void)data.subset(9, 0); }), "samples [9, 9)");
}

TEST(DataInMemory, SampleOutOfRangeThrows) {
  auto const data = four_samples();
  LOOM_EXPECT_CONTAINS(error_message([&] { (void)data.sample(4); }),
                       "loom::data::InMemoryDataset::sample: sample index 4 is out of range for "
                       "'four.csv', which has 4 samples");
  LOOM_EXPECT_CONTAINS(error_message([&] { (void)data.target(7); }),
                       "InMemoryDataset::target: sample index 7");
}

TEST(DataInMemory, SubsetsAndCopiesAreViewsOfTheSameStorage) {
  std::vector<std::size_t> const first{0};
  std::vector<float> x(3);
  InMemoryDataset<std::int32_t> middle;
  float const* stored = nullptr;
  {
    auto const data = four_samples();
    stored = data.stored_features<float>().data();
    auto const copy = data;
    EXPECT_EQ(copy.stored_features<float>().data(), stored);
    middle = data.subset(1, 2);
    EXPECT_EQ(middle.stored_features<float>().data(), stored + 3); // sample 1 of the parent
    EXPECT_EQ(middle.targets().data(), data.targets().data() + 1);
    auto const last = middle.subset(1, 1); // a subset of a subset: sample 2 of the parent
    EXPECT_EQ(last.stored_features<float>().data(), stored + 6);
    EXPECT_EQ(last.source(), "four.csv[1:3][1:2]");
    last.gather(first, x.data(), nullptr);
    EXPECT_EQ(x, (std::vector<float>{20, 21, 22}));
  }
  // The view keeps the storage alive after its parent is gone.
  EXPECT_EQ(middle.stored_features<float>().data(), stored + 3);
  middle.gather(first, x.data(), nullptr);
  EXPECT_EQ(x, (std::vector<float>{10, 11, 12}));
}

TEST(DataInMemory, ATransformBelongsToOneView) {
  auto const data = four_samples();
  auto scaled = data.subset(0, 4);
  scaled.set_transform(loom::data::FeatureTransform(-2, 2)); // (x + 2) / 2
  EXPECT_EQ(scaled.sample(3), (std::vector<float>{16, 16.5f, 17}));
  EXPECT_EQ(data.sample(3), (std::vector<float>{30, 31, 32})); // the parent keeps its own
  EXPECT_EQ(scaled.subset(3, 1).sample(0), scaled.sample(3));  // a subset starts with it
  EXPECT_EQ(scaled.stored_features<float>().data(), data.stored_features<float>().data());

  scaled.set_transform(loom::data::FeatureTransform({0, 11, 0}, {1, 1, -1}));
  EXPECT_EQ(scaled.sample(1), (std::vector<float>{10, 0, -12}));
  LOOM_EXPECT_CONTAINS(error_message([&] {
                         scaled.set_transform(loom::data::FeatureTransform({0, 0}, {1, 1}));
                       }),
                       "loom::data::InMemoryDataset::set_transform: 'four.csv[0:4]' has 3 "
                       "features per sample but the per-feature transform has 2");
}

TEST(DataInMemory, ByteFeatures) {
  // 3 samples of 2 bytes; gathered as 0 … 255 until a transform says otherwise.
  std::vector<std::uint8_t> pixels{0, 1, 128, 200, 254, 255};
  auto const* const bytes = pixels.data();
  InMemoryDataset<std::int32_t> data(std::move(pixels), 2, {0, 1, 2}, 1, "pixels");
  EXPECT_TRUE(data.stores<std::uint8_t>());
  EXPECT_FALSE(data.stores<float>());
  EXPECT_EQ(data.stored_features<std::uint8_t>().data(), bytes); // taken over, not copied
  EXPECT_EQ(data.size(), 3u);
  EXPECT_EQ(data.sample(1), (std::vector<float>{128, 200}));
  LOOM_EXPECT_CONTAINS(error_message([&] { (void)data.stored_features<float>(); }),
                       "loom::data::InMemoryDataset::stored_features: 'pixels' stores its "
                       "features as std::uint8_t, not as float");
  LOOM_EXPECT_CONTAINS(error_message([] { (void)four_samples().stored_features<std::uint8_t>(); }),
                       "'four.csv' stores its features as float, not as std::uint8_t");

  data.set_transform(loom::data::FeatureTransform(0.5, 0.5)); // 2x - 1
  std::vector<std::size_t> const idx{2, 0};
  std::vector<float> x(4);
  std::vector<std::int32_t> y(2);
  data.gather(idx, x.data(), y.data());
  EXPECT_EQ(x, (std::vector<float>{507, 509, -1, 1}));
  EXPECT_EQ(y, (std::vector<std::int32_t>{2, 0}));
  EXPECT_EQ(data.subset(2, 1).stored_features<std::uint8_t>().data(), bytes + 4);
}

TEST(DataInMemory, BytesScaledBy255AreExactlyTheFloatQuotient) {
  // Every byte value through (p - 0) / 255, rounded once to float, is p / 255.0f bit for bit:
  // what the float division of the conversion to float features gave.
  std::vector<std::uint8_t> all(256);
  for (std::size_t p = 0; p < 256; ++p) {
    all[p] = static_cast<std::uint8_t>(p);
  }
  InMemoryDataset<std::int32_t> data(std::move(all), 256, {0}, 1, "bytes");
  data.set_transform(loom::data::FeatureTransform(0.0, 255.0));
  auto const x = data.sample(0);
  for (std::size_t p = 0; p < 256; ++p) {
    EXPECT_EQ(x[p], static_cast<float>(p) / 255.0f) << "byte " << p;
  }
  std::vector<std::size_t> const idx{0};
  std::vector<double> wide(256);
  data.gather(idx, wide.data(), nullptr);
  for (std::size_t p = 0; p < 256; ++p) {
    EXPECT_EQ(wide[p], double{x[p]}) << "byte " << p; // double rows hold the same values
  }
}

TEST(DataInMemory, ConstructorChecksSizes) {
  LOOM_EXPECT_CONTAINS(error_message([] {
                         InMemoryDataset<>({1, 2, 3, 4, 5}, 2, {0, 1}, 1, "odd.bin");
                       }),
                       "loom::data::InMemoryDataset: 'odd.bin': 5 feature values are not a whole "
                       "number of samples of 2 features each");
  LOOM_EXPECT_CONTAINS(error_message([] {
                         InMemoryDataset<>({1, 2, 3, 4}, 2, {0, 1, 1}, 1, "t.bin");
                       }),
                       "'t.bin': the features hold 2 samples (4 values / 2 features) but there "
                       "are 3 target values; expected 2 (1 per sample)");
  LOOM_EXPECT_CONTAINS(error_message([] {
                         InMemoryDataset<float>({1, 2}, 1, {0, 1}, 2, "r.bin");
                       }),
                       "but there are 2 target values; expected 4 (2 per sample)");
  LOOM_EXPECT_CONTAINS(error_message([] {
                         InMemoryDataset<>({1, 2}, 0, {0, 1}, 1, "z.bin");
                       }),
                       "'z.bin': sample_size is 0");
  LOOM_EXPECT_CONTAINS(error_message([] {
                         InMemoryDataset<>({1, 2}, 1, {0, 1}, 0, "z.bin");
                       }),
                       "'z.bin': target_size is 0");
  LOOM_EXPECT_CONTAINS(error_message([] {
                         InMemoryDataset<>({1, 2, 3}, 1, {0, -1, 2}, 1, "neg.bin");
                       }),
                       "'neg.bin': label -1 of sample 1 is negative");
}

} // namespace
