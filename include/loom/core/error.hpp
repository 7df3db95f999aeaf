#pragma once

#include <charconv>
#include <concepts>
#include <cstddef>
#include <cstdio>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>

namespace loom {

/// \brief The exception loom throws for bad input and failed runtime checks: missing or
///        malformed files, checkpoints of another model, non-finite losses. Its message names
///        the file, rank or type involved and says what to do.
class Error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
  /// \param collective  every process of the run raised this error at the same point
  Error(std::string const& message, bool collective)
      : std::runtime_error(message)
      , collective_(collective) {}

  /// Whether every process raised this error together (the collective checks of
  /// Environment::collectively and of the strategies do), so that no process is left
  /// waiting for another and each may end normally. A local error (one process's file
  /// went missing) leaves the others waiting: Environment::run then stops every process.
  bool collective() const noexcept { return collective_; }

private:
  bool collective_ = false;
};

namespace detail {

/// One piece of an error message: text, or a number formatted as operator<< formats it. Messages
/// are built from these by one non-template function, so the many call sites of fail() do not
/// each instantiate stream code.
class MessagePart {
public:
  MessagePart(char const* text)
      : text_(text) {}
  MessagePart(std::string const& text)
      : text_(text) {}
  MessagePart(std::string_view text)
      : text_(text) {}
  MessagePart(char c)
      : length_(1) {
    buffer_[0] = c;
  }
  template <std::integral T>
  MessagePart(T value) {
    auto const result = std::to_chars(buffer_, buffer_ + sizeof buffer_, value);
    length_ = static_cast<std::size_t>(result.ptr - buffer_);
  }
  template <std::floating_point T>
  MessagePart(T value) {
    int const n = std::snprintf(buffer_, sizeof buffer_, "%g", static_cast<double>(value));
    length_ = n > 0 ? static_cast<std::size_t>(n) : 0;
  }
  MessagePart(MessagePart const&) = delete;
  MessagePart& operator=(MessagePart const&) = delete;

  std::string_view view() const { return length_ ? std::string_view(buffer_, length_) : text_; }

private:
  std::string_view text_;
  char buffer_[32] = {};
  std::size_t length_ = 0;
};

[[nodiscard]] inline std::string join(std::initializer_list<MessagePart> parts) {
  std::size_t size = 0;
  for (auto const& part : parts) {
    size += part.view().size();
  }
  std::string out;
  out.reserve(size);
  for (auto const& part : parts) {
    out.append(part.view());
  }
  return out;
}

[[noreturn]] [[gnu::cold]] [[gnu::noinline]] inline void
fail_with(std::initializer_list<MessagePart> parts) {
  throw Error(join(parts));
}

/// Builds a message from its pieces: strings and numbers.
template <class... Parts>
[[nodiscard]] std::string concat(Parts const&... parts) {
  return join({MessagePart(parts)...});
}

/// Throws loom::Error with a message built from its pieces: strings and numbers.
template <class... Parts>
[[noreturn]] void fail(Parts const&... parts) {
  fail_with({MessagePart(parts)...});
}

/// Throws a loom::Error that every process raises at the same point (Error::collective()).
[[noreturn]] [[gnu::cold]] [[gnu::noinline]] inline void
fail_collective(std::string const& message) {
  throw Error(message, true);
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
