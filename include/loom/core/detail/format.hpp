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
  std::string digits = std::to_string(value);
  for (int pos = static_cast<int>(digits.size()) - 3; pos > 0; pos -= 3) {
    digits.insert(static_cast<std::size_t>(pos), ",");
  }
  return digits;
}

} // namespace loom::detail
