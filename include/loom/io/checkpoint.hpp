#pragma once

/// \file
/// \brief loom's checkpoint file: a versioned container of named byte sections with a
///        checksum, written atomically and validated in full before anything is read.
///
/// File format, version 1 (all integers little-endian):
/// ```
///   offset  size  field
///   0       8     magic "LOOMCKPT"
///   8       4     u32 format version (1)
///   12      4     u32 section count N
///   16            N sections, each:
///                   u32 name length L (1 to 4096), L bytes of name (unique in the file),
///                   u64 payload length P, P bytes of payload
///   S       4     u32 CRC-32 (zlib crc32) of bytes [0, S)
///   S+4     8     end marker "LOOM_END"
/// ```
/// Every format version keeps the magic first and the 12-byte trailer (CRC-32 of all that
/// precedes it, then the end marker) last, so that a reader detects corruption, the version
/// field included, before it interprets the version.

#include <loom/core/error.hpp>
#include <loom/io/bytes.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <iomanip>
#include <map>
#include <memory>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

namespace loom::io {

/// \brief The checkpoint format version this loom writes, and the newest it reads.
inline constexpr std::uint32_t checkpoint_format_version = 1;

/// \brief The longest section name, in bytes; a longer one in a file means corruption.
inline constexpr std::size_t checkpoint_max_section_name_bytes = 4096;

namespace detail {

inline constexpr std::array<char, 8> checkpoint_magic = {'L', 'O', 'O', 'M', 'C', 'K', 'P', 'T'};
inline constexpr std::array<char, 8> checkpoint_end_marker = {'L', 'O', 'O', 'M',
                                                              '_', 'E', 'N', 'D'};
inline constexpr std::size_t checkpoint_header_bytes = 16;  // magic, version, section count
inline constexpr std::size_t checkpoint_trailer_bytes = 12; // CRC-32, end marker
inline constexpr std::size_t checkpoint_min_bytes =
    checkpoint_header_bytes + checkpoint_trailer_bytes;

/// \brief The OS's description of an errno value, as strerror gives it (thread-safe).
inline std::string os_reason(int error) {
  return std::error_code(error, std::generic_category()).message();
}

/// \brief A path quoted for a message: 'dir/file.ckpt'.
inline std::string quoted(std::filesystem::path const& path) {
  // Appends rather than operator+: g++ 12 misreports the latter under -Wrestrict.
  std::string out;
  out += '\'';
  out += path.string();
  out += '\'';
  return out;
}

/// \brief zlib's CRC-32, continued from `crc` over any number of bytes.
inline std::uint32_t crc32(std::uint32_t crc, std::byte const* data, std::size_t size) {
  uLong value = crc;
  while (size > 0) {
    auto const chunk = static_cast<uInt>(std::min<std::size_t>(size, std::size_t{1} << 30));
    value = ::crc32(value, reinterpret_cast<Bytef const*>(data), chunk);
    data += chunk;
    size -= chunk;
  }
  return static_cast<std::uint32_t>(value);
}

/// \brief "0x1234abcd".
inline std::string hex32(std::uint32_t value) {
  std::ostringstream out;
  out << "0x" << std::hex << std::setw(8) << std::setfill('0') << value;
  return out.str();
}

/// \brief The first bytes of a file, in hex and as text: 00 00 08 03 ("....").
inline std::string describe_bytes(std::span<std::byte const> bytes) {
  std::ostringstream hex;
  std::string text;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    auto const byte = std::to_integer<unsigned>(bytes[i]);
    hex << (i == 0 ? "" : " ") << std::hex << std::setw(2) << std::setfill('0') << byte;
    text += (byte >= 0x20 && byte < 0x7f) ? static_cast<char>(byte) : '.';
  }
  return hex.str() + " (\"" + text + "\")";
}

/// \brief Closes a file descriptor when it goes out of scope.
class FileDescriptor {
public:
  explicit FileDescriptor(int fd) noexcept
      : fd_(fd) {}
  FileDescriptor(FileDescriptor const&) = delete;
  FileDescriptor& operator=(FileDescriptor const&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  [[nodiscard]] int get() const noexcept { return fd_; }
  /// Closes now; returns 0 or the errno of a failed close.
  int close() noexcept {
    int const fd = std::exchange(fd_, -1);
    return (fd >= 0 && ::close(fd) != 0) ? errno : 0;
  }

private:
  int fd_;
};

/// \brief Removes a temporary file when it goes out of scope, unless it was renamed.
class TemporaryFile {
public:
  explicit TemporaryFile(std::filesystem::path path)
      : path_(std::move(path)) {}
  TemporaryFile(TemporaryFile const&) = delete;
  TemporaryFile& operator=(TemporaryFile const&) = delete;
  ~TemporaryFile() {
    if (!path_.empty()) {
      ::unlink(path_.c_str());
    }
  }
  void release() noexcept { path_.clear(); }

private:
  std::filesystem::path path_;
};

/// \brief Writes every byte (retrying short writes and EINTR); returns 0 or the errno.
inline int write_all(int fd, std::byte const* data, std::size_t size) noexcept {
  while (size > 0) {
    ::ssize_t const written = ::write(fd, data, std::min<std::size_t>(size, std::size_t{1} << 30));
    if (written < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno;
    }
    data += written;
    size -= static_cast<std::size_t>(written);
  }
  return 0;
}

} // namespace detail

/// \brief Collects named sections and writes them as one checkpoint file, atomically: the
///        bytes go to `<path>.tmp.<pid>` in the same directory, which is flushed to disk and
///        then renamed over `<path>`. A failed write leaves whatever was at `<path>` as it was
///        and removes the temporary file.
///
/// \code
/// loom::io::ByteWriter model;
/// model.write_array(parameters);
/// loom::io::CheckpointWriter checkpoint;
/// checkpoint.add("model", std::move(model));
/// checkpoint.write("ckpt/epoch-3.loom");
/// \endcode
class CheckpointWriter {
public:
  /// \brief Adds a section.
  /// \param name the section's name: 1 to 4096 bytes, unique in this checkpoint
  /// \param bytes the section's contents, stored as they are
  void add(std::string name, std::vector<std::byte> bytes) {
    if (name.empty() || name.size() > checkpoint_max_section_name_bytes) {
      loom::detail::fail("loom::io::CheckpointWriter::add: section name '", name, "' has ",
                         name.size(), " bytes; a section name has 1 to ",
                         checkpoint_max_section_name_bytes);
    }
    if (has(name)) {
      loom::detail::fail("loom::io::CheckpointWriter::add: section '", name,
                         "' was already added; section names must be unique in a checkpoint");
    }
    sections_.push_back(Section{std::move(name), std::move(bytes)});
  }

  /// \brief Adds a section with what a ByteWriter wrote.
  /// \param name the section's name: 1 to 4096 bytes, unique in this checkpoint
  /// \param writer the section's contents
  void add(std::string name, ByteWriter writer) { add(std::move(name), writer.take()); }

  /// \brief Whether a section of this name was added.
  /// \param name the section's name
  [[nodiscard]] bool has(std::string_view name) const {
    return std::any_of(sections_.begin(), sections_.end(),
                       [&](Section const& section) { return section.name == name; });
  }

  /// \brief The names of the sections, in the order they were added.
  [[nodiscard]] std::vector<std::string> names() const {
    std::vector<std::string> result;
    result.reserve(sections_.size());
    for (auto const& section : sections_) {
      result.push_back(section.name);
    }
    return result;
  }

  /// \brief Writes the checkpoint to `path` atomically, creating missing parent directories.
  ///        Throws loom::Error naming the path and the OS's reason on failure; the file that
  ///        was at `path` before is then unchanged and no temporary file is left behind. (The
  ///        one failure after the rename, syncing the directory, says that the new file is in
  ///        place but may not survive a power loss.)
  /// \param path the checkpoint file to create or replace
  void write(std::filesystem::path const& path) const {
    constexpr char const* who = "loom::io::CheckpointWriter::write: ";
    if (path.empty()) {
      loom::detail::fail(who, "the checkpoint path is empty");
    }
    auto const target = detail::quoted(path);
    if (!path.has_filename()) {
      loom::detail::fail(who, "cannot write checkpoint ", target,
                         ": the path ends with a directory separator; name a file");
    }
    if (sections_.size() > UINT32_MAX) {
      loom::detail::fail(who, "cannot write checkpoint ", target, ": it has ", sections_.size(),
                         " sections, the format holds at most ", UINT32_MAX);
    }
    std::filesystem::path const directory = path.parent_path();
    if (!directory.empty()) {
      std::error_code error;
      std::filesystem::create_directories(directory, error);
      if (error) {
        loom::detail::fail(who, "cannot write checkpoint ", target, ": cannot create directory ",
                           detail::quoted(directory), ": ", error.message());
      }
    }

    std::filesystem::path temporary = path;
    temporary += ".tmp." + std::to_string(::getpid());
    auto const fail_unchanged = [&](char const* what, int error, std::string const& to = "") {
      loom::detail::fail(who, "cannot write checkpoint ", target, ": cannot ", what,
                         " the temporary file ", detail::quoted(temporary), to, ": ",
                         detail::os_reason(error), "; nothing at ", target, " was changed");
    };

    detail::FileDescriptor file(
        ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666));
    if (file.get() < 0) {
      int const error = errno;
      fail_unchanged("create", error);
    }
    detail::TemporaryFile remove_on_failure(temporary);

    std::uint32_t crc = 0;
    auto const put = [&](std::span<std::byte const> bytes) {
      crc = detail::crc32(crc, bytes.data(), bytes.size());
      if (int const error = detail::write_all(file.get(), bytes.data(), bytes.size())) {
        fail_unchanged("write", error);
      }
    };
    ByteWriter header;
    header.write_bytes(std::as_bytes(std::span(detail::checkpoint_magic)));
    header.write_u32(checkpoint_format_version);
    header.write_u32(static_cast<std::uint32_t>(sections_.size()));
    put(header.bytes());
    for (auto const& section : sections_) {
      ByteWriter section_header;
      section_header.write_u32(static_cast<std::uint32_t>(section.name.size()));
      section_header.write_bytes(std::as_bytes(std::span(section.name)));
      section_header.write_u64(section.bytes.size());
      put(section_header.bytes());
      put(section.bytes);
    }
    ByteWriter trailer;
    trailer.write_u32(crc);
    trailer.write_bytes(std::as_bytes(std::span(detail::checkpoint_end_marker)));
    put(trailer.bytes());

    if (::fsync(file.get()) != 0) {
      int const error = errno;
      fail_unchanged("flush", error);
    }
    if (int const error = file.close()) {
      fail_unchanged("close", error);
    }
    if (::rename(temporary.c_str(), path.c_str()) != 0) {
      int const error = errno;
      fail_unchanged("rename", error, " to " + target);
    }
    remove_on_failure.release();

    // Make the rename itself durable. Some file systems cannot sync a directory (EINVAL).
    auto const directory_to_sync = directory.empty() ? std::filesystem::path(".") : directory;
    detail::FileDescriptor dir(
        ::open(directory_to_sync.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    int const sync_error = dir.get() < 0 ? errno : (::fsync(dir.get()) != 0 ? errno : 0);
    if (sync_error != 0 && sync_error != EINVAL && sync_error != ENOTSUP) {
      loom::detail::fail(who, "checkpoint ", target, " was written, but syncing its directory ",
                         detail::quoted(directory_to_sync),
                         " failed: ", detail::os_reason(sync_error),
                         "; it may not survive a power loss");
    }
  }

private:
  struct Section {
    std::string name;
    std::vector<std::byte> bytes;
  };
  std::vector<Section> sections_;
};

/// \brief Opens a checkpoint file and validates all of it (magic, format version, structure,
///        checksum) before any section is read. A file that is missing, not a checkpoint,
///        from a newer loom, truncated or corrupt throws loom::Error naming the file and
///        saying which.
///
/// \code
/// loom::io::CheckpointReader checkpoint("ckpt/epoch-3.loom");
/// auto model = checkpoint.section("model");
/// model.read_array_into(parameters);
/// model.expect_end();
/// \endcode
class CheckpointReader {
public:
  /// \brief Reads and validates the checkpoint at `path`.
  /// \param path the checkpoint file
  explicit CheckpointReader(std::filesystem::path path)
      : path_(std::move(path)) {
    if (path_.empty()) {
      loom::detail::fail("loom::io::CheckpointReader: the checkpoint path is empty");
    }
    auto data = std::make_shared<std::vector<std::byte>>(read_contents(path_));
    parse(*data);
    data_ = std::move(data);
  }

  /// \brief Validates checkpoint bytes read elsewhere (by read_contents() on another rank, then
  ///        broadcast); messages name `path`.
  CheckpointReader(std::filesystem::path path, std::vector<std::byte> contents)
      : path_(std::move(path)) {
    auto data = std::make_shared<std::vector<std::byte>>(std::move(contents));
    parse(*data);
    data_ = std::move(data);
  }

  /// \brief The bytes of the file at `path`, not yet validated. Throws loom::Error naming the
  ///        file when it cannot be read.
  static std::vector<std::byte> read_contents(std::filesystem::path const& path) {
    if (path.empty()) {
      loom::detail::fail("loom::io::CheckpointReader: the checkpoint path is empty");
    }
    return read_file(path);
  }

  /// \brief The file this checkpoint was read from.
  [[nodiscard]] std::filesystem::path const& path() const noexcept { return path_; }

  /// \brief The format version of the file (1 for every file this loom reads).
  [[nodiscard]] std::uint32_t format_version() const noexcept { return version_; }

  /// \brief Whether the checkpoint has a section of this name.
  /// \param name the section's name
  [[nodiscard]] bool has(std::string_view name) const { return index_.find(name) != index_.end(); }

  /// \brief The names of the sections, in file order.
  [[nodiscard]] std::vector<std::string> names() const {
    std::vector<std::string> result;
    result.reserve(sections_.size());
    for (auto const& section : sections_) {
      result.push_back(section.name);
    }
    return result;
  }

  /// \brief A reader over a section's bytes; it keeps the file's contents alive on its own.
  ///        Throws loom::Error naming the file and the section if there is no such section.
  /// \param name the section's name
  [[nodiscard]] ByteReader section(std::string_view name) const {
    auto const found = index_.find(name);
    if (found == index_.end()) {
      std::string known;
      for (auto const& section : sections_) {
        known += (known.empty() ? "'" : ", '") + section.name + "'";
      }
      loom::detail::fail("loom::io::CheckpointReader: checkpoint ", detail::quoted(path_),
                         " has no section '", name,
                         "' (its sections: ", known.empty() ? std::string("none") : known, ")");
    }
    auto const& section = sections_[found->second];
    return ByteReader(data_,
                      std::span<std::byte const>(*data_).subspan(section.offset, section.size),
                      "checkpoint " + detail::quoted(path_) + ", section '" + section.name + "'");
  }

private:
  struct Section {
    std::string name;
    std::size_t offset;
    std::size_t size;
  };

  static std::vector<std::byte> read_file(std::filesystem::path const& path) {
    auto const file_name = detail::quoted(path);
    detail::FileDescriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (file.get() < 0) {
      loom::detail::fail("loom::io::CheckpointReader: cannot open checkpoint ", file_name, ": ",
                         detail::os_reason(errno));
    }
    struct ::stat status {};
    if (::fstat(file.get(), &status) != 0) {
      loom::detail::fail("loom::io::CheckpointReader: cannot read checkpoint ", file_name, ": ",
                         detail::os_reason(errno));
    }
    if (S_ISDIR(status.st_mode)) {
      loom::detail::fail("loom::io::CheckpointReader: cannot read checkpoint ", file_name,
                         ": it is a directory, not a file");
    }
    std::vector<std::byte> data;
    if (S_ISREG(status.st_mode)) {
      // One byte more than the file, so that reading up to end of file never reallocates.
      data.reserve(static_cast<std::size_t>(status.st_size) + 1);
    }
    std::size_t size = 0;
    for (;;) {
      if (size == data.size()) {
        data.resize(std::max(data.capacity(), size + 65536));
      }
      ::ssize_t const got = ::read(file.get(), data.data() + size,
                                   std::min<std::size_t>(data.size() - size, std::size_t{1} << 30));
      if (got < 0) {
        if (errno == EINTR) {
          continue;
        }
        loom::detail::fail("loom::io::CheckpointReader: cannot read checkpoint ", file_name, ": ",
                           detail::os_reason(errno));
      }
      if (got == 0) {
        break;
      }
      size += static_cast<std::size_t>(got);
    }
    data.resize(size);
    return data;
  }

  void parse(std::vector<std::byte> const& data) {
    using detail::checkpoint_min_bytes;
    using detail::checkpoint_trailer_bytes;
    constexpr char const* who = "loom::io::CheckpointReader: ";
    auto const file_name = detail::quoted(path_);
    std::size_t const file_size = data.size();
    auto const truncated = [&](std::uint64_t expected) {
      loom::detail::fail(who, "checkpoint ", file_name, " is truncated: expected at least ",
                         expected, " bytes, the file has ", file_size,
                         " (was a write or a copy interrupted?)");
    };
    auto const corrupt = [&](auto const&... detail) {
      loom::detail::fail(who, "checkpoint ", file_name, " is corrupt: ", detail...);
    };
    auto const u32_at = [&](std::size_t offset) {
      std::uint32_t value;
      detail::load_little_endian(data.data() + offset, 1, &value);
      return value;
    };
    auto const u64_at = [&](std::size_t offset) {
      std::uint64_t value;
      detail::load_little_endian(data.data() + offset, 1, &value);
      return value;
    };
    auto const bytes_equal = [&](std::size_t offset, std::array<char, 8> const& expected,
                                 std::size_t count) {
      return std::memcmp(data.data() + offset, expected.data(), count) == 0;
    };

    // 1. Is it a checkpoint at all?
    std::size_t const magic_bytes = std::min(file_size, detail::checkpoint_magic.size());
    if (file_size > 0 && !bytes_equal(0, detail::checkpoint_magic, magic_bytes)) {
      loom::detail::fail(
          who, file_name, " is not a loom checkpoint: it does not start with \"",
          std::string_view(detail::checkpoint_magic.data(), detail::checkpoint_magic.size()),
          "\"; its first bytes are ", detail::describe_bytes(std::span(data).first(magic_bytes)));
    }
    if (file_size < 12) {
      truncated(checkpoint_min_bytes);
    }

    // 2. Checksum, when the trailer is there: checked before the version is believed.
    bool const has_trailer = file_size >= checkpoint_min_bytes &&
                             bytes_equal(file_size - 8, detail::checkpoint_end_marker, 8);
    if (has_trailer) {
      std::size_t const checked = file_size - checkpoint_trailer_bytes;
      std::uint32_t const stored = u32_at(checked);
      std::uint32_t const computed = detail::crc32(0, data.data(), checked);
      if (stored != computed) {
        corrupt("checksum mismatch (stored ", detail::hex32(stored), ", computed ",
                detail::hex32(computed), ")");
      }
    }

    // 3. Version.
    version_ = u32_at(8);
    if (version_ > checkpoint_format_version) {
      loom::detail::fail(who, "checkpoint ", file_name, " has format version ", version_,
                         ", written by a newer loom; this loom reads format version ",
                         checkpoint_format_version, " and older; load it with a newer loom");
    }
    if (version_ == 0) {
      corrupt("format version 0 is not one any loom writes");
    }

    // 4. Sections. In a file with an intact trailer (the checksum matched) they must end
    //    exactly at the trailer; in a file without one, running out of bytes is truncation.
    std::size_t const end = has_trailer ? file_size - checkpoint_trailer_bytes : file_size;
    std::size_t position = 12;
    std::size_t section_number = 0;
    auto const need = [&](std::uint64_t count, char const* what) {
      if (count > end - position) {
        if (has_trailer) {
          corrupt(what, " of section ", section_number, " at byte ", position, " needs ", count,
                  " bytes, only ", end - position, " precede the checksum");
        }
        std::uint64_t const expected = position + checkpoint_trailer_bytes;
        truncated(count > UINT64_MAX - expected ? UINT64_MAX : expected + count);
      }
    };
    need(4, "the section count");
    std::uint32_t const count = u32_at(position);
    position += 4;
    for (; section_number < count; ++section_number) {
      need(4, "the name length");
      std::uint32_t const name_length = u32_at(position);
      if (name_length == 0 || name_length > checkpoint_max_section_name_bytes) {
        corrupt("section ", section_number, " at byte ", position, " has a name of ", name_length,
                " bytes; names have 1 to ", checkpoint_max_section_name_bytes);
      }
      position += 4;
      need(name_length, "the name");
      std::string name(reinterpret_cast<char const*>(data.data() + position), name_length);
      position += name_length;
      need(8, "the payload length");
      std::uint64_t const size = u64_at(position);
      position += 8;
      need(size, "the payload");
      if (!index_.emplace(name, sections_.size()).second) {
        corrupt("section '", name, "' appears twice");
      }
      sections_.push_back(Section{std::move(name), position, static_cast<std::size_t>(size)});
      position += static_cast<std::size_t>(size);
    }
    if (has_trailer) {
      if (position != end) {
        corrupt(end - position, " bytes lie between its last section and its checksum");
      }
      return;
    }
    if (file_size - position < checkpoint_trailer_bytes) {
      truncated(position + checkpoint_trailer_bytes);
    }
    if (bytes_equal(position + 4, detail::checkpoint_end_marker, 8)) {
      corrupt(file_size - position - checkpoint_trailer_bytes,
              " bytes follow its end marker (appended by something else?)");
    }
    corrupt("its end marker (\"LOOM_END\" at byte ", position + 4, ") is damaged or missing");
  }

  std::filesystem::path path_;
  std::shared_ptr<std::vector<std::byte> const> data_;
  std::uint32_t version_ = 0;
  std::vector<Section> sections_;
  std::map<std::string, std::size_t, std::less<>> index_;
};

} // namespace loom::io
