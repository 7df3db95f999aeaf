#pragma once

// Direct convolution for layers with few input values per output (C·KH·KW small, as in a
// first layer over one channel): no column matrix and no GEMM; bias, activation and the NCHW
// layout come out of the same pass, and the weight gradient applies the activation's
// derivative as it reads. The GEMM route (kernels/convolution.hpp) pays for im2col and an
// epilogue pass, which dominate when the GEMM's inner dimension is only C·KH·KW.
//
// A work item copies its image, zero-padded, into its own memory, so that the tap loops have
// no bounds checks and the loops over output columns vectorise. Work items hold fixed-size
// arrays (DirectConv::fits bounds them), so these kernels suit host execution spaces, and
// Conv2D picks them only there.

#include <loom/core/tensor.hpp>
#include <loom/kernels/convolution.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>

namespace loom::kernels {

/// \brief The sizes of the direct kernels' per-work-item arrays, and the limit on them.
template <ConvGeometry G, int Out>
struct DirectConv {
  /// The weight gradient sums output columns in `lanes` independent partial sums (four SSE or
  /// two AVX registers of floats); its rows are padded to a whole number of lanes.
  static constexpr int lanes = 16;
  static constexpr int padded_out_width = (G.out_width + lanes - 1) / lanes * lanes;
  /// One image, zero-padded on every side, wide enough for the padded output rows.
  static constexpr int padded_height = (G.out_height - 1) * G.stride_h + G.kernel_h;
  static constexpr int padded_width = (padded_out_width - 1) * G.stride_w + G.kernel_w;
  static constexpr int padded_image = G.channels * padded_height * padded_width;
  /// Output channels one forward work item computes (sharing its padded image).
  static constexpr int forward_block = Out < 8 ? Out : 8;
  /// Output channels one weight-gradient work item accumulates.
  static constexpr int weight_block = Out < 4 ? Out : 4;
  /// Values a work item holds, at most: the padded image, and one gradient plane and the
  /// partial sums (weight gradient) or the weights and one output row (forward).
  static constexpr int local_values = padded_image + G.out_height * padded_out_width +
                                      weight_block * (G.patch() + 1) * lanes + G.patch() +
                                      G.out_width;
  /// The most values a work item may hold (64 KiB of floats); larger layers use im2col.
  static constexpr int max_local_values = 16384;
  static constexpr bool fits = local_values <= max_local_values;

  /// xp(c, h, w) = x(c, h − PH, w − PW) for the image at `image`, 0 outside it.
  template <class T, class Scalar>
  KOKKOS_INLINE_FUNCTION static void pad(T const* KOKKOS_RESTRICT image,
                                         Scalar* KOKKOS_RESTRICT xp) {
    for (int c = 0; c < G.channels; ++c) {
      for (int h = 0; h < padded_height; ++h) {
        Scalar* KOKKOS_RESTRICT row = xp + (c * padded_height + h) * padded_width;
        int const ih = h - G.pad_h;
        if (ih < 0 || ih >= G.height) {
          for (int w = 0; w < padded_width; ++w) {
            row[w] = Scalar(0);
          }
          continue;
        }
        auto const* KOKKOS_RESTRICT src = image + (c * G.height + ih) * G.width;
        int const w0 = G.pad_w < padded_width ? G.pad_w : padded_width;
        int const w1 = G.pad_w + G.width < padded_width ? G.pad_w + G.width : padded_width;
        for (int w = 0; w < w0; ++w) {
          row[w] = Scalar(0);
        }
        for (int w = w0; w < w1; ++w) {
          row[w] = src[w - G.pad_w];
        }
        for (int w = w1; w < padded_width; ++w) {
          row[w] = Scalar(0);
        }
      }
    }
  }

  /// The padded-image offset of tap k = (c, kh, kw) for output (oh, ow).
  KOKKOS_INLINE_FUNCTION static constexpr int tap(int k, int oh, int ow) {
    int const kw = k % G.kernel_w;
    int const kh = (k / G.kernel_w) % G.kernel_h;
    int const c = k / (G.kernel_w * G.kernel_h);
    return (c * padded_height + oh * G.stride_h + kh) * padded_width + ow * G.stride_w + kw;
  }
};

/// \brief y(n, o, ·) = Activation(b(o) + Σ w(o, c, kh, kw)·x(n, c, oh·SH − PH + kh, ow·SW − PW +
///        kw)) straight to NCHW; b may be empty. With KeepPreactivation, the value before the
///        activation also goes to keep (NCHW). One work item per (image, block of outputs).
template <ConvGeometry G, int Out, class Activation, bool KeepPreactivation, class ExecutionSpace,
          class XView, class WView, class BiasView, class YView, class KeepView>
void direct_conv_forward(ExecutionSpace const& space, int batch, XView const& x, WView const& w,
                         BiasView const& b, YView const& y, KeepView const& keep) {
  using Scalar = typename YView::non_const_value_type;
  using D = DirectConv<G, Out>;
  static_assert(D::fits, "loom::kernels::direct_conv_forward: the layer is too large for the "
                         "direct kernel; use im2col");
  constexpr int block = D::forward_block;
  constexpr int blocks = (Out + block - 1) / block;
  constexpr int P = G.patch();
  bool const has_bias = b.extent(0) > 0;
  auto const* in = x.data();
  auto const* weights = w.data();
  auto const* bias = b.data();
  Scalar* out = y.data();
  Scalar* kept = keep.data();
  Kokkos::parallel_for(
      "loom::kernels::direct_conv_forward",
      Kokkos::RangePolicy<ExecutionSpace>(space, 0, batch * blocks), KOKKOS_LAMBDA(int item) {
        int const n = item / blocks;
        int const first = (item - n * blocks) * block;
        int const last = first + block < Out ? first + block : Out;
        Scalar xp[D::padded_image];
        D::pad(in + static_cast<std::size_t>(n) * G.image(), xp);
        for (int o = first; o < last; ++o) {
          Scalar wk[P];
          for (int k = 0; k < P; ++k) {
            wk[k] = weights[o * P + k];
          }
          Scalar const b0 = has_bias ? Scalar(bias[o]) : Scalar(0);
          std::size_t const plane = (static_cast<std::size_t>(n) * Out + o) * G.pixels();
          for (int oh = 0; oh < G.out_height; ++oh) {
            // One channel's KH·KW taps at a time (loops of constant length, unrolled), the
            // row's sums in the work item's memory between channels.
            Scalar acc[G.out_width];
            for (int ow = 0; ow < G.out_width; ++ow) {
              acc[ow] = b0;
            }
            for (int c = 0; c < G.channels; ++c) {
              Scalar const* KOKKOS_RESTRICT wc = wk + c * G.kernel_h * G.kernel_w;
              Scalar const* KOKKOS_RESTRICT xc = xp + D::tap(c * G.kernel_h * G.kernel_w, oh, 0);
              for (int ow = 0; ow < G.out_width; ++ow) {
                Scalar sum = acc[ow];
                for (int kh = 0; kh < G.kernel_h; ++kh) {
                  for (int kw = 0; kw < G.kernel_w; ++kw) {
                    sum +=
                        wc[kh * G.kernel_w + kw] * xc[kh * D::padded_width + ow * G.stride_w + kw];
                  }
                }
                acc[ow] = sum;
              }
            }
            Scalar* KOKKOS_RESTRICT to = out + plane + oh * G.out_width;
            for (int ow = 0; ow < G.out_width; ++ow) {
              if constexpr (KeepPreactivation) {
                kept[plane + oh * G.out_width + ow] = acc[ow];
              }
              to[ow] = Activation::forward(acc[ow]);
            }
          }
        }
      });
}

/// \brief The weight and bias gradients of a direct convolution:
///          dw(o, c, kh, kw) = w_alpha·Σ_n,oh,ow g(n, o, oh, ow)·x(n, c, ...) + w_beta·dw(...)
///          db(o)            = w_alpha·Σ g(n, o, ·) + w_beta·db(o)   (skipped when db is empty)
///        where g = Activation'(saved)·dy, computed here from saved and dy (both NCHW), or,
///        with FromGradient, read from `saved` as the finished g (dy unused). One work item
///        per block of outputs sums over the batch in a fixed order, `lanes` partial sums per
///        tap, so that the sums stay in registers and vectorise.
template <ConvGeometry G, int Out, class Activation, bool FromGradient, class ExecutionSpace,
          class XView, class SavedView, class DyView, class DwView, class DbView>
void direct_conv_backward_weights(ExecutionSpace const& space, int batch, XView const& x,
                                  SavedView const& saved, DyView const& dy, DwView const& dw,
                                  DbView const& db, typename DwView::non_const_value_type w_alpha,
                                  typename DwView::non_const_value_type w_beta) {
  using Scalar = typename DwView::non_const_value_type;
  using D = DirectConv<G, Out>;
  static_assert(D::fits, "loom::kernels::direct_conv_backward_weights: the layer is too large "
                         "for the direct kernel; use im2col");
  constexpr int block = D::weight_block;
  constexpr int blocks = (Out + block - 1) / block;
  constexpr int P = G.patch();
  constexpr int L = D::lanes;
  constexpr int OWP = D::padded_out_width;
  bool const has_bias = db.extent(0) > 0;
  auto const* in = x.data();
  auto const* s = saved.data();
  auto const* d = dy.data();
  Scalar* weights = dw.data();
  Scalar* bias = db.data();
  Kokkos::parallel_for(
      "loom::kernels::direct_conv_backward_weights",
      Kokkos::RangePolicy<ExecutionSpace>(space, 0, blocks), KOKKOS_LAMBDA(int item) {
        int const first = item * block;
        int const count = Out - first < block ? Out - first : block;
        Scalar xp[D::padded_image];
        Scalar g[G.out_height * OWP];        // g(oh, ow), 0 in the padding columns
        Scalar partial[block * (P + 1) * L]; // (j, k, lane); k = P is the bias
        for (int k = 0; k < block * (P + 1) * L; ++k) {
          partial[k] = Scalar(0);
        }
        for (int k = 0; k < G.out_height * OWP; ++k) {
          g[k] = Scalar(0);
        }
        for (int n = 0; n < batch; ++n) {
          D::pad(in + static_cast<std::size_t>(n) * G.image(), xp);
          for (int j = 0; j < count; ++j) {
            std::size_t const plane = (static_cast<std::size_t>(n) * Out + first + j) * G.pixels();
            for (int oh = 0; oh < G.out_height; ++oh) {
              for (int ow = 0; ow < G.out_width; ++ow) {
                std::size_t const at = plane + oh * G.out_width + ow;
                if constexpr (FromGradient) {
                  g[oh * OWP + ow] = s[at];
                } else {
                  g[oh * OWP + ow] = Activation::backward(s[at], d[at]);
                }
              }
            }
            for (int k = 0; k < P; ++k) {
              Scalar acc[L] = {};
              for (int oh = 0; oh < G.out_height; ++oh) {
                Scalar const* KOKKOS_RESTRICT grow = g + oh * OWP;
                Scalar const* KOKKOS_RESTRICT xrow = xp + D::tap(k, oh, 0);
                for (int ow = 0; ow < OWP; ow += L) {
                  for (int l = 0; l < L; ++l) {
                    acc[l] += grow[ow + l] * xrow[(ow + l) * G.stride_w];
                  }
                }
              }
              for (int l = 0; l < L; ++l) {
                partial[(j * (P + 1) + k) * L + l] += acc[l];
              }
            }
            Scalar acc[L] = {};
            for (int p = 0; p < G.out_height * OWP; p += L) {
              for (int l = 0; l < L; ++l) {
                acc[l] += g[p + l];
              }
            }
            for (int l = 0; l < L; ++l) {
              partial[(j * (P + 1) + P) * L + l] += acc[l];
            }
          }
        }
        for (int j = 0; j < count; ++j) {
          for (int k = 0; k < (has_bias ? P + 1 : P); ++k) {
            Scalar sum = 0;
            for (int l = 0; l < L; ++l) {
              sum += partial[(j * (P + 1) + k) * L + l];
            }
            Scalar& target = k < P ? weights[(first + j) * P + k] : bias[first + j];
            target = w_beta == Scalar(0) ? w_alpha * sum : w_alpha * sum + w_beta * target;
          }
        }
      });
}

/// \brief dx(n, c, h, w) = Σ_o,kh,kw w(o, c, kh, kw)·g(n, o, oh, ow) over the outputs that read
///        (h, w), with g the pre-activation gradient (NCHW). One work item per (image,
///        channel) plane adds in a fixed order.
template <ConvGeometry G, int Out, class ExecutionSpace, class WView, class GView, class DxView>
void direct_conv_backward_input(ExecutionSpace const& space, int batch, WView const& w,
                                GView const& g, DxView const& dx) {
  using Scalar = typename DxView::non_const_value_type;
  auto const* weights = w.data();
  auto const* grad = g.data();
  Scalar* out = dx.data();
  Kokkos::parallel_for(
      "loom::kernels::direct_conv_backward_input",
      Kokkos::RangePolicy<ExecutionSpace>(space, 0, batch * G.channels), KOKKOS_LAMBDA(int item) {
        int const n = item / G.channels;
        int const c = item - n * G.channels;
        Scalar* KOKKOS_RESTRICT plane = out + static_cast<std::size_t>(item) * G.height * G.width;
        for (int k = 0; k < G.height * G.width; ++k) {
          plane[k] = Scalar(0);
        }
        for (int o = 0; o < Out; ++o) {
          auto const* KOKKOS_RESTRICT from =
              grad + (static_cast<std::size_t>(n) * Out + o) * G.pixels();
          G.for_each_tap([&](int kh, int kw, int oh0, int oh1, int ow0, int ow1) {
            Scalar const wv = weights[((o * G.channels + c) * G.kernel_h + kh) * G.kernel_w + kw];
            scatter_tap<G>(plane, from, wv, kh, kw, oh0, oh1, ow0, ow1);
          });
        }
      });
}

} // namespace loom::kernels
