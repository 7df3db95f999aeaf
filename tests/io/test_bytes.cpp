#include <loom/io/bytes.hpp>

#include <gtest/gtest.h>

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <vector>

namespace {

using loom::io::ByteReader;
using loom::io::ByteWriter;

static_assert(loom::io::detail::byteswap(std::uint32_t{0x01020304}) == 0x04030201);
static_assert(loom::io::detail::byteswap(std::uint64_t{0x0102030405060708}) == 0x0807060504030201);
static_assert(loom::io::detail::byteswap(std::uint16_t{0xabcd}) == 0xcdab);

std::vector<unsigned> as_unsigned(std::vector<std::byte> const& bytes) {
  std::vector<unsigned> result;
  for (auto byte : bytes) {
    result.push_back(std::to_integer<unsigned>(byte));
  }
  return result;
}

/// Runs `body`, expects loom::Error, and checks that its message holds every one of `parts`.
std::string expect_error(std::function<void()> const& body, std::vector<std::string> const& parts) {
  try {
    body();
  } catch (loom::Error const& error) {
    std::string const message = error.what();
    for (auto const& part : parts) {
      EXPECT_NE(message.find(part), std::string::npos)
          << "message: " << message << "\nexpected it to contain: " << part;
    }
    return message;
  }
  ADD_FAILURE() << "expected loom::Error";
  return {};
}

template <class T>
bool bitwise_equal(T const& a, T const& b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

TEST(io_bytes, big_endian_conversion) {
  // What a big-endian host runs: check it here, on whatever host this is.
  std::vector<std::uint32_t> const words = {0x01020304u, 0xa0b0c0d0u};
  std::vector<std::byte> swapped(8);
  loom::io::detail::copy_byte_swapped<std::uint32_t>(words.data(), words.size(), swapped.data());
  std::vector<std::uint32_t> back(2);
  loom::io::detail::copy_byte_swapped<std::uint32_t>(swapped.data(), back.size(), back.data());
  EXPECT_EQ(back, words);
  std::uint32_t first;
  std::memcpy(&first, swapped.data(), 4);
  EXPECT_EQ(first, 0x04030201u);
  double const value = -1.5;
  std::uint64_t swapped_bits;
  loom::io::detail::copy_byte_swapped<double>(&value, 1, &swapped_bits);
  EXPECT_EQ(swapped_bits, loom::io::detail::byteswap(std::bit_cast<std::uint64_t>(value)));
}

TEST(io_bytes, encoding_is_little_endian) {
  ByteWriter out;
  out.write_u32(0x01020304u);
  out.write_u64(0x0102030405060708u);
  out.write_i64(-2);
  out.write_f64(1.0);
  out.write_f32(-2.0f);
  std::vector<unsigned> const expected = {
      0x04, 0x03, 0x02, 0x01,                         // u32
      0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, // u64
      0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // i64 -2
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f, // f64 1.0
      0x00, 0x00, 0x00, 0xc0,                         // f32 -2.0
  };
  EXPECT_EQ(as_unsigned(out.bytes()), expected);
  EXPECT_EQ(out.size(), expected.size());
}

TEST(io_bytes, string_and_array_encoding) {
  ByteWriter out;
  out.write_string("ab");
  out.write_array(std::vector<std::uint16_t>{0x0102, 0x0304});
  std::vector<unsigned> const expected = {
      2,    0,    0,    0,    0, 0, 0, 0, 'a', 'b', // string: u64 length, bytes
      2,    0,    0,    0,    0, 0, 0, 0,           // array: u64 count
      2,    0,    0,    0,                          //        u32 element size
      0x02, 0x01, 0x04, 0x03,                       //        elements
  };
  EXPECT_EQ(as_unsigned(out.bytes()), expected);
}

TEST(io_bytes, scalars_round_trip_bit_for_bit) {
  std::vector<double> const doubles = {
      0.0,
      -0.0,
      1.0,
      -1.5,
      std::numeric_limits<double>::denorm_min(),
      -std::numeric_limits<double>::denorm_min() * 3,
      std::numeric_limits<double>::min() / 2, // subnormal
      std::numeric_limits<double>::max(),
      std::numeric_limits<double>::lowest(),
      std::numeric_limits<double>::infinity(),
      -std::numeric_limits<double>::infinity(),
      std::numeric_limits<double>::quiet_NaN(),
      std::bit_cast<double>(std::uint64_t{0x7ff0000000000001}), // signalling NaN, payload 1
      std::bit_cast<double>(std::uint64_t{0xfff8dead0000beef}), // negative NaN with payload
  };
  std::vector<float> const floats = {
      0.0f,
      -0.0f,
      std::numeric_limits<float>::denorm_min(),
      std::numeric_limits<float>::min() / 4,
      std::numeric_limits<float>::infinity(),
      std::bit_cast<float>(std::uint32_t{0x7fc12345}),
      std::bit_cast<float>(std::uint32_t{0xff800001}),
  };
  ByteWriter out;
  out.write_u32(0);
  out.write_u32(std::numeric_limits<std::uint32_t>::max());
  out.write_u64(std::numeric_limits<std::uint64_t>::max());
  out.write_i64(std::numeric_limits<std::int64_t>::min());
  out.write_i64(std::numeric_limits<std::int64_t>::max());
  out.write_i64(-1);
  for (double value : doubles) {
    out.write_f64(value);
  }
  for (float value : floats) {
    out.write_f32(value);
  }
  ByteReader in(out.bytes(), "test buffer");
  EXPECT_EQ(in.read_u32(), 0u);
  EXPECT_EQ(in.read_u32(), std::numeric_limits<std::uint32_t>::max());
  EXPECT_EQ(in.read_u64(), std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(in.read_i64(), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(in.read_i64(), std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(in.read_i64(), -1);
  for (double value : doubles) {
    double const read = in.read_f64();
    EXPECT_TRUE(bitwise_equal(read, value)) << std::bit_cast<std::uint64_t>(value);
  }
  for (float value : floats) {
    float const read = in.read_f32();
    EXPECT_TRUE(bitwise_equal(read, value)) << std::bit_cast<std::uint32_t>(value);
  }
  EXPECT_TRUE(in.at_end());
  EXPECT_EQ(in.remaining(), 0u);
  in.expect_end();
}

enum class Color : std::uint16_t { red = 1, green = 0x0203 };
struct Pair {
  float a;
  std::int32_t b;
};

TEST(io_bytes, strings_and_arrays_round_trip) {
  std::string const with_nul("a\0b\xff", 4);
  std::vector<float> const floats = {1.0f, -0.0f, std::bit_cast<float>(std::uint32_t{0x7fa00001}),
                                     std::numeric_limits<float>::denorm_min()};
  std::vector<std::int64_t> const integers = {std::numeric_limits<std::int64_t>::min(), -1, 0, 7};
  std::array<double, 3> const doubles = {0.5, -0.0, 1e-310};
  std::vector<Color> const colors = {Color::red, Color::green};
  std::vector<std::byte> const raw = {std::byte{1}, std::byte{0xfe}};

  ByteWriter out;
  out.write_string("");
  out.write_string(with_nul);
  out.write_array(floats);
  out.write_array(integers);
  out.write_array(doubles);
  out.write_array(std::vector<double>{});
  out.write_array(colors);
  out.write_array(floats.data() + 1, 2);
  out.write_bytes(raw);
  if constexpr (std::endian::native == std::endian::little) {
    out.write_array(std::vector<Pair>{{1.5f, -3}});
  }

  ByteReader in(out.bytes(), "test buffer");
  EXPECT_EQ(in.read_string(), "");
  EXPECT_EQ(in.read_string(), with_nul);
  auto const floats_read = in.read_array<float>();
  ASSERT_EQ(floats_read.size(), floats.size());
  EXPECT_EQ(std::memcmp(floats_read.data(), floats.data(), floats.size() * sizeof(float)), 0);
  EXPECT_EQ(in.read_array<std::int64_t>(), integers);
  std::array<double, 3> doubles_read{};
  in.read_array_into(doubles_read);
  EXPECT_EQ(std::memcmp(doubles_read.data(), doubles.data(), sizeof(doubles)), 0);
  EXPECT_TRUE(in.read_array<double>().empty());
  EXPECT_EQ(in.read_array<Color>(), colors);
  std::vector<float> two(2);
  in.read_array_into(two.data(), two.size());
  EXPECT_TRUE(bitwise_equal(two[0], floats[1]));
  EXPECT_TRUE(bitwise_equal(two[1], floats[2]));
  auto const raw_read = in.read_bytes(2);
  EXPECT_EQ(std::vector<std::byte>(raw_read.begin(), raw_read.end()), raw);
  if constexpr (std::endian::native == std::endian::little) {
    auto const pairs = in.read_array<Pair>();
    ASSERT_EQ(pairs.size(), 1u);
    EXPECT_EQ(pairs[0].a, 1.5f);
    EXPECT_EQ(pairs[0].b, -3);
  }
  in.expect_end();
}

TEST(io_bytes, take_empties_the_writer) {
  ByteWriter out;
  out.write_u32(5);
  auto const bytes = out.take();
  EXPECT_EQ(bytes.size(), 4u);
  EXPECT_EQ(out.size(), 0u);
}

TEST(io_bytes, every_prefix_gives_a_clean_error) {
  ByteWriter out;
  out.write_u32(1);
  out.write_u64(2);
  out.write_i64(-3);
  out.write_f32(4.0f);
  out.write_f64(5.0);
  out.write_string("six");
  out.write_array(std::vector<double>{7.0, 8.0});
  out.write_array(std::vector<std::int64_t>{9});
  auto const& bytes = out.bytes();
  auto const read_all = [](ByteReader& in) {
    (void)in.read_u32();
    (void)in.read_u64();
    (void)in.read_i64();
    (void)in.read_f32();
    (void)in.read_f64();
    (void)in.read_string();
    (void)in.read_array<double>();
    std::vector<std::int64_t> last(1);
    in.read_array_into(last);
  };
  {
    ByteReader in(bytes, "full");
    read_all(in);
    in.expect_end();
  }
  for (std::size_t size = 0; size < bytes.size(); ++size) {
    ByteReader in{std::span(bytes).first(size), "checkpoint 'x.ckpt', section 'model'"};
    expect_error([&] { read_all(in); },
                 {"checkpoint 'x.ckpt', section 'model' is truncated or corrupt", "byte"});
  }
}

TEST(io_bytes, errors_name_the_context_and_say_what_is_wrong) {
  ByteWriter out;
  out.write_u32(7);
  ByteReader in(out.bytes(), "checkpoint 'a.ckpt', section 'rng'");
  expect_error([&] { (void)in.read_u64(); },
               {"checkpoint 'a.ckpt', section 'rng' is truncated or corrupt",
                "reading a u64 at byte 0 needs 8 bytes, only 4 remain"});
  EXPECT_EQ(in.position(), 0u); // a failed read consumes nothing
  expect_error([&] { in.expect_end(); }, {"section 'rng'", "4 bytes remain unread"});
  EXPECT_EQ(in.read_u32(), 7u);
  in.expect_end();
}

TEST(io_bytes, huge_declared_lengths_are_errors_not_allocations) {
  {
    ByteWriter out;
    out.write_u64(std::numeric_limits<std::uint64_t>::max()); // a string of 2^64-1 bytes
    out.write_string("abc");
    ByteReader in(out.bytes(), "ctx");
    expect_error([&] { (void)in.read_string(); },
                 {"ctx is truncated or corrupt", "a string at byte 0 declares"});
  }
  {
    ByteWriter out;
    out.write_u64(std::uint64_t{1} << 62); // array count whose byte size overflows
    out.write_u32(8);
    out.write_f64(1.0);
    ByteReader in(out.bytes(), "ctx");
    expect_error([&] { (void)in.read_array<double>(); },
                 {"ctx is truncated or corrupt", "an array at byte 0 declares 4611686018427387904 "
                                                 "elements of 8 bytes, only 8 bytes follow"});
  }
}

TEST(io_bytes, array_type_and_size_mismatches_are_errors) {
  ByteWriter out;
  out.write_array(std::vector<float>{1.0f, 2.0f, 3.0f});
  {
    ByteReader in(out.bytes(), "section 'model'");
    expect_error([&] { (void)in.read_array<double>(); },
                 {"section 'model'", "holds 4-byte elements but is read as 8-byte elements"});
    EXPECT_EQ(in.position(), 0u);
  }
  {
    ByteReader in(out.bytes(), "section 'model'");
    std::vector<float> four(4);
    expect_error([&] { in.read_array_into(four); },
                 {"section 'model'", "holds 3 elements where 4 were expected"});
    std::vector<float> three(3);
    in.read_array_into(three);
    EXPECT_EQ(three, (std::vector<float>{1.0f, 2.0f, 3.0f}));
  }
}

} // namespace
