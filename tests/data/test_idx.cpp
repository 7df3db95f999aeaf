#include <loom/data/idx.hpp>

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "data_test_files.hpp"

namespace {

using loom::test::Bytes;
using loom::test::error_message;
using loom::test::TempDir;

// 5 images of 3 × 4 pixels: pixel p of image i is 50i + p (so image 4 holds 200 … 211, and
// 255 is not reached; the scaling test writes its own).
Bytes five_images() {
  return loom::test::idx_images(
      5, 3, 4, [](std::size_t i, std::size_t p) { return static_cast<std::uint8_t>(50 * i + p); });
}
Bytes five_labels() {
  return loom::test::idx_labels({3, 1, 4, 1, 5});
}

void check_five_images(loom::data::IdxImages const& images, std::string const& path) {
  EXPECT_EQ(images.source, path);
  EXPECT_EQ(images.count, 5u);
  EXPECT_EQ(images.rows, 3u);
  EXPECT_EQ(images.cols, 4u);
  EXPECT_EQ(images.image_size(), 12u);
  ASSERT_EQ(images.pixels.size(), 60u);
  EXPECT_EQ(images.pixels[0], 0);
  EXPECT_EQ(images.pixels[13], 51);
  EXPECT_EQ(images.pixels[59], 211);
}

TEST(DataIdx, ReadsPlainAndGzipImagesAndLabels) {
  TempDir dir;
  loom::test::write_bytes(dir.file("images"), five_images());
  loom::test::write_gzip(dir.file("images.gz"), five_images());
  loom::test::write_bytes(dir.file("labels"), five_labels());
  loom::test::write_gzip(dir.file("labels.gz"), five_labels());

  check_five_images(loom::data::read_idx_images(dir.file("images")), dir.file("images"));
  check_five_images(loom::data::read_idx_images(dir.file("images.gz")), dir.file("images.gz"));
  for (std::string name : {"labels", "labels.gz"}) {
    auto const labels = loom::data::read_idx_labels(dir.file(name));
    EXPECT_EQ(labels.source, dir.file(name));
    EXPECT_EQ(labels.count(), 5u);
    EXPECT_EQ(labels.labels, (std::vector<std::uint8_t>{3, 1, 4, 1, 5}));
  }
}

TEST(DataIdx, GzipNamedWithoutGzIsDetectedByItsMagicBytes) {
  TempDir dir;
  loom::test::write_gzip(dir.file("images.idx"), five_images()); // compressed, no .gz
  check_five_images(loom::data::read_idx_images(dir.file("images.idx")), dir.file("images.idx"));
}

TEST(DataIdx, LoadIdxScalesPixelsAndKeepsLabels) {
  TempDir dir;
  auto const images = loom::test::idx_images(3, 2, 2, [](std::size_t i, std::size_t p) {
    return static_cast<std::uint8_t>(i == 2 ? 255 : 10 * i + p);
  });
  loom::test::write_gzip(dir.file("img.gz"), images);
  loom::test::write_bytes(dir.file("lbl"), loom::test::idx_labels({7, 0, 9}));

  auto const data = loom::data::load_idx(dir.file("img.gz"), dir.file("lbl"));
  EXPECT_EQ(data.size(), 3u);
  EXPECT_EQ(data.sample_size(), 4u);
  EXPECT_EQ(data.target_size(), 1u);
  EXPECT_EQ(data.source(), dir.file("img.gz") + " + " + dir.file("lbl"));
  EXPECT_EQ(data.sample(0)[0], 0.0f);
  EXPECT_EQ(data.sample(1)[3], 13.0f / 255.0f);
  for (float pixel : data.sample(2)) {
    EXPECT_EQ(pixel, 1.0f); // 255 scales to exactly 1
  }
  EXPECT_EQ(data.target(0)[0], 7);
  EXPECT_EQ(data.target(2)[0], 9);
  EXPECT_EQ(data.num_classes(), 10u);

  auto const raw = loom::data::load_idx(dir.file("img.gz"), dir.file("lbl"), {.scale = false});
  EXPECT_EQ(raw.sample(1)[3], 13.0f);
  EXPECT_EQ(raw.sample(2)[0], 255.0f);

  auto const checked =
      loom::data::load_idx(dir.file("img.gz"), dir.file("lbl"), {.num_classes = 10});
  EXPECT_EQ(checked.size(), 3u);
}

TEST(DataIdx, LoadIdxKeepsPixelsAsBytes) {
  TempDir dir;
  loom::test::write_gzip(dir.file("img.gz"), five_images());
  loom::test::write_bytes(dir.file("lbl"), five_labels());
  auto const data = loom::data::load_idx(dir.file("img.gz"), dir.file("lbl"));
  ASSERT_TRUE(data.stores<std::uint8_t>());
  auto const pixels = data.stored_features<std::uint8_t>();
  ASSERT_EQ(pixels.size(), 60u);
  EXPECT_EQ(pixels[13], 51);
  EXPECT_EQ(pixels[59], 211);
  EXPECT_EQ(data.transform().scale()[0], 255.0);
  EXPECT_EQ(data.transform().center()[0], 0.0);
  EXPECT_EQ(data.sample(4)[11], 211.0f / 255.0f);
  auto const raw = loom::data::load_idx(dir.file("img.gz"), dir.file("lbl"), {.scale = false});
  EXPECT_TRUE(raw.transform().is_identity());
  EXPECT_EQ(raw.sample(4)[11], 211.0f);
}

TEST(DataIdx, GzipWhoseTrailerDoesNotGiveTheSizeIsReadInPieces) {
  // Two gzip members one after the other (as `cat a.gz b.gz` makes): the trailer at the end
  // gives only the second member's size, so the reader cannot allocate from it.
  TempDir dir;
  Bytes const whole = five_images();
  Bytes const head(whole.begin(), whole.begin() + 20);
  Bytes const tail(whole.begin() + 20, whole.end());
  loom::test::write_gzip(dir.file("a.gz"), head);
  loom::test::write_gzip(dir.file("b.gz"), tail);
  Bytes joined = loom::test::read_bytes(dir.file("a.gz"));
  Bytes const second = loom::test::read_bytes(dir.file("b.gz"));
  joined.insert(joined.end(), second.begin(), second.end());
  loom::test::write_bytes(dir.file("joined.gz"), joined);
  check_five_images(loom::data::read_idx_images(dir.file("joined.gz")), dir.file("joined.gz"));
}

TEST(DataIdx, EmptyIdxFilesGiveAnEmptyDataset) {
  TempDir dir;
  loom::test::write_bytes(dir.file("img"), loom::test::idx_images(0, 28, 28, {}));
  loom::test::write_bytes(dir.file("lbl"), loom::test::idx_labels({}));
  auto const data = loom::data::load_idx(dir.file("img"), dir.file("lbl"));
  EXPECT_EQ(data.size(), 0u);
  EXPECT_EQ(data.sample_size(), 784u);
}

// ---- bad input: every message names the file and says what is wrong ----

TEST(DataIdx, MissingFile) {
  TempDir dir;
  std::string const path = dir.file("nope-images.gz");
  LOOM_EXPECT_CONTAINS(error_message([&] { loom::data::read_idx_images(path); }),
                       "loom::data::read_idx_images: cannot open '" + path + "': no such file");
  LOOM_EXPECT_CONTAINS(error_message([&] { loom::data::read_idx_labels(path); }),
                       "loom::data::read_idx_labels: cannot open '" + path + "': no such file");
  loom::test::write_bytes(dir.file("lbl"), five_labels());
  LOOM_EXPECT_CONTAINS(error_message([&] { loom::data::load_idx(path, dir.file("lbl")); }),
                       "loom::data::load_idx: cannot open '" + path + "': no such file");
  LOOM_EXPECT_CONTAINS(error_message([&] { loom::data::read_idx_images(dir.path()); }),
                       "cannot read '" + dir.path() + "': it is a directory, not a file");
}

TEST(DataIdx, EmptyFile) {
  TempDir dir;
  loom::test::write_bytes(dir.file("empty"), {});
  LOOM_EXPECT_CONTAINS(error_message([&] { loom::data::read_idx_images(dir.file("empty")); }),
                       "'" + dir.file("empty") + "' is empty; expected an IDX image file");
  loom::test::write_gzip(dir.file("empty.gz"), {});
  LOOM_EXPECT_CONTAINS(error_message([&] { loom::data::read_idx_labels(dir.file("empty.gz")); }),
                       "'" + dir.file("empty.gz") + "' is empty; expected an IDX label file");
}

TEST(DataIdx, WrongMagicNumber) {
  TempDir dir;
  loom::test::write_gzip(dir.file("labels.gz"), five_labels());
  loom::test::write_bytes(dir.file("images"), five_images());
  LOOM_EXPECT_CONTAINS(
      error_message([&] { loom::data::read_idx_images(dir.file("labels.gz")); }),
      "loom::data::read_idx_images: '" + dir.file("labels.gz") +
          "' is not an IDX image file: its magic number is 0x00000801 (unsigned bytes, 1 "
          "dimension: an IDX label file), expected 0x00000803 (unsigned bytes, 3 dimensions: an "
          "IDX image file); are the image and label files swapped?");
  LOOM_EXPECT_CONTAINS(error_message([&] { loom::data::read_idx_labels(dir.file("images")); }),
                       "'" + dir.file("images") +
                           "' is not an IDX label file: its magic number is 0x00000803");
  // Swapped arguments of load_idx.
  LOOM_EXPECT_CONTAINS(
      error_message([&] { loom::data::load_idx(dir.file("labels.gz"), dir.file("images")); }),
      "loom::data::load_idx: '" + dir.file("labels.gz") + "' is not an IDX image file");

  loom::test::write_text(dir.file("notes.txt"), "hello, this is not IDX data\n");
  LOOM_EXPECT_CONTAINS(error_message([&] { loom::data::read_idx_images(dir.file("notes.txt")); }),
                       "its magic number is 0x68656c6c (not an IDX file: IDX magic numbers start "
                       "with two zero bytes), expected 0x00000803");

  Bytes floats = five_images();
  floats[2] = 0x0d; // 32-bit floats
  loom::test::write_bytes(dir.file("floats"), floats);
  LOOM_EXPECT_CONTAINS(error_message([&] { loom::data::read_idx_images(dir.file("floats")); }),
                       "its magic number is 0x00000d03 (32-bit floats, 3 dimensions)");

  // A gzip file compressed twice.
  loom::test::write_gzip(dir.file("twice.gz"), loom::test::read_bytes(dir.file("labels.gz")));
  LOOM_EXPECT_CONTAINS(error_message([&] { loom::data::read_idx_labels(dir.file("twice.gz")); }),
                       "a gzip header inside the data: a file compressed twice?");
}

TEST(DataIdx, TruncatedHeader) {
  TempDir dir;
  Bytes const images = five_images();
  loom::test::write_bytes(dir.file("short"), Bytes(images.begin(), images.begin() + 10));
  LOOM_EXPECT_CONTAINS(error_message([&] { loom::data::read_idx_images(dir.file("short")); }),
                       "'" + dir.file("short") +
                           "' is truncated: the file ends after 10 bytes, inside the 16-byte "
                           "header of an IDX image file");
  loom::test::write_bytes(dir.file("tiny"), Bytes{0, 0});
  LOOM_EXPECT_CONTAINS(error_message([&] { loom::data::read_idx_labels(dir.file("tiny")); }),
                       "'" + dir.file("tiny") +
                           "' is truncated: the file ends after 2 bytes, "
                           "inside the 8-byte header of an IDX label file");
}

TEST(DataIdx, TruncatedPlainFile) {
  TempDir dir;
  Bytes images = five_images();
  images.resize(images.size() - 7);
  loom::test::write_bytes(dir.file("images"), images);
  LOOM_EXPECT_CONTAINS(
      error_message([&] { loom::data::read_idx_images(dir.file("images")); }),
      "loom::data::read_idx_images: '" + dir.file("images") +
          "' is truncated: the header says 5 images of 3 x 4 pixels (60 bytes after the 16-byte "
          "header) but the file ends after 53 of them");

  Bytes labels = five_labels();
  labels.pop_back();
  loom::test::write_bytes(dir.file("labels"), labels);
  LOOM_EXPECT_CONTAINS(error_message([&] { loom::data::read_idx_labels(dir.file("labels")); }),
                       "'" + dir.file("labels") +
                           "' is truncated: the header says 5 labels (5 bytes after the 8-byte "
                           "header) but the file ends after 4 of them");
}

TEST(DataIdx, TruncatedDataInsideACompleteGzipStream) {
  TempDir dir;
  Bytes images = five_images();
  images.resize(40);
  loom::test::write_gzip(dir.file("images.gz"), images);
  LOOM_EXPECT_CONTAINS(error_message([&] { loom::data::read_idx_images(dir.file("images.gz")); }),
                       "'" + dir.file("images.gz") +
                           "' is truncated: the header says 5 images of 3 x 4 pixels (60 bytes "
                           "after the 16-byte header) but the data ends after 24 of them");
}

TEST(DataIdx, TruncatedGzipStream) {
  TempDir dir;
  // Pixels that do not compress, so that cutting the file cuts the data.
  std::uint32_t state = 12345;
  auto const noisy = loom::test::idx_images(50, 28, 28, [&](std::size_t, std::size_t) {
    state = state * 1664525u + 1013904223u;
    return static_cast<std::uint8_t>(state >> 24);
  });
  loom::test::write_gzip(dir.file("full.gz"), noisy);
  Bytes const compressed = loom::test::read_bytes(dir.file("full.gz"));
  ASSERT_GT(compressed.size(), 20000u);

  loom::test::write_bytes(dir.file("cut.gz"),
                          Bytes(compressed.begin(), compressed.begin() + 20000));
  std::string const message =
      error_message([&] { loom::data::read_idx_images(dir.file("cut.gz")); });
  LOOM_EXPECT_CONTAINS(message, "loom::data::read_idx_images: '" + dir.file("cut.gz") +
                                    "' is truncated: the header says 50 images of 28 x 28 pixels "
                                    "(39200 bytes after the 16-byte header) but the gzip stream "
                                    "is cut off after ");
  LOOM_EXPECT_CONTAINS(message, "; download or copy the file again");

  // Cut inside the 8-byte gzip trailer: all the data is there, the stream is not complete.
  loom::test::write_bytes(dir.file("trailer.gz"), Bytes(compressed.begin(), compressed.end() - 3));
  LOOM_EXPECT_CONTAINS(error_message([&] { loom::data::read_idx_images(dir.file("trailer.gz")); }),
                       "'" + dir.file("trailer.gz") +
                           "' is truncated: the gzip stream is cut off "
                           "in its trailer (after all 39200 bytes of data)");

  // Cut inside the gzip header.
  loom::test::write_bytes(dir.file("head.gz"), Bytes(compressed.begin(), compressed.begin() + 5));
  LOOM_EXPECT_CONTAINS(error_message([&] { loom::data::read_idx_images(dir.file("head.gz")); }),
                       "'" + dir.file("head.gz") +
                           "' is cut off: the gzip stream ends before "
                           "any data");
}

TEST(DataIdx, CorruptGzipData) {
  TempDir dir;
  loom::test::write_gzip(dir.file("labels.gz"), five_labels());
  Bytes compressed = loom::test::read_bytes(dir.file("labels.gz"));
  compressed[compressed.size() - 6] ^= 0xff; // inside the CRC-32 of the trailer
  loom::test::write_bytes(dir.file("crc.gz"), compressed);
  LOOM_EXPECT_CONTAINS(error_message([&] { loom::data::read_idx_labels(dir.file("crc.gz")); }),
                       "loom::data::read_idx_labels: '" + dir.file("crc.gz") +
                           "' is not a valid gzip file: its compressed data is corrupt (zlib: "
                           "incorrect data check); download or copy it again");

  Bytes garbage = loom::test::read_bytes(dir.file("labels.gz"));
  for (std::size_t i = 10; i < garbage.size(); ++i) {
    garbage[i] = 0xff;
  }
  loom::test::write_bytes(dir.file("garbage.gz"), garbage);
  LOOM_EXPECT_CONTAINS(error_message([&] { loom::data::read_idx_labels(dir.file("garbage.gz")); }),
                       "'" + dir.file("garbage.gz") + "' is not a valid gzip file");
}

TEST(DataIdx, MoreDataThanTheHeaderSays) {
  TempDir dir;
  Bytes labels = five_labels();
  labels.push_back(2);
  loom::test::write_gzip(dir.file("labels.gz"), labels);
  LOOM_EXPECT_CONTAINS(error_message([&] { loom::data::read_idx_labels(dir.file("labels.gz")); }),
                       "'" + dir.file("labels.gz") +
                           "' holds more data than its header says: 5 labels are 5 bytes after "
                           "the 8-byte header, but more bytes follow");
}

TEST(DataIdx, ImpossibleHeaderSizes) {
  TempDir dir;
  Bytes huge;
  loom::test::append_u32(huge, 0x00000803);
  loom::test::append_u32(huge, 0xffffffff);
  loom::test::append_u32(huge, 0xffffffff);
  loom::test::append_u32(huge, 0xffffffff);
  loom::test::write_bytes(dir.file("huge"), huge);
  LOOM_EXPECT_CONTAINS(error_message([&] { loom::data::read_idx_images(dir.file("huge")); }),
                       "'" + dir.file("huge") +
                           "': the header says 4294967295 images of "
                           "4294967295 x 4294967295 pixels, which is too large to be real");

  // Plausible-looking but absent data: fails as truncated without allocating 4 GB.
  Bytes big;
  loom::test::append_u32(big, 0x00000803);
  loom::test::append_u32(big, 1000000);
  loom::test::append_u32(big, 64);
  loom::test::append_u32(big, 64);
  big.resize(big.size() + 100);
  loom::test::write_gzip(dir.file("big.gz"), big);
  LOOM_EXPECT_CONTAINS(error_message([&] { loom::data::read_idx_images(dir.file("big.gz")); }),
                       "the header says 1000000 images of 64 x 64 pixels (4096000000 bytes after "
                       "the 16-byte header) but the data ends after 100 of them");

  Bytes zero;
  loom::test::append_u32(zero, 0x00000803);
  loom::test::append_u32(zero, 3);
  loom::test::append_u32(zero, 0);
  loom::test::append_u32(zero, 28);
  loom::test::write_bytes(dir.file("zero"), zero);
  LOOM_EXPECT_CONTAINS(error_message([&] { loom::data::read_idx_images(dir.file("zero")); }),
                       "'" + dir.file("zero") +
                           "': the header says images of 0 x 28 pixels; "
                           "both sizes must be at least 1");
}

TEST(DataIdx, CountMismatchNamesBothFilesAndCounts) {
  TempDir dir;
  loom::test::write_gzip(dir.file("train-images.gz"), five_images());
  loom::test::write_gzip(dir.file("t10k-labels.gz"), loom::test::idx_labels({1, 2, 3}));
  LOOM_EXPECT_CONTAINS(error_message([&] {
                         loom::data::load_idx(dir.file("train-images.gz"),
                                              dir.file("t10k-labels.gz"));
                       }),
                       "loom::data::load_idx: the image file '" + dir.file("train-images.gz") +
                           "' holds 5 images but the label file '" + dir.file("t10k-labels.gz") +
                           "' holds 3 labels; the two files must describe the same samples");
}

TEST(DataIdx, LabelOutOfRange) {
  TempDir dir;
  loom::test::write_gzip(dir.file("images.gz"), five_images());
  loom::test::write_gzip(dir.file("labels.gz"), loom::test::idx_labels({3, 1, 4, 10, 5}));
  LOOM_EXPECT_CONTAINS(error_message([&] {
                         loom::data::load_idx(dir.file("images.gz"), dir.file("labels.gz"),
                                              {.num_classes = 10});
                       }),
                       "loom::data::load_idx: '" + dir.file("labels.gz") +
                           "': label 10 of sample 3 is out of range; labels must lie in [0, 10)");
  // Without a class count nothing is checked.
  EXPECT_EQ(loom::data::load_idx(dir.file("images.gz"), dir.file("labels.gz")).num_classes(), 11u);
}

} // namespace
