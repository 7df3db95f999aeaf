#pragma once

// The data movement around convolution GEMMs: im2col (image patches as rows), its adjoint
// col2im as a gather (race-free, no atomics), and the epilogues that turn the GEMM's
// pixel-major result into NCHW with bias and activation applied, forward and backward.
//
// Layouts: an image batch is batch × (C·H·W) (NCHW); the column matrix is
// (batch·OH·OW) × (C·KH·KW), one row per output pixel, columns ordered (c, kh, kw) like the
// PyTorch weight layout Out × C × KH × KW; the GEMM result is (batch·OH·OW) × Out.

#include <loom/core/tensor.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>

namespace loom::kernels {

/// \brief The static geometry of a 2-D window over images.
struct ConvGeometry {
  int channels, height, width;
  int kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w;
  int out_height, out_width;

  KOKKOS_INLINE_FUNCTION int patch() const { return channels * kernel_h * kernel_w; }
  KOKKOS_INLINE_FUNCTION int pixels() const { return out_height * out_width; }
  KOKKOS_INLINE_FUNCTION int image() const { return channels * height * width; }
};

/// \brief cols(n·OH·OW + p, (c, kh, kw)) = x(n, c, oh·S − P + kh, ow·S − P + kw), 0 outside.
template <class ExecutionSpace, class XView, class ColsView>
void im2col(ExecutionSpace const& space, ConvGeometry const& g, int batch, XView const& x,
            ColsView const& cols) {
  using Scalar = typename ColsView::non_const_value_type;
  auto const* in = x.data();
  Scalar* out = cols.data();
  Kokkos::parallel_for(
      "loom::kernels::im2col", Kokkos::RangePolicy<ExecutionSpace>(space, 0, batch * g.pixels()),
      KOKKOS_LAMBDA(int row) {
        int const n = row / g.pixels();
        int const p = row - n * g.pixels();
        int const oh = p / g.out_width;
        int const ow = p - oh * g.out_width;
        int const h0 = oh * g.stride_h - g.pad_h;
        int const w0 = ow * g.stride_w - g.pad_w;
        Scalar* dst = out + static_cast<std::size_t>(row) * g.patch();
        for (int c = 0; c < g.channels; ++c) {
          auto const* plane = in + static_cast<std::size_t>(n) * g.image() +
                              static_cast<std::size_t>(c) * g.height * g.width;
          for (int kh = 0; kh < g.kernel_h; ++kh) {
            int const h = h0 + kh;
            bool const row_in = h >= 0 && h < g.height;
            for (int kw = 0; kw < g.kernel_w; ++kw) {
              int const w = w0 + kw;
              *dst++ = row_in && w >= 0 && w < g.width ? plane[h * g.width + w] : Scalar(0);
            }
          }
        }
      });
}

/// \brief The adjoint of im2col: dx(n, c, h, w) = Σ dcols over every (pixel, kh, kw) that
///        read (c, h, w). One thread per input value gathers, so no two threads write alike.
template <class ExecutionSpace, class ColsView, class DxView>
void col2im(ExecutionSpace const& space, ConvGeometry const& g, int batch, ColsView const& dcols,
            DxView const& dx) {
  using Scalar = typename DxView::non_const_value_type;
  auto const* in = dcols.data();
  Scalar* out = dx.data();
  Kokkos::parallel_for(
      "loom::kernels::col2im", Kokkos::RangePolicy<ExecutionSpace>(space, 0, batch * g.image()),
      KOKKOS_LAMBDA(int index) {
        int const n = index / g.image();
        int rest = index - n * g.image();
        int const c = rest / (g.height * g.width);
        rest -= c * g.height * g.width;
        int const h = rest / g.width;
        int const w = rest - h * g.width;
        Scalar sum = 0;
        for (int kh = 0; kh < g.kernel_h; ++kh) {
          int const th = h + g.pad_h - kh; // = oh·S when this kernel row read (h, w)
          if (th < 0 || th % g.stride_h != 0 || th / g.stride_h >= g.out_height) {
            continue;
          }
          int const oh = th / g.stride_h;
          for (int kw = 0; kw < g.kernel_w; ++kw) {
            int const tw = w + g.pad_w - kw;
            if (tw < 0 || tw % g.stride_w != 0 || tw / g.stride_w >= g.out_width) {
              continue;
            }
            int const ow = tw / g.stride_w;
            std::size_t const row =
                static_cast<std::size_t>(n) * g.pixels() + oh * g.out_width + ow;
            sum += in[row * g.patch() + (c * g.kernel_h + kh) * g.kernel_w + kw];
          }
        }
        out[index] = sum;
      });
}

/// \brief y(n, o, p) = Activation(pre(n·P + p, o) + b(o)): the GEMM's pixel-major result to
///        NCHW with bias (b may be empty) and activation. With KeepPreactivation, the value
///        before the activation is also written to keep(n, o, p).
template <class Activation, bool KeepPreactivation, class ExecutionSpace, class PreView,
          class BiasView, class YView, class KeepView>
void conv_epilogue_forward(ExecutionSpace const& space, int batch, int pixels, int out_channels,
                           PreView const& pre, BiasView const& b, YView const& y,
                           KeepView const& keep) {
  using Scalar = typename YView::non_const_value_type;
  bool const has_bias = b.extent(0) > 0;
  Scalar const* src = pre.data();
  Scalar* dst = y.data();
  Scalar* kept = keep.data();
  Kokkos::parallel_for(
      "loom::kernels::conv_epilogue_forward",
      Kokkos::RangePolicy<ExecutionSpace>(space, 0, batch * out_channels), KOKKOS_LAMBDA(int r) {
        int const n = r / out_channels;
        int const o = r - n * out_channels;
        Scalar const bias = has_bias ? b(o) : Scalar(0);
        Scalar const* from = src + static_cast<std::size_t>(n) * pixels * out_channels + o;
        std::size_t const base = static_cast<std::size_t>(r) * pixels;
        for (int p = 0; p < pixels; ++p) {
          Scalar const v = from[static_cast<std::size_t>(p) * out_channels] + bias;
          if constexpr (KeepPreactivation) {
            kept[base + p] = v;
          }
          dst[base + p] = Activation::forward(v);
        }
      });
}

/// \brief dpre(n·P + p, o) = Activation'(saved(n, o, p))·dy(n, o, p), back to pixel-major
///        for the weight and input GEMMs, and db(o) = db_alpha·Σ dpre(·, o) + db_beta·db(o) in
///        the same pass (skipped when db is empty). Sums run in a fixed order.
template <class Activation, class ExecutionSpace, class SavedView, class DyView, class DpreView,
          class DbView>
void conv_epilogue_backward(ExecutionSpace const& space, int batch, int pixels, int out_channels,
                            SavedView const& saved, DyView const& dy, DpreView const& dpre,
                            DbView const& db, typename DpreView::non_const_value_type db_alpha,
                            typename DpreView::non_const_value_type db_beta) {
  using Scalar = typename DpreView::non_const_value_type;
  bool const has_bias = db.extent(0) > 0;
  auto const* s = saved.data();
  auto const* d = dy.data();
  Scalar* out = dpre.data();
  Kokkos::parallel_for(
      "loom::kernels::conv_epilogue_backward",
      Kokkos::RangePolicy<ExecutionSpace>(space, 0, out_channels), KOKKOS_LAMBDA(int o) {
        Scalar sum = 0;
        for (int n = 0; n < batch; ++n) {
          std::size_t const base = (static_cast<std::size_t>(n) * out_channels + o) * pixels;
          Scalar* to = out + static_cast<std::size_t>(n) * pixels * out_channels + o;
          for (int p = 0; p < pixels; ++p) {
            Scalar const g = Activation::backward(s[base + p], d[base + p]);
            to[static_cast<std::size_t>(p) * out_channels] = g;
            sum += g;
          }
        }
        if (has_bias) {
          db(o) = db_beta == Scalar(0) ? db_alpha * sum : db_alpha * sum + db_beta * db(o);
        }
      });
}

} // namespace loom::kernels
