#pragma once

#include <loom/core/error.hpp>

#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace loom::io {

namespace detail {

static_assert(std::endian::native == std::endian::little || std::endian::native == std::endian::big,
              "loom::io: mixed-endian hosts are not supported");

/// \brief Reverses the bytes of an unsigned integer (std::byteswap is C++23).
template <std::unsigned_integral Unsigned>
constexpr Unsigned byteswap(Unsigned value) noexcept {
  Unsigned result = 0;
  for (std::size_t i = 0; i < sizeof(Unsigned); ++i) {
    result = static_cast<Unsigned>((result << 8) | (value & Unsigned{0xff}));
    value = static_cast<Unsigned>(value >> 8);
  }
  return result;
}

/// \brief The unsigned integer of the same size as T (for byte-order conversions).
template <std::size_t Size>
struct unsigned_of_size;
template <>
struct unsigned_of_size<1> {
  using type = std::uint8_t;
};
template <>
struct unsigned_of_size<2> {
  using type = std::uint16_t;
};
template <>
struct unsigned_of_size<4> {
  using type = std::uint32_t;
};
template <>
struct unsigned_of_size<8> {
  using type = std::uint64_t;
};

/// \brief Whether T has a byte order loom knows: integers, floating point and enums of
///        1, 2, 4 or 8 bytes. Other trivially copyable types are stored as their object
///        representation, which is the same on every little-endian host.
template <class T>
inline constexpr bool
    has_known_byte_order = (std::is_arithmetic<T>::value || std::is_enum<T>::value) &&
                           (sizeof(T) == 1 || sizeof(T) == 2 || sizeof(T) == 4 || sizeof(T) == 8);

template <class T>
struct loom_error_array_element_not_serializable;

/// \brief Compile-time checks on the element type of ByteWriter::write_array and
///        ByteReader::read_array.
template <class T>
constexpr bool check_valid_array_element() {
  if constexpr (!std::is_trivially_copyable<T>::value || std::is_pointer<T>::value ||
                std::is_member_pointer<T>::value) {
    using show [[maybe_unused]] = decltype(sizeof(loom_error_array_element_not_serializable<T>));
    static_assert(std::is_trivially_copyable<T>::value && !std::is_pointer<T>::value &&
                      !std::is_member_pointer<T>::value,
                  "loom::io: write_array/read_array need trivially copyable elements that are not "
                  "pointers (float, double, std::int64_t, ...); search the compiler output for "
                  "'loom_error_array_element_not_serializable' to see which type, and write its "
                  "fields one by one instead");
    return false;
  } else if constexpr (std::endian::native == std::endian::big && !has_known_byte_order<T>) {
    using show [[maybe_unused]] = decltype(sizeof(loom_error_array_element_not_serializable<T>));
    static_assert(has_known_byte_order<T>,
                  "loom::io: on a big-endian host write_array/read_array take only integers, "
                  "floating point and enums, whose byte order loom converts; search the compiler "
                  "output for 'loom_error_array_element_not_serializable' to see which type, and "
                  "write its fields one by one instead");
    return false;
  } else {
    return true;
  }
}

/// \brief Copies `count` values of T between host and stored form, reversing the bytes of
///        each: the conversion on a big-endian host (a function of its own so that tests
///        exercise it on little-endian hosts too). T needs a known byte order.
template <class T>
void copy_byte_swapped(void const* from, std::size_t count, void* to) noexcept {
  using Unsigned = typename unsigned_of_size<sizeof(T)>::type;
  auto const* in = static_cast<std::byte const*>(from);
  auto* out = static_cast<std::byte*>(to);
  for (std::size_t i = 0; i < count; ++i) {
    Unsigned bits;
    std::memcpy(&bits, in + i * sizeof(T), sizeof(T));
    bits = byteswap(bits);
    std::memcpy(out + i * sizeof(T), &bits, sizeof(T));
  }
}

/// \brief Stores `count` values of T at `out` in little-endian byte order.
template <class T>
void store_little_endian(T const* values, std::size_t count, std::byte* out) noexcept {
  if (count == 0) {
    return;
  }
  if constexpr (std::endian::native == std::endian::little || sizeof(T) == 1) {
    std::memcpy(out, values, count * sizeof(T));
  } else {
    copy_byte_swapped<T>(values, count, out);
  }
}

/// \brief Loads `count` little-endian values of T from `in`.
template <class T>
void load_little_endian(std::byte const* in, std::size_t count, T* values) noexcept {
  if (count == 0) {
    return;
  }
  if constexpr (std::endian::native == std::endian::little || sizeof(T) == 1) {
    std::memcpy(values, in, count * sizeof(T));
  } else {
    copy_byte_swapped<T>(in, count, values);
  }
}

} // namespace detail

/// \brief Appends values to a byte buffer in a fixed little-endian encoding, whatever the host.
///
/// Encoding: u32/u64/i64 little-endian (i64 as two's complement), f32/f64 as the
/// little-endian bits of their IEEE-754 representation (NaN payloads and -0.0 survive), a
/// string as a u64 byte count then its bytes, an array as a u64 element count, a u32 element
/// size in bytes, then the elements. Read it back with loom::io::ByteReader in the same order.
class ByteWriter {
public:
  /// \brief Appends a 32-bit unsigned integer (4 bytes).
  /// \param value the value
  void write_u32(std::uint32_t value) { append_scalar(value); }

  /// \brief Appends a 64-bit unsigned integer (8 bytes).
  /// \param value the value
  void write_u64(std::uint64_t value) { append_scalar(value); }

  /// \brief Appends a 64-bit signed integer (8 bytes, two's complement).
  /// \param value the value
  void write_i64(std::int64_t value) { append_scalar(static_cast<std::uint64_t>(value)); }

  /// \brief Appends a float bit for bit (4 bytes).
  /// \param value the value; any bit pattern, NaN payloads included
  void write_f32(float value) { append_scalar(std::bit_cast<std::uint32_t>(value)); }

  /// \brief Appends a double bit for bit (8 bytes).
  /// \param value the value; any bit pattern, NaN payloads included
  void write_f64(double value) { append_scalar(std::bit_cast<std::uint64_t>(value)); }

  /// \brief Appends a string: its length in bytes (u64), then its bytes.
  /// \param value the string; may hold any bytes, '\0' included
  void write_string(std::string_view value) {
    write_u64(value.size());
    append_raw(value.data(), value.size());
  }

  /// \brief Appends an array: element count (u64), element size in bytes (u32), elements.
  /// \tparam T element type: trivially copyable, not a pointer
  /// \param values the first element
  /// \param count number of elements
  template <class T>
  void write_array(T const* values, std::size_t count) {
    if constexpr (detail::check_valid_array_element<T>()) {
      write_u64(count);
      write_u32(static_cast<std::uint32_t>(sizeof(T)));
      std::size_t const offset = bytes_.size();
      bytes_.resize(offset + count * sizeof(T));
      detail::store_little_endian(values, count, bytes_.data() + offset);
    }
  }

  /// \brief Appends an array: element count (u64), element size in bytes (u32), elements.
  /// \param values a contiguous range: std::vector, std::span, std::array, ...
  template <std::ranges::contiguous_range Range>
  void write_array(Range const& values) {
    write_array(std::ranges::data(values), static_cast<std::size_t>(std::ranges::size(values)));
  }

  /// \brief Appends bytes as they are, without a length (the reader must know the length).
  /// \param bytes the bytes
  void write_bytes(std::span<std::byte const> bytes) { append_raw(bytes.data(), bytes.size()); }

  /// \brief The bytes written so far.
  [[nodiscard]] std::vector<std::byte> const& bytes() const& noexcept { return bytes_; }

  /// \brief Moves the bytes out, leaving the writer empty.
  [[nodiscard]] std::vector<std::byte> take() noexcept { return std::exchange(bytes_, {}); }

  /// \brief The number of bytes written so far.
  [[nodiscard]] std::size_t size() const noexcept { return bytes_.size(); }

private:
  template <class Unsigned>
  void append_scalar(Unsigned value) {
    std::size_t const offset = bytes_.size();
    bytes_.resize(offset + sizeof(Unsigned));
    detail::store_little_endian(&value, 1, bytes_.data() + offset);
  }

  void append_raw(void const* data, std::size_t size) {
    if (size == 0) {
      return;
    }
    // resize + memcpy rather than insert: g++ 12 misreports insert into an empty vector
    // under -Wstringop-overflow.
    std::size_t const offset = bytes_.size();
    bytes_.resize(offset + size);
    std::memcpy(bytes_.data() + offset, data, size);
  }

  std::vector<std::byte> bytes_;
};

/// \brief Reads back what loom::io::ByteWriter wrote, in the same order, with every read
///        bounds-checked: reading past the end, or a length that does not fit in what is left,
///        throws loom::Error naming the context (file and section) instead of reading out of
///        bounds.
///
/// A ByteReader views its bytes; one returned by loom::io::CheckpointReader::section also
/// keeps the checkpoint's buffer alive, so it may outlive the CheckpointReader.
class ByteReader {
public:
  /// \brief Reads `bytes`; the caller keeps them alive while the reader is used.
  /// \param bytes the bytes to read
  /// \param context what the bytes are, for error messages, e.g. "checkpoint 'a.ckpt',
  ///        section 'model'"
  ByteReader(std::span<std::byte const> bytes, std::string context)
      : bytes_(bytes)
      , context_(std::move(context)) {}

  /// \brief Reads `bytes`, which `owner` keeps alive as long as this reader (or a copy) lives.
  /// \param owner holds the storage `bytes` points into
  /// \param bytes the bytes to read
  /// \param context what the bytes are, for error messages
  ByteReader(std::shared_ptr<void const> owner, std::span<std::byte const> bytes,
             std::string context)
      : owner_(std::move(owner))
      , bytes_(bytes)
      , context_(std::move(context)) {}

  /// \brief Reads a 32-bit unsigned integer.
  [[nodiscard]] std::uint32_t read_u32() { return read_scalar<std::uint32_t>("a u32"); }

  /// \brief Reads a 64-bit unsigned integer.
  [[nodiscard]] std::uint64_t read_u64() { return read_scalar<std::uint64_t>("a u64"); }

  /// \brief Reads a 64-bit signed integer.
  [[nodiscard]] std::int64_t read_i64() {
    return static_cast<std::int64_t>(read_scalar<std::uint64_t>("an i64"));
  }

  /// \brief Reads a float bit for bit.
  [[nodiscard]] float read_f32() {
    return std::bit_cast<float>(read_scalar<std::uint32_t>("an f32"));
  }

  /// \brief Reads a double bit for bit.
  [[nodiscard]] double read_f64() {
    return std::bit_cast<double>(read_scalar<std::uint64_t>("an f64"));
  }

  /// \brief Reads a string written by ByteWriter::write_string.
  [[nodiscard]] std::string read_string() {
    std::size_t const start = position_;
    std::uint64_t const length = read_u64();
    if (length > remaining()) {
      std::size_t const left = remaining();
      position_ = start;
      fail_truncated("a string at byte ", start, " declares ", length, " bytes, only ", left,
                     " follow");
    }
    std::string value(reinterpret_cast<char const*>(bytes_.data() + position_),
                      static_cast<std::size_t>(length));
    position_ += static_cast<std::size_t>(length);
    return value;
  }

  /// \brief Reads an array written by ByteWriter::write_array with the same element type.
  /// \tparam T element type, the one it was written with
  template <class T>
  [[nodiscard]] std::vector<T> read_array() {
    std::vector<T> values;
    if constexpr (detail::check_valid_array_element<T>()) {
      std::size_t const count = read_array_header<T>();
      values.resize(count);
      detail::load_little_endian(bytes_.data() + position_, count, values.data());
      position_ += count * sizeof(T);
    }
    return values;
  }

  /// \brief Reads an array written by ByteWriter::write_array into storage of a known size,
  ///        e.g. a host view of parameters; it must hold exactly `count` elements.
  /// \tparam T element type, the one it was written with
  /// \param values where to put the elements
  /// \param count the number of elements expected
  template <class T>
  void read_array_into(T* values, std::size_t count) {
    if constexpr (detail::check_valid_array_element<T>()) {
      std::size_t const start = position_;
      std::size_t const stored = read_array_header<T>();
      if (stored != count) {
        position_ = start;
        loom::detail::fail("loom::io::ByteReader: ", context_, ": the array at byte ", start,
                           " holds ", stored, " elements where ", count,
                           " were expected (saved from something of another size?)");
      }
      detail::load_little_endian(bytes_.data() + position_, count, values);
      position_ += count * sizeof(T);
    }
  }

  /// \brief Reads an array written by ByteWriter::write_array into a contiguous range of
  ///        the same size (std::vector, std::span, std::array, ...).
  /// \param values where to put the elements; its size is the number expected
  template <std::ranges::contiguous_range Range>
  void read_array_into(Range&& values) {
    read_array_into(std::ranges::data(values), static_cast<std::size_t>(std::ranges::size(values)));
  }

  /// \brief Reads `count` bytes as they are (the counterpart of ByteWriter::write_bytes).
  /// \param count the number of bytes
  /// \return a view of the bytes, valid while the underlying storage lives
  [[nodiscard]] std::span<std::byte const> read_bytes(std::size_t count) {
    require(count, "raw bytes");
    auto const result = bytes_.subspan(position_, count);
    position_ += count;
    return result;
  }

  /// \brief Throws loom::Error unless every byte has been read: a section longer than its
  ///        reader expects was written by another version of the code, or is corrupt.
  void expect_end() const {
    if (remaining() != 0) {
      loom::detail::fail("loom::io::ByteReader: ", context_, ": ", remaining(),
                         " bytes remain unread after byte ", position_, " of ", bytes_.size(),
                         " (written by a different version of this code, or corrupt)");
    }
  }

  /// \brief The offset of the next byte to read.
  [[nodiscard]] std::size_t position() const noexcept { return position_; }

  /// \brief The number of bytes not read yet.
  [[nodiscard]] std::size_t remaining() const noexcept { return bytes_.size() - position_; }

  /// \brief The total number of bytes.
  [[nodiscard]] std::size_t size() const noexcept { return bytes_.size(); }

  /// \brief Whether every byte has been read.
  [[nodiscard]] bool at_end() const noexcept { return position_ == bytes_.size(); }

  /// \brief What the bytes are, as given to the constructor.
  [[nodiscard]] std::string const& context() const noexcept { return context_; }

private:
  template <class... Detail>
  [[noreturn]] void fail_truncated(Detail const&... detail) const {
    loom::detail::fail("loom::io::ByteReader: ", context_, " is truncated or corrupt: ", detail...);
  }

  void require(std::size_t count, char const* what) const {
    if (count > remaining()) {
      fail_truncated("reading ", what, " at byte ", position_, " needs ", count, " bytes, only ",
                     remaining(), " remain");
    }
  }

  template <class Unsigned>
  Unsigned read_scalar(char const* what) {
    require(sizeof(Unsigned), what);
    Unsigned value;
    detail::load_little_endian(bytes_.data() + position_, 1, &value);
    position_ += sizeof(Unsigned);
    return value;
  }

  /// Reads and checks an array's count and element size; leaves position_ at the elements.
  template <class T>
  std::size_t read_array_header() {
    std::size_t const start = position_;
    require(sizeof(std::uint64_t) + sizeof(std::uint32_t), "an array header");
    std::uint64_t const count = read_u64();
    std::uint32_t const element_size = read_u32();
    if (element_size != sizeof(T)) {
      position_ = start;
      loom::detail::fail("loom::io::ByteReader: ", context_, ": the array at byte ", start,
                         " holds ", element_size, "-byte elements but is read as ", sizeof(T),
                         "-byte elements (written with another element type, or corrupt)");
    }
    if (count > remaining() / sizeof(T)) {
      std::size_t const left = remaining();
      position_ = start;
      fail_truncated("an array at byte ", start, " declares ", count, " elements of ", sizeof(T),
                     " bytes, only ", left, " bytes follow");
    }
    return static_cast<std::size_t>(count);
  }

  std::shared_ptr<void const> owner_;
  std::span<std::byte const> bytes_;
  std::size_t position_ = 0;
  std::string context_;
};

} // namespace loom::io
