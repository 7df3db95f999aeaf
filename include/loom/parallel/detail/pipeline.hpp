#pragma once

// What Pipeline is made of: the stages a network's cuts give (each a placement of Model over
// a range of the network's layers), the compile-time checks of the cuts, and the order in
// which each stage runs its micro-batches' forward (F) and backward (B) passes.

#include <loom/core/detail/type_list.hpp>
#include <loom/core/error.hpp>
#include <loom/layers/detail/stage_chain.hpp>
#include <loom/layers/detail/walk.hpp>
#include <loom/model/placement.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace loom {

// Named in compiler output by Pipeline's diagnostics (see detail::check_cuts).
template <class Cuts, class Net>
struct loom_error_Pipeline_cuts_not_increasing;
template <class Cut, class Net>
struct loom_error_Pipeline_cut_outside_the_network;
template <class LayerIndex, class Net>
struct loom_error_Pipeline_cut_separates_a_fused_activation;
template <class StageIndex, class Net>
struct loom_error_Pipeline_stage_without_computation;

namespace detail {

/// Elements [Begin, End) of a type_list.
template <std::size_t Begin, std::size_t End, class List>
struct slice;
template <std::size_t Begin, std::size_t End, class... Ts>
struct slice<Begin, End, type_list<Ts...>> {
  template <std::size_t... I>
  static auto make(std::index_sequence<I...>) -> type_list<at<Begin + I, type_list<Ts...>>...>;
  using type = decltype(make(std::make_index_sequence<End - Begin>{}));
};

/// The stages (after fusion) of annotated layers; Scalar and space do not change how many.
template <class Annotated>
inline constexpr std::size_t stage_count_of =
    size_of(typename stages_of<float, Kokkos::DefaultHostExecutionSpace, Annotated>::list{});

/// Annotated layers [begin, end) of a network presented as a network of their own: what
/// the placement of a pipeline stage splits (TensorParallel's within the stage).
template <class Layers>
struct LayerRange {
  using layers = Layers;
  using input_shape = typename at<0, Layers>::input_shape;
  using output_shape = typename at<size_of(Layers{}) - 1, Layers>::output_shape;
  template <class Scalar, class ExecutionSpace>
  using stage_list = typename stages_of<Scalar, ExecutionSpace, Layers>::list;
  static constexpr std::size_t num_parameters = sum_parameters(Layers{});
};

/// Stage K of a network cut before each layer position of CutsT (CutsT::at): the layers
/// [begin, end), which this rank's Model holds, placed on the ranks of the stage by Inner
/// (loom::Whole: the stage's layers whole on one rank; a TensorPlacement: split over the
/// stage's ranks). Their stage positions (dropout streams) and parameter and state offsets
/// are those of the whole network, so that the stages together draw, compute and save what
/// the whole network does.
template <class CutsT, std::size_t K, class Inner = Whole>
struct PipelineStage {
  template <class Net>
  static constexpr std::size_t layer_count = size_of(typename Net::layers{});
  template <class Net>
  static constexpr std::size_t begin = K == 0 ? 0 : CutsT::at[K - 1];
  template <class Net>
  static constexpr std::size_t end = K == CutsT::count ? layer_count<Net> : CutsT::at[K];
  template <class Net>
  using part = typename slice<begin<Net>, end<Net>, typename Net::layers>::type;
  template <class Net>
  using before = typename slice<0, begin<Net>, typename Net::layers>::type;

  template <class Net>
  using input_shape = typename at<begin<Net>, typename Net::layers>::input_shape;
  template <class Net>
  using output_shape = typename at<end<Net> - 1, typename Net::layers>::output_shape;
  template <class Net, class Scalar, class ExecutionSpace>
  using stage_list =
      typename Inner::template stage_list<LayerRange<part<Net>>, Scalar, ExecutionSpace>;
  template <class Net>
  static constexpr std::size_t first_stage = stage_count_of<before<Net>>;
  template <class Net>
  static constexpr std::size_t parameter_offset = sum_parameters(before<Net>{});
  template <class Net>
  static constexpr std::size_t parameter_count = sum_parameters(part<Net>{});
  template <class Net>
  static constexpr std::size_t state_offset = StageChain<
      float, Kokkos::DefaultHostExecutionSpace,
      typename stages_of<float, Kokkos::DefaultHostExecutionSpace, before<Net>>::list>::state_count;
  /// Whole stages are held by their rank alone; split ones by the stage's ranks as Inner
  /// says.
  static constexpr bool holds_alone = std::is_same_v<Inner, Whole>;

  // Pipeline checks the cuts (check_cuts) before any stage is made; the inner placement
  // checks the stage's layers.
  template <class Net>
  static constexpr bool check() {
    if constexpr (requires { Inner::template check_part<LayerRange<part<Net>>>(); }) {
      return Inner::template check_part<LayerRange<part<Net>>>();
    } else {
      return Inner::template check<LayerRange<part<Net>>>();
    }
  }
  static std::string name() {
    return "PipelineStage<" + std::to_string(K) + " of " + std::to_string(CutsT::count + 1) +
           (std::is_same_v<Inner, Whole> ? "" : ", " + Inner::name()) + ">";
  }
};

/// The first stage of those CutsT makes of Net with nothing to compute (count + 1: none).
template <class Net, class CutsT, std::size_t... S>
constexpr std::size_t first_empty_stage(std::index_sequence<S...>) {
  constexpr std::size_t counts[] = {
      stage_count_of<typename PipelineStage<CutsT, S>::template part<Net>>...};
  for (std::size_t k = 0; k < sizeof...(S); ++k) {
    if (counts[k] == 0) {
      return k;
    }
  }
  return sizeof...(S);
}

/// Whether CutsT cuts Net into stages that each compute something; the diagnostics name the
/// cut and what to change.
template <class Net, class CutsT>
constexpr bool check_cuts() {
  [[maybe_unused]] constexpr auto cuts = CutsT::at;
  constexpr bool increasing = [] {
    for (std::size_t k = 1; k < CutsT::count; ++k) {
      if (CutsT::at[k] <= CutsT::at[k - 1]) {
        return false;
      }
    }
    return true;
  }();
  constexpr std::size_t outside = [] {
    for (std::size_t k = 0; k < CutsT::count; ++k) {
      if (CutsT::at[k] == 0 || CutsT::at[k] >= size_of(typename Net::layers{})) {
        return k;
      }
    }
    return CutsT::count;
  }();
  if constexpr (!increasing) {
    using show [[maybe_unused]] =
        decltype(sizeof(loom_error_Pipeline_cuts_not_increasing<CutsT, Net>));
    static_assert(increasing, "loom::Pipeline<Cuts<...>>: the cut positions must increase "
                              "strictly (each is the position of the first layer of a stage)");
    return false;
  } else if constexpr (outside < CutsT::count) {
    using show [[maybe_unused]] = decltype(sizeof(
        loom_error_Pipeline_cut_outside_the_network<
            std::integral_constant<std::size_t, cuts[outside < CutsT::count ? outside : 0]>, Net>));
    static_assert(outside == CutsT::count,
                  "loom::Pipeline<Cuts<...>>: a cut lies outside the network: each cut is the "
                  "position (from 0, after Input) of the first layer of a stage, between 1 "
                  "and the number of layers - 1");
    return false;
  } else {
    constexpr auto fused = fused_flags(typename Net::layers{});
    constexpr std::size_t separated = [&] {
      for (std::size_t k = 0; k < CutsT::count; ++k) {
        if (fused[CutsT::at[k]]) {
          return k;
        }
      }
      return CutsT::count;
    }();
    if constexpr (separated < CutsT::count) {
      using show [[maybe_unused]] =
          decltype(sizeof(loom_error_Pipeline_cut_separates_a_fused_activation<
                          layer_index<cuts[separated < CutsT::count ? separated : 0]>, Net>));
      static_assert(separated == CutsT::count,
                    "loom::Pipeline<Cuts<...>>: a cut falls between a layer and the activation "
                    "fused into it (Dense or Conv2D, then ReLU, ...); cut one layer later, "
                    "after the activation");
      return false;
    } else {
      constexpr std::size_t empty =
          first_empty_stage<Net, CutsT>(std::make_index_sequence<CutsT::count + 1>{});
      if constexpr (empty <= CutsT::count) {
        using show [[maybe_unused]] =
            decltype(sizeof(loom_error_Pipeline_stage_without_computation<
                            std::integral_constant<std::size_t, empty>, Net>));
        static_assert(empty > CutsT::count,
                      "loom::Pipeline<Cuts<...>>: a stage holds only reshapes (Flatten), nothing "
                      "to compute; move its cut");
        return false;
      }
      return true;
    }
  }
}

/// One pass of a pipeline stage: the forward (F) or backward (B) pass of a micro-batch.
struct PipelineOp {
  bool forward;
  std::size_t micro_batch;
};

/// The order of stage `stage`'s passes of `micro_batches` micro-batches over `stages`
/// stages. GPipe (fill-drain): every forward, then every backward, in micro-batch order.
/// 1F1B (PipeDream-Flush, Megatron-LM's default): min(stages − stage − 1, M) forwards to
/// fill the pipeline, then one forward and one backward in turn, then the backwards left.
/// Backwards run in micro-batch order in both.
inline std::vector<PipelineOp> pipeline_order(bool one_f_one_b, std::size_t stages,
                                              std::size_t stage, std::size_t micro_batches) {
  std::vector<PipelineOp> ops;
  std::size_t const warm_up =
      one_f_one_b ? std::min(stages - stage - 1, micro_batches) : micro_batches;
  for (std::size_t m = 0; m < warm_up; ++m) {
    ops.push_back({true, m});
  }
  for (std::size_t m = warm_up; m < micro_batches; ++m) {
    ops.push_back({true, m});
    ops.push_back({false, m - warm_up});
  }
  for (std::size_t m = micro_batches - warm_up; m < micro_batches; ++m) {
    ops.push_back({false, m});
  }
  return ops;
}

/// The micro-batches in flight at once on that stage: the activation slots it needs
/// (micro-batch m runs in slot m mod slots).
inline std::size_t pipeline_slots(bool one_f_one_b, std::size_t stages, std::size_t stage,
                                  std::size_t micro_batches) {
  return one_f_one_b ? std::min(stages - stage, micro_batches) : micro_batches;
}

/// Rows [first, first + count) of micro-batch m of `rows` split into `parts`: as
/// torch.tensor_split, the first rows mod parts micro-batches one row longer.
struct MicroBatch {
  std::size_t first, count;
};
inline MicroBatch micro_batch(std::size_t rows, std::size_t parts, std::size_t m) {
  std::size_t const base = rows / parts, longer = rows % parts;
  return {m * base + std::min(m, longer), base + (m < longer ? 1 : 0)};
}

} // namespace detail
} // namespace loom
