#pragma once

// Helpers for the data tests: a temporary directory removed at the end of the test, and
// writers for plain and gzip-compressed files, IDX files among them.

#include <loom/core/error.hpp>

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <zlib.h>

/// EXPECT that the string `text` contains the string `part`.
#define LOOM_EXPECT_CONTAINS(text, part) EXPECT_PRED_FORMAT2(::loom::test::contains, text, part)

namespace loom::test {

/// A fresh directory under the system temporary directory, removed with its contents.
class TempDir {
public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "loom_data_XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("TempDir: mkdtemp failed");
    }
    path_ = pattern;
  }
  TempDir(TempDir const&) = delete;
  TempDir& operator=(TempDir const&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(std::string const& name) const { return (path_ / name).string(); }
  std::string path() const { return path_.string(); }

private:
  std::filesystem::path path_;
};

using Bytes = std::vector<std::uint8_t>;

inline void write_bytes(std::string const& path, Bytes const& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<char const*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    throw std::runtime_error("write_bytes: cannot write " + path);
  }
}

inline void write_text(std::string const& path, std::string const& text) {
  write_bytes(path, Bytes(text.begin(), text.end()));
}

inline Bytes read_bytes(std::string const& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void write_gzip(std::string const& path, Bytes const& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  if (file == nullptr) {
    throw std::runtime_error("write_gzip: cannot open " + path);
  }
  if (!bytes.empty() && gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())) !=
                            static_cast<int>(bytes.size())) {
    throw std::runtime_error("write_gzip: cannot write " + path);
  }
  gzclose(file);
}

inline void append_u32(Bytes& out, std::uint32_t value) {
  out.push_back(static_cast<std::uint8_t>(value >> 24));
  out.push_back(static_cast<std::uint8_t>(value >> 16));
  out.push_back(static_cast<std::uint8_t>(value >> 8));
  out.push_back(static_cast<std::uint8_t>(value));
}

/// An IDX image file's bytes: count images of rows × cols, pixel(i, p) for pixel p of image i.
inline Bytes idx_images(std::uint32_t count, std::uint32_t rows, std::uint32_t cols,
                        std::function<std::uint8_t(std::size_t, std::size_t)> const& pixel) {
  Bytes out;
  append_u32(out, 0x00000803);
  append_u32(out, count);
  append_u32(out, rows);
  append_u32(out, cols);
  for (std::size_t i = 0; i < count; ++i) {
    for (std::size_t p = 0; p < std::size_t{rows} * cols; ++p) {
      out.push_back(pixel(i, p));
    }
  }
  return out;
}

/// An IDX label file's bytes.
inline Bytes idx_labels(Bytes const& labels) {
  Bytes out;
  append_u32(out, 0x00000801);
  append_u32(out, static_cast<std::uint32_t>(labels.size()));
  out.insert(out.end(), labels.begin(), labels.end());
  return out;
}

/// Every sample of a dataset as gather() gives it: size() × sample_size() floats.
template <class Data>
std::vector<float> gathered(Data const& data) {
  std::vector<std::size_t> all(data.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    all[i] = i;
  }
  std::vector<float> x(data.size() * data.sample_size());
  data.gather(all, x.data(), nullptr);
  return x;
}

/// Whether `text` contains `part` (for EXPECT_PRED_FORMAT2: prints both when it does not).
inline ::testing::AssertionResult contains(char const* text_expr, char const* part_expr,
                                           std::string const& text, std::string const& part) {
  if (text.find(part) != std::string::npos) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << text_expr << " does not contain " << part_expr
                                       << "\n  text: " << text << "\n  part: " << part;
}

/// The loom::Error message thrown by f, or a test failure when f does not throw one.
template <class F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (loom::Error const& e) {
    return e.what();
  } catch (std::exception const& e) {
    ADD_FAILURE() << "threw a std::exception that is not a loom::Error: " << e.what();
    return {};
  }
  ADD_FAILURE() << "did not throw";
  return {};
}

} // namespace loom::test
