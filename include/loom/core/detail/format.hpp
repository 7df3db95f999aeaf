#pragma once

#include <cstddef>
#include <sstream>
#include <string>

namespace loom::detail {

/// A number as people write it: 0.01, 0.5, 1e-05.
inline std::string format_number(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

/// 669706 → "669,706".
inline std::string group_digits(std::size_t value) {
  std::string const digits = std::to_string(value);
  std::string out;
  out.reserve(digits.size() + digits.size() / 3);
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) {
      out.push_back(',');
    }
    out.push_back(digits[i]);
  }
  return out;
}

} // namespace loom::detail
