#pragma once

// Winograd's minimal filtering F(2×2, 3×3) for 3×3 convolutions with stride 1 (Lavin and Gray,
// "Fast Algorithms for Convolutional Neural Networks", 2016). Each 2×2 block of outputs, a
// tile, is computed from the 4×4 input region it reads as
//
//   Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A          (g: one 3×3 kernel, d: the tile's 4×4 input)
//
// so that the multiplications over channels become 16 independent GEMMs, one per position
// ξ of the 4×4 transformed tile, with 16 multiplications per tile where a direct 2×2 block
// needs 36: the GEMMs do 2.25 times less work than im2col's. The backward passes are the
// exact adjoints of the same linear maps, so all three passes share the transformed input.
//
// Layouts, for the `batch` images of one call (Conv2D calls the kernels a round of images at a
// time, see its stage's round_images); T = batch·tiles, tile t = n·tiles + ty·tiles_w + tx:
//   U   16 × Out × C       transformed weights           (weights  Out × C × 3 × 3)
//   V   16 × C × T         transformed input tiles       (x        batch × C × H × W)
//   M   16 × Out × T       U[ξ]·V[ξ], the transformed outputs
// The 16 blocks of V and M (and of their gradients) lie Winograd::block_stride apart, a skew
// more than their size, so that the blocks a tile touches do not share cache sets.
// Forward: V from x, M[ξ] = U[ξ]·V[ξ], then y = Aᵀ M A + bias, activated, in NCHW.
// Backward, from g = Activation'·dy: dM = A g Aᵀ, dV[ξ] = U[ξ]ᵀ·dM[ξ] and dx = B dV Bᵀ added
// over overlapping tiles; dU[ξ] = dM[ξ]·V[ξ]ᵀ and dw = Gᵀ dU G; the bias gradient is row ξ
// = (1, 1) of dM summed, since that position of A g Aᵀ is the sum of g over the tile.
//
// Every pass is one work item per (image, channel) plane or per weight, which writes its own
// values only: no atomics, sums in a fixed order. A work item walks its plane in arrays of
// fixed size: the input transforms a band of tile rows at a time, even and odd columns kept
// apart so that the loops over a band's tiles read and write contiguous runs; the output
// transforms a strip of about 64 tiles at a time, so that their loops are long enough to
// vectorise.

#include <loom/core/tensor.hpp>
#include <loom/kernels/convolution.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>

namespace loom::kernels {

/// \brief The tiling of a 3×3 stride-1 convolution by F(2×2, 3×3), and its 1-D transforms.
///        Tile (ty, tx) computes outputs [2ty, 2ty + 2) × [2tx, 2tx + 2) from the padded
///        input rows and columns [2ty, 2ty + 4) × [2tx, 2tx + 4); outputs past the image's
///        last row or column (odd output sizes) are computed and dropped.
template <ConvGeometry G>
struct Winograd {
  /// Whether F(2×2, 3×3) computes this geometry: a 3×3 kernel with stride 1.
  static constexpr bool applies =
      G.kernel_h == 3 && G.kernel_w == 3 && G.stride_h == 1 && G.stride_w == 1;
  static constexpr int positions = 16; ///< ξ = 4i + j over the 4×4 transformed tile
  static constexpr int tiles_h = (G.out_height + 1) / 2;
  static constexpr int tiles_w = (G.out_width + 1) / 2;
  static constexpr int tiles = tiles_h * tiles_w; ///< per image
  /// A band's even and odd padded columns: [0, 2·tiles_w + 2) split in two.
  static constexpr int half_w = tiles_w + 1;
  /// Tile rows that a work item transforms in one strip: about 64 tiles, at least one row.
  static constexpr int strip_rows =
      tiles_w >= 64 ? 1 : (64 / tiles_w < tiles_h ? 64 / tiles_w : tiles_h);
  /// The strip of tile rows from ty0: how many there are, the output rows they cover (the
  /// last may lie past the image) and where the first of those starts in its plane.
  struct Strip {
    int rows, out_rows, first_output;
  };
  KOKKOS_INLINE_FUNCTION static constexpr Strip strip(int ty0) {
    int const rows = tiles_h - ty0 < strip_rows ? tiles_h - ty0 : strip_rows;
    int const out_rows = G.out_height - 2 * ty0 < 2 * rows ? G.out_height - 2 * ty0 : 2 * rows;
    return {rows, out_rows, 2 * ty0 * G.out_width};
  }
  /// Values between consecutive blocks of a transformed buffer of `rows` × batch·tiles per
  /// block: its size and a skew. Without the skew the distance is often a multiple of the
  /// page size, and the 16 values of one tile, one in each block, compete for one cache set.
  static constexpr std::size_t skew = 16;
  KOKKOS_INLINE_FUNCTION static constexpr std::size_t block_stride(int rows, int batch) {
    return static_cast<std::size_t>(rows) * batch * tiles + skew;
  }
  /// Values per sample that a transformed buffer of `rows` rows per block takes (with the
  /// skews, for any batch ≥ 1).
  static constexpr std::size_t per_sample(int rows) {
    return std::size_t{positions} * (static_cast<std::size_t>(rows) * tiles + skew);
  }

  /// Bᵀ applied to four values: the input transform along one dimension.
  template <class T>
  KOKKOS_INLINE_FUNCTION static void input(T d0, T d1, T d2, T d3, T& v0, T& v1, T& v2, T& v3) {
    v0 = d0 - d2;
    v1 = d1 + d2;
    v2 = d2 - d1;
    v3 = d1 - d3;
  }
  /// B applied to four values: the adjoint of input().
  template <class T>
  KOKKOS_INLINE_FUNCTION static void input_adjoint(T v0, T v1, T v2, T v3, T& d0, T& d1, T& d2,
                                                   T& d3) {
    d0 = v0;
    d1 = v1 - v2 + v3;
    d2 = v1 + v2 - v0;
    d3 = -v3;
  }
  /// Aᵀ applied to four values: the output transform along one dimension.
  template <class T>
  KOKKOS_INLINE_FUNCTION static void output(T m0, T m1, T m2, T m3, T& y0, T& y1) {
    y0 = m0 + m1 + m2;
    y1 = m1 - m2 - m3;
  }
  /// A applied to two values: the adjoint of output().
  template <class T>
  KOKKOS_INLINE_FUNCTION static void output_adjoint(T y0, T y1, T& m0, T& m1, T& m2, T& m3) {
    m0 = y0;
    m1 = y0 + y1;
    m2 = y0 - y1;
    m3 = -y1;
  }
  /// G applied to three values: the weight transform along one dimension.
  template <class T>
  KOKKOS_INLINE_FUNCTION static void weight(T g0, T g1, T g2, T& u0, T& u1, T& u2, T& u3) {
    u0 = g0;
    u1 = T(0.5) * (g0 + g1 + g2);
    u2 = T(0.5) * (g0 - g1 + g2);
    u3 = g2;
  }
  /// Gᵀ applied to four values: the adjoint of weight().
  template <class T>
  KOKKOS_INLINE_FUNCTION static void weight_adjoint(T u0, T u1, T u2, T u3, T& g0, T& g1, T& g2) {
    g0 = u0 + T(0.5) * (u1 + u2);
    g1 = T(0.5) * (u1 - u2);
    g2 = T(0.5) * (u1 + u2) + u3;
  }
};

/// \brief u(ξ, o, c) = (G w(o, c) Gᵀ)(ξ) for weights Out × C × 3 × 3: one work item per kernel.
template <ConvGeometry G, int Out, class ExecutionSpace, class WView, class UView>
void winograd_weights(ExecutionSpace const& space, WView const& w, UView const& u) {
  using Scalar = typename UView::non_const_value_type;
  using W = Winograd<G>;
  static_assert(W::applies, "loom::kernels::winograd_*: F(2x2, 3x3) needs a 3x3 kernel, stride 1");
  constexpr int C = G.channels;
  auto const* weights = w.data();
  Scalar* out = u.data();
  Kokkos::parallel_for(
      "loom::kernels::winograd_weights", Kokkos::RangePolicy<ExecutionSpace>(space, 0, Out * C),
      KOKKOS_LAMBDA(int kernel) {
        auto const* g = weights + kernel * 9;
        Scalar t[4][3]; // G g: rows transformed
        for (int k = 0; k < 3; ++k) {
          W::weight(Scalar(g[k]), Scalar(g[3 + k]), Scalar(g[6 + k]), t[0][k], t[1][k], t[2][k],
                    t[3][k]);
        }
        for (int i = 0; i < 4; ++i) {
          Scalar v[4];
          W::weight(t[i][0], t[i][1], t[i][2], v[0], v[1], v[2], v[3]);
          for (int j = 0; j < 4; ++j) {
            out[static_cast<std::size_t>(4 * i + j) * Out * C + kernel] = v[j];
          }
        }
      });
}

/// \brief dw(o, c) = alpha·Gᵀ du(·, o, c) G + beta·dw(o, c): the weight gradient from the
///        transformed one. One work item per kernel.
template <ConvGeometry G, int Out, class ExecutionSpace, class DuView, class DwView>
void winograd_weights_backward(ExecutionSpace const& space, DuView const& du, DwView const& dw,
                               typename DwView::non_const_value_type alpha,
                               typename DwView::non_const_value_type beta) {
  using Scalar = typename DwView::non_const_value_type;
  using W = Winograd<G>;
  static_assert(W::applies, "loom::kernels::winograd_*: F(2x2, 3x3) needs a 3x3 kernel, stride 1");
  constexpr int C = G.channels;
  auto const* in = du.data();
  Scalar* weights = dw.data();
  Kokkos::parallel_for(
      "loom::kernels::winograd_weights_backward",
      Kokkos::RangePolicy<ExecutionSpace>(space, 0, Out * C), KOKKOS_LAMBDA(int kernel) {
        Scalar t[4][3]; // du G: columns reduced
        for (int i = 0; i < 4; ++i) {
          Scalar v[4];
          for (int j = 0; j < 4; ++j) {
            v[j] = in[static_cast<std::size_t>(4 * i + j) * Out * C + kernel];
          }
          W::weight_adjoint(v[0], v[1], v[2], v[3], t[i][0], t[i][1], t[i][2]);
        }
        Scalar* g = weights + kernel * 9;
        for (int k = 0; k < 3; ++k) {
          Scalar r[3];
          W::weight_adjoint(t[0][k], t[1][k], t[2][k], t[3][k], r[0], r[1], r[2]);
          for (int row = 0; row < 3; ++row) {
            Scalar& target = g[3 * row + k];
            target = beta == Scalar(0) ? alpha * r[row] : alpha * r[row] + beta * target;
          }
        }
      });
}

/// \brief v(ξ, c, t) = (Bᵀ d B)(ξ) for every tile t's 4×4 padded input d (0 outside the
///        image). One work item per (channel, image) plane; for each band of tile rows it
///        loads four padded rows, split into even and odd columns, and transforms them in
///        two passes: along the rows of the band, then along each tile's columns.
template <ConvGeometry G, class ExecutionSpace, class XView, class VView>
void winograd_input(ExecutionSpace const& space, int batch, XView const& x, VView const& v) {
  using Scalar = typename VView::non_const_value_type;
  using W = Winograd<G>;
  static_assert(W::applies, "loom::kernels::winograd_*: F(2x2, 3x3) needs a 3x3 kernel, stride 1");
  constexpr int H2 = W::half_w;
  auto const* in = x.data();
  Scalar* out = v.data();
  std::size_t const T = static_cast<std::size_t>(batch) * W::tiles;
  std::size_t const stride = W::block_stride(G.channels, batch);
  Kokkos::parallel_for(
      "loom::kernels::winograd_input",
      Kokkos::RangePolicy<ExecutionSpace>(space, 0, batch * G.channels), KOKKOS_LAMBDA(int item) {
        int const c = item / batch;
        int const n = item - c * batch;
        auto const* KOKKOS_RESTRICT plane = in + static_cast<std::size_t>(n) * G.image() +
                                            static_cast<std::size_t>(c) * G.height * G.width;
        Scalar even[4][H2], odd[4][H2]; // the band's padded rows, then Bᵀ along the rows
        for (int ty = 0; ty < W::tiles_h; ++ty) {
          for (int r = 0; r < 4; ++r) {
            int const h = 2 * ty + r - G.pad_h;
            bool const inside = h >= 0 && h < G.height;
            auto const* KOKKOS_RESTRICT row = plane + (inside ? h : 0) * G.width;
            for (int k = 0; k < H2; ++k) {
              int const w0 = 2 * k - G.pad_w, w1 = w0 + 1;
              even[r][k] = inside && w0 >= 0 && w0 < G.width ? Scalar(row[w0]) : Scalar(0);
              odd[r][k] = inside && w1 >= 0 && w1 < G.width ? Scalar(row[w1]) : Scalar(0);
            }
          }
          for (int k = 0; k < H2; ++k) {
            W::input(even[0][k], even[1][k], even[2][k], even[3][k], even[0][k], even[1][k],
                     even[2][k], even[3][k]);
            W::input(odd[0][k], odd[1][k], odd[2][k], odd[3][k], odd[0][k], odd[1][k], odd[2][k],
                     odd[3][k]);
          }
          std::size_t const first = static_cast<std::size_t>(n) * W::tiles + ty * W::tiles_w;
          for (int i = 0; i < 4; ++i) {
            Scalar* KOKKOS_RESTRICT v0 = out + 4 * i * stride + c * T + first;
            Scalar* KOKKOS_RESTRICT v1 = v0 + stride;
            Scalar* KOKKOS_RESTRICT v2 = v1 + stride;
            Scalar* KOKKOS_RESTRICT v3 = v2 + stride;
            for (int tx = 0; tx < W::tiles_w; ++tx) {
              // The tile's columns 2tx .. 2tx + 3 are even[tx], odd[tx], even[tx + 1], odd[tx + 1].
              W::input(even[i][tx], odd[i][tx], even[i][tx + 1], odd[i][tx + 1], v0[tx], v1[tx],
                       v2[tx], v3[tx]);
            }
          }
        }
      });
}

/// \brief y(n, o, ·) = Activation(Aᵀ m(·, o, tiles of n) A + b(o)) in NCHW; b may be empty.
///        With KeepPreactivation, the value before the activation also goes to keep (NCHW).
///        One work item per (image, output channel) plane, a strip of tiles at a time: the
///        transform runs over the strip's tiles, and bias and activation over its outputs,
///        both loops long enough to vectorise (so that no activation runs as a branch).
template <ConvGeometry G, int Out, class Activation, bool KeepPreactivation, class ExecutionSpace,
          class MView, class BiasView, class YView, class KeepView>
void winograd_output(ExecutionSpace const& space, int batch, MView const& m, BiasView const& b,
                     YView const& y, KeepView const& keep) {
  using Scalar = typename YView::non_const_value_type;
  using W = Winograd<G>;
  static_assert(W::applies, "loom::kernels::winograd_*: F(2x2, 3x3) needs a 3x3 kernel, stride 1");
  constexpr int TW = W::tiles_w;
  constexpr int SR = W::strip_rows;
  constexpr int OW = G.out_width;
  bool const has_bias = b.extent(0) > 0;
  auto const* in = m.data();
  Scalar* out = y.data();
  Scalar* kept = keep.data();
  std::size_t const T = static_cast<std::size_t>(batch) * W::tiles;
  std::size_t const stride = W::block_stride(Out, batch);
  Kokkos::parallel_for(
      "loom::kernels::winograd_output", Kokkos::RangePolicy<ExecutionSpace>(space, 0, batch * Out),
      KOKKOS_LAMBDA(int plane) {
        int const n = plane / Out;
        int const o = plane - n * Out;
        Scalar const bias = has_bias ? Scalar(b(o)) : Scalar(0);
        for (int ty0 = 0; ty0 < W::tiles_h; ty0 += SR) {
          auto const [rows, out_rows, first_output] = W::strip(ty0);
          auto const* KOKKOS_RESTRICT base = in + static_cast<std::size_t>(o) * T +
                                             static_cast<std::size_t>(n) * W::tiles + ty0 * TW;
          Scalar y4[4][SR * TW]; // y4[2a + b][tile]: the tile's output (a, b)
          for (int t = 0; t < rows * TW; ++t) {
            Scalar s[2][4]; // Aᵀ along each row i of the tile: s[b][i]
            for (int i = 0; i < 4; ++i) {
              auto const* KOKKOS_RESTRICT mi = base + 4 * i * stride + t;
              W::output(Scalar(mi[0]), Scalar(mi[stride]), Scalar(mi[2 * stride]),
                        Scalar(mi[3 * stride]), s[0][i], s[1][i]);
            }
            W::output(s[0][0], s[0][1], s[0][2], s[0][3], y4[0][t], y4[2][t]);
            W::output(s[1][0], s[1][1], s[1][2], s[1][3], y4[1][t], y4[3][t]);
          }
          Scalar strip[2 * SR * OW]; // the strip's output rows
          for (int r = 0; r < rows; ++r) {
            for (int a = 0; a < 2 && 2 * r + a < out_rows; ++a) {
              for (int tx = 0; tx < TW; ++tx) {
                for (int bb = 0; bb < 2 && 2 * tx + bb < OW; ++bb) {
                  strip[(2 * r + a) * OW + 2 * tx + bb] = y4[2 * a + bb][r * TW + tx];
                }
              }
            }
          }
          std::size_t const first = static_cast<std::size_t>(plane) * G.pixels() + first_output;
          for (int k = 0; k < out_rows * OW; ++k) {
            Scalar const value = strip[k] + bias;
            if constexpr (KeepPreactivation) {
              kept[first + k] = value;
            }
            out[first + k] = Activation::forward(value);
          }
        }
      });
}

/// \brief dm(·, o, tiles of n) = A g Aᵀ with g = Activation'(saved)·dy (both NCHW) on the
///        tile's 2×2 outputs, 0 past the image. One work item per (image, output channel)
///        plane, a strip of tiles at a time (see winograd_output).
template <ConvGeometry G, int Out, class Activation, class ExecutionSpace, class SavedView,
          class DyView, class DmView>
void winograd_output_backward(ExecutionSpace const& space, int batch, SavedView const& saved,
                              DyView const& dy, DmView const& dm) {
  using Scalar = typename DmView::non_const_value_type;
  using W = Winograd<G>;
  static_assert(W::applies, "loom::kernels::winograd_*: F(2x2, 3x3) needs a 3x3 kernel, stride 1");
  constexpr int TW = W::tiles_w;
  constexpr int SR = W::strip_rows;
  constexpr int OW = G.out_width;
  auto const* s = saved.data();
  auto const* d = dy.data();
  Scalar* out = dm.data();
  std::size_t const T = static_cast<std::size_t>(batch) * W::tiles;
  std::size_t const stride = W::block_stride(Out, batch);
  Kokkos::parallel_for(
      "loom::kernels::winograd_output_backward",
      Kokkos::RangePolicy<ExecutionSpace>(space, 0, batch * Out), KOKKOS_LAMBDA(int plane) {
        int const n = plane / Out;
        int const o = plane - n * Out;
        for (int ty0 = 0; ty0 < W::tiles_h; ty0 += SR) {
          auto const [rows, out_rows, first_output] = W::strip(ty0);
          std::size_t const first = static_cast<std::size_t>(plane) * G.pixels() + first_output;
          Scalar strip[2 * SR * OW]; // g over the strip's output rows
          for (int k = 0; k < out_rows * OW; ++k) {
            strip[k] = Activation::backward(s[first + k], d[first + k]);
          }
          Scalar g4[4][SR * TW]; // g4[2a + b][tile]: g at the tile's output (a, b)
          for (int r = 0; r < rows; ++r) {
            for (int a = 0; a < 2; ++a) {
              for (int tx = 0; tx < TW; ++tx) {
                for (int bb = 0; bb < 2; ++bb) {
                  int const row = 2 * r + a, column = 2 * tx + bb;
                  g4[2 * a + bb][r * TW + tx] =
                      row < out_rows && column < OW ? strip[row * OW + column] : Scalar(0);
                }
              }
            }
          }
          // The transform into the work item's memory, then one copy per position: 16 output
          // streams in one loop would defeat vectorisation (each might alias another).
          Scalar m16[16][SR * TW];
          for (int t = 0; t < rows * TW; ++t) {
            Scalar h[2][4]; // A along each row a of the tile: h[a][j]
            W::output_adjoint(g4[0][t], g4[1][t], h[0][0], h[0][1], h[0][2], h[0][3]);
            W::output_adjoint(g4[2][t], g4[3][t], h[1][0], h[1][1], h[1][2], h[1][3]);
            for (int j = 0; j < 4; ++j) {
              W::output_adjoint(h[0][j], h[1][j], m16[j][t], m16[4 + j][t], m16[8 + j][t],
                                m16[12 + j][t]);
            }
          }
          Scalar* base = out + static_cast<std::size_t>(o) * T +
                         static_cast<std::size_t>(n) * W::tiles + ty0 * TW;
          for (int xi = 0; xi < 16; ++xi) {
            Scalar* KOKKOS_RESTRICT to = base + xi * stride;
            for (int t = 0; t < rows * TW; ++t) {
              to[t] = m16[xi][t];
            }
          }
        }
      });
}

/// \brief db(o) = alpha·Σ_t dm(ξ = (1, 1), o, t) + beta·db(o): the bias gradient, as that
///        position of A g Aᵀ is the sum of g over the tile. One work item per output channel,
///        in `lanes` partial sums.
template <ConvGeometry G, int Out, class ExecutionSpace, class DmView, class DbView>
void winograd_bias_backward(ExecutionSpace const& space, int batch, DmView const& dm,
                            DbView const& db, typename DbView::non_const_value_type alpha,
                            typename DbView::non_const_value_type beta) {
  using Scalar = typename DbView::non_const_value_type;
  using W = Winograd<G>;
  static_assert(W::applies, "loom::kernels::winograd_*: F(2x2, 3x3) needs a 3x3 kernel, stride 1");
  std::size_t const T = static_cast<std::size_t>(batch) * W::tiles;
  auto const* sums = dm.data() + 5 * W::block_stride(Out, batch);
  Scalar* out = db.data();
  Kokkos::parallel_for(
      "loom::kernels::winograd_bias_backward", Kokkos::RangePolicy<ExecutionSpace>(space, 0, Out),
      KOKKOS_LAMBDA(int o) {
        constexpr int lanes = 16;
        Scalar partial[lanes] = {};
        auto const* KOKKOS_RESTRICT row = sums + static_cast<std::size_t>(o) * T;
        std::size_t const whole = T / lanes * lanes;
        for (std::size_t t = 0; t < whole; t += lanes) {
          for (int l = 0; l < lanes; ++l) {
            partial[l] += row[t + l];
          }
        }
        for (std::size_t t = whole; t < T; ++t) {
          partial[t - whole] += row[t];
        }
        Scalar sum = 0;
        for (int l = 0; l < lanes; ++l) {
          sum += partial[l];
        }
        out[o] = beta == Scalar(0) ? alpha * sum : alpha * sum + beta * out[o];
      });
}

/// \brief dx(n, c, ·) = Σ over tiles of B dv(·, c, t) Bᵀ at the tile's place: the adjoint of
///        winograd_input(). One work item per (image, channel) plane accumulates a band of
///        four padded rows (tiles overlap by two rows and two columns), writes the two rows
///        the next band no longer reaches and moves on: every value of dx is written once.
template <ConvGeometry G, class ExecutionSpace, class DvView, class DxView>
void winograd_input_backward(ExecutionSpace const& space, int batch, DvView const& dv,
                             DxView const& dx) {
  using Scalar = typename DxView::non_const_value_type;
  using W = Winograd<G>;
  static_assert(W::applies, "loom::kernels::winograd_*: F(2x2, 3x3) needs a 3x3 kernel, stride 1");
  constexpr int TW = W::tiles_w;
  constexpr int H2 = W::half_w;
  auto const* in = dv.data();
  Scalar* out = dx.data();
  std::size_t const T = static_cast<std::size_t>(batch) * W::tiles;
  std::size_t const stride = W::block_stride(G.channels, batch);
  Kokkos::parallel_for(
      "loom::kernels::winograd_input_backward",
      Kokkos::RangePolicy<ExecutionSpace>(space, 0, batch * G.channels), KOKKOS_LAMBDA(int item) {
        int const n = item / G.channels;
        int const c = item - n * G.channels;
        Scalar* KOKKOS_RESTRICT plane = out + static_cast<std::size_t>(item) * G.height * G.width;
        // The band's padded rows 2ty .. 2ty + 3, even and odd columns apart.
        Scalar even[4][H2], odd[4][H2];
        for (int r = 0; r < 4; ++r) {
          for (int k = 0; k < H2; ++k) {
            even[r][k] = Scalar(0);
            odd[r][k] = Scalar(0);
          }
        }
        // Writes padded rows r0, r0 + 1 of the band, which lie at 2ty + r0 - pad_h, to dx.
        auto flush = [&](int ty, int r0) {
          for (int r = r0; r < r0 + 2; ++r) {
            int const h = 2 * ty + r - G.pad_h;
            if (h < 0 || h >= G.height) {
              continue;
            }
            Scalar* KOKKOS_RESTRICT row = plane + h * G.width;
            for (int w = 0; w < G.width; ++w) {
              int const k = w + G.pad_w;
              row[w] = (k % 2 == 0 ? even : odd)[r][k / 2];
            }
          }
        };
        for (int ty = 0; ty < W::tiles_h; ++ty) {
          auto const* KOKKOS_RESTRICT base = in + static_cast<std::size_t>(c) * T +
                                             static_cast<std::size_t>(n) * W::tiles + ty * TW;
          // Each tile's B dv Bᵀ, by column of the tile: left (2tx, 2tx + 1), right (2tx + 2, 2tx +
          // 3).
          Scalar left_even[4][TW], left_odd[4][TW], right_even[4][TW], right_odd[4][TW];
          for (int tx = 0; tx < TW; ++tx) {
            Scalar z[4][4]; // B along the tile's rows: z[p][j]
            for (int j = 0; j < 4; ++j) {
              auto const* KOKKOS_RESTRICT vj = base + j * stride + tx;
              W::input_adjoint(Scalar(vj[0]), Scalar(vj[4 * stride]), Scalar(vj[8 * stride]),
                               Scalar(vj[12 * stride]), z[0][j], z[1][j], z[2][j], z[3][j]);
            }
            for (int p = 0; p < 4; ++p) {
              W::input_adjoint(z[p][0], z[p][1], z[p][2], z[p][3], left_even[p][tx],
                               left_odd[p][tx], right_even[p][tx], right_odd[p][tx]);
            }
          }
          for (int p = 0; p < 4; ++p) {
            for (int k = 0; k < TW; ++k) {
              even[p][k] += left_even[p][k];
              odd[p][k] += left_odd[p][k];
            }
            for (int k = 0; k < TW; ++k) {
              even[p][k + 1] += right_even[p][k];
              odd[p][k + 1] += right_odd[p][k];
            }
          }
          flush(ty, 0);
          for (int k = 0; k < H2; ++k) {
            even[0][k] = even[2][k];
            odd[0][k] = odd[2][k];
            even[1][k] = even[3][k];
            odd[1][k] = odd[3][k];
            even[2][k] = even[3][k] = Scalar(0);
            odd[2][k] = odd[3][k] = Scalar(0);
          }
        }
        flush(W::tiles_h, 0); // the last band's rows 2, 3, moved to 0, 1
      });
}

} // namespace loom::kernels
