#pragma once

#include <Kokkos_Core.hpp>

namespace loom {

/// \brief A batch of samples, one row per sample (row-major, contiguous). Layers that see
///        images reinterpret a row as C×H×W.
template <class Scalar, class MemorySpace>
using Matrix = Kokkos::View<Scalar**, Kokkos::LayoutRight, MemorySpace>;

/// \brief A contiguous vector: flat parameter and gradient buffers, labels.
template <class Scalar, class MemorySpace>
using Vector = Kokkos::View<Scalar*, Kokkos::LayoutRight, MemorySpace>;

/// \brief Unmanaged views into a larger buffer (a layer's slice of the flat parameter buffer,
///        a stage's slice of the model's workspace).
template <class Scalar, class MemorySpace>
using MatrixSlice = Kokkos::View<Scalar**, Kokkos::LayoutRight, MemorySpace,
                                 Kokkos::MemoryTraits<Kokkos::Unmanaged>>;
template <class Scalar, class MemorySpace>
using VectorSlice = Kokkos::View<Scalar*, Kokkos::LayoutRight, MemorySpace,
                                 Kokkos::MemoryTraits<Kokkos::Unmanaged>>;

template <class MemorySpace>
inline constexpr bool is_host_accessible =
    Kokkos::SpaceAccessibility<Kokkos::HostSpace, MemorySpace>::accessible;

} // namespace loom
