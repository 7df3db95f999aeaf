#include <loom/data/csv.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "data_test_files.hpp"

namespace {

using loom::data::CsvOptions;
using loom::data::read_csv;
using loom::test::error_message;
using loom::test::TempDir;

std::vector<float> features_of(auto const& data) {
  auto const stored = data.template stored_features<float>(); // CSV features are floats
  return std::vector<float>(stored.begin(), stored.end());
}
template <class Target>
std::vector<Target> targets_of(loom::data::InMemoryDataset<Target> const& data) {
  return std::vector<Target>(data.targets().begin(), data.targets().end());
}

TEST(DataCsv, LabelsInTheLastColumnByDefault) {
  TempDir dir;
  loom::test::write_text(dir.file("iris.csv"), "5.1,3.5,1.4,0\n"
                                               "4.9, 3.0 ,-1.5e-1,2\n"
                                               "+6.0,2.2,5.0,1\n");
  auto const data = read_csv(dir.file("iris.csv"));
  EXPECT_EQ(data.size(), 3u);
  EXPECT_EQ(data.sample_size(), 3u);
  EXPECT_EQ(data.target_size(), 1u);
  EXPECT_EQ(data.source(), dir.file("iris.csv"));
  EXPECT_EQ(features_of(data),
            (std::vector<float>{5.1f, 3.5f, 1.4f, 4.9f, 3.0f, -0.15f, 6, 2.2f, 5}));
  EXPECT_EQ(targets_of(data), (std::vector<std::int32_t>{0, 2, 1}));
  EXPECT_EQ(data.num_classes(), 3u);
}

TEST(DataCsv, HeaderDelimiterCrLfBomBlankLinesAndIntegralFloatLabels) {
  TempDir dir;
  loom::test::write_text(dir.file("semi.csv"), "\xEF\xBB\xBF"
                                               "label;a;b\r\n"
                                               "\r\n"
                                               "3.0;1;2\r\n"
                                               "1;3;4\r\n"
                                               "   \n"
                                               "2e0;5;6"); // no final newline
  auto const data =
      read_csv(dir.file("semi.csv"), {.delimiter = ';', .header = true, .target_columns = {0}});
  EXPECT_EQ(data.size(), 3u);
  EXPECT_EQ(features_of(data), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(targets_of(data), (std::vector<std::int32_t>{3, 1, 2}));
}

TEST(DataCsv, FloatTargetsInSeveralColumns) {
  TempDir dir;
  loom::test::write_text(dir.file("reg.tsv"), "0.5\t1\t2\t-0.25\n"
                                              "1.5\t3\t4\t0.75\n");
  auto const data =
      read_csv<float>(dir.file("reg.tsv"), {.delimiter = '\t', .target_columns = {3, 0}});
  EXPECT_EQ(data.size(), 2u);
  EXPECT_EQ(data.sample_size(), 2u);
  EXPECT_EQ(data.target_size(), 2u);
  EXPECT_EQ(features_of(data), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(targets_of(data), (std::vector<float>{-0.25f, 0.5f, 0.75f, 1.5f})); // in option order
}

TEST(DataCsv, WhitespaceSeparated) {
  TempDir dir;
  loom::test::write_text(dir.file("uci.data"), "  1.5   2\t 3  1\n4 5 6 0  \n");
  auto const data = read_csv(dir.file("uci.data"), {.delimiter = ' '});
  EXPECT_EQ(features_of(data), (std::vector<float>{1.5f, 2, 3, 4, 5, 6}));
  EXPECT_EQ(targets_of(data), (std::vector<std::int32_t>{1, 0}));
  loom::test::write_text(dir.file("ragged.data"), "1 2 3\n4 5\n");
  LOOM_EXPECT_CONTAINS(
      error_message([&] { read_csv(dir.file("ragged.data"), {.delimiter = ' '}); }),
      "line 2: 2 fields, expected 3 (as on line 1, separated by blanks)");
}

TEST(DataCsv, GzipCompressed) {
  TempDir dir;
  std::string const text = "1,2,0\n3,4,1\n";
  loom::test::write_gzip(dir.file("data.csv.gz"), loom::test::Bytes(text.begin(), text.end()));
  auto const data = read_csv(dir.file("data.csv.gz"));
  EXPECT_EQ(features_of(data), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(targets_of(data), (std::vector<std::int32_t>{0, 1}));
}

// ---- bad input: file, line and column in every message ----

TEST(DataCsv, MissingFile) {
  TempDir dir;
  LOOM_EXPECT_CONTAINS(error_message([&] { read_csv(dir.file("nope.csv")); }),
                       "loom::data::read_csv: cannot open '" + dir.file("nope.csv") +
                           "': no such file");
}

TEST(DataCsv, EmptyFile) {
  TempDir dir;
  loom::test::write_text(dir.file("empty.csv"), "");
  LOOM_EXPECT_CONTAINS(error_message([&] { read_csv(dir.file("empty.csv")); }),
                       "loom::data::read_csv: '" + dir.file("empty.csv") +
                           "' is empty; expected rows of numbers separated by ','");
  loom::test::write_text(dir.file("blank.csv"), "\n  \n\r\n");
  LOOM_EXPECT_CONTAINS(error_message([&] { read_csv(dir.file("blank.csv")); }),
                       "'" + dir.file("blank.csv") + "' is empty");
  loom::test::write_text(dir.file("header.csv"), "a,b,label\n");
  LOOM_EXPECT_CONTAINS(error_message([&] { read_csv(dir.file("header.csv"), {.header = true}); }),
                       "'" + dir.file("header.csv") +
                           "' has a header line (line 1) but no data "
                           "rows");
}

TEST(DataCsv, NonNumericField) {
  TempDir dir;
  loom::test::write_text(dir.file("bad.csv"), "1,2,0\n3,abc,1\n");
  LOOM_EXPECT_CONTAINS(error_message([&] { read_csv(dir.file("bad.csv")); }),
                       "loom::data::read_csv: '" + dir.file("bad.csv") +
                           "' line 2, column 2: 'abc' is not a number");
  loom::test::write_text(dir.file("partial.csv"), "1,2.5x,0\n");
  LOOM_EXPECT_CONTAINS(error_message([&] { read_csv(dir.file("partial.csv")); }),
                       "'" + dir.file("partial.csv") +
                           "' line 1, column 2: '2.5x' is not a "
                           "number");
  loom::test::write_text(dir.file("hole.csv"), "1,,0\n");
  LOOM_EXPECT_CONTAINS(error_message([&] { read_csv(dir.file("hole.csv")); }),
                       "'" + dir.file("hole.csv") +
                           "' line 1, column 2: an empty field is not a "
                           "number");
  loom::test::write_text(dir.file("nan.csv"), "1,nan,0\n");
  LOOM_EXPECT_CONTAINS(error_message([&] { read_csv(dir.file("nan.csv")); }),
                       "'" + dir.file("nan.csv") +
                           "' line 1, column 2: 'nan' is not a finite "
                           "number");
  loom::test::write_text(dir.file("big.csv"), "1e60,1,0\n");
  LOOM_EXPECT_CONTAINS(error_message([&] { read_csv(dir.file("big.csv")); }),
                       "'" + dir.file("big.csv") +
                           "' line 1, column 1: '1e60' is out of the "
                           "range of float");
  loom::test::write_text(dir.file("header-forgotten.csv"), "x,y,label\n1,2,0\n");
  LOOM_EXPECT_CONTAINS(error_message([&] { read_csv(dir.file("header-forgotten.csv")); }),
                       "line 1, column 1: 'x' is not a number");
  loom::test::write_text(dir.file("regression.csv"), "1,2,zero\n");
  LOOM_EXPECT_CONTAINS(error_message([&] { read_csv<float>(dir.file("regression.csv")); }),
                       "'" + dir.file("regression.csv") +
                           "' line 1, column 3: target 'zero' is "
                           "not a number");
}

TEST(DataCsv, WrongNumberOfFields) {
  TempDir dir;
  loom::test::write_text(dir.file("ragged.csv"), "h1,h2,h3\n1,2,0\n\n3,4,5,1\n");
  LOOM_EXPECT_CONTAINS(error_message([&] { read_csv(dir.file("ragged.csv"), {.header = true}); }),
                       "loom::data::read_csv: '" + dir.file("ragged.csv") +
                           "' line 4: 4 fields, expected 3 (as on line 2, separated by ',')");
  loom::test::write_text(dir.file("short.csv"), "1;2;0\n3;1\n");
  LOOM_EXPECT_CONTAINS(error_message([&] { read_csv(dir.file("short.csv"), {.delimiter = ';'}); }),
                       "'" + dir.file("short.csv") +
                           "' line 2: 2 fields, expected 3 (as on line "
                           "1, separated by ';')");
}

TEST(DataCsv, BadLabels) {
  TempDir dir;
  loom::test::write_text(dir.file("frac.csv"), "1,2,0\n3,4,1.5\n");
  LOOM_EXPECT_CONTAINS(error_message([&] { read_csv(dir.file("frac.csv")); }),
                       "loom::data::read_csv: '" + dir.file("frac.csv") +
                           "' line 2, column 3: label '1.5' is not an integer");
  loom::test::write_text(dir.file("neg.csv"), "1,2,-1\n");
  LOOM_EXPECT_CONTAINS(error_message([&] { read_csv(dir.file("neg.csv")); }),
                       "'" + dir.file("neg.csv") + "' line 1, column 3: label '-1' is negative");
  loom::test::write_text(dir.file("word.csv"), "1,2,cat\n");
  LOOM_EXPECT_CONTAINS(error_message([&] { read_csv(dir.file("word.csv")); }),
                       "'" + dir.file("word.csv") +
                           "' line 1, column 3: label 'cat' is not a "
                           "number");
  loom::test::write_text(dir.file("range.csv"), "1,2,0\n1,2,3\n1,2,7\n");
  LOOM_EXPECT_CONTAINS(error_message([&] { read_csv(dir.file("range.csv"), {.num_classes = 5}); }),
                       "'" + dir.file("range.csv") +
                           "' line 3, column 3: label 7 of sample 2 is "
                           "out of range; labels must lie in [0, 5)");
  loom::test::write_text(dir.file("huge.csv"), "1,2,3e9\n");
  LOOM_EXPECT_CONTAINS(error_message([&] { read_csv(dir.file("huge.csv")); }),
                       "label '3e9' is too large for a class label");
}

TEST(DataCsv, BadTargetColumns) {
  TempDir dir;
  loom::test::write_text(dir.file("d.csv"), "1,2,0\n");
  LOOM_EXPECT_CONTAINS(error_message([&] { read_csv(dir.file("d.csv"), {.target_columns = {3}}); }),
                       "'" + dir.file("d.csv") +
                           "': target column 3 (0-based, "
                           "CsvOptions::target_columns) does not exist: line 1 has 3 fields "
                           "separated by ',' (columns 0 to 2)");
  LOOM_EXPECT_CONTAINS(error_message([&] {
                         read_csv<float>(dir.file("d.csv"), {.target_columns = {1, 1}});
                       }),
                       "'" + dir.file("d.csv") + "': target column 1 (0-based) is listed twice");
  LOOM_EXPECT_CONTAINS(error_message([&] {
                         read_csv<float>(dir.file("d.csv"), {.target_columns = {0, 1, 2}});
                       }),
                       "'" + dir.file("d.csv") +
                           "': all 3 columns are targets; no feature columns are left");
}

TEST(DataCsv, TruncatedGzip) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 2000; ++i) {
    text += std::to_string(i * 7919 % 10007) + "," + std::to_string(i * 31 % 977) + "," +
            std::to_string(i % 3) + "\n";
  }
  loom::test::write_gzip(dir.file("full.csv.gz"), loom::test::Bytes(text.begin(), text.end()));
  auto compressed = loom::test::read_bytes(dir.file("full.csv.gz"));
  compressed.resize(compressed.size() / 2);
  loom::test::write_bytes(dir.file("cut.csv.gz"), compressed);
  LOOM_EXPECT_CONTAINS(error_message([&] { read_csv(dir.file("cut.csv.gz")); }),
                       "loom::data::read_csv: '" + dir.file("cut.csv.gz") +
                           "' is truncated: the gzip stream is cut off after ");
}

} // namespace
