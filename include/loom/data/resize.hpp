#pragma once

#include <loom/core/error.hpp>
#include <loom/data/concepts.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <span>
#include <string>
#include <vector>

namespace loom::data {

/// \brief A data set whose images are resized on the fly as they are gathered, by bilinear
///        interpolation (PyTorch's interpolate(mode="bilinear", align_corners=False)): each
///        sample of the underlying data set is an image of C × H × W values, row-major, and
///        is gathered as C × OutH × OutW. Nothing is stored: a 28×28 data set read as 224×224
///        images costs the memory of the 28×28 one.
/// \code
///   auto train = loom::data::resized(loom::data::fashion_mnist(env, "train"), {1, 28, 28},
///                                    {224, 224});   // sample_size() = 50176
/// \endcode
template <Dataset Data>
class Resized {
public:
  using target_type = typename Data::target_type;

  /// \throws loom::Error when `image` (C, H, W) does not describe the data's samples or a size
  ///         is 0
  Resized(Data data, std::array<std::size_t, 3> image, std::array<std::size_t, 2> size)
      : data_(std::move(data))
      , channels_(image[0])
      , height_(image[1])
      , width_(image[2])
      , out_height_(size[0])
      , out_width_(size[1]) {
    if (channels_ * height_ * width_ != data_.sample_size() || channels_ == 0 || height_ == 0 ||
        width_ == 0) {
      loom::detail::fail("loom::data::resized: the samples of ", data_.source(), " have ",
                         data_.sample_size(), " values, not images of ", channels_, " × ", height_,
                         " × ", width_);
    }
    if (out_height_ == 0 || out_width_ == 0) {
      loom::detail::fail("loom::data::resized: the size of the images of ", data_.source(),
                         " must be at least 1 × 1; got ", out_height_, " × ", out_width_);
    }
    rows_ = taps(height_, out_height_);
    columns_ = taps(width_, out_width_);
  }

  std::size_t size() const { return data_.size(); }
  std::size_t sample_size() const { return channels_ * out_height_ * out_width_; }
  std::size_t target_size() const { return data_.target_size(); }
  std::string source() const {
    return data_.source() + " (resized to " + std::to_string(out_height_) + " × " +
           std::to_string(out_width_) + ")";
  }
  Data const& underlying() const { return data_; }

  template <class Scalar>
  void gather(std::span<std::size_t const> indices, Scalar* x, target_type* y) const {
    std::size_t const in = data_.sample_size(), out = sample_size();
    std::vector<float> image(in);
    for (std::size_t i = 0; i < indices.size(); ++i) {
      data_.gather(indices.subspan(i, 1), image.data(), y + i * target_size());
      Scalar* to = x + i * out;
      for (std::size_t c = 0; c < channels_; ++c) {
        float const* plane = image.data() + c * height_ * width_;
        for (std::size_t r = 0; r < out_height_; ++r) {
          Tap const& a = rows_[r];
          float const* top = plane + a.first * width_;
          float const* bottom = plane + a.second * width_;
          for (std::size_t q = 0; q < out_width_; ++q) {
            Tap const& b = columns_[q];
            double const upper = top[b.first] + b.weight * (top[b.second] - top[b.first]);
            double const lower = bottom[b.first] + b.weight * (bottom[b.second] - bottom[b.first]);
            *to++ = Scalar(upper + a.weight * (lower - upper));
          }
        }
      }
    }
  }

private:
  // An output coordinate's two input neighbours and the weight of the second.
  struct Tap {
    std::size_t first, second;
    double weight;
  };
  static std::vector<Tap> taps(std::size_t in, std::size_t out) {
    std::vector<Tap> result(out);
    double const scale = double(in) / double(out);
    for (std::size_t k = 0; k < out; ++k) {
      double const source = std::max(0.0, (double(k) + 0.5) * scale - 0.5);
      std::size_t const first = std::min(std::size_t(source), in - 1);
      result[k] = {first, std::min(first + 1, in - 1), source - double(first)};
    }
    return result;
  }

  Data data_;
  std::size_t channels_, height_, width_, out_height_, out_width_;
  std::vector<Tap> rows_, columns_;
};

/// \brief `data` with its C × H × W images (`image`) resized to `size` (OutH, OutW) as they
///        are gathered (see Resized).
template <Dataset Data>
Resized<Data> resized(Data data, std::array<std::size_t, 3> image,
                      std::array<std::size_t, 2> size) {
  return Resized<Data>(std::move(data), image, size);
}

} // namespace loom::data
