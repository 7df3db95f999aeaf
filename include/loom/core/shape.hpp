#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <type_traits>

namespace loom {

/// \brief The shape of one sample as a type: Shape<784> for a vector, Shape<C, H, W> for an
///        image in NCHW order (the batch dimension is not part of it).
template <std::size_t... Dims>
struct Shape {
  static constexpr std::size_t rank = sizeof...(Dims);
  static constexpr std::size_t size = (std::size_t{1} * ... * Dims);
  static constexpr std::array<std::size_t, rank> dims{Dims...};

  /// "(784)", "(32, 14, 14)"
  static std::string to_string() {
    std::string out = "(";
    bool first = true;
    for (std::size_t d : dims) {
      out += (first ? "" : ", ") + std::to_string(d);
      first = false;
    }
    return out + ")";
  }
};

/// \brief A real number as a template argument: Dropout<0.5>, LeakyReLU<0.01>. A class holding
///        a double, because clang before 18 rejects template parameters of type double.
struct Real {
  double value;
  constexpr Real(double v)
      : value(v) {} // implicit: Dropout<0.5> converts
};

template <class T>
struct is_shape : std::false_type {};
template <std::size_t... Dims>
struct is_shape<Shape<Dims...>> : std::true_type {};

} // namespace loom
