#pragma once

// The IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/), plain or
// gzip-compressed:
//
//   labels  magic 0x00000801  u32 count                      count bytes
//   images  magic 0x00000803  u32 count, u32 rows, u32 cols  count × rows × cols bytes
//
// All header fields are big-endian. The magic number is 0x0000TTDD: TT the element type
// (0x08 unsigned byte), DD the number of dimensions.

#include <loom/core/error.hpp>
#include <loom/data/detail/compressed_file.hpp>
#include <loom/data/feature_transform.hpp>
#include <loom/data/in_memory.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <iomanip>
#include <limits>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace loom::data {

/// \brief The images of an IDX image file (magic 0x00000803), one byte per pixel.
struct IdxImages {
  std::string source;               ///< the file they were read from
  std::size_t count = 0;            ///< number of images
  std::size_t rows = 0;             ///< pixel rows per image
  std::size_t cols = 0;             ///< pixel columns per image
  std::vector<std::uint8_t> pixels; ///< count × rows × cols, row-major

  /// \brief Pixels per image.
  std::size_t image_size() const { return rows * cols; }
};

/// \brief The labels of an IDX label file (magic 0x00000801).
struct IdxLabels {
  std::string source;               ///< the file they were read from
  std::vector<std::uint8_t> labels; ///< one per sample

  /// \brief Number of labels.
  std::size_t count() const { return labels.size(); }
};

/// \brief How load_idx turns IDX files into a dataset.
struct IdxOptions {
  bool scale = true;           ///< divide pixels by 255 (features in [0, 1]); false keeps 0…255
  std::size_t num_classes = 0; ///< when > 0, every label must lie in [0, num_classes)
};

namespace detail {

inline constexpr std::uint32_t idx_labels_magic = 0x00000801;
inline constexpr std::uint32_t idx_images_magic = 0x00000803;

inline std::string hex32(std::uint32_t value) {
  std::ostringstream out;
  out << "0x" << std::hex << std::setw(8) << std::setfill('0') << value;
  return out.str();
}

/// What a magic number says about a file, for the wrong-magic message.
inline std::string describe_idx_magic(std::uint32_t magic) {
  if ((magic >> 16) != 0) {
    if ((magic >> 16) == 0x1f8b) {
      return "a gzip header inside the data: a file compressed twice?";
    }
    return "not an IDX file: IDX magic numbers start with two zero bytes";
  }
  std::uint32_t const type = (magic >> 8) & 0xff;
  std::uint32_t const dims = magic & 0xff;
  std::string element;
  switch (type) {
  case 0x08:
    element = "unsigned bytes";
    break;
  case 0x09:
    element = "signed bytes";
    break;
  case 0x0b:
    element = "16-bit integers";
    break;
  case 0x0c:
    element = "32-bit integers";
    break;
  case 0x0d:
    element = "32-bit floats";
    break;
  case 0x0e:
    element = "64-bit floats";
    break;
  default:
    return loom::detail::concat("unknown IDX element type 0x", hex32(type).substr(8));
  }
  std::string text =
      loom::detail::concat(element, ", ", dims, dims == 1 ? " dimension" : " dimensions");
  if (magic == idx_labels_magic) {
    text += ": an IDX label file";
  } else if (magic == idx_images_magic) {
    text += ": an IDX image file";
  }
  return text;
}

/// Reads the magic number and the dimensions of an IDX file; checks the magic number.
/// `kind` is "image" or "label"; `expected` is the magic number that kind needs.
inline std::vector<std::size_t> read_idx_header(CompressedFile& file, std::uint32_t expected,
                                                std::string_view kind) {
  std::size_t const dims = expected & 0xff;
  std::size_t const header_bytes = 4 * (1 + dims);
  std::array<unsigned char, 4 * 4> header{};
  std::size_t const got = file.read(header.data(), header_bytes);
  auto const u32 = [&](std::size_t at) {
    return (std::uint32_t{header[at]} << 24) | (std::uint32_t{header[at + 1]} << 16) |
           (std::uint32_t{header[at + 2]} << 8) | std::uint32_t{header[at + 3]};
  };
  if (got == 0) {
    loom::detail::fail(file.caller(), ": '", file.path(), "' is ",
                       file.truncated_stream() ? "cut off: the gzip stream ends before any data"
                                               : "empty",
                       "; expected an IDX ", kind, " file");
  }
  if (got >= 4 && u32(0) != expected) {
    bool const swapped = (expected == idx_images_magic && u32(0) == idx_labels_magic) ||
                         (expected == idx_labels_magic && u32(0) == idx_images_magic);
    std::string const hint = swapped ? "; are the image and label files swapped?" : "";
    loom::detail::fail(file.caller(), ": '", file.path(), "' is not an IDX ", kind,
                       " file: its magic number is ", hex32(u32(0)), " (",
                       describe_idx_magic(u32(0)), "), expected ", hex32(expected), " (",
                       describe_idx_magic(expected), ")", hint);
  }
  if (got < header_bytes) {
    loom::detail::fail(file.caller(), ": '", file.path(), "' is truncated: ", file.how_it_ends(),
                       " after ", got, " bytes, inside the ", header_bytes,
                       "-byte header of an IDX ", kind, " file");
  }
  std::vector<std::size_t> sizes(dims);
  for (std::size_t d = 0; d < dims; ++d) {
    sizes[d] = u32(4 * (d + 1));
  }
  return sizes;
}

/// Reads exactly `bytes` bytes of data after the header and checks that nothing follows.
/// `what` says what the header promised ("60000 images of 28 x 28 pixels").
inline std::vector<std::uint8_t> read_idx_data(CompressedFile& file, std::size_t bytes,
                                               std::string const& what) {
  std::size_t const header_bytes = file.bytes_read();
  std::vector<std::uint8_t> data;
  // When the file's size (or gzip trailer) agrees with the header, allocate once and
  // decompress straight into place. Otherwise grow as the data arrives, so that a corrupt
  // header claiming terabytes fails with "truncated" instead of allocating them.
  constexpr std::size_t chunk = std::size_t{1} << 24;
  bool const stated = bytes <= std::numeric_limits<std::uint64_t>::max() - header_bytes &&
                      file.states_size(std::uint64_t{header_bytes} + bytes);
  data.reserve(stated ? bytes : std::min(bytes, chunk));
  while (data.size() < bytes) {
    std::size_t const have = data.size();
    std::size_t const want = stated ? bytes - have : std::min(bytes - have, chunk);
    data.resize(have + want);
    std::size_t const got = file.read(data.data() + have, want);
    if (got < want) {
      loom::detail::fail(file.caller(), ": '", file.path(), "' is truncated: the header says ",
                         what, " (", bytes, " bytes after the ", header_bytes, "-byte header) but ",
                         file.how_it_ends(), " after ", have + got, " of them",
                         file.truncated_stream() ? "; download or copy the file again" : "");
    }
  }
  unsigned char extra = 0;
  if (file.read(&extra, 1) != 0) {
    loom::detail::fail(file.caller(), ": '", file.path(),
                       "' holds more data than its header says: ", what, " are ", bytes,
                       " bytes after the ", header_bytes,
                       "-byte header, but more bytes follow; the header or the file is wrong");
  }
  if (file.truncated_stream()) { // the data is complete but the gzip trailer is cut off
    loom::detail::fail(file.caller(), ": '", file.path(), "' is truncated: ", file.how_it_ends(),
                       " in its trailer (after all ", bytes,
                       " bytes of data); download or copy the file again");
  }
  return data;
}

/// count × rows × cols, or a loom::Error when the header's sizes cannot be real.
inline std::size_t idx_image_bytes(CompressedFile const& file, std::vector<std::size_t> const& d) {
  if (d[1] == 0 || d[2] == 0) {
    loom::detail::fail(file.caller(), ": '", file.path(), "': the header says images of ", d[1],
                       " x ", d[2], " pixels; both sizes must be at least 1");
  }
  // Each size is at most 2^32 - 1: rows × cols fits in 64 bits; × count may not.
  std::size_t const image = d[1] * d[2];
  if (d[0] != 0 && image > std::numeric_limits<std::size_t>::max() / d[0]) {
    loom::detail::fail(file.caller(), ": '", file.path(), "': the header says ", d[0],
                       " images of ", d[1], " x ", d[2], " pixels, which is too large to be real");
  }
  return d[0] * image;
}

inline std::string describe_images(std::vector<std::size_t> const& d) {
  return loom::detail::concat(d[0], " images of ", d[1], " x ", d[2], " pixels");
}
inline std::string describe_labels(std::size_t count) {
  return loom::detail::concat(count, " labels");
}

inline IdxImages read_idx_images_from(CompressedFile& file, std::vector<std::size_t> const& d) {
  std::size_t const bytes = idx_image_bytes(file, d);
  IdxImages images;
  images.source = file.path();
  images.count = d[0];
  images.rows = d[1];
  images.cols = d[2];
  images.pixels = read_idx_data(file, bytes, describe_images(d));
  return images;
}

inline IdxLabels read_idx_labels_from(CompressedFile& file, std::vector<std::size_t> const& d) {
  IdxLabels labels;
  labels.source = file.path();
  labels.labels = read_idx_data(file, d[0], describe_labels(d[0]));
  return labels;
}

} // namespace detail

/// \brief Reads an IDX image file (magic 0x00000803), gzip-compressed or plain.
/// \param path the file, e.g. "train-images-idx3-ubyte.gz"
/// \throws loom::Error naming the file when it is missing, is not an IDX image file (the
///         message gives the magic number found and the one expected), is truncated (also a
///         cut-off gzip stream), is corrupt, or holds more data than its header says
inline IdxImages read_idx_images(std::string const& path) {
  detail::CompressedFile file(path, "loom::data::read_idx_images");
  auto const dims = detail::read_idx_header(file, detail::idx_images_magic, "image");
  return detail::read_idx_images_from(file, dims);
}

/// \brief Reads an IDX label file (magic 0x00000801), gzip-compressed or plain.
/// \param path the file, e.g. "train-labels-idx1-ubyte.gz"
/// \throws loom::Error naming the file, as read_idx_images does
inline IdxLabels read_idx_labels(std::string const& path) {
  detail::CompressedFile file(path, "loom::data::read_idx_labels");
  auto const dims = detail::read_idx_header(file, detail::idx_labels_magic, "label");
  return detail::read_idx_labels_from(file, dims);
}

/// \brief Reads an IDX image file and its label file into a dataset: one sample per image,
///        rows × cols features (pixels / 255 with options.scale), one std::int32_t label each.
///        The pixels stay bytes (decompressed straight into the dataset's storage, one byte
///        per pixel); the scaling is the dataset's transform, applied as batches are gathered.
///        The source() is "<images_path> + <labels_path>".
/// \param images_path the IDX image file (magic 0x00000803), gzip-compressed or plain
/// \param labels_path the IDX label file (magic 0x00000801), gzip-compressed or plain
/// \param options     scaling, and the number of classes to check labels against
/// \throws loom::Error as read_idx_images and read_idx_labels do, and when the two files
///         hold different numbers of samples (both files and counts are named; checked from
///         the headers before the pixels are read) or a label is ≥ options.num_classes (file,
///         sample index, label and allowed range are named)
inline InMemoryDataset<std::int32_t> load_idx(std::string const& images_path,
                                              std::string const& labels_path,
                                              IdxOptions const& options = {}) {
  char const* const caller = "loom::data::load_idx";
  detail::CompressedFile image_file(images_path, caller);
  detail::CompressedFile label_file(labels_path, caller);
  auto const image_dims = detail::read_idx_header(image_file, detail::idx_images_magic, "image");
  auto const label_dims = detail::read_idx_header(label_file, detail::idx_labels_magic, "label");
  if (image_dims[0] != label_dims[0]) {
    loom::detail::fail(caller, ": the image file '", images_path, "' holds ", image_dims[0],
                       " images but the label file '", labels_path, "' holds ", label_dims[0],
                       " labels; the two files must describe the same samples (train-* with "
                       "train-*, t10k-* with t10k-*)");
  }
  IdxLabels const labels = detail::read_idx_labels_from(label_file, label_dims);
  if (options.num_classes > 0) {
    for (std::size_t i = 0; i < labels.count(); ++i) {
      if (labels.labels[i] >= options.num_classes) {
        loom::detail::fail(caller, ": '", labels_path, "': label ", int{labels.labels[i]},
                           " of sample ", i, " is out of range; labels must lie in [0, ",
                           options.num_classes, ")");
      }
    }
  }
  IdxImages images = detail::read_idx_images_from(image_file, image_dims);

  std::vector<std::int32_t> targets(labels.labels.begin(), labels.labels.end());
  InMemoryDataset<std::int32_t> data(std::move(images.pixels), images.image_size(),
                                     std::move(targets), 1,
                                     loom::detail::concat(images_path, " + ", labels_path));
  if (options.scale) {
    data.set_transform(FeatureTransform(0.0, 255.0)); // (p - 0) / 255, exactly p / 255.0f
  }
  return data;
}

} // namespace loom::data
