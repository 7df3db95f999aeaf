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
  EXPECT_EQ(data.features().size(), 12u);
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
  EXPECT_EQ(data.subset(0, 4).features().size(), 12u);

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

TEST(DataInMemory, FeaturesAreWritable) {
  auto data = four_samples();
  data.features()[0] = -1;
  EXPECT_EQ(data.sample(0)[0], -1.0f);
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
