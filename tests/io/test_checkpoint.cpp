#include <loom/io/bytes.hpp>
#include <loom/io/checkpoint.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <regex>
#include <string>
#include <vector>

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zlib.h>

namespace {

namespace fs = std::filesystem;
using loom::io::ByteReader;
using loom::io::ByteWriter;
using loom::io::CheckpointReader;
using loom::io::CheckpointWriter;

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

std::vector<std::byte> slurp(fs::path const& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> bytes(chars.size());
  std::memcpy(bytes.data(), chars.data(), chars.size());
  return bytes;
}

/// Replaces the file at `path` with `bytes`. (Removing it first, rather than truncating it,
/// keeps ext4 from flushing it to disk on every rewrite, which makes the loops below slow.)
void spit(fs::path const& path, std::span<std::byte const> bytes) {
  fs::remove(path);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<char const*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

void spit(fs::path const& path, std::string const& text) {
  spit(path, std::as_bytes(std::span(text)));
}

std::vector<std::string> listing(fs::path const& directory) {
  std::vector<std::string> names;
  for (auto const& entry : fs::directory_iterator(directory)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::uint32_t zlib_crc(std::span<std::byte const> bytes) {
  return static_cast<std::uint32_t>(
      ::crc32(0, reinterpret_cast<Bytef const*>(bytes.data()), static_cast<uInt>(bytes.size())));
}

/// Recomputes the CRC of a hand-edited file image, so that it passes the checksum.
void fix_crc(std::vector<std::byte>& file) {
  std::size_t const checked = file.size() - 12;
  std::uint32_t const crc = zlib_crc(std::span(file).first(checked));
  for (int i = 0; i < 4; ++i) {
    file[checked + static_cast<std::size_t>(i)] = static_cast<std::byte>((crc >> (8 * i)) & 0xff);
  }
}

/// A checkpoint file image built by hand (to craft files the writer refuses to produce).
std::vector<std::byte> handmade(std::uint32_t version,
                                std::vector<std::pair<std::string, std::string>> const& sections,
                                std::string const& between = "") {
  ByteWriter out;
  out.write_bytes(std::as_bytes(std::span("LOOMCKPT", 8)));
  out.write_u32(version);
  out.write_u32(static_cast<std::uint32_t>(sections.size()));
  for (auto const& [name, payload] : sections) {
    out.write_u32(static_cast<std::uint32_t>(name.size()));
    out.write_bytes(std::as_bytes(std::span(name)));
    out.write_u64(payload.size());
    out.write_bytes(std::as_bytes(std::span(payload)));
  }
  out.write_bytes(std::as_bytes(std::span(between)));
  out.write_u32(0);
  out.write_bytes(std::as_bytes(std::span("LOOM_END", 8)));
  auto file = out.take();
  fix_crc(file);
  return file;
}

template <class T>
bool bitwise_equal(std::vector<T> const& a, std::vector<T> const& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

class io_checkpoint : public ::testing::Test {
protected:
  void SetUp() override {
    auto const* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ =
        fs::temp_directory_path() / ("loom_io_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  /// A small checkpoint with a few sections.
  static CheckpointWriter small_checkpoint(double marker = 1.0) {
    CheckpointWriter checkpoint;
    ByteWriter model;
    model.write_string("Sequential<Input<4>, Dense<2>>");
    model.write_array(std::vector<float>{0.5f, -0.0f, 1e-40f, 3.0f});
    checkpoint.add("model", std::move(model));
    ByteWriter optimizer;
    optimizer.write_u64(12);
    optimizer.write_f64(marker);
    checkpoint.add("optimizer", std::move(optimizer));
    checkpoint.add("empty", std::vector<std::byte>{});
    return checkpoint;
  }

  fs::path dir_;
};

TEST_F(io_checkpoint, round_trip_of_every_value_type) {
  std::vector<float> const parameters = {
      1.0f,
      -0.0f,
      std::numeric_limits<float>::denorm_min(),
      std::numeric_limits<float>::min() / 8, // subnormal
      std::numeric_limits<float>::infinity(),
      std::bit_cast<float>(std::uint32_t{0x7fc0beef}), // quiet NaN with payload
      std::bit_cast<float>(std::uint32_t{0xff800001}), // negative signalling NaN
  };
  std::vector<double> const moments = {
      -0.0, 4.9e-324, std::bit_cast<double>(std::uint64_t{0x7ff4000000000123}), -1e300};
  std::vector<std::int64_t> const order = {5, 3, 0, -1, std::numeric_limits<std::int64_t>::min()};

  CheckpointWriter checkpoint;
  ByteWriter model;
  model.write_string("loom::Sequential<loom::Input<784>, loom::Dense<10>>");
  model.write_u32(2);
  model.write_array(std::vector<std::uint64_t>{784, 10});
  model.write_array(parameters);
  checkpoint.add("model", std::move(model));
  ByteWriter optimizer;
  optimizer.write_string("Adam");
  optimizer.write_u64(1234);
  optimizer.write_f64(-0.0);
  optimizer.write_f64(std::bit_cast<double>(std::uint64_t{0xfff0000000000042}));
  optimizer.write_array(moments);
  checkpoint.add("optimizer", std::move(optimizer));
  ByteWriter rng;
  rng.write_u64(0xdeadbeefcafef00du);
  rng.write_i64(-42);
  checkpoint.add("rng", rng.bytes());
  ByteWriter data;
  data.write_array(order);
  data.write_string(std::string("\0\xff", 2));
  checkpoint.add("data order", std::move(data));
  checkpoint.add("empty", std::vector<std::byte>{});
  EXPECT_TRUE(checkpoint.has("rng"));
  EXPECT_EQ(checkpoint.names(),
            (std::vector<std::string>{"model", "optimizer", "rng", "data order", "empty"}));

  auto const path = dir_ / "run" / "epoch-1.ckpt";
  checkpoint.write(path);
  EXPECT_EQ(listing(path.parent_path()), std::vector<std::string>{"epoch-1.ckpt"});

  CheckpointReader const in(path);
  EXPECT_EQ(in.path(), path);
  EXPECT_EQ(in.format_version(), 1u);
  EXPECT_EQ(in.names(),
            (std::vector<std::string>{"model", "optimizer", "rng", "data order", "empty"}));
  EXPECT_TRUE(in.has("model"));
  EXPECT_FALSE(in.has("mode"));

  auto model_in = in.section("model");
  EXPECT_EQ(model_in.read_string(), "loom::Sequential<loom::Input<784>, loom::Dense<10>>");
  EXPECT_EQ(model_in.read_u32(), 2u);
  EXPECT_EQ(model_in.read_array<std::uint64_t>(), (std::vector<std::uint64_t>{784, 10}));
  std::vector<float> parameters_in(parameters.size());
  model_in.read_array_into(parameters_in);
  EXPECT_TRUE(bitwise_equal(parameters_in, parameters));
  model_in.expect_end();

  auto optimizer_in = in.section("optimizer");
  EXPECT_EQ(optimizer_in.read_string(), "Adam");
  EXPECT_EQ(optimizer_in.read_u64(), 1234u);
  EXPECT_EQ(std::bit_cast<std::uint64_t>(optimizer_in.read_f64()), 0x8000000000000000u);
  EXPECT_EQ(std::bit_cast<std::uint64_t>(optimizer_in.read_f64()), 0xfff0000000000042u);
  EXPECT_TRUE(bitwise_equal(optimizer_in.read_array<double>(), moments));
  optimizer_in.expect_end();

  auto rng_in = in.section("rng");
  EXPECT_EQ(rng_in.read_u64(), 0xdeadbeefcafef00du);
  EXPECT_EQ(rng_in.read_i64(), -42);
  rng_in.expect_end();

  auto data_in = in.section("data order");
  EXPECT_EQ(data_in.read_array<std::int64_t>(), order);
  EXPECT_EQ(data_in.read_string(), std::string("\0\xff", 2));
  data_in.expect_end();

  EXPECT_EQ(in.section("empty").size(), 0u);
}

TEST_F(io_checkpoint, file_layout_is_as_documented) {
  CheckpointWriter checkpoint;
  checkpoint.add("ab", std::vector<std::byte>{std::byte{0x11}, std::byte{0x22}, std::byte{0x33}});
  auto const path = dir_ / "layout.ckpt";
  checkpoint.write(path);
  auto const file = slurp(path);
  std::vector<unsigned> const body = {
      'L',  'O',  'O',  'M', 'C', 'K', 'P', 'T', // magic
      1,    0,    0,    0,                       // format version
      1,    0,    0,    0,                       // section count
      2,    0,    0,    0,   'a', 'b',           // name
      3,    0,    0,    0,   0,   0,   0,   0,   // payload length
      0x11, 0x22, 0x33,                          // payload
  };
  ASSERT_EQ(file.size(), body.size() + 12);
  for (std::size_t i = 0; i < body.size(); ++i) {
    EXPECT_EQ(std::to_integer<unsigned>(file[i]), body[i]) << "byte " << i;
  }
  std::uint32_t const crc = zlib_crc(std::span(file).first(body.size()));
  ByteReader trailer{std::span(file).subspan(body.size()), "trailer"};
  EXPECT_EQ(trailer.read_u32(), crc);
  auto const marker = trailer.read_bytes(8);
  EXPECT_EQ(std::string(reinterpret_cast<char const*>(marker.data()), 8), "LOOM_END");
}

TEST_F(io_checkpoint, section_reader_outlives_the_checkpoint_reader) {
  auto const path = dir_ / "a.ckpt";
  small_checkpoint(2.5).write(path);
  auto optimizer = CheckpointReader(path).section("optimizer");
  EXPECT_EQ(optimizer.read_u64(), 12u);
  EXPECT_EQ(optimizer.read_f64(), 2.5);
}

TEST_F(io_checkpoint, overwriting_an_existing_checkpoint) {
  auto const path = dir_ / "a.ckpt";
  small_checkpoint(1.0).write(path);
  small_checkpoint(2.0).write(path);
  auto optimizer = CheckpointReader(path).section("optimizer");
  EXPECT_EQ(optimizer.read_u64(), 12u);
  EXPECT_EQ(optimizer.read_f64(), 2.0);
  EXPECT_EQ(listing(dir_), std::vector<std::string>{"a.ckpt"});
}

TEST_F(io_checkpoint, a_writer_writes_the_same_file_twice) {
  auto const checkpoint = small_checkpoint();
  checkpoint.write(dir_ / "a.ckpt");
  checkpoint.write(dir_ / "b.ckpt");
  EXPECT_EQ(slurp(dir_ / "a.ckpt"), slurp(dir_ / "b.ckpt"));
}

TEST_F(io_checkpoint, relative_path_in_the_current_directory) {
  auto const previous = fs::current_path();
  fs::current_path(dir_);
  try {
    small_checkpoint(3.0).write("plain.ckpt");
    EXPECT_EQ(CheckpointReader("plain.ckpt").section("optimizer").size(), 16u);
  } catch (...) {
    fs::current_path(previous);
    throw;
  }
  fs::current_path(previous);
  EXPECT_EQ(listing(dir_), std::vector<std::string>{"plain.ckpt"});
}

// --- errors when reading -------------------------------------------------------------------

TEST_F(io_checkpoint, missing_file) {
  auto const path = dir_ / "nope.ckpt";
  expect_error([&] { CheckpointReader{path}; },
               {"cannot open checkpoint '" + path.string() + "'", "No such file or directory"});
}

TEST_F(io_checkpoint, directory_instead_of_a_file) {
  expect_error([&] { CheckpointReader{dir_}; },
               {"cannot read checkpoint '" + dir_.string() + "'", "it is a directory"});
}

TEST_F(io_checkpoint, empty_paths) {
  expect_error([&] { CheckpointReader{fs::path()}; }, {"the checkpoint path is empty"});
  expect_error([&] { small_checkpoint().write(fs::path()); }, {"the checkpoint path is empty"});
}

TEST_F(io_checkpoint, empty_file) {
  auto const path = dir_ / "empty.ckpt";
  spit(path, std::string());
  expect_error([&] { CheckpointReader{path}; }, {"checkpoint '" + path.string() + "' is truncated",
                                                 "expected at least 28 bytes, the file has 0"});
}

TEST_F(io_checkpoint, text_file_is_not_a_checkpoint) {
  auto const path = dir_ / "notes.txt";
  spit(path, std::string("epoch,loss\n1,0.5\n2,0.25\n3,0.125\n"));
  expect_error([&] { CheckpointReader{path}; },
               {"'" + path.string() + "' is not a loom checkpoint",
                "it does not start with \"LOOMCKPT\"", "\"epoch,lo\""});
  auto const short_path = dir_ / "short.txt";
  spit(short_path, std::string("hi"));
  expect_error([&] { CheckpointReader{short_path}; },
               {"'" + short_path.string() + "' is not a loom checkpoint", "68 69"});
}

TEST_F(io_checkpoint, idx_file_is_not_a_checkpoint) {
  auto const path = dir_ / "train-labels-idx1-ubyte";
  std::vector<std::byte> idx = {std::byte{0}, std::byte{0}, std::byte{8},    std::byte{1},
                                std::byte{0}, std::byte{0}, std::byte{0xea}, std::byte{0x60}};
  idx.resize(1000, std::byte{3});
  spit(path, idx);
  expect_error([&] { CheckpointReader{path}; },
               {"'" + path.string() + "' is not a loom checkpoint", "00 00 08 01 00 00 ea 60"});
}

TEST_F(io_checkpoint, newer_format_version) {
  auto const path = dir_ / "future.ckpt";
  small_checkpoint().write(path);
  auto file = slurp(path);
  file[8] = std::byte{2};
  fix_crc(file);
  spit(path, file);
  expect_error([&] { CheckpointReader{path}; },
               {"checkpoint '" + path.string() + "' has format version 2",
                "written by a newer loom", "this loom reads format version 1"});
}

TEST_F(io_checkpoint, format_version_zero_is_corrupt) {
  auto const path = dir_ / "zero.ckpt";
  spit(path, handmade(0, {{"a", "x"}}));
  expect_error([&] { CheckpointReader{path}; },
               {"checkpoint '" + path.string() + "' is corrupt", "format version 0"});
}

TEST_F(io_checkpoint, checksum_mismatch) {
  auto const path = dir_ / "a.ckpt";
  small_checkpoint().write(path);
  auto file = slurp(path);
  file[40] ^= std::byte{0x10};
  spit(path, file);
  auto const message = expect_error([&] { CheckpointReader{path}; },
                                    {"checkpoint '" + path.string() + "' is corrupt",
                                     "checksum mismatch (stored 0x", ", computed 0x"});
  EXPECT_TRUE(
      std::regex_search(message, std::regex("stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}")))
      << message;
}

TEST_F(io_checkpoint, every_prefix_is_reported_as_truncated) {
  auto const path = dir_ / "a.ckpt";
  small_checkpoint().write(path);
  auto const file = slurp(path);
  auto const cut = dir_ / "cut.ckpt";
  std::regex const sizes("expected at least ([0-9]+) bytes, the file has ([0-9]+)");
  for (std::size_t size = 0; size < file.size(); ++size) {
    spit(cut, std::span(file).first(size));
    auto const message =
        expect_error([&] { CheckpointReader{cut}; }, {"checkpoint '" + cut.string() + "'"});
    std::smatch match;
    ASSERT_TRUE(std::regex_search(message, match, sizes)) << "prefix " << size << ": " << message;
    auto const expected = std::stoull(match[1].str());
    EXPECT_EQ(std::stoull(match[2].str()), size);
    EXPECT_GT(expected, size) << message;
    EXPECT_LE(expected, file.size()) << message;
    EXPECT_NE(message.find("is truncated"), std::string::npos) << message;
  }
}

TEST_F(io_checkpoint, every_flipped_bit_is_detected) {
  auto const path = dir_ / "a.ckpt";
  small_checkpoint().write(path);
  auto const file = slurp(path);
  auto const flipped = dir_ / "flipped.ckpt";
  std::string const name = "'" + flipped.string() + "'";
  for (std::size_t byte = 0; byte < file.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      auto copy = file;
      copy[byte] ^= static_cast<std::byte>(1u << bit);
      spit(flipped, copy);
      auto const message = expect_error([&] { CheckpointReader{flipped}; }, {name});
      bool const clear = message.find("is corrupt") != std::string::npos ||
                         message.find("is not a loom checkpoint") != std::string::npos;
      EXPECT_TRUE(clear) << "byte " << byte << " bit " << bit << ": " << message;
    }
  }
}

TEST_F(io_checkpoint, appended_bytes_are_corrupt) {
  auto const path = dir_ / "a.ckpt";
  small_checkpoint().write(path);
  auto file = slurp(path);
  file.push_back(std::byte{'\n'});
  spit(path, file);
  expect_error([&] { CheckpointReader{path}; },
               {"checkpoint '" + path.string() + "' is corrupt", "1 bytes follow its end marker"});
}

TEST_F(io_checkpoint, inconsistent_structure_with_a_valid_checksum_is_corrupt) {
  auto const path = dir_ / "bad.ckpt";
  spit(path, handmade(1, {{"", "x"}}));
  expect_error([&] { CheckpointReader{path}; },
               {"checkpoint '" + path.string() + "' is corrupt", "has a name of 0 bytes"});
  spit(path, handmade(1, {{std::string(4097, 'n'), "x"}}));
  expect_error([&] { CheckpointReader{path}; },
               {"is corrupt", "has a name of 4097 bytes; names have 1 to 4096"});
  spit(path, handmade(1, {{"a", "x"}, {"a", "y"}}));
  expect_error([&] { CheckpointReader{path}; }, {"is corrupt", "section 'a' appears twice"});
  spit(path, handmade(1, {{"a", "x"}}, "junk"));
  expect_error([&] { CheckpointReader{path}; },
               {"is corrupt", "4 bytes lie between its last section and its checksum"});
  auto overrun = handmade(1, {{"a", "xyz"}});
  overrun[21] = std::byte{200}; // payload length 3 -> 200
  fix_crc(overrun);
  spit(path, overrun);
  expect_error([&] { CheckpointReader{path}; },
               {"is corrupt", "the payload of section 0 at byte 29 needs 200 bytes"});
  // The longest legal name is fine.
  spit(path, handmade(1, {{std::string(4096, 'n'), "x"}}));
  EXPECT_TRUE(CheckpointReader(path).has(std::string(4096, 'n')));
}

TEST_F(io_checkpoint, missing_section_and_reading_past_a_section) {
  auto const path = dir_ / "a.ckpt";
  small_checkpoint().write(path);
  CheckpointReader const in(path);
  expect_error([&] { (void)in.section("scheduler"); },
               {"checkpoint '" + path.string() + "' has no section 'scheduler'",
                "(its sections: 'model', 'optimizer', 'empty')"});
  auto optimizer = in.section("optimizer");
  (void)optimizer.read_u64();
  (void)optimizer.read_f64();
  expect_error([&] { (void)optimizer.read_u32(); },
               {"checkpoint '" + path.string() + "', section 'optimizer' is truncated or corrupt",
                "reading a u32 at byte 16 needs 4 bytes, only 0 remain"});
}

// --- errors when writing -------------------------------------------------------------------

TEST_F(io_checkpoint, bad_section_names) {
  CheckpointWriter checkpoint;
  checkpoint.add("model", std::vector<std::byte>{});
  expect_error([&] { checkpoint.add("model", std::vector<std::byte>{}); },
               {"section 'model' was already added", "must be unique"});
  expect_error([&] { checkpoint.add("", std::vector<std::byte>{}); },
               {"section name '' has 0 bytes"});
  expect_error([&] { checkpoint.add(std::string(4097, 'x'), std::vector<std::byte>{}); },
               {"has 4097 bytes; a section name has 1 to 4096"});
  EXPECT_EQ(checkpoint.names(), std::vector<std::string>{"model"});
}

TEST_F(io_checkpoint, path_ending_in_a_separator) {
  auto const path = dir_.string() + "/sub/";
  expect_error([&] { small_checkpoint().write(path); },
               {"cannot write checkpoint '" + path + "'", "name a file"});
}

TEST_F(io_checkpoint, parent_path_through_a_regular_file) {
  spit(dir_ / "plain", std::string("not a directory"));
  auto const path = dir_ / "plain" / "sub" / "a.ckpt";
  expect_error([&] { small_checkpoint().write(path); },
               {"cannot write checkpoint '" + path.string() + "'",
                "cannot create directory '" + (dir_ / "plain" / "sub").string() + "'"});
  EXPECT_EQ(listing(dir_), std::vector<std::string>{"plain"});
}

TEST_F(io_checkpoint, failed_temporary_file_leaves_the_old_checkpoint) {
  auto const path = dir_ / "a.ckpt";
  small_checkpoint(1.0).write(path);
  auto const before = slurp(path);
  // Something (a directory) already sits where the temporary file goes.
  auto const temporary = fs::path(path.string() + ".tmp." + std::to_string(::getpid()));
  fs::create_directories(temporary / "keep");
  expect_error([&] { small_checkpoint(2.0).write(path); },
               {"cannot write checkpoint '" + path.string() + "'",
                "cannot create the temporary file '" + temporary.string() + "'", "Is a directory",
                "nothing at '" + path.string() + "' was changed"});
  EXPECT_EQ(slurp(path), before);
  EXPECT_EQ(CheckpointReader(path).section("optimizer").size(), 16u);
  EXPECT_TRUE(fs::is_directory(temporary / "keep")); // not the writer's to remove
  fs::remove_all(temporary);
  EXPECT_EQ(listing(dir_), std::vector<std::string>{"a.ckpt"});
}

TEST_F(io_checkpoint, failed_rename_leaves_what_was_there) {
  auto const path = dir_ / "a.ckpt";
  fs::create_directories(path);
  small_checkpoint(1.0).write(path / "inner.ckpt");
  auto const before = slurp(path / "inner.ckpt");
  expect_error([&] { small_checkpoint(2.0).write(path); },
               {"cannot write checkpoint '" + path.string() + "'",
                "cannot rename the temporary file '" + path.string() + ".tmp.",
                " to '" + path.string() + "'", "Is a directory", "was changed"});
  EXPECT_EQ(listing(dir_), std::vector<std::string>{"a.ckpt"}); // no temporary file left
  EXPECT_EQ(listing(path), std::vector<std::string>{"inner.ckpt"});
  EXPECT_EQ(slurp(path / "inner.ckpt"), before);
}

/// Lowers the file-size limit for the life of the object, so that writes past it fail (EFBIG)
/// even when the tests run as root.
class FileSizeLimit {
public:
  explicit FileSizeLimit(rlim_t bytes) {
    previous_handler_ = ::signal(SIGXFSZ, SIG_IGN);
    ::getrlimit(RLIMIT_FSIZE, &previous_);
    struct ::rlimit lowered = previous_;
    lowered.rlim_cur = bytes;
    ok_ = ::setrlimit(RLIMIT_FSIZE, &lowered) == 0;
  }
  FileSizeLimit(FileSizeLimit const&) = delete;
  FileSizeLimit& operator=(FileSizeLimit const&) = delete;
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &previous_);
    ::signal(SIGXFSZ, previous_handler_);
  }
  [[nodiscard]] bool ok() const { return ok_; }

private:
  struct ::rlimit previous_ {};
  void (*previous_handler_)(int) = nullptr;
  bool ok_ = false;
};

TEST_F(io_checkpoint, failed_write_midway_leaves_the_old_checkpoint) {
  auto const path = dir_ / "a.ckpt";
  small_checkpoint(1.0).write(path);
  auto const before = slurp(path);
  CheckpointWriter big;
  big.add("model", std::vector<std::byte>(256 * 1024, std::byte{7}));
  {
    FileSizeLimit const limit(64 * 1024);
    ASSERT_TRUE(limit.ok());
    expect_error([&] { big.write(path); },
                 {"cannot write checkpoint '" + path.string() + "'",
                  "cannot write the temporary file '" + path.string() + ".tmp.", "File too large",
                  "nothing at '" + path.string() + "' was changed"});
  }
  EXPECT_EQ(slurp(path), before);
  EXPECT_EQ(listing(dir_), std::vector<std::string>{"a.ckpt"});
  big.write(path); // and with the limit lifted, it works
  EXPECT_EQ(CheckpointReader(path).section("model").size(), 256u * 1024u);
}

} // namespace
