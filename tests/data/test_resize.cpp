#include <loom/data/in_memory.hpp>
#include <loom/data/resize.hpp>

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "data_test_files.hpp"

namespace {

using loom::data::InMemoryDataset;
using loom::test::error_message;

// Two 1 × 2 × 3 images: [[0, 1, 2], [3, 4, 5]] and ten times it.
InMemoryDataset<std::int32_t> images() {
  std::vector<float> x = {0, 1, 2, 3, 4, 5, 0, 10, 20, 30, 40, 50};
  return InMemoryDataset<std::int32_t>(std::move(x), 6, {1, 0}, 1, "images");
}

TEST(DataResize, BilinearAsPyTorch) {
  // F.interpolate(x, size=(3, 2), mode="bilinear", align_corners=False) of the first image.
  auto const data = loom::data::resized(images(), {1, 2, 3}, {3, 2});
  EXPECT_EQ(data.size(), 2u);
  EXPECT_EQ(data.sample_size(), 6u);
  EXPECT_EQ(data.source(), "images (resized to 3 × 2)");
  std::vector<std::size_t> const order = {1, 0};
  std::vector<float> x(12);
  std::vector<std::int32_t> y(2);
  data.gather(order, x.data(), y.data());
  std::vector<float> const first = {0.25f, 1.75f, 1.75f, 3.25f, 3.25f, 4.75f};
  for (std::size_t k = 0; k < 6; ++k) {
    EXPECT_FLOAT_EQ(x[6 + k], first[k]) << k;
    EXPECT_FLOAT_EQ(x[k], 10 * first[k]) << k;
  }
  EXPECT_EQ(y, (std::vector<std::int32_t>{0, 1}));
}

TEST(DataResize, UpsamplingKeepsCornersAndMeans) {
  // 2 × 2 → 4 × 4, PyTorch's values: the corners stay, rows blend by 1/4 and 3/4.
  std::vector<float> x = {0, 1, 2, 3};
  auto const data = loom::data::resized(
      InMemoryDataset<std::int32_t>(std::move(x), 4, {0}, 1, "square"), {1, 2, 2}, {4, 4});
  std::vector<float> out(16);
  std::int32_t label = 0;
  std::vector<std::size_t> const index = {0};
  data.gather(index, out.data(), &label);
  std::vector<float> const expected = {0,   0.25, 0.75, 1,   0.5, 0.75, 1.25, 1.5,
                                       1.5, 1.75, 2.25, 2.5, 2,   2.25, 2.75, 3};
  EXPECT_EQ(out, expected);
}

TEST(DataResize, ShapesThatDoNotFitAreRefused) {
  EXPECT_EQ(error_message([] {
              loom::data::resized(images(), {1, 28, 28}, {224, 224});
            }),
            "loom::data::resized: the samples of images have 6 values, not images of 1 × 28 × 28");
  EXPECT_EQ(error_message([] {
              loom::data::resized(images(), {1, 2, 3}, {0, 4});
            }),
            "loom::data::resized: the size of the images of images must be at least 1 × 1; got "
            "0 × 4");
}

} // namespace
