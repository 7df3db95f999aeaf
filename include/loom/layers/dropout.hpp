#pragma once

#include <loom/core/detail/format.hpp>
#include <loom/core/random.hpp>
#include <loom/core/shape.hpp>
#include <loom/core/tensor.hpp>
#include <loom/kernels/copy.hpp>
#include <loom/layers/concepts.hpp>

#include <Kokkos_Core.hpp>

#include <cstdint>
#include <string>
#include <type_traits>

namespace loom {

namespace detail {
template <class In, class Scalar, class ExecutionSpace, Real Rate, class Features = void,
          std::size_t LogicalSize = In::size>
class DropoutStage;
} // namespace detail

/// \brief Inverted dropout: in training, each element is zeroed with probability Rate and the
///        rest scaled by 1 / (1 - Rate); in evaluation it passes x through. The mask is a
///        function of (seed, step, layer, sample, element) drawn from loom::CounterRng, so it
///        is recomputed in backward rather than stored, and it is the same on every backend
///        and for every split of the batch across ranks.
/// \tparam Rate  drop probability in [0, 1)
template <Real Rate = 0.5>
struct Dropout {
  static constexpr double rate = Rate.value;
  static_assert(rate >= 0.0 && rate < 1.0, "loom::Dropout<Rate>: Rate must lie in [0, 1)");
  using layer_type = Dropout;
  static std::string name() { return "Dropout<" + detail::format_number(rate) + ">"; }
  template <class In>
  using output_shape = In;
  template <class In>
  static constexpr std::size_t parameter_count = 0;
  template <std::size_t Index, class In>
  static constexpr bool check() {
    return true;
  }
  template <class In, class Scalar, class ExecutionSpace>
  using stage = detail::DropoutStage<In, Scalar, ExecutionSpace, Rate>;
  /// The stage over the features of a sample a rank holds (a detail::FeatureBlocks of samples
  /// of LogicalSize features): each element draws the mask of its place in the whole sample,
  /// so that the masks equal serial ones.
  template <class In, class Scalar, class ExecutionSpace, class Features, std::size_t LogicalSize>
  using split_stage = detail::DropoutStage<In, Scalar, ExecutionSpace, Rate, Features, LogicalSize>;
};

namespace detail {

template <class In, class Scalar, class ExecutionSpace, Real Rate, class Features,
          std::size_t LogicalSize>
class DropoutStage {
public:
  using input_shape = In;
  using output_shape = In;
  using memory_space = typename ExecutionSpace::memory_space;

  template <class XView, class YView>
  void forward(ExecutionSpace const& space, PassContext<Scalar> const& ctx, XView const& x,
               YView const& y) const {
    if (!ctx.training) {
      kernels::copy(space, y, x);
      return;
    }
    apply(space, ctx, x, y, "loom::Dropout::forward");
  }

  template <class XView, class YView, class DyView, class DxView>
  void backward(ExecutionSpace const& space, PassContext<Scalar> const& ctx, XView const&,
                YView const&, DyView const& dy, DxView const& dx,
                VectorSlice<Scalar, memory_space>) const {
    if (dx.extent(0) == 0) {
      return;
    }
    if (!ctx.training) {
      kernels::copy(space, dx, dy);
      return;
    }
    apply(space, ctx, dy, dx, "loom::Dropout::backward");
  }

private:
  // out = in · mask / (1 - Rate); the same mask in forward and backward.
  template <class InView, class OutView>
  static void apply(ExecutionSpace const& space, PassContext<Scalar> const& ctx, InView const& in,
                    OutView const& out, char const* label) {
    CounterRng const rng(ctx.seed, (ctx.step << 16) ^ (ctx.stage + 0xd1u));
    std::uint64_t const first = ctx.sample_offset * LogicalSize;
    Scalar const scale = Scalar(1.0 / (1.0 - Rate.value));
    int const rank = ctx.group != nullptr ? ctx.group->rank() : 0;
    Kokkos::parallel_for(
        label, Kokkos::RangePolicy<ExecutionSpace>(space, 0, out.size()),
        KOKKOS_LAMBDA(std::size_t k) {
          // The element's place among the whole samples' elements.
          std::uint64_t place = k;
          if constexpr (!std::is_void_v<Features>) {
            place = (k / In::size) * LogicalSize + Features::global(k % In::size, rank);
          }
          bool const keep = rng.uniform<double>(first + place) >= Rate.value;
          out.data()[k] = keep ? in.data()[k] * scale : Scalar(0);
        });
  }
};

} // namespace detail
} // namespace loom
