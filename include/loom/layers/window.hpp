#pragma once

// Sliding windows over images: the kernel, stride and padding of convolution and pooling
// layers as template arguments, and the input region each output element reads (its
// footprint), which spatial decomposition turns into halo widths.

#include <loom/core/shape.hpp>

#include <cstddef>
#include <string>

namespace loom {

/// \brief A height × width pair as a template argument: a kernel, stride or padding. An
///        integer converts to a square one, so Conv2D<32, 3> and Conv2D<32, Window{3, 5}>
///        both read naturally.
struct Window {
  std::size_t h;
  std::size_t w;
  constexpr Window(std::size_t square) // implicit: Conv2D<32, 3>
      : h(square)
      , w(square) {}
  constexpr Window(std::size_t height, std::size_t width)
      : h(height)
      , w(width) {}
  constexpr bool operator==(Window const&) const = default;

  /// "3" for a square window, "3x5" otherwise.
  std::string to_string() const {
    return h == w ? std::to_string(h) : std::to_string(h) + "x" + std::to_string(w);
  }
};

/// \brief The input region a windowed layer reads for one output element, per spatial
///        dimension: output row i reads input rows [i·stride − padding, i·stride − padding +
///        kernel). When each rank owns a band of input rows aligned to the stride, computing
///        its band of output rows needs halo_before rows from the rank above and halo_after
///        rows from the rank below (padding covers the image's own border).
template <Window Kernel, Window Stride, Window Padding>
struct Footprint {
  static constexpr Window kernel = Kernel;
  static constexpr Window stride = Stride;
  static constexpr Window padding = Padding;
  static constexpr Window halo_before{Padding.h, Padding.w};
  static constexpr Window halo_after{
      Kernel.h > Stride.h + Padding.h ? Kernel.h - Stride.h - Padding.h : 0,
      Kernel.w > Stride.w + Padding.w ? Kernel.w - Stride.w - Padding.w : 0};
};

namespace detail {

/// Output extent of a window sliding over `in` values (0 when the window does not fit).
constexpr std::size_t window_output(std::size_t in, std::size_t kernel, std::size_t stride,
                                    std::size_t padding) {
  return in + 2 * padding < kernel ? 0 : (in + 2 * padding - kernel) / stride + 1;
}

/// The output shape of a window over an input of shape (C, H, W), with `Channels` output
/// channels; (Channels, 1, 1) for an input of another rank, which the layer's check()
/// rejects with a diagnostic.
template <class In, std::size_t Channels, Window Kernel, Window Stride, Window Padding>
struct windowed {
  using type = Shape<Channels, 1, 1>;
};
template <std::size_t C, std::size_t H, std::size_t W, std::size_t Channels, Window Kernel,
          Window Stride, Window Padding>
struct windowed<Shape<C, H, W>, Channels, Kernel, Stride, Padding> {
  using type = Shape<Channels, window_output(H, Kernel.h, Stride.h, Padding.h),
                     window_output(W, Kernel.w, Stride.w, Padding.w)>;
};
template <class In, std::size_t Channels, Window Kernel, Window Stride, Window Padding>
using windowed_shape = typename windowed<In, Channels, Kernel, Stride, Padding>::type;

template <class In>
inline constexpr std::size_t channels_of = In::rank == 3 ? In::dims[0] : 1;

/// "kernel 3, stride 2, padding 1" parts of a layer's name; defaults left out.
inline std::string window_arguments(Window kernel, Window stride, Window padding,
                                    Window default_stride) {
  std::string out = kernel.to_string();
  if (!(stride == default_stride) || !(padding == Window{0})) {
    out += ", " + stride.to_string();
  }
  if (!(padding == Window{0})) {
    out += ", " + padding.to_string();
  }
  return out;
}

/// Image dimensions of a stage as ints, for kernels.
template <class In, class Out>
struct ImageGeometry {
  static constexpr int channels = static_cast<int>(In::dims[0]);
  static constexpr int height = static_cast<int>(In::dims[1]);
  static constexpr int width = static_cast<int>(In::dims[2]);
  static constexpr int out_channels = static_cast<int>(Out::dims[0]);
  static constexpr int out_height = static_cast<int>(Out::dims[1]);
  static constexpr int out_width = static_cast<int>(Out::dims[2]);
};

} // namespace detail
} // namespace loom
