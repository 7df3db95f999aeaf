#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace loom {

/// \brief The exception loom throws for bad input and failed runtime checks: missing or
///        malformed files, checkpoints of another model, non-finite losses. Its message names
///        the file, rank or type involved and says what to do.
class Error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

namespace detail {

/// Builds a message from its pieces with operator<<.
template <class... Parts>
[[nodiscard]] std::string concat(Parts const&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}

/// Throws loom::Error with a message built from its pieces.
template <class... Parts>
[[noreturn]] void fail(Parts const&... parts) {
  throw Error(concat(parts...));
}

template <class T>
inline constexpr bool always_false = false;

/// `static_assert(detail::checked<check_thing<T>()>);` runs a check function (whose own
/// static_asserts speak to the user) when a class is instantiated, and adds no message of its
/// own: static data members would only be evaluated when used.
template <bool>
inline constexpr bool checked = true;

} // namespace detail
} // namespace loom
