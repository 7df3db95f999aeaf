#pragma once

// The data movement around convolution GEMMs, every pass contiguous: im2col (image patches as
// columns), its adjoint col2im, and the epilogues that move the GEMM's channel-major result
// to NCHW with bias and activation applied, forward and backward.
//
// Layouts: an image batch is batch × (C·H·W) (NCHW). The column matrix is
// (C·KH·KW) × (batch·OH·OW): row (c, kh, kw) holds, for every output pixel of every image,
// the input value that kernel tap reads, so a row is a shifted copy of an input plane. With
// the weights Out × (C·KH·KW) (PyTorch's layout), one GEMM gives the result for the whole
// batch as Out × (batch·OH·OW), channel-major (CNHW): each (image, channel) plane is one
// contiguous run, and moving it to NCHW is a block copy.

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

  /// The output positions [first, last) whose tap at offset k reads inside an input extent
  /// of `size` (input index = out·stride − pad + k).
  KOKKOS_INLINE_FUNCTION static void valid(int k, int stride, int pad, int size, int outputs,
                                           int& first, int& last) {
    int const lo = pad - k; // out·stride ≥ lo
    first = lo <= 0 ? 0 : (lo + stride - 1) / stride;
    int const hi = size - 1 + pad - k; // out·stride ≤ hi
    last = hi < 0 ? 0 : hi / stride + 1;
    last = last < outputs ? last : outputs;
    first = first < last ? first : last;
  }
};

/// \brief cols((c, kh, kw), n·OH·OW + oh·OW + ow) = x(n, c, oh·S − P + kh, ow·S − P + kw),
///        0 outside the image. One work item per (row, image) writes one contiguous run.
template <class ExecutionSpace, class XView, class ColsView>
void im2col(ExecutionSpace const& space, ConvGeometry const& g, int batch, XView const& x,
            ColsView const& cols) {
  using Scalar = typename ColsView::non_const_value_type;
  auto const* in = x.data();
  Scalar* out = cols.data();
  std::size_t const row_length = static_cast<std::size_t>(batch) * g.pixels();
  Kokkos::parallel_for(
      "loom::kernels::im2col", Kokkos::RangePolicy<ExecutionSpace>(space, 0, g.patch() * batch),
      KOKKOS_LAMBDA(int item) {
        int const row = item / batch;
        int const n = item - row * batch;
        int const kw = row % g.kernel_w;
        int const kh = (row / g.kernel_w) % g.kernel_h;
        int const c = row / (g.kernel_w * g.kernel_h);
        auto const* plane = in + static_cast<std::size_t>(n) * g.image() +
                            static_cast<std::size_t>(c) * g.height * g.width;
        Scalar* dst = out + row * row_length + static_cast<std::size_t>(n) * g.pixels();
        int oh0, oh1, ow0, ow1;
        ConvGeometry::valid(kh, g.stride_h, g.pad_h, g.height, g.out_height, oh0, oh1);
        ConvGeometry::valid(kw, g.stride_w, g.pad_w, g.width, g.out_width, ow0, ow1);
        for (int oh = 0; oh < g.out_height; ++oh, dst += g.out_width) {
          if (oh < oh0 || oh >= oh1) {
            for (int ow = 0; ow < g.out_width; ++ow) {
              dst[ow] = Scalar(0);
            }
            continue;
          }
          // Input index of output column ow: base + ow·stride (≥ 0 on [ow0, ow1)).
          int const base = (oh * g.stride_h - g.pad_h + kh) * g.width - g.pad_w + kw;
          for (int ow = 0; ow < ow0; ++ow) {
            dst[ow] = Scalar(0);
          }
          if (g.stride_w == 1) {
            for (int ow = ow0; ow < ow1; ++ow) {
              dst[ow] = plane[base + ow];
            }
          } else {
            for (int ow = ow0; ow < ow1; ++ow) {
              dst[ow] = plane[base + ow * g.stride_w];
            }
          }
          for (int ow = ow1; ow < g.out_width; ++ow) {
            dst[ow] = Scalar(0);
          }
        }
      });
}

/// \brief The adjoint of im2col: dx(n, c, h, w) = Σ dcols over every tap (kh, kw) and output
///        pixel that read (c, h, w). One work item per (image, channel) plane adds the
///        plane's KH·KW shifted runs in a fixed order: no atomics, deterministic.
template <class ExecutionSpace, class ColsView, class DxView>
void col2im(ExecutionSpace const& space, ConvGeometry const& g, int batch, ColsView const& dcols,
            DxView const& dx) {
  using Scalar = typename DxView::non_const_value_type;
  auto const* in = dcols.data();
  Scalar* out = dx.data();
  std::size_t const row_length = static_cast<std::size_t>(batch) * g.pixels();
  Kokkos::parallel_for(
      "loom::kernels::col2im", Kokkos::RangePolicy<ExecutionSpace>(space, 0, batch * g.channels),
      KOKKOS_LAMBDA(int item) {
        int const n = item / g.channels;
        int const c = item - n * g.channels;
        Scalar* plane = out + static_cast<std::size_t>(n) * g.image() +
                        static_cast<std::size_t>(c) * g.height * g.width;
        for (int k = 0; k < g.height * g.width; ++k) {
          plane[k] = Scalar(0);
        }
        for (int kh = 0; kh < g.kernel_h; ++kh) {
          int oh0, oh1;
          ConvGeometry::valid(kh, g.stride_h, g.pad_h, g.height, g.out_height, oh0, oh1);
          for (int kw = 0; kw < g.kernel_w; ++kw) {
            int ow0, ow1;
            ConvGeometry::valid(kw, g.stride_w, g.pad_w, g.width, g.out_width, ow0, ow1);
            int const row = (c * g.kernel_h + kh) * g.kernel_w + kw;
            auto const* src = in + row * row_length + static_cast<std::size_t>(n) * g.pixels();
            for (int oh = oh0; oh < oh1; ++oh) {
              int const base = (oh * g.stride_h - g.pad_h + kh) * g.width - g.pad_w + kw;
              auto const* from = src + oh * g.out_width;
              if (g.stride_w == 1) {
                for (int ow = ow0; ow < ow1; ++ow) {
                  plane[base + ow] += from[ow];
                }
              } else {
                for (int ow = ow0; ow < ow1; ++ow) {
                  plane[base + ow * g.stride_w] += from[ow];
                }
              }
            }
          }
        }
      });
}

/// \brief y(n, o, p) = Activation(pre(o, n·P + p) + b(o)): the GEMM's channel-major result to
///        NCHW with bias (b may be empty) and activation, one contiguous run per (n, o). With
///        KeepPreactivation, the value before the activation is also written to keep(n, o, p).
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
  std::size_t const row_length = static_cast<std::size_t>(batch) * pixels;
  Kokkos::parallel_for(
      "loom::kernels::conv_epilogue_forward",
      Kokkos::RangePolicy<ExecutionSpace>(space, 0, batch * out_channels), KOKKOS_LAMBDA(int r) {
        int const n = r / out_channels;
        int const o = r - n * out_channels;
        Scalar const bias = has_bias ? b(o) : Scalar(0);
        Scalar const* KOKKOS_RESTRICT from =
            src + o * row_length + static_cast<std::size_t>(n) * pixels;
        Scalar* KOKKOS_RESTRICT to = dst + static_cast<std::size_t>(r) * pixels;
        for (int p = 0; p < pixels; ++p) {
          Scalar const v = from[p] + bias;
          if constexpr (KeepPreactivation) {
            kept[static_cast<std::size_t>(r) * pixels + p] = v;
          }
          to[p] = Activation::forward(v);
        }
      });
}

/// \brief dpre(o, n·P + p) = Activation'(saved(n, o, p))·dy(n, o, p), back to channel-major
///        for the weight and input GEMMs, and db(o) = db_alpha·Σ dpre(o, ·) + db_beta·db(o) in
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
  std::size_t const row_length = static_cast<std::size_t>(batch) * pixels;
  Kokkos::parallel_for(
      "loom::kernels::conv_epilogue_backward",
      Kokkos::RangePolicy<ExecutionSpace>(space, 0, out_channels), KOKKOS_LAMBDA(int o) {
        Scalar sum = 0;
        for (int n = 0; n < batch; ++n) {
          std::size_t const base = (static_cast<std::size_t>(n) * out_channels + o) * pixels;
          Scalar* KOKKOS_RESTRICT to = out + o * row_length + static_cast<std::size_t>(n) * pixels;
          Scalar partial = 0;
          for (int p = 0; p < pixels; ++p) {
            Scalar const g = Activation::backward(s[base + p], d[base + p]);
            to[p] = g;
            partial += g;
          }
          sum += partial;
        }
        if (has_bias) {
          db(o) = db_beta == Scalar(0) ? db_alpha * sum : db_alpha * sum + db_beta * db(o);
        }
      });
}

} // namespace loom::kernels
