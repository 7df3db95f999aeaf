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

  KOKKOS_INLINE_FUNCTION constexpr int patch() const { return channels * kernel_h * kernel_w; }
  KOKKOS_INLINE_FUNCTION constexpr int pixels() const { return out_height * out_width; }
  KOKKOS_INLINE_FUNCTION constexpr int image() const { return channels * height * width; }
  /// Whether output rows map to consecutive input rows of the same width (stride 1, width
  /// kept): then a tap reads output pixel q from input q + a constant.
  KOKKOS_INLINE_FUNCTION constexpr bool contiguous_rows() const {
    return stride_h == 1 && stride_w == 1 && out_width == width;
  }

  /// The output positions [first, last) whose tap at offset k reads inside an input extent
  /// of `size` (input index = out·stride − pad + k).
  KOKKOS_INLINE_FUNCTION static constexpr void valid(int k, int stride, int pad, int size,
                                                     int outputs, int& first, int& last) {
    int const lo = pad - k; // out·stride ≥ lo
    first = lo <= 0 ? 0 : (lo + stride - 1) / stride;
    int const hi = size - 1 + pad - k; // out·stride ≤ hi
    last = hi < 0 ? 0 : hi / stride + 1;
    last = last < outputs ? last : outputs;
    first = first < last ? first : last;
  }

  /// The taps in row-major order: f(kh, kw, oh0, oh1, ow0, ow1) with the output rows
  /// [oh0, oh1) and columns [ow0, ow1) whose reads through the tap fall inside the image.
  template <class F>
  KOKKOS_INLINE_FUNCTION constexpr void for_each_tap(F&& f) const {
    for (int kh = 0; kh < kernel_h; ++kh) {
      int oh0, oh1;
      valid(kh, stride_h, pad_h, height, out_height, oh0, oh1);
      for (int kw = 0; kw < kernel_w; ++kw) {
        int ow0, ow1;
        valid(kw, stride_w, pad_w, width, out_width, ow0, ow1);
        f(kh, kw, oh0, oh1, ow0, ow1);
      }
    }
  }

  /// Where in its input plane output (oh, ow) reads through tap (kh, kw): this plus
  /// ow·stride_w, inside the plane for ow in the tap's valid columns.
  KOKKOS_INLINE_FUNCTION constexpr int tap_offset(int oh, int kh, int kw) const {
    return (oh * stride_h - pad_h + kh) * width - pad_w + kw;
  }
};

/// \brief plane(input of (oh, ow) through tap (kh, kw)) += scale·src(oh, ow) over the tap's
///        valid outputs (see ConvGeometry::for_each_tap): the scatter of col2im (scale 1) and
///        of the direct kernel's input gradient (scale = the tap's weight).
template <ConvGeometry G, class Scalar, class T>
KOKKOS_INLINE_FUNCTION void scatter_tap(Scalar* KOKKOS_RESTRICT plane, T const* KOKKOS_RESTRICT src,
                                        Scalar scale, int kh, int kw, int oh0, int oh1, int ow0,
                                        int ow1) {
  for (int oh = oh0; oh < oh1; ++oh) {
    int const base = G.tap_offset(oh, kh, kw);
    auto const* KOKKOS_RESTRICT from = src + oh * G.out_width;
    for (int ow = ow0; ow < ow1; ++ow) {
      plane[base + ow * G.stride_w] += scale * from[ow];
    }
  }
}

/// \brief cols((c, kh, kw), n·OH·OW + oh·OW + ow) = x(n, c, oh·S − P + kh, ow·S − P + kw),
///        0 outside the image. One work item per (image, channel) plane, which stays in
///        cache while it is written to the plane's KH·KW rows, each a contiguous run. The
///        geometry is a template argument, so that every loop bound is a constant.
template <ConvGeometry G, class ExecutionSpace, class XView, class ColsView>
void im2col(ExecutionSpace const& space, int batch, XView const& x, ColsView const& cols) {
  using Scalar = typename ColsView::non_const_value_type;
  auto const* in = x.data();
  Scalar* out = cols.data();
  std::size_t const row_length = static_cast<std::size_t>(batch) * G.pixels();
  Kokkos::parallel_for(
      "loom::kernels::im2col", Kokkos::RangePolicy<ExecutionSpace>(space, 0, batch * G.channels),
      KOKKOS_LAMBDA(int item) {
        int const c = item / batch;
        int const n = item - c * batch;
        auto const* KOKKOS_RESTRICT plane = in + static_cast<std::size_t>(n) * G.image() +
                                            static_cast<std::size_t>(c) * G.height * G.width;
        G.for_each_tap([&](int kh, int kw, int oh0, int oh1, int ow0, int ow1) {
          int const row = (c * G.kernel_h + kh) * G.kernel_w + kw;
          Scalar* KOKKOS_RESTRICT dst =
              out + row * row_length + static_cast<std::size_t>(n) * G.pixels();
          for (int k = 0; k < oh0 * G.out_width; ++k) {
            dst[k] = Scalar(0);
          }
          if constexpr (G.contiguous_rows()) {
            // Output pixel q reads input q + shift: one run from the first valid pixel to
            // the last, then zeroes over the columns that ran into a neighbouring row.
            if (oh0 < oh1) {
              int const shift = G.tap_offset(0, kh, kw);
              for (int q = oh0 * G.out_width + ow0; q < (oh1 - 1) * G.out_width + ow1; ++q) {
                dst[q] = plane[q + shift];
              }
              for (int oh = oh0; oh < oh1; ++oh) {
                for (int ow = 0; ow < ow0; ++ow) {
                  dst[oh * G.out_width + ow] = Scalar(0);
                }
                for (int ow = ow1; ow < G.out_width; ++ow) {
                  dst[oh * G.out_width + ow] = Scalar(0);
                }
              }
            }
          } else {
            for (int oh = oh0; oh < oh1; ++oh) {
              Scalar* KOKKOS_RESTRICT to = dst + oh * G.out_width;
              int const base = G.tap_offset(oh, kh, kw);
              for (int ow = 0; ow < ow0; ++ow) {
                to[ow] = Scalar(0);
              }
              for (int ow = ow0; ow < ow1; ++ow) {
                to[ow] = plane[base + ow * G.stride_w];
              }
              for (int ow = ow1; ow < G.out_width; ++ow) {
                to[ow] = Scalar(0);
              }
            }
          }
          for (int k = oh1 * G.out_width; k < G.pixels(); ++k) {
            dst[k] = Scalar(0);
          }
        });
      });
}

/// \brief The adjoint of im2col: dx(n, c, h, w) = Σ dcols over every tap (kh, kw) and output
///        pixel that read (c, h, w). One work item per (image, channel) plane adds the
///        plane's KH·KW shifted runs in a fixed order: no atomics, deterministic.
template <ConvGeometry G, class ExecutionSpace, class ColsView, class DxView>
void col2im(ExecutionSpace const& space, int batch, ColsView const& dcols, DxView const& dx) {
  using Scalar = typename DxView::non_const_value_type;
  auto const* in = dcols.data();
  Scalar* out = dx.data();
  std::size_t const row_length = static_cast<std::size_t>(batch) * G.pixels();
  Kokkos::parallel_for(
      "loom::kernels::col2im", Kokkos::RangePolicy<ExecutionSpace>(space, 0, batch * G.channels),
      KOKKOS_LAMBDA(int item) {
        int const c = item / batch;
        int const n = item - c * batch;
        Scalar* KOKKOS_RESTRICT plane = out + static_cast<std::size_t>(n) * G.image() +
                                        static_cast<std::size_t>(c) * G.height * G.width;
        for (int k = 0; k < G.height * G.width; ++k) {
          plane[k] = Scalar(0);
        }
        G.for_each_tap([&](int kh, int kw, int oh0, int oh1, int ow0, int ow1) {
          int const row = (c * G.kernel_h + kh) * G.kernel_w + kw;
          scatter_tap<G>(plane, in + row * row_length + static_cast<std::size_t>(n) * G.pixels(),
                         Scalar(1), kh, kw, oh0, oh1, ow0, ow1);
        });
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
        // `lanes` partial sums, so that the additions do not wait on one another.
        constexpr int lanes = 16;
        Scalar partial[lanes] = {};
        int const whole = pixels / lanes * lanes;
        for (int n = 0; n < batch; ++n) {
          std::size_t const base = (static_cast<std::size_t>(n) * out_channels + o) * pixels;
          Scalar* KOKKOS_RESTRICT to = out + o * row_length + static_cast<std::size_t>(n) * pixels;
          auto const* KOKKOS_RESTRICT from_s = s + base;
          auto const* KOKKOS_RESTRICT from_d = d + base;
          for (int p = 0; p < whole; p += lanes) {
            for (int l = 0; l < lanes; ++l) {
              Scalar const g = Activation::backward(from_s[p + l], from_d[p + l]);
              to[p + l] = g;
              partial[l] += g;
            }
          }
          for (int p = whole; p < pixels; ++p) {
            Scalar const g = Activation::backward(from_s[p], from_d[p]);
            to[p] = g;
            partial[p - whole] += g;
          }
        }
        if (has_bias) {
          Scalar sum = 0;
          for (int l = 0; l < lanes; ++l) {
            sum += partial[l];
          }
          db(o) = db_beta == Scalar(0) ? db_alpha * sum : db_alpha * sum + db_beta * db(o);
        }
      });
}

} // namespace loom::kernels
