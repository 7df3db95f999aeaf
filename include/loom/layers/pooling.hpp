#pragma once

// Pooling over NCHW images: MaxPool2D, AvgPool2D and GlobalAvgPool2D. Each forward and each
// backward is one kernel over (image, channel) planes.

#include <loom/core/detail/kokkos.hpp>
#include <loom/core/random.hpp>
#include <loom/core/shape.hpp>
#include <loom/core/tensor.hpp>
#include <loom/layers/concepts.hpp>
#include <loom/layers/window.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <string>

namespace loom {

// Named in compiler output by the pooling layers' diagnostics.
template <class LayerIndex, class Pool, class InputShape>
struct loom_error_pooling_input_must_be_an_image;
template <class LayerIndex, class Pool, class InputShape>
struct loom_error_pooling_window_larger_than_padded_input;
template <class LayerIndex, class Pool>
struct loom_error_pooling_padding_not_below_kernel;

namespace detail {

enum class PoolKind { max, average };

template <class In, class Out, class Scalar, class ExecutionSpace, PoolKind Kind, Window Kernel,
          Window Stride, Window Padding>
class Pool2DStage;

template <class Derived, PoolKind Kind, Window Kernel, Window Stride, Window Padding>
struct Pool2DLayer {
  static_assert(Kernel.h > 0 && Kernel.w > 0 && Stride.h > 0 && Stride.w > 0,
                "loom::MaxPool2D / AvgPool2D: kernel and stride must be at least 1");

  using layer_type = Derived;
  using footprint = Footprint<Kernel, Stride, Padding>;

  template <class In>
  using output_shape = windowed_shape<In, channels_of<In>, Kernel, Stride, Padding>;
  template <class In>
  static constexpr std::size_t parameter_count = 0;

  template <std::size_t Index, class In>
  static constexpr bool check() {
    if constexpr (In::rank != 3) {
      using show [[maybe_unused]] = decltype(sizeof(
          loom_error_pooling_input_must_be_an_image<layer_index<Index>, Derived, In>));
      static_assert(In::rank == 3, "loom::MaxPool2D / AvgPool2D: the input must be an image, "
                                   "shape (channels, height, width) (search the compiler output "
                                   "for 'loom_error_pooling_input_must_be_an_image')");
      return false;
    } else if constexpr (Padding.h >= Kernel.h || Padding.w >= Kernel.w) {
      using show [[maybe_unused]] = decltype(sizeof(
          loom_error_pooling_padding_not_below_kernel<layer_index<Index>, Derived>));
      static_assert(Padding.h < Kernel.h && Padding.w < Kernel.w,
                    "loom::MaxPool2D / AvgPool2D: the padding must be smaller than the window, "
                    "or a window could cover padding only");
      return false;
    } else if constexpr (In::dims[1] + 2 * Padding.h < Kernel.h ||
                         In::dims[2] + 2 * Padding.w < Kernel.w) {
      using show [[maybe_unused]] = decltype(sizeof(
          loom_error_pooling_window_larger_than_padded_input<layer_index<Index>, Derived, In>));
      static_assert(In::dims[1] + 2 * Padding.h >= Kernel.h &&
                        In::dims[2] + 2 * Padding.w >= Kernel.w,
                    "loom::MaxPool2D / AvgPool2D: the window is larger than its padded input; "
                    "use a smaller window or fewer pooling layers (search the compiler output "
                    "for 'loom_error_pooling_window_larger_than_padded_input')");
      return false;
    }
    return true;
  }

  template <class In, class Scalar, class ExecutionSpace>
  using stage =
      Pool2DStage<In, output_shape<In>, Scalar, ExecutionSpace, Kind, Kernel, Stride, Padding>;

protected:
  static std::string describe(char const* name) {
    return std::string(name) + "<" + window_arguments(Kernel, Stride, Padding, Kernel) + ">";
  }
};

} // namespace detail

/// \brief The maximum of each window, per channel. Padding is ignored (never the maximum).
/// \tparam Kernel   window size; an integer for a square window, Window{h, w} otherwise
/// \tparam Stride   step between windows (default: the window, so windows do not overlap)
/// \tparam Padding  extent added on each side, smaller than the window (default 0)
template <Window Kernel, Window Stride = Kernel, Window Padding = 0>
struct MaxPool2D
    : detail::Pool2DLayer<MaxPool2D<Kernel, Stride, Padding>, detail::PoolKind::max, Kernel, Stride,
                          Padding> {
  static std::string name() { return MaxPool2D::describe("MaxPool2D"); }
  /// The same window with other padding (a band of rows takes its border from its neighbours).
  template <Window OtherPadding>
  using with_padding = MaxPool2D<Kernel, Stride, OtherPadding>;
  /// Padding is never a window's maximum: rows beyond the image count as the lowest value.
  static constexpr bool pads_with_lowest = true;
};

/// \brief The mean of each window, per channel. Padding counts as zeros in the mean
///        (PyTorch's count_include_pad=True), so every window divides by KH·KW.
template <Window Kernel, Window Stride = Kernel, Window Padding = 0>
struct AvgPool2D
    : detail::Pool2DLayer<AvgPool2D<Kernel, Stride, Padding>, detail::PoolKind::average, Kernel,
                          Stride, Padding> {
  static std::string name() { return AvgPool2D::describe("AvgPool2D"); }
  template <Window OtherPadding>
  using with_padding = AvgPool2D<Kernel, Stride, OtherPadding>;
  static constexpr bool pads_with_lowest = false;
};

namespace detail {
template <class In, class Scalar, class ExecutionSpace, std::size_t Ranks = 1>
class GlobalAvgPool2DStage;
} // namespace detail

/// \brief The mean of each channel over the whole image: (C, H, W) → (C), ready for Dense.
struct GlobalAvgPool2D {
  using layer_type = GlobalAvgPool2D;
  static std::string name() { return "GlobalAvgPool2D"; }
  template <class In>
  using output_shape = Shape<detail::channels_of<In>>;
  template <class In>
  static constexpr std::size_t parameter_count = 0;
  template <std::size_t Index, class In>
  static constexpr bool check() {
    if constexpr (In::rank != 3) {
      using show [[maybe_unused]] = decltype(sizeof(
          loom_error_pooling_input_must_be_an_image<layer_index<Index>, GlobalAvgPool2D, In>));
      static_assert(In::rank == 3, "loom::GlobalAvgPool2D: the input must be an image, shape "
                                   "(channels, height, width) (search the compiler output for "
                                   "'loom_error_pooling_input_must_be_an_image')");
      return false;
    }
    return true;
  }
  template <class In, class Scalar, class ExecutionSpace>
  using stage = detail::GlobalAvgPool2DStage<In, Scalar, ExecutionSpace>;
  /// The stage over a band of each image's rows, one of Ranks: the means are those of the
  /// whole images, summed over the ranks of the pass's group, on every rank.
  template <class In, class Scalar, class ExecutionSpace, std::size_t Ranks>
  using band_stage = detail::GlobalAvgPool2DStage<In, Scalar, ExecutionSpace, Ranks>;
};

namespace detail {

/// The stage members of layers without parameters or workspace.
template <class In, class Out, class Scalar, class ExecutionSpace, PoolKind Kind, Window Kernel,
          Window Stride, Window Padding>
class Pool2DStage {
  using geometry = ImageGeometry<In, Out>;
  static constexpr int kh_ = static_cast<int>(Kernel.h), kw_ = static_cast<int>(Kernel.w);
  static constexpr int sh_ = static_cast<int>(Stride.h), sw_ = static_cast<int>(Stride.w);
  static constexpr int ph_ = static_cast<int>(Padding.h), pw_ = static_cast<int>(Padding.w);
  static constexpr int height = geometry::height, width = geometry::width;
  static constexpr int out_height = geometry::out_height, out_width = geometry::out_width;

public:
  using input_shape = In;
  using output_shape = Out;
  using footprint = Footprint<Kernel, Stride, Padding>;
  using memory_space = typename ExecutionSpace::memory_space;

  // One work item per (image, channel) plane, in forward and backward alike: backward adds
  // each window's gradient into the plane it owns, so overlapping windows need no atomics
  // and sums run in a fixed order. The window loops use selects, not branches; backward
  // routes the gradient to the first position that holds the maximum.
  template <class XView, class YView>
  void forward(ExecutionSpace const& space, PassContext<Scalar> const& ctx, XView const& x,
               YView const& y) const {
    auto const* in = x.data();
    Scalar* out = y.data();
    Kokkos::parallel_for(
        "loom::Pool2D::forward",
        Kokkos::RangePolicy<ExecutionSpace>(space, 0,
                                            static_cast<int>(ctx.batch) * geometry::channels),
        KOKKOS_LAMBDA(int plane) {
          auto const* image = in + static_cast<std::size_t>(plane) * height * width;
          Scalar* result = out + static_cast<std::size_t>(plane) * out_height * out_width;
          for (int oh = 0; oh < out_height; ++oh) {
            for (int ow = 0; ow < out_width; ++ow) {
              result[oh * out_width + ow] = window_value(image, oh, ow);
            }
          }
        });
  }

  template <class XView, class YView, class DyView, class DxView>
  void backward(ExecutionSpace const& space, PassContext<Scalar> const& ctx, XView const& x,
                YView const&, DyView const& dy, DxView const& dx,
                VectorSlice<Scalar, memory_space>) const {
    if (dx.extent(0) == 0) {
      return;
    }
    auto const* in = x.data();
    auto const* grad = dy.data();
    Scalar* out = dx.data();
    Kokkos::parallel_for(
        "loom::Pool2D::backward",
        Kokkos::RangePolicy<ExecutionSpace>(space, 0,
                                            static_cast<int>(ctx.batch) * geometry::channels),
        KOKKOS_LAMBDA(int plane) {
          auto const* image = in + static_cast<std::size_t>(plane) * height * width;
          auto const* g = grad + static_cast<std::size_t>(plane) * out_height * out_width;
          Scalar* d = out + static_cast<std::size_t>(plane) * height * width;
          if constexpr (tiles) {
            backward_tiles(image, g, d);
            return;
          }
          for (int k = 0; k < height * width; ++k) {
            d[k] = Scalar(0);
          }
          for (int oh = 0; oh < out_height; ++oh) {
            for (int ow = 0; ow < out_width; ++ow) {
              Scalar const gradient = g[oh * out_width + ow];
              if constexpr (Kind == PoolKind::max) {
                int const best = argmax(image, oh, ow);
                if (best >= 0) { // -1 only for a window of NaNs
                  d[best] += gradient;
                }
              } else {
                Scalar const share = gradient / Scalar(kh_ * kw_);
                visit(oh, ow, [&](int k) { d[k] += share; });
              }
            }
          }
        });
  }

private:
  // Windows that tile the plane (stride = kernel, no padding) are disjoint: backward writes
  // each input value once, without zeroing the plane first, and zeroes only the rows and
  // columns no window covers.
  static constexpr bool tiles = ph_ == 0 && pw_ == 0 && sh_ == kh_ && sw_ == kw_;

  template <class T, class G>
  KOKKOS_INLINE_FUNCTION static void backward_tiles(T const* image, G const* g, Scalar* d) {
    for (int oh = 0; oh < out_height; ++oh) {
      for (int ow = 0; ow < out_width; ++ow) {
        Scalar const gradient = g[oh * out_width + ow];
        if constexpr (Kind == PoolKind::max) {
          int const best = argmax(image, oh, ow);
          visit(oh, ow, [&](int k) { d[k] = k == best ? gradient : Scalar(0); });
        } else {
          Scalar const share = gradient / Scalar(kh_ * kw_);
          visit(oh, ow, [&](int k) { d[k] = share; });
        }
      }
      for (int h = oh * kh_; h < (oh + 1) * kh_; ++h) {
        for (int w = out_width * kw_; w < width; ++w) {
          d[h * width + w] = Scalar(0);
        }
      }
    }
    for (int k = out_height * kh_ * width; k < height * width; ++k) {
      d[k] = Scalar(0);
    }
  }

  // Calls f(k) for the position k in the plane of every input value of window (oh, ow), in
  // row-major order. Without padding every window lies inside the image, and the loops have
  // compile-time trip counts.
  template <class F>
  KOKKOS_INLINE_FUNCTION static void visit(int oh, int ow, F&& f) {
    if constexpr (ph_ == 0 && pw_ == 0) {
      int const base = oh * sh_ * width + ow * sw_;
      for (int kh = 0; kh < kh_; ++kh) {
        for (int kw = 0; kw < kw_; ++kw) {
          f(base + kh * width + kw);
        }
      }
    } else {
      int const top = oh * sh_ - ph_, left = ow * sw_ - pw_;
      int const h0 = top < 0 ? 0 : top, h1 = top + kh_ < height ? top + kh_ : height;
      int const w0 = left < 0 ? 0 : left, w1 = left + kw_ < width ? left + kw_ : width;
      for (int h = h0; h < h1; ++h) {
        for (int w = w0; w < w1; ++w) {
          f(h * width + w);
        }
      }
    }
  }

  // The position of window (oh, ow)'s maximum: the first one in row-major order, found with
  // selects; -1 only for a window of NaNs.
  template <class T>
  KOKKOS_INLINE_FUNCTION static int argmax(T const* image, int oh, int ow) {
    int best = -1;
    Scalar top = Kokkos::reduction_identity<Scalar>::max();
    visit(oh, ow, [&](int k) {
      bool const better = image[k] > top;
      top = better ? Scalar(image[k]) : top;
      best = better ? k : best;
    });
    return best;
  }

  // The window's maximum (padding is never it) or its mean (padding counts as zeros). A
  // window always covers an input value because padding < kernel.
  template <class T>
  KOKKOS_INLINE_FUNCTION static Scalar window_value(T const* image, int oh, int ow) {
    if constexpr (Kind == PoolKind::max) {
      Scalar top = Kokkos::reduction_identity<Scalar>::max();
      visit(oh, ow, [&](int k) { top = image[k] > top ? Scalar(image[k]) : top; });
      return top;
    } else {
      Scalar sum = 0;
      visit(oh, ow, [&](int k) { sum += image[k]; });
      return sum / Scalar(kh_ * kw_);
    }
  }
};

template <class In, class Scalar, class ExecutionSpace, std::size_t Ranks>
class GlobalAvgPool2DStage {
  static constexpr int channels = static_cast<int>(In::dims[0]);
  static constexpr int area = static_cast<int>(In::dims[1] * In::dims[2]);
  // The values each mean divides by: the whole image's, of which a band holds area.
  static constexpr int image_area = area * static_cast<int>(Ranks);

public:
  using input_shape = In;
  using output_shape = Shape<In::dims[0]>;
  using memory_space = typename ExecutionSpace::memory_space;

  template <class XView, class YView>
  void forward(ExecutionSpace const& space, PassContext<Scalar> const& ctx, XView const& x,
               YView const& y) const {
    auto const* in = x.data();
    Scalar* out = y.data();
    Kokkos::parallel_for(
        "loom::GlobalAvgPool2D::forward",
        Kokkos::RangePolicy<ExecutionSpace>(space, 0, static_cast<int>(ctx.batch) * channels),
        KOKKOS_LAMBDA(int plane) {
          Scalar sum = 0;
          auto const* image = in + static_cast<std::size_t>(plane) * area;
          for (int k = 0; k < area; ++k) {
            sum += image[k];
          }
          out[plane] = sum / Scalar(image_area);
        });
    if constexpr (Ranks > 1) {
      loom::detail::fence(space, "loom::GlobalAvgPool2D::forward (means over the group)");
      ctx.group->sum(out, ctx.batch * std::size_t{channels});
    }
  }

  template <class XView, class YView, class DyView, class DxView>
  void backward(ExecutionSpace const& space, PassContext<Scalar> const& ctx, XView const&,
                YView const&, DyView const& dy, DxView const& dx,
                VectorSlice<Scalar, memory_space>) const {
    if (dx.extent(0) == 0) {
      return;
    }
    auto const* grad = dy.data();
    Scalar* out = dx.data();
    Kokkos::parallel_for(
        "loom::GlobalAvgPool2D::backward",
        Kokkos::RangePolicy<ExecutionSpace>(space, 0,
                                            static_cast<int>(ctx.batch) * channels * area),
        KOKKOS_LAMBDA(int index) { out[index] = grad[index / area] / Scalar(image_area); });
  }
};

} // namespace detail
} // namespace loom
