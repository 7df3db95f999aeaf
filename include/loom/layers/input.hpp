#pragma once

#include <loom/core/shape.hpp>

#include <cstddef>
#include <type_traits>

namespace loom {

/// \brief The first argument of Sequential: the shape of one sample, Input<784> for vectors,
///        Input<C, H, W> for images (NCHW without the batch).
template <std::size_t... Dims>
struct Input {
  static_assert(sizeof...(Dims) >= 1,
                "loom::Input<Dims...>: give at least one dimension, e.g. Input<784>");
  static_assert(((Dims > 0) && ...), "loom::Input<Dims...>: every dimension must be at least 1");
  /// Whether the checks above passed (Sequential compiles on with a stand-in when not).
  static constexpr bool valid = sizeof...(Dims) >= 1 && ((Dims > 0) && ...);
  using shape = Shape<Dims...>;
};

template <class T>
struct is_input : std::false_type {};
template <std::size_t... Dims>
struct is_input<Input<Dims...>> : std::true_type {};

} // namespace loom
