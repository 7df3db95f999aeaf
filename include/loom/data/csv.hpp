#pragma once

#include <loom/core/error.hpp>
#include <loom/data/detail/compressed_file.hpp>
#include <loom/data/in_memory.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace loom::data {

/// \brief How read_csv splits a file into features and targets.
struct CsvOptions {
  char delimiter = ','; ///< field separator: ',', ';', '\t' …; ' ' splits at runs of blanks
  bool header = false;  ///< the first non-blank line names the columns: skip it
  std::vector<std::size_t> target_columns{}; ///< 0-based columns holding targets, in target order;
                                             ///< empty: the last column
  std::size_t num_classes = 0; ///< integer labels: when > 0, each must be < num_classes
};

namespace detail {

inline std::string_view trim_csv_field(std::string_view field) {
  auto const blank = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  while (!field.empty() && blank(field.front())) {
    field.remove_prefix(1);
  }
  while (!field.empty() && blank(field.back())) {
    field.remove_suffix(1);
  }
  return field;
}

inline std::string describe_delimiter(char delimiter) {
  if (delimiter == '\t') {
    return "tabs";
  }
  if (delimiter == ' ') {
    return "blanks";
  }
  return loom::detail::concat("'", delimiter, "'");
}

/// Parses a whole field as a number: from_chars, plus an optional leading '+'.
template <class Number>
std::errc parse_csv_number(std::string_view field, Number& value) {
  if (field.size() > 1 && field.front() == '+' && field[1] != '-') {
    field.remove_prefix(1);
  }
  auto const [end, ec] = std::from_chars(field.data(), field.data() + field.size(), value);
  if (ec == std::errc() && end != field.data() + field.size()) {
    return std::errc::invalid_argument;
  }
  return ec;
}

} // namespace detail

/// \brief Reads a CSV file of numbers (plain, or gzip-compressed: .csv.gz) into a dataset:
///        one sample per non-blank line, the target columns as its targets and the other
///        columns, in file order, as its features (stored as floats). The source() is the
///        path.
/// \tparam Target std::int32_t for class labels (written as integers, "3" or "3.0", ≥ 0), or
///                float for regression targets
/// \param path    the file
/// \param options delimiter, header line, target columns, number of classes
/// \throws loom::Error naming the file (and the line and 1-based column where one is at fault)
///         for: a missing file, an empty file (or a header and no rows), a row with another
///         number of fields than the first row, a field that is not a finite number, a label
///         that is not a non-negative integer or is ≥ num_classes, a target column that does
///         not exist or is listed twice, no feature columns left
template <class Target = std::int32_t>
InMemoryDataset<Target> read_csv(std::string const& path, CsvOptions const& options = {}) {
  static_assert(std::is_same_v<Target, std::int32_t> || std::is_same_v<Target, float>,
                "loom::data::read_csv<Target>: Target must be std::int32_t (class labels) or "
                "float (regression targets)");
  char const* const caller = "loom::data::read_csv";
  using loom::detail::fail;

  std::string text;
  {
    detail::CompressedFile file(path, caller);
    constexpr std::size_t chunk = std::size_t{1} << 20;
    for (;;) {
      std::size_t const have = text.size();
      text.resize(have + chunk);
      std::size_t const got = file.read(text.data() + have, chunk);
      text.resize(have + got);
      if (got < chunk) {
        break;
      }
    }
    if (file.truncated_stream()) {
      fail(caller, ": '", path, "' is truncated: the gzip stream is cut off after ", text.size(),
           " bytes; download or copy the file again");
    }
  }
  std::string_view rest = text;
  if (rest.starts_with("\xEF\xBB\xBF")) { // UTF-8 byte order mark (spreadsheet exports)
    rest.remove_prefix(3);
  }

  std::vector<float> features;
  std::vector<Target> targets;
  std::vector<bool> is_target;      // per column
  std::vector<std::size_t> columns; // fields in the first data row; 0 until then
  std::size_t fields = 0;
  std::size_t first_row_line = 0;
  std::size_t header_line = 0;
  std::vector<std::string_view> row;

  std::size_t line_number = 0;
  while (!rest.empty()) {
    ++line_number;
    std::size_t const newline = rest.find('\n');
    std::string_view const line = rest.substr(0, newline);
    rest = newline == std::string_view::npos ? std::string_view() : rest.substr(newline + 1);
    if (detail::trim_csv_field(line).empty()) {
      continue;
    }
    if (options.header && header_line == 0) {
      header_line = line_number;
      continue;
    }

    row.clear();
    if (options.delimiter == ' ') { // whitespace-separated: runs of blanks separate fields
      std::string_view rest_of_line = detail::trim_csv_field(line);
      while (!rest_of_line.empty()) {
        std::size_t const end = rest_of_line.find_first_of(" \t");
        row.push_back(rest_of_line.substr(0, end));
        rest_of_line = end == std::string_view::npos
                           ? std::string_view()
                           : detail::trim_csv_field(rest_of_line.substr(end));
      }
    } else {
      for (std::size_t begin = 0;;) {
        std::size_t const end = line.find(options.delimiter, begin);
        row.push_back(detail::trim_csv_field(line.substr(begin, end - begin)));
        if (end == std::string_view::npos) {
          break;
        }
        begin = end + 1;
      }
    }

    if (fields == 0) { // the first data row fixes the layout
      fields = row.size();
      first_row_line = line_number;
      is_target.assign(fields, false);
      if (options.target_columns.empty()) {
        columns.push_back(fields - 1);
      } else {
        columns = options.target_columns;
      }
      for (std::size_t column : columns) {
        if (column >= fields) {
          fail(caller, ": '", path, "': target column ", column,
               " (0-based, CsvOptions::target_columns) does not exist: line ", line_number, " has ",
               fields, " fields separated by ", detail::describe_delimiter(options.delimiter),
               " (columns 0 to ", fields - 1, ")");
        }
        if (is_target[column]) {
          fail(caller, ": '", path, "': target column ", column,
               " (0-based) is listed twice in CsvOptions::target_columns");
        }
        is_target[column] = true;
      }
      if (columns.size() == fields) {
        fail(caller, ": '", path, "': all ", fields,
             " columns are targets; no feature columns are left (CsvOptions::target_columns)");
      }
    } else if (row.size() != fields) {
      fail(caller, ": '", path, "' line ", line_number, ": ", row.size(), " fields, expected ",
           fields, " (as on line ", first_row_line, ", separated by ",
           detail::describe_delimiter(options.delimiter), ")");
    }

    std::size_t const sample = targets.size() / columns.size();
    for (std::size_t c = 0; c < fields; ++c) {
      if (is_target[c]) {
        continue;
      }
      float value = 0;
      std::errc const ec = detail::parse_csv_number(row[c], value);
      if (ec == std::errc::result_out_of_range) {
        fail(caller, ": '", path, "' line ", line_number, ", column ", c + 1, ": '", row[c],
             "' is out of the range of float");
      }
      if (ec != std::errc() || !std::isfinite(value)) {
        fail(caller, ": '", path, "' line ", line_number, ", column ", c + 1, ": ",
             row[c].empty() ? std::string("an empty field")
                            : loom::detail::concat("'", row[c], "'"),
             ec != std::errc() ? " is not a number" : " is not a finite number");
      }
      features.push_back(value);
    }
    for (std::size_t column : columns) {
      std::string_view const field = row[column];
      auto const where = [&] {
        return loom::detail::concat(caller, ": '", path, "' line ", line_number, ", column ",
                                    column + 1, ": ");
      };
      if constexpr (std::is_same_v<Target, float>) {
        float value = 0;
        std::errc const ec = detail::parse_csv_number(field, value);
        if (ec != std::errc() || !std::isfinite(value)) {
          fail(where(), "target ",
               field.empty() ? std::string("(an empty field)")
                             : loom::detail::concat("'", field, "'"),
               ec == std::errc::result_out_of_range ? " is out of the range of float"
               : ec != std::errc()                  ? " is not a number"
                                                    : " is not a finite number");
        }
        targets.push_back(value);
      } else {
        double value = 0;
        std::errc const ec = detail::parse_csv_number(field, value);
        if (ec != std::errc() || !std::isfinite(value)) {
          fail(where(), "label ",
               field.empty() ? std::string("(an empty field)")
                             : loom::detail::concat("'", field, "'"),
               " is not a number; class labels are integers 0, 1, 2, ...");
        }
        if (value != std::floor(value)) {
          fail(where(), "label '", field,
               "' is not an integer; class labels are integers 0, 1, "
               "2, ... (read regression targets with read_csv<float>)");
        }
        if (value < 0) {
          fail(where(), "label '", field, "' is negative; class labels are integers 0, 1, 2, ...");
        }
        if (options.num_classes > 0 && value >= static_cast<double>(options.num_classes)) {
          fail(where(), "label ", static_cast<long long>(value), " of sample ", sample,
               " is out of range; labels must lie in [0, ", options.num_classes, ")");
        }
        if (value > static_cast<double>(std::numeric_limits<std::int32_t>::max())) {
          fail(where(), "label '", field, "' is too large for a class label");
        }
        targets.push_back(static_cast<std::int32_t>(value));
      }
    }
  }

  if (fields == 0) {
    if (header_line != 0) {
      fail(caller, ": '", path, "' has a header line (line ", header_line, ") but no data rows");
    }
    fail(caller, ": '", path, "' is empty; expected rows of numbers separated by ",
         detail::describe_delimiter(options.delimiter));
  }
  std::size_t const feature_columns = fields - columns.size();
  // The dataset keeps the features for good: free the file's text, then give back what the
  // vector over-allocated while it grew.
  std::string().swap(text);
  features.shrink_to_fit();
  return InMemoryDataset<Target>(std::move(features), feature_columns, std::move(targets),
                                 columns.size(), path);
}

} // namespace loom::data
