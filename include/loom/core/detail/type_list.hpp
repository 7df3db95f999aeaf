#pragma once

#include <cstddef>
#include <type_traits>

namespace loom::detail {

template <class... Ts>
struct type_list {};

/// First type in Ts... satisfying Pred, else Default.
template <template <class> class Pred, class Default, class... Ts>
struct find_if {
  using type = Default;
};
template <template <class> class Pred, class Default, class T, class... Ts>
struct find_if<Pred, Default, T, Ts...> {
  using type = std::conditional_t<Pred<T>::value, T, typename find_if<Pred, Default, Ts...>::type>;
};

template <class T, class... Ts>
inline constexpr bool contains = (std::is_same_v<T, Ts> || ...);

/// The element at position I of a type_list.
template <std::size_t I, class List>
struct at_impl;
template <std::size_t I, class T, class... Ts>
struct at_impl<I, type_list<T, Ts...>> : at_impl<I - 1, type_list<Ts...>> {};
template <class T, class... Ts>
struct at_impl<0, type_list<T, Ts...>> {
  using type = T;
};
template <std::size_t I, class List>
using at = typename at_impl<I, List>::type;

/// The number of types in a type_list.
template <class... Ts>
constexpr std::size_t size_of(type_list<Ts...>) {
  return sizeof...(Ts);
}

} // namespace loom::detail
