#pragma once

#include <loom/core/error.hpp>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <zlib.h>

namespace loom::data::detail {

/// A file read through zlib: gzip-compressed or plain, told apart by the gzip magic bytes
/// 1f 8b (zlib's gzread reads plain files unchanged). Every failure throws loom::Error with a
/// message that starts with the caller and names the file.
class CompressedFile {
public:
  CompressedFile(std::string path, std::string_view caller)
      : path_(std::move(path))
      , caller_(caller) {
    std::error_code ec;
    auto const status = std::filesystem::status(path_, ec);
    if (ec && ec != std::errc::no_such_file_or_directory) {
      loom::detail::fail(caller_, ": cannot open '", path_, "': ", ec.message());
    }
    if (!std::filesystem::exists(status)) {
      loom::detail::fail(caller_, ": cannot open '", path_, "': no such file");
    }
    if (std::filesystem::is_directory(status)) {
      loom::detail::fail(caller_, ": cannot read '", path_, "': it is a directory, not a file");
    }
    // Read the first two bytes ourselves to tell gzip from plain (for messages only).
    std::FILE* const probe = std::fopen(path_.c_str(), "rb");
    if (probe == nullptr) {
      loom::detail::fail(caller_, ": cannot open '", path_, "': ", std::strerror(errno));
    }
    unsigned char magic[2] = {0, 0};
    std::size_t const got = std::fread(magic, 1, 2, probe);
    gzip_ = got == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    // The size the file says its data has: a plain file's size; for gzip, the trailer's
    // ISIZE, the uncompressed size modulo 2^32 (little-endian, the last 4 bytes).
    if (std::fseek(probe, 0, SEEK_END) == 0) {
      long const bytes = std::ftell(probe);
      unsigned char trailer[4] = {0, 0, 0, 0};
      if (!gzip_ && bytes >= 0) {
        stated_size_ = static_cast<std::uint64_t>(bytes);
        has_stated_size_ = true;
      } else if (bytes >= 18 && std::fseek(probe, -4, SEEK_END) == 0 &&
                 std::fread(trailer, 1, 4, probe) == 4) { // 18: the smallest gzip file
        stated_size_ = std::uint64_t{trailer[0]} | (std::uint64_t{trailer[1]} << 8) |
                       (std::uint64_t{trailer[2]} << 16) | (std::uint64_t{trailer[3]} << 24);
        has_stated_size_ = true;
      }
    }
    std::fclose(probe);

    errno = 0;
    file_ = gzopen(path_.c_str(), "rb");
    if (file_ == nullptr) {
      loom::detail::fail(caller_, ": cannot open '", path_, "': ",
                         errno != 0 ? std::strerror(errno) : "zlib could not allocate its state");
    }
    gzbuffer(file_, 1U << 17); // larger reads than zlib's default 8 KiB
  }

  CompressedFile(CompressedFile const&) = delete;
  CompressedFile& operator=(CompressedFile const&) = delete;
  ~CompressedFile() {
    if (file_ != nullptr) {
      gzclose_r(file_);
    }
  }

  /// Reads up to n bytes into buffer and returns how many were read: fewer than n only at the
  /// end of the data (then truncated_stream() says whether a gzip stream was cut off).
  /// Throws on corrupt compressed data and on read errors.
  std::size_t read(void* buffer, std::size_t n) {
    auto* out = static_cast<unsigned char*>(buffer);
    std::size_t total = 0;
    while (total < n && !at_end_) {
      auto const chunk = static_cast<unsigned>(std::min<std::size_t>(n - total, 1U << 30));
      int const got = gzread(file_, out + total, chunk);
      int errnum = Z_OK;
      char const* const message = gzerror(file_, &errnum);
      if (got < 0 || (errnum != Z_OK && errnum != Z_BUF_ERROR)) {
        if (errnum == Z_ERRNO) {
          loom::detail::fail(caller_, ": error reading '", path_, "': ", std::strerror(errno));
        }
        // gzerror prefixes its message with the path; keep only zlib's reason.
        std::string_view reason = message != nullptr ? message : "unknown error";
        if (reason.starts_with(path_ + ": ")) {
          reason.remove_prefix(path_.size() + 2);
        }
        loom::detail::fail(caller_, ": '", path_,
                           "' is not a valid gzip file: its compressed data is corrupt (zlib: ",
                           reason, "); download or copy it again");
      }
      total += static_cast<std::size_t>(got);
      if (static_cast<unsigned>(got) < chunk) {
        at_end_ = true;
        truncated_ = errnum == Z_BUF_ERROR;
      }
    }
    bytes_read_ += total;
    return total;
  }

  /// Whether the file says that its (uncompressed) data is `total` bytes long: a plain file of
  /// that size, or a gzip file whose trailer gives that size modulo 2^32. A hint for
  /// allocating once; a damaged file may say so and still end early.
  bool states_size(std::uint64_t total) const {
    return has_stated_size_ &&
           (gzip_ ? (total & 0xffffffffULL) == stated_size_ : total == stated_size_);
  }

  /// Whether the file is gzip-compressed.
  bool gzip() const { return gzip_; }
  /// Whether the end of the data came from a gzip stream that was cut off (not a clean end).
  bool truncated_stream() const { return truncated_; }
  /// Uncompressed bytes read so far.
  std::size_t bytes_read() const { return bytes_read_; }
  std::string const& path() const { return path_; }
  std::string const& caller() const { return caller_; }

  /// "the file ends" or "the gzip stream is cut off", for truncation messages.
  std::string_view how_it_ends() const {
    return truncated_ ? "the gzip stream is cut off" : gzip_ ? "the data ends" : "the file ends";
  }

private:
  std::string path_;
  std::string caller_;
  gzFile file_ = nullptr;
  bool gzip_ = false;
  bool at_end_ = false;
  bool truncated_ = false;
  std::size_t bytes_read_ = 0;
  std::uint64_t stated_size_ = 0;
  bool has_stated_size_ = false;
};

} // namespace loom::data::detail
