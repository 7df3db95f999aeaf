#pragma once

// Gradient compression policies for DataParallel. Each wraps any communicator: it turns a
// bucket of gradients into a smaller payload per rank, all-gathers the payloads, and sums the
// decoded payloads in rank order, so every rank ends with the same sum.
//
// Compression
//   Requirements
//     P::compression_type      P itself
//     P::name()                std::string
//     P::template state<Comm>  constructed from (comm, bucket sizes); start(bucket index,
//                              gradients) returns a comm::Request after which the bucket holds
//                              the (approximate) sum over ranks
//   Models: NoCompression, Fp16, Int8, TopK<Ratio>.

#include <loom/comm/concepts.hpp>
#include <loom/core/detail/format.hpp>
#include <loom/core/shape.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

namespace loom::comm {

/// \brief Gradients all-reduced as they are (in their own precision, float or double).
struct NoCompression {
  using compression_type = NoCompression;
  static std::string name() { return "NoCompression"; }

  template <class Comm>
  class state {
  public:
    state(Comm& comm, std::vector<std::size_t> const&)
        : comm_(&comm) {}
    template <class T>
    Request start(std::size_t, std::span<T> gradients) {
      return comm_->iall_reduce(gradients, ReduceOp::sum);
    }

  private:
    Comm* comm_;
  };
};

namespace detail {

// IEEE binary16 from binary32, rounding to nearest even; overflow to ±infinity, NaN kept.
inline std::uint16_t to_half(float value) {
  std::uint32_t const bits = std::bit_cast<std::uint32_t>(value);
  std::uint32_t const sign = (bits >> 16) & 0x8000u;
  std::uint32_t const magnitude = bits & 0x7fffffffu;
  if (magnitude >= 0x7f800000u) { // inf or NaN
    return static_cast<std::uint16_t>(sign | 0x7c00u | (magnitude > 0x7f800000u ? 0x200u : 0u));
  }
  if (magnitude >= 0x477ff000u) { // rounds to ≥ 65520: infinity
    return static_cast<std::uint16_t>(sign | 0x7c00u);
  }
  if (magnitude < 0x38800000u) { // below the smallest normal half: subnormal or zero
    if (magnitude < 0x33000000u) {
      return static_cast<std::uint16_t>(sign);
    }
    std::uint32_t const exponent = magnitude >> 23;
    std::uint32_t const mantissa = (magnitude & 0x7fffffu) | 0x800000u;
    std::uint32_t const shift = 126 - exponent; // 14 + (127 - 14 - exponent) - 1 + ...
    std::uint32_t half = mantissa >> (shift - 0);
    std::uint32_t const rest = mantissa & ((1u << shift) - 1);
    std::uint32_t const halfway = 1u << (shift - 1);
    if (rest > halfway || (rest == halfway && (half & 1u))) {
      ++half;
    }
    return static_cast<std::uint16_t>(sign | half);
  }
  std::uint32_t half = ((magnitude - 0x38000000u) >> 13);
  std::uint32_t const rest = magnitude & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) {
    ++half;
  }
  return static_cast<std::uint16_t>(sign | half);
}

inline float from_half(std::uint16_t value) {
  std::uint32_t const sign = (std::uint32_t(value) & 0x8000u) << 16;
  std::uint32_t const exponent = (value >> 10) & 0x1fu;
  std::uint32_t mantissa = value & 0x3ffu;
  if (exponent == 0) {
    if (mantissa == 0) {
      return std::bit_cast<float>(sign);
    }
    // Subnormal half: a normal float.
    float const magnitude = std::ldexp(float(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 31) {
    return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  }
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

/// Payload-based compression: each rank encodes its bucket into `bytes_per_rank` bytes, the
/// payloads are all-gathered, and each rank decodes and sums them in rank order.
template <class Comm, class Codec>
class GatheredState {
public:
  GatheredState(Comm& comm, std::vector<std::size_t> const& bucket_sizes, Codec codec)
      : comm_(&comm)
      , codec_(std::move(codec)) {
    for (std::size_t n : bucket_sizes) {
      std::size_t const bytes = codec_.payload_bytes(n);
      payloads_.emplace_back(bytes * static_cast<std::size_t>(comm.size()));
    }
    codec_.resize(bucket_sizes);
  }

  Request start(std::size_t bucket, std::span<float> gradients) {
    auto& payload = payloads_[bucket];
    std::size_t const bytes = payload.size() / static_cast<std::size_t>(comm_->size());
    std::span<std::byte> const mine(payload.data() + bytes * std::size_t(comm_->rank()), bytes);
    codec_.encode(bucket, gradients, mine);
    Request gather = comm_->iall_gather(std::span<std::byte>(payload));
    return then(std::move(gather), [this, bucket, gradients, bytes] {
      std::fill(gradients.begin(), gradients.end(), 0.0f);
      auto const& all = payloads_[bucket];
      for (int r = 0; r < comm_->size(); ++r) {
        codec_.add_decoded(std::span<std::byte const>(all.data() + bytes * std::size_t(r), bytes),
                           gradients);
      }
    });
  }

  Codec& codec() { return codec_; }

private:
  Comm* comm_;
  Codec codec_;
  std::vector<std::vector<std::byte>> payloads_;
};

} // namespace detail

/// \brief Gradients sent as IEEE half precision (2 bytes each), summed in float. Each rank's
///        contribution is off by at most 2⁻¹¹ of its magnitude (and 2⁻²⁵ near zero); values
///        beyond ±65504 saturate to infinity.
struct Fp16 {
  using compression_type = Fp16;
  static std::string name() { return "Fp16"; }

  struct Codec {
    std::size_t payload_bytes(std::size_t n) const { return 2 * n; }
    void resize(std::vector<std::size_t> const&) {}
    void encode(std::size_t, std::span<float const> in, std::span<std::byte> out) const {
      for (std::size_t i = 0; i < in.size(); ++i) {
        std::uint16_t const h = detail::to_half(in[i]);
        std::memcpy(out.data() + 2 * i, &h, 2);
      }
    }
    void add_decoded(std::span<std::byte const> in, std::span<float> out) const {
      for (std::size_t i = 0; i < out.size(); ++i) {
        std::uint16_t h;
        std::memcpy(&h, in.data() + 2 * i, 2);
        out[i] += detail::from_half(h);
      }
    }
  };

  template <class Comm>
  class state : public detail::GatheredState<Comm, Codec> {
  public:
    state(Comm& comm, std::vector<std::size_t> const& sizes)
        : detail::GatheredState<Comm, Codec>(comm, sizes, Codec{}) {}
  };
};

/// \brief Gradients sent as 8-bit integers with one float scale per bucket and rank,
///        scale = max |g| / 127: each rank's contribution is off by at most scale / 2.
struct Int8 {
  using compression_type = Int8;
  static std::string name() { return "Int8"; }

  struct Codec {
    std::size_t payload_bytes(std::size_t n) const { return sizeof(float) + n; }
    void resize(std::vector<std::size_t> const&) {}
    void encode(std::size_t, std::span<float const> in, std::span<std::byte> out) const {
      float top = 0;
      for (float v : in) {
        top = std::max(top, std::abs(v));
      }
      float const scale = top > 0 ? top / 127.0f : 1.0f;
      std::memcpy(out.data(), &scale, sizeof scale);
      float const inverse = 1.0f / scale;
      for (std::size_t i = 0; i < in.size(); ++i) {
        float const q = std::nearbyint(in[i] * inverse);
        out[sizeof(float) + i] =
            static_cast<std::byte>(static_cast<std::int8_t>(std::clamp(q, -127.0f, 127.0f)));
      }
    }
    void add_decoded(std::span<std::byte const> in, std::span<float> out) const {
      float scale;
      std::memcpy(&scale, in.data(), sizeof scale);
      for (std::size_t i = 0; i < out.size(); ++i) {
        out[i] += scale * float(static_cast<std::int8_t>(in[sizeof(float) + i]));
      }
    }
  };

  template <class Comm>
  class state : public detail::GatheredState<Comm, Codec> {
  public:
    state(Comm& comm, std::vector<std::size_t> const& sizes)
        : detail::GatheredState<Comm, Codec>(comm, sizes, Codec{}) {}
  };
};

/// \brief Top-k sparsification with error feedback: each rank sends the Ratio·n entries of
///        largest magnitude of (gradient + residual) as (index, value) pairs, and keeps the
///        rest as its residual for the next step, so nothing is lost, only delayed:
///        transmitted + residual equals gradient + previous residual exactly.
/// \tparam Ratio  fraction of each bucket sent, in (0, 1]
template <Real Ratio = 0.01>
struct TopK {
  static constexpr double ratio = Ratio.value;
  static_assert(ratio > 0.0 && ratio <= 1.0, "loom::comm::TopK<Ratio>: Ratio must lie in (0, 1]");
  using compression_type = TopK;
  static std::string name() { return "TopK<" + loom::detail::format_number(ratio) + ">"; }

  /// Entries sent from a bucket of n.
  static std::size_t k_of(std::size_t n) {
    if (n == 0) {
      return 0;
    }
    return std::clamp<std::size_t>(static_cast<std::size_t>(std::ceil(ratio * double(n))), 1, n);
  }

  struct Codec {
    std::vector<std::vector<float>> residuals; // per bucket, this rank's unsent remainder
    std::vector<std::uint32_t> order;

    std::size_t payload_bytes(std::size_t n) const {
      return k_of(n) * (sizeof(std::uint32_t) + sizeof(float));
    }
    void resize(std::vector<std::size_t> const& sizes) {
      residuals.clear();
      for (std::size_t n : sizes) {
        residuals.emplace_back(n, 0.0f);
      }
    }
    void encode(std::size_t bucket, std::span<float const> in, std::span<std::byte> out) {
      auto& residual = residuals[bucket];
      std::size_t const n = in.size();
      for (std::size_t i = 0; i < n; ++i) {
        residual[i] += in[i]; // the corrected gradient
      }
      std::size_t const k = k_of(n);
      order.resize(n);
      std::iota(order.begin(), order.end(), 0u);
      // Largest magnitudes first; ties by index, so every run selects the same entries.
      auto const larger = [&](std::uint32_t a, std::uint32_t b) {
        float const ma = std::abs(residual[a]), mb = std::abs(residual[b]);
        return ma > mb || (ma == mb && a < b);
      };
      std::nth_element(order.begin(), order.begin() + std::ptrdiff_t(k) - (k > 0 ? 1 : 0),
                       order.end(), larger);
      std::sort(order.begin(), order.begin() + std::ptrdiff_t(k));
      for (std::size_t j = 0; j < k; ++j) {
        std::uint32_t const index = order[j];
        float const value = residual[index];
        residual[index] = 0.0f; // sent: nothing left over
        std::memcpy(out.data() + j * 8, &index, 4);
        std::memcpy(out.data() + j * 8 + 4, &value, 4);
      }
    }
    void add_decoded(std::span<std::byte const> in, std::span<float> out) const {
      std::size_t const k = in.size() / 8;
      for (std::size_t j = 0; j < k; ++j) {
        std::uint32_t index;
        float value;
        std::memcpy(&index, in.data() + j * 8, 4);
        std::memcpy(&value, in.data() + j * 8 + 4, 4);
        out[index] += value;
      }
    }
  };

  template <class Comm>
  class state : public detail::GatheredState<Comm, Codec> {
  public:
    state(Comm& comm, std::vector<std::size_t> const& sizes)
        : detail::GatheredState<Comm, Codec>(comm, sizes, Codec{}) {}
    /// This rank's unsent remainder of a bucket.
    std::span<float const> residual(std::size_t bucket) { return this->codec().residuals[bucket]; }
  };
};

} // namespace loom::comm
