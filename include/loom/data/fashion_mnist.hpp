#pragma once

// Fashion-MNIST (Xiao, Rasul and Vollgraf 2017): 28 x 28 greyscale images of clothing in 10
// classes, 60000 for training and 10000 for testing, in the IDX format of MNIST. Debian ships
// it as the package dataset-fashion-mnist, in /usr/share/datasets/fashion-mnist.

#include <loom/core/environment.hpp>
#include <loom/core/error.hpp>
#include <loom/data/idx.hpp>
#include <loom/data/in_memory.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

namespace loom::data {

/// \brief Where fashion_mnist() looks by default: $LOOM_FASHION_MNIST_DIR when set and not
///        empty, else /usr/share/datasets/fashion-mnist (Debian package dataset-fashion-mnist).
inline std::string fashion_mnist_default_dir() {
  char const* const dir = std::getenv("LOOM_FASHION_MNIST_DIR");
  return dir != nullptr && *dir != '\0' ? std::string(dir)
                                        : std::string("/usr/share/datasets/fashion-mnist");
}

/// \brief The names of the 10 Fashion-MNIST classes, indexed by label.
inline constexpr std::array<std::string_view, 10> fashion_mnist_class_names() {
  return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
          "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
}

namespace detail {
/// dir/name.gz, else dir/name (an uncompressed copy), else an error that names both and says
/// how to get the data.
inline std::string fashion_mnist_file(std::string const& dir, std::string const& name) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path const compressed = fs::path(dir) / (name + ".gz");
  fs::path const plain = fs::path(dir) / name;
  if (fs::exists(compressed, ec)) {
    return compressed.string();
  }
  if (fs::exists(plain, ec)) {
    return plain.string();
  }
  loom::detail::fail("loom::data::fashion_mnist: '", compressed.string(), "' (or '", plain.string(),
                     "') does not exist; the directory should hold train-images-idx3-ubyte.gz, "
                     "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and "
                     "t10k-labels-idx1-ubyte.gz: install the Debian package "
                     "dataset-fashion-mnist or set LOOM_FASHION_MNIST_DIR to a directory that "
                     "holds them");
}
} // namespace detail

/// \brief Loads a split of Fashion-MNIST: 784 features per sample (pixels / 255, row-major
///        28 x 28), one std::int32_t label in [0, 10) (see fashion_mnist_class_names()).
/// \param split "train" (60000 samples) or "test" (10000 samples, the t10k-* files)
/// \param dir   the directory holding the four .gz files (uncompressed copies without .gz
///              are read too); default: fashion_mnist_default_dir()
/// \throws loom::Error for an unknown split, a missing directory or file (the message says to
///         install dataset-fashion-mnist or set LOOM_FASHION_MNIST_DIR), images that are not
///         28 x 28, labels ≥ 10, and every malformed file load_idx reports
inline InMemoryDataset<std::int32_t> fashion_mnist(std::string_view split,
                                                   std::string dir = fashion_mnist_default_dir()) {
  char const* const caller = "loom::data::fashion_mnist";
  if (split != "train" && split != "test") {
    loom::detail::fail(caller, ": unknown split '", split, "'; use \"train\" or \"test\"");
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    loom::detail::fail(caller, ": the Fashion-MNIST directory '", dir,
                       "' does not exist; install the Debian package dataset-fashion-mnist "
                       "(apt install dataset-fashion-mnist) or set LOOM_FASHION_MNIST_DIR to a "
                       "directory holding train-images-idx3-ubyte.gz, "
                       "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and "
                       "t10k-labels-idx1-ubyte.gz");
  }
  std::string const prefix = split == "train" ? "train" : "t10k";
  std::string const images = detail::fashion_mnist_file(dir, prefix + "-images-idx3-ubyte");
  std::string const labels = detail::fashion_mnist_file(dir, prefix + "-labels-idx1-ubyte");
  auto data = load_idx(images, labels, IdxOptions{.scale = true, .num_classes = 10});
  if (data.sample_size() != 28 * 28) {
    loom::detail::fail(caller, ": '", images, "' holds images of ", data.sample_size(),
                       " pixels; Fashion-MNIST images are 28 x 28 = 784 pixels");
  }
  return data;
}

/// \brief fashion_mnist() on every process of `env`: a file that is missing or damaged on any
///        process stops every process with that message.
inline InMemoryDataset<std::int32_t> fashion_mnist(Environment const& env, std::string_view split,
                                                   std::string dir = fashion_mnist_default_dir()) {
  return env.collectively([&] { return fashion_mnist(split, dir); });
}

} // namespace loom::data
