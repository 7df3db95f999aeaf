#include <loom/data/fashion_mnist.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "data_test_files.hpp"

namespace {

using loom::test::error_message;
using loom::test::TempDir;

constexpr char const* debian_dir = "/usr/share/datasets/fashion-mnist";

// A stand-in for the real files: `count` 28 × 28 images, image i filled with i, label i % 10.
void write_fake_split(TempDir const& dir, std::string const& prefix, std::uint32_t count,
                      bool gzip = true, std::uint8_t bad_label = 0) {
  auto const images = loom::test::idx_images(
      count, 28, 28, [](std::size_t i, std::size_t) { return static_cast<std::uint8_t>(i); });
  loom::test::Bytes labels(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    labels[i] = static_cast<std::uint8_t>(i % 10);
  }
  if (bad_label != 0) {
    labels[count - 1] = bad_label;
  }
  if (gzip) {
    loom::test::write_gzip(dir.file(prefix + "-images-idx3-ubyte.gz"), images);
    loom::test::write_gzip(dir.file(prefix + "-labels-idx1-ubyte.gz"),
                           loom::test::idx_labels(labels));
  } else {
    loom::test::write_bytes(dir.file(prefix + "-images-idx3-ubyte"), images);
    loom::test::write_bytes(dir.file(prefix + "-labels-idx1-ubyte"),
                            loom::test::idx_labels(labels));
  }
}

TEST(DataFashionMnist, ClassNames) {
  constexpr auto names = loom::data::fashion_mnist_class_names();
  static_assert(names.size() == 10);
  EXPECT_EQ(names[0], "T-shirt/top");
  EXPECT_EQ(names[9], "Ankle boot");
}

TEST(DataFashionMnist, DefaultDirFollowsTheEnvironment) {
  char const* const saved = std::getenv("LOOM_FASHION_MNIST_DIR");
  std::string const restore = saved != nullptr ? saved : "";
  ::setenv("LOOM_FASHION_MNIST_DIR", "/somewhere/else", 1);
  EXPECT_EQ(loom::data::fashion_mnist_default_dir(), "/somewhere/else");
  ::setenv("LOOM_FASHION_MNIST_DIR", "", 1);
  EXPECT_EQ(loom::data::fashion_mnist_default_dir(), debian_dir);
  ::unsetenv("LOOM_FASHION_MNIST_DIR");
  EXPECT_EQ(loom::data::fashion_mnist_default_dir(), debian_dir);
  if (saved != nullptr) {
    ::setenv("LOOM_FASHION_MNIST_DIR", restore.c_str(), 1);
  }
}

TEST(DataFashionMnist, LoadsSplitsFromADirectory) {
  TempDir dir;
  write_fake_split(dir, "train", 30);
  write_fake_split(dir, "t10k", 20, /*gzip=*/false); // uncompressed copies are found too
  auto const train = loom::data::fashion_mnist("train", dir.path());
  EXPECT_EQ(train.size(), 30u);
  EXPECT_EQ(train.sample_size(), 784u);
  EXPECT_EQ(train.sample(7)[100], 7.0f / 255.0f);
  EXPECT_EQ(train.target(13)[0], 3);
  EXPECT_EQ(train.source(), dir.file("train-images-idx3-ubyte.gz") + " + " +
                                dir.file("train-labels-idx1-ubyte.gz"));
  auto const test = loom::data::fashion_mnist("test", dir.path());
  EXPECT_EQ(test.size(), 20u);
  EXPECT_EQ(test.source(),
            dir.file("t10k-images-idx3-ubyte") + " + " + dir.file("t10k-labels-idx1-ubyte"));
}

TEST(DataFashionMnist, DefaultDirectoryFromTheEnvironment) {
  TempDir dir;
  write_fake_split(dir, "t10k", 10);
  char const* const saved = std::getenv("LOOM_FASHION_MNIST_DIR");
  std::string const restore = saved != nullptr ? saved : "";
  ::setenv("LOOM_FASHION_MNIST_DIR", dir.path().c_str(), 1);
  auto const test = loom::data::fashion_mnist("test");
  EXPECT_EQ(test.size(), 10u);
  if (saved != nullptr) {
    ::setenv("LOOM_FASHION_MNIST_DIR", restore.c_str(), 1);
  } else {
    ::unsetenv("LOOM_FASHION_MNIST_DIR");
  }
}

TEST(DataFashionMnist, UnknownSplit) {
  LOOM_EXPECT_CONTAINS(error_message([] { loom::data::fashion_mnist("valid", "/tmp"); }),
                       "loom::data::fashion_mnist: unknown split 'valid'; use \"train\" or "
                       "\"test\"");
}

TEST(DataFashionMnist, MissingDirectorySaysHowToGetTheData) {
  TempDir dir;
  std::string const missing = dir.file("no-such-dir");
  auto const message = error_message([&] { loom::data::fashion_mnist("train", missing); });
  LOOM_EXPECT_CONTAINS(message, "loom::data::fashion_mnist: the Fashion-MNIST directory '" +
                                    missing + "' does not exist");
  LOOM_EXPECT_CONTAINS(message, "install the Debian package dataset-fashion-mnist");
  LOOM_EXPECT_CONTAINS(message, "or set LOOM_FASHION_MNIST_DIR");
}

TEST(DataFashionMnist, MissingFileSaysHowToGetTheData) {
  TempDir dir;
  write_fake_split(dir, "train", 10);
  auto const message = error_message([&] { loom::data::fashion_mnist("test", dir.path()); });
  LOOM_EXPECT_CONTAINS(message, "loom::data::fashion_mnist: '" +
                                    dir.file("t10k-images-idx3-ubyte.gz") + "' (or '" +
                                    dir.file("t10k-images-idx3-ubyte") + "') does not exist");
  LOOM_EXPECT_CONTAINS(message, "install the Debian package dataset-fashion-mnist");
  LOOM_EXPECT_CONTAINS(message, "LOOM_FASHION_MNIST_DIR");
}

TEST(DataFashionMnist, LabelsMustBeBelowTen) {
  TempDir dir;
  write_fake_split(dir, "train", 12, true, /*bad_label=*/10);
  LOOM_EXPECT_CONTAINS(error_message([&] { loom::data::fashion_mnist("train", dir.path()); }),
                       "'" + dir.file("train-labels-idx1-ubyte.gz") +
                           "': label 10 of sample 11 is out of range; labels must lie in [0, 10)");
}

TEST(DataFashionMnist, ImagesMustBe28By28) {
  TempDir dir;
  loom::test::write_gzip(dir.file("train-images-idx3-ubyte.gz"),
                         loom::test::idx_images(2, 32, 32, [](auto, auto) { return 0; }));
  loom::test::write_gzip(dir.file("train-labels-idx1-ubyte.gz"), loom::test::idx_labels({1, 2}));
  LOOM_EXPECT_CONTAINS(error_message([&] { loom::data::fashion_mnist("train", dir.path()); }),
                       "'" + dir.file("train-images-idx3-ubyte.gz") +
                           "' holds images of 1024 pixels; Fashion-MNIST images are 28 x 28");
}

TEST(DataFashionMnist, RealDataset) {
  if (!std::filesystem::exists(std::string(debian_dir) + "/train-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << debian_dir << " not present (Debian package dataset-fashion-mnist)";
  }
  for (auto const& [split, count] : {std::pair{"train", 60000u}, std::pair{"test", 10000u}}) {
    auto const data = loom::data::fashion_mnist(split, debian_dir);
    EXPECT_EQ(data.size(), count) << split;
    EXPECT_EQ(data.sample_size(), 784u);
    EXPECT_EQ(data.target_size(), 1u);
    EXPECT_EQ(data.num_classes(), 10u);
    std::vector<std::size_t> per_class(10, 0);
    for (std::int32_t label : data.targets()) {
      ASSERT_GE(label, 0);
      ASSERT_LT(label, 10);
      ++per_class[static_cast<std::size_t>(label)];
    }
    for (std::size_t c = 0; c < 10; ++c) {
      EXPECT_EQ(per_class[c], count / 10) << split << " class " << c; // balanced
    }
    // Pixels stay bytes (one per pixel, not a float copy) and are scaled into [0, 1] as
    // they are gathered.
    auto const pixels = data.stored_features<std::uint8_t>();
    ASSERT_EQ(pixels.size(), count * 784u);
    EXPECT_EQ(*std::min_element(pixels.begin(), pixels.end()), 0);
    EXPECT_EQ(*std::max_element(pixels.begin(), pixels.end()), 255);
    EXPECT_EQ(data.transform()(0, 0), 0.0f);
    EXPECT_EQ(data.transform()(255, 0), 1.0f);
    auto const first = data.sample(0);
    for (std::size_t p = 0; p < 784; ++p) {
      ASSERT_EQ(first[p], static_cast<float>(pixels[p]) / 255.0f) << split << " pixel " << p;
    }
    EXPECT_EQ(data.target(0)[0], 9) << split; // the first image of each split is an ankle boot
  }
}

} // namespace
