#pragma once

// Elementwise kernels on batches (rows = samples): the bias + activation epilogue that follows
// a GEMM, its backward with the bias gradient reduced in the same pass, and standalone
// activations. Every reduction runs in a fixed order, so results do not depend on the number
// of threads.

#include <loom/core/tensor.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>

namespace loom::kernels {

namespace detail {
// Columns per work item in host column reductions: wide enough to vectorise, narrow enough
// to give every thread work at the layer widths networks use.
inline constexpr int column_chunk = 32;
} // namespace detail

/// \brief y = Activation(x), elementwise over contiguous views of equal size (y may alias x).
template <class Activation, class ExecutionSpace, class XView, class YView>
void activation_forward(ExecutionSpace const& space, XView const& x, YView const& y) {
  Kokkos::parallel_for(
      "loom::kernels::activation_forward", Kokkos::RangePolicy<ExecutionSpace>(space, 0, y.size()),
      KOKKOS_LAMBDA(std::size_t k) { y.data()[k] = Activation::forward(x.data()[k]); });
}

/// \brief dx = Activation'(saved)·dy elementwise (dx may alias dy).
template <class Activation, class ExecutionSpace, class SavedView, class DyView, class DxView>
void activation_backward(ExecutionSpace const& space, SavedView const& saved, DyView const& dy,
                         DxView const& dx) {
  Kokkos::parallel_for(
      "loom::kernels::activation_backward",
      Kokkos::RangePolicy<ExecutionSpace>(space, 0, dx.size()), KOKKOS_LAMBDA(std::size_t k) {
        dx.data()[k] = Activation::backward(saved.data()[k], dy.data()[k]);
      });
}

/// \brief y(i, j) = Activation(x(i, j) + b(j)); b may be empty (no bias); y may alias x.
///        With KeepPreactivation, x(i, j) + b(j) is also written back to x, for activations
///        whose derivative needs their input.
template <class Activation, bool KeepPreactivation = false, class ExecutionSpace, class XView,
          class BiasView, class YView>
void bias_activation_forward(ExecutionSpace const& space, XView const& x, BiasView const& b,
                             YView const& y) {
  using Scalar = typename YView::non_const_value_type;
  int const rows = static_cast<int>(y.extent(0));
  int const cols = static_cast<int>(y.extent(1));
  bool const has_bias = b.extent(0) > 0;
  if constexpr (is_host_accessible<typename YView::memory_space>) {
    Kokkos::parallel_for(
        "loom::kernels::bias_activation_forward",
        Kokkos::RangePolicy<ExecutionSpace>(space, 0, rows), KOKKOS_LAMBDA(int i) {
          auto* xi = &x(i, 0);
          Scalar* yi = &y(i, 0);
          if (has_bias) {
            Scalar const* bias = b.data();
            for (int j = 0; j < cols; ++j) {
              Scalar const pre = xi[j] + bias[j];
              if constexpr (KeepPreactivation) {
                xi[j] = pre;
              }
              yi[j] = Activation::forward(pre);
            }
          } else {
            for (int j = 0; j < cols; ++j) {
              yi[j] = Activation::forward(xi[j]);
            }
          }
        });
  } else {
    Kokkos::parallel_for(
        "loom::kernels::bias_activation_forward",
        Kokkos::MDRangePolicy<ExecutionSpace, Kokkos::Rank<2>>(space, {0, 0}, {rows, cols}),
        KOKKOS_LAMBDA(int i, int j) {
          Scalar const pre = has_bias ? x(i, j) + b(j) : x(i, j);
          if constexpr (KeepPreactivation) {
            x(i, j) = pre;
          }
          y(i, j) = Activation::forward(pre);
        });
  }
}

/// \brief dy(i, j) ← Activation'(saved(i, j))·dy(i, j) in place, and, when db is not empty,
///        db(j) = db_alpha·Σᵢ dy(i, j) + db_beta·db(j) over the updated dy, in the same pass.
///        `saved` is the activation's output or input, as Activation::derivative_from says.
template <class Activation, class ExecutionSpace, class SavedView, class DyView, class DbView>
void bias_activation_backward(ExecutionSpace const& space, SavedView const& saved, DyView const& dy,
                              DbView const& db, typename DyView::non_const_value_type db_alpha,
                              typename DyView::non_const_value_type db_beta) {
  using Scalar = typename DyView::non_const_value_type;
  int const rows = static_cast<int>(dy.extent(0));
  int const cols = static_cast<int>(dy.extent(1));
  bool const has_bias = db.extent(0) > 0;
  if (!has_bias) {
    activation_backward<Activation>(space, saved, dy, dy);
    return;
  }
  if constexpr (is_host_accessible<typename DyView::memory_space>) {
    constexpr int chunk = detail::column_chunk;
    int const chunks = (cols + chunk - 1) / chunk;
    Kokkos::parallel_for(
        "loom::kernels::bias_activation_backward",
        Kokkos::RangePolicy<ExecutionSpace>(space, 0, chunks), KOKKOS_LAMBDA(int c) {
          int const j0 = c * chunk;
          int const width = cols - j0 < chunk ? cols - j0 : chunk;
          Scalar sum[chunk] = {};
          std::size_t const stride = dy.stride(0);
          Scalar* KOKKOS_RESTRICT d = &dy(0, j0);
          Scalar const* KOKKOS_RESTRICT v = &saved(0, j0);
          if (width == chunk) {
            // A full chunk: a fixed trip count the compiler vectorises.
            for (int i = 0; i < rows; ++i, d += stride, v += stride) {
              for (int j = 0; j < chunk; ++j) {
                Scalar const g = Activation::backward(v[j], d[j]);
                d[j] = g;
                sum[j] += g;
              }
            }
          } else {
            for (int i = 0; i < rows; ++i, d += stride, v += stride) {
              for (int j = 0; j < width; ++j) {
                Scalar const g = Activation::backward(v[j], d[j]);
                d[j] = g;
                sum[j] += g;
              }
            }
          }
          for (int j = 0; j < width; ++j) {
            db(j0 + j) =
                db_beta == Scalar(0) ? db_alpha * sum[j] : db_alpha * sum[j] + db_beta * db(j0 + j);
          }
        });
  } else {
    Kokkos::parallel_for(
        "loom::kernels::bias_activation_backward",
        Kokkos::RangePolicy<ExecutionSpace>(space, 0, cols), KOKKOS_LAMBDA(int j) {
          Scalar sum = 0;
          for (int i = 0; i < rows; ++i) {
            Scalar const d = Activation::backward(saved(i, j), dy(i, j));
            dy(i, j) = d;
            sum += d;
          }
          db(j) = db_beta == Scalar(0) ? db_alpha * sum : db_alpha * sum + db_beta * db(j);
        });
  }
}

} // namespace loom::kernels
