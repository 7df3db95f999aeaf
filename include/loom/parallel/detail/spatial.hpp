#pragma once

// SpatialParallel's plan: how a network's layers become a rank's stages when every image's
// rows are split into bands over the ranks of a group.
//
//   image rows        rank 0 ┌──────────┐ band 0       a windowed layer reads its band and
//   (C, H, W)                │          │ ◀─┐ halo      the halo rows its footprint needs
//                     rank 1 ├──────────┤   │ rows      from the bands above and below;
//                            │          │ ──┘           zeros (or the lowest value, for max
//                            └──────────┘               pooling) beyond the image's border
//
// Regions of the network, left to right:
//   band            each rank holds rows [r·H/P, (r+1)·H/P) of every image: Conv2D, MaxPool2D
//                   and AvgPool2D exchange halos (HaloStage); BatchNorm2D sums its statistics
//                   over the group; activations, Dropout and Residual blocks act on the band
//   split features  after Flatten: each rank holds its band's features of every sample;
//                   activations and Dropout act on them, and the first Dense is row-parallel
//                   (partial products summed over the group)
//   whole           after GlobalAvgPool2D (means summed over the group) or that Dense: every
//                   rank computes the same values, as SingleProcess would
//
// Parameters: a layer in the band region holds the whole layer on every rank; its gradient is
// a partial sum (each band's contribution), added up over the group after backward. The
// row-parallel Dense holds the weights of its rank's features. Batch norm's sums and the
// layers of the whole region leave complete gradients.

#include <loom/core/detail/kokkos.hpp>
#include <loom/core/detail/type_list.hpp>
#include <loom/core/shape.hpp>
#include <loom/core/tensor.hpp>
#include <loom/layers/activations.hpp>
#include <loom/layers/batch_norm.hpp>
#include <loom/layers/concepts.hpp>
#include <loom/layers/dense.hpp>
#include <loom/layers/detail/stage_chain.hpp>
#include <loom/layers/detail/walk.hpp>
#include <loom/layers/dropout.hpp>
#include <loom/layers/pooling.hpp>
#include <loom/layers/residual.hpp>
#include <loom/layers/window.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cstddef>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

namespace loom {

// Named in compiler output by SpatialParallel's diagnostics.
template <class Network>
struct loom_error_SpatialParallel_needs_an_image_input;
template <class Ranks, class InputShape>
struct loom_error_SpatialParallel_rows_not_divisible;
template <class LayerIndex, class Layer, class OutputShape, class Ranks>
struct loom_error_SpatialParallel_output_rows_not_divisible;
template <class LayerIndex, class Layer, class InputShape, class Ranks>
struct loom_error_SpatialParallel_halo_wider_than_a_band;
template <class LayerIndex, class Layer>
struct loom_error_layer_not_splittable_by_SpatialParallel;
template <class LayerIndex, class Layer>
struct loom_error_SpatialParallel_layer_ends_the_band_inside_Residual;
template <class Network>
struct loom_error_SpatialParallel_output_still_split;

namespace detail {

/// Where a layer stands in a spatially split network (see above).
enum class Region { band, split_features, whole };

/// A layer at its place (LayerAt A) with its region; in the split-features region, the
/// features a rank holds (a FeatureBlocks).
template <class A, Region R, std::size_t Ranks, class Features = void>
struct Placed : A {
  static constexpr Region region = R;
  static constexpr std::size_t ranks = Ranks;
  using features = Features;
};

/// The rows of a windowed layer's input that rank r's band of output rows reads, for an
/// input of Height rows split into Ranks bands: a window of `window` rows from row top(r),
/// of which from_above(r) come from rank r − 1's band and from_below(r) from rank r + 1's.
template <std::size_t Ranks, std::size_t Height, std::size_t OutHeight, std::size_t Kernel,
          std::size_t Stride, std::size_t Padding>
struct BandRows {
  static constexpr long ranks = long(Ranks);
  static constexpr long height = long(Height);
  static constexpr long band = long(Height / Ranks);
  static constexpr long out_band = long(OutHeight / Ranks);
  static constexpr long window = (out_band - 1) * long(Stride) + long(Kernel);
  static constexpr long top(long r) { return r * out_band * long(Stride) - long(Padding); }
  static constexpr long from_above(long r) {
    long const first = std::max(top(r), 0L);
    return std::max(0L, r * band - first);
  }
  static constexpr long from_below(long r) {
    long const end = std::min(top(r) + window, height);
    return std::max(0L, end - (r + 1) * band);
  }
  /// Whether every halo lies in a neighbour's band.
  static constexpr bool fits() {
    for (long r = 0; r < ranks; ++r) {
      if (from_above(r) > band || from_below(r) > band) {
        return false;
      }
    }
    return true;
  }
  /// The widest halo.
  static constexpr long widest() {
    long widest = 0;
    for (long r = 0; r < ranks; ++r) {
      widest = std::max({widest, from_above(r), from_below(r)});
    }
    return widest;
  }
};

/// A windowed layer's stage over a band of rows: it gathers the window of rows its band of
/// output rows reads (its own rows, the halos of its neighbours, the border value beyond the
/// image) and runs Inner, the layer without row padding, on it; backward sends the halos'
/// part of the window's gradient back to their owners and adds theirs in. Inner's
/// parameters are the whole layer's on every rank, their gradients partial sums.
template <class In, class Inner, class Rows, bool FillLowest, class Scalar, class ExecutionSpace>
class HaloStage {
  static constexpr std::size_t channels = In::dims[0];
  static constexpr std::size_t width = In::dims[2];
  static constexpr std::size_t row = width;          // values per row of one plane
  static constexpr std::size_t band_size = In::size; // per sample
  using window_shape = typename Inner::input_shape;
  static constexpr std::size_t window_size = window_shape::size;
  // The exchange buffers: up to the widest halo in each of four directions.
  static constexpr std::size_t halo_size = channels * std::size_t(Rows::widest()) * row;
  static_assert(window_shape::dims[1] == std::size_t(Rows::window));

public:
  using input_shape = In;
  using output_shape = typename Inner::output_shape;
  using memory_space = typename ExecutionSpace::memory_space;
  static constexpr std::size_t parameter_count = parameter_count_of<Inner>();
  static constexpr std::size_t logical_parameter_count = logical_parameter_count_of<Inner>();
  static constexpr std::size_t state_count = state_count_of<Inner>();
  /// Whether the band is the window (no halo, no padding rows): Inner runs on it directly.
  static constexpr bool direct =
      Rows::widest() == 0 && Rows::window == Rows::band && Rows::top(1) == Rows::band;
  // Kept from forward to backward: the halos received (the window is rebuilt from them and
  // the band in backward, in scratch).
  static constexpr std::size_t workspace_per_sample =
      (direct ? 0 : 2 * halo_size) + workspace_per_sample_of<Inner>();
  static constexpr std::size_t workspace_per_pass = workspace_per_pass_of<Inner>();
  // Within a pass: the window, its gradient, the halos sent and those received in backward.
  static constexpr std::size_t scratch_per_sample =
      scratch_per_sample_of<Inner>() + (direct ? 0 : 2 * window_size + 4 * halo_size);

  static void parameter_roles(std::vector<ParameterRun>& out, std::size_t local,
                              std::size_t logical, Shard shard) {
    std::size_t const first = out.size();
    parameter_roles_of<Inner>(out, local, logical, shard);
    for (std::size_t k = first; k < out.size(); ++k) {
      out[k].partial = true; // each band's contribution
    }
  }

  void set_shard(Shard shard) { detail::set_shard(inner_, shard); }
  template <class Slice>
  void bind(Slice const& params) {
    bind_parameters(inner_, params);
  }
  template <class Slice>
  void bind_state(Slice const& state) {
    detail::bind_state(inner_, state);
  }
  void initialize(ExecutionSpace const& space, CounterRng const& rng) {
    initialize_stage(inner_, space, rng);
  }
  void bind_workspace(VectorSlice<Scalar, memory_space> workspace, std::size_t batch) {
    Scalar* cursor = workspace.data();
    if constexpr (!direct) {
      for (auto& buffer : received_) {
        buffer = cursor;
        cursor += batch * halo_size;
      }
    }
    detail::bind_workspace(
        inner_, VectorSlice<Scalar, memory_space>(cursor, workspace_of<Inner>(batch)), batch);
  }
  void bind_scratch(VectorSlice<Scalar, memory_space> scratch, std::size_t batch) {
    std::size_t const inner = batch * scratch_per_sample_of<Inner>();
    detail::bind_scratch(inner_, VectorSlice<Scalar, memory_space>(scratch.data(), inner), batch);
    if constexpr (!direct) {
      Scalar* cursor = scratch.data() + inner;
      window_ = cursor;
      window_gradient_ = cursor + batch * window_size;
      cursor += 2 * batch * window_size;
      for (auto& buffer : sent_) {
        buffer = cursor;
        cursor += batch * halo_size;
      }
      for (auto& buffer : gradients_received_) {
        buffer = cursor;
        cursor += batch * halo_size;
      }
    }
  }

  template <class XView, class YView>
  void forward(ExecutionSpace const& space, PassContext<Scalar> const& ctx, XView const& x,
               YView const& y) const {
    if constexpr (direct) {
      inner_.forward(space, ctx, x, y);
    } else {
      long const r = ctx.group->rank();
      std::size_t const batch = ctx.batch;
      Counts const n = counts(r);
      // Send the rows the neighbours read; gather the own rows and the border meanwhile, then
      // the halos that arrived.
      pack(space, batch, x.data(), 0, n.to_above, sent_[0]);
      pack(space, batch, x.data(), Rows::band - n.to_below, n.to_below, sent_[1]);
      fence(space, "loom::SpatialParallel::halo_exchange (forward)");
      ctx.group->start_exchange(
          span(sent_[0], batch, n.to_above), span(sent_[1], batch, n.to_below),
          span(received_[0], batch, n.from_above), span(received_[1], batch, n.from_below));
      fill_window(space, batch, x.data(), r);
      ctx.group->finish_exchange();
      unpack_window(space, batch, r);
      inner_.forward(space, ctx, window(batch), y);
    }
  }

  template <class XView, class YView, class DyView, class DxView>
  void backward(ExecutionSpace const& space, PassContext<Scalar> const& ctx, XView const& x,
                YView const& y, DyView const& dy, DxView const& dx,
                VectorSlice<Scalar, memory_space> target) const {
    if constexpr (direct) {
      inner_.backward(space, ctx, x, y, dy, dx, target);
    } else {
      std::size_t const batch = ctx.batch;
      long const r = ctx.group->rank();
      bool const wants_dx = dx.extent(0) > 0;
      // The window again, from the band and the halos kept.
      fill_window(space, batch, x.data(), r);
      unpack_window(space, batch, r);
      MatrixSlice<Scalar, memory_space> const window_dx(wants_dx ? window_gradient_ : nullptr,
                                                        wants_dx ? batch : 0, window_size);
      inner_.backward(space, ctx, window(batch), y, dy, window_dx, target);
      if (!wants_dx) {
        return;
      }
      Counts const n = counts(r);
      // The halos' gradients go back to their owners; the own rows' stay.
      pack_window_rows(space, batch, n.above_at, n.from_above, sent_[0]);
      pack_window_rows(space, batch, n.below_at, n.from_below, sent_[1]);
      fence(space, "loom::SpatialParallel::halo_exchange (backward)");
      ctx.group->start_exchange(span(sent_[0], batch, n.from_above),
                                span(sent_[1], batch, n.from_below),
                                span(gradients_received_[0], batch, n.to_above),
                                span(gradients_received_[1], batch, n.to_below));
      own_gradient(space, batch, r, dx.data());
      ctx.group->finish_exchange();
      add_rows(space, batch, dx.data(), 0, n.to_above, gradients_received_[0]);
      add_rows(space, batch, dx.data(), Rows::band - n.to_below, n.to_below,
               gradients_received_[1]);
    }
  }

private:
  MatrixSlice<Scalar const, memory_space> window(std::size_t batch) const {
    return MatrixSlice<Scalar const, memory_space>(window_, batch, window_size);
  }

  struct Counts {
    long to_above, to_below, from_above, from_below;
    long above_at, below_at; // the window rows where the halos from above and below start
  };
  static Counts counts(long r) {
    Counts n{};
    n.to_above = r > 0 ? Rows::from_below(r - 1) : 0;
    n.to_below = r + 1 < Rows::ranks ? Rows::from_above(r + 1) : 0;
    n.from_above = Rows::from_above(r);
    n.from_below = Rows::from_below(r);
    n.above_at = r * Rows::band - n.from_above - Rows::top(r);
    n.below_at = (r + 1) * Rows::band - Rows::top(r);
    return n;
  }

  static std::span<Scalar> span(Scalar* data, std::size_t batch, long rows) {
    return {data, rows > 0 ? batch * channels * std::size_t(rows) * row : 0};
  }

  // The kernels below run one thread per row of a plane (a sample's channel) and copy its
  // `row` contiguous values.

  // rows [first, first + count) of every plane of a band → buffer (sample, channel, row).
  static void pack(ExecutionSpace const& space, std::size_t batch, Scalar const* band, long first,
                   long count, Scalar* buffer) {
    copy_rows(space, "loom::SpatialParallel::halo_exchange (pack)", batch, count, band, Rows::band,
              first, buffer, count, 0, false);
  }

  // The window's rows from the own band and beyond the image's border.
  void fill_window(ExecutionSpace const& space, std::size_t batch, Scalar const* band,
                   long r) const {
    Scalar* window = window_;
    long const top = Rows::top(r);
    long const first_own = r * Rows::band;
    Scalar const border = FillLowest ? Kokkos::reduction_identity<Scalar>::max() : Scalar(0);
    Kokkos::parallel_for(
        "loom::SpatialParallel::halo_exchange (own rows)",
        Kokkos::RangePolicy<ExecutionSpace>(space, 0, batch * channels * Rows::window),
        KOKKOS_LAMBDA(std::size_t k) {
          std::size_t const plane = k / Rows::window;
          long const global = top + long(k % Rows::window);
          Scalar* to = window + k * row;
          if (global < 0 || global >= Rows::height) {
            for (std::size_t w = 0; w < row; ++w) {
              to[w] = border;
            }
          } else if (global >= first_own && global < first_own + Rows::band) {
            Scalar const* from =
                band + (plane * Rows::band + std::size_t(global - first_own)) * row;
            for (std::size_t w = 0; w < row; ++w) {
              to[w] = from[w];
            }
          }
        });
  }

  // The window's rows from the neighbours' bands.
  void unpack_window(ExecutionSpace const& space, std::size_t batch, long r) const {
    Counts const n = counts(r);
    copy_rows(space, "loom::SpatialParallel::halo_exchange (halo rows above)", batch, n.from_above,
              received_[0], n.from_above, 0, window_, Rows::window, n.above_at, false);
    copy_rows(space, "loom::SpatialParallel::halo_exchange (halo rows below)", batch, n.from_below,
              received_[1], n.from_below, 0, window_, Rows::window, n.below_at, false);
  }

  // rows [first, first + count) of every plane of the window's gradient → buffer.
  void pack_window_rows(ExecutionSpace const& space, std::size_t batch, long first, long count,
                        Scalar* buffer) const {
    copy_rows(space, "loom::SpatialParallel::halo_exchange (pack gradients)", batch, count,
              window_gradient_, Rows::window, first, buffer, count, 0, false);
  }

  // dx of the band: the window's gradient at the own rows it reads, zero at the others.
  void own_gradient(ExecutionSpace const& space, std::size_t batch, long r, Scalar* dx) const {
    Scalar const* gradient = window_gradient_;
    long const top = Rows::top(r);
    long const first_own = r * Rows::band;
    Kokkos::parallel_for(
        "loom::SpatialParallel::halo_exchange (own gradients)",
        Kokkos::RangePolicy<ExecutionSpace>(space, 0, batch * channels * Rows::band),
        KOKKOS_LAMBDA(std::size_t k) {
          std::size_t const plane = k / Rows::band;
          long const j = first_own + long(k % Rows::band) - top; // window row
          Scalar* to = dx + k * row;
          if (j >= 0 && j < Rows::window) {
            Scalar const* from = gradient + (plane * Rows::window + std::size_t(j)) * row;
            for (std::size_t w = 0; w < row; ++w) {
              to[w] = from[w];
            }
          } else {
            for (std::size_t w = 0; w < row; ++w) {
              to[w] = Scalar(0);
            }
          }
        });
  }

  // rows [first, first + count) of every plane of dx += buffer.
  static void add_rows(ExecutionSpace const& space, std::size_t batch, Scalar* dx, long first,
                       long count, Scalar const* buffer) {
    copy_rows(space, "loom::SpatialParallel::halo_exchange (add halo gradients)", batch, count,
              buffer, count, 0, dx, Rows::band, first, true);
  }

  // `count` rows of every plane: rows [from_first, …) of planes of `from_rows` rows → rows
  // [to_first, …) of planes of `to_rows` rows, copied or (add) added.
  static void copy_rows(ExecutionSpace const& space, char const* name, std::size_t batch,
                        long count, Scalar const* from, long from_rows, long from_first, Scalar* to,
                        long to_rows, long to_first, bool add) {
    if (count <= 0) {
      return;
    }
    std::size_t const rows = std::size_t(count);
    Kokkos::parallel_for(
        name, Kokkos::RangePolicy<ExecutionSpace>(space, 0, batch * channels * rows),
        KOKKOS_LAMBDA(std::size_t k) {
          std::size_t const plane = k / rows, j = k % rows;
          Scalar const* source =
              from + (plane * std::size_t(from_rows) + std::size_t(from_first) + j) * row;
          Scalar* target = to + (plane * std::size_t(to_rows) + std::size_t(to_first) + j) * row;
          if (add) {
            for (std::size_t w = 0; w < row; ++w) {
              target[w] += source[w];
            }
          } else {
            for (std::size_t w = 0; w < row; ++w) {
              target[w] = source[w];
            }
          }
        });
  }

  Inner inner_;
  Scalar* window_ = nullptr;
  Scalar* window_gradient_ = nullptr;
  std::array<Scalar*, 2> received_{}, sent_{}, gradients_received_{};
};

// What kind of layer the plan meets.
template <class L>
concept Windowed = requires {
  typename L::footprint;
  typename L::template with_padding<Window{0}>;
  L::pads_with_lowest;
};
template <class L>
concept BandStatistics = requires {
  typename L::template band_stage<Shape<1, 1, 1>, float, Kokkos::DefaultHostExecutionSpace, 2>;
};
template <class L>
concept SplitDropout = requires {
  typename L::template split_stage<Shape<1>, float, Kokkos::DefaultHostExecutionSpace,
                                   FeatureBlocks<1, 1, 1>, 1>;
};
template <class L>
struct is_dense : std::false_type {};
template <std::size_t Units, class... Options>
struct is_dense<Dense<Units, Options...>> : std::true_type {};
template <class L, class In>
concept Composite = requires {
  typename L::template block_layers<In>;
  typename L::template shortcut_layers<In>;
};

/// The band shape of an image shape.
template <class In, std::size_t Ranks>
using band_of = Shape<In::dims[0], In::dims[1] / Ranks, In::dims[2]>;

/// The diagnostics of the plan, for layer A in region R; true when it can be split so.
template <std::size_t Ranks, Region R, class A>
constexpr bool check_spatial_layer();

/// The plan's walk over annotated layers: each one Placed with its region, stopping at the
/// first diagnostic.
template <std::size_t Ranks, Region R, class Features, class Done, class... As>
struct spatial_walk {
  using type = Done;
  static constexpr Region end = R;
  static constexpr bool valid = true;
};
template <std::size_t Ranks, Region R, class Features, class... Done, class A, class... Rest>
struct spatial_walk<Ranks, R, Features, type_list<Done...>, A, Rest...> {
  using L = typename A::layer;
  using In = typename A::input_shape;
  static constexpr bool ok = check_spatial_layer<Ranks, R, A>();
  // The region after A and the features a rank holds there.
  static constexpr Region after = [] {
    if constexpr (R != Region::whole && std::is_same_v<L, GlobalAvgPool2D>) {
      return Region::whole;
    } else if constexpr (R == Region::band && ReshapeOnly<L>) {
      return Region::split_features;
    } else if constexpr (R == Region::split_features && is_dense<L>::value) {
      return Region::whole;
    } else {
      return R;
    }
  }();
  using next_features = typename decltype([] {
    if constexpr (R == Region::band && after == Region::split_features) {
      return std::type_identity<FeatureBlocks<In::dims[0], In::dims[1] * In::dims[2],
                                              In::dims[1] / Ranks * In::dims[2]>>{};
    } else {
      return std::type_identity<Features>{};
    }
  }())::type;
  using next =
      std::conditional_t<ok,
                         spatial_walk<Ranks, after, next_features,
                                      type_list<Done..., Placed<A, R, Ranks, Features>>, Rest...>,
                         spatial_walk<Ranks, R, Features, type_list<Done...>>>;
  using type = typename next::type;
  static constexpr Region end = next::end;
  static constexpr bool valid = ok && next::valid;
};
template <std::size_t Ranks, Region R, class List>
struct spatial_walk_of;
template <std::size_t Ranks, Region R, class... As>
struct spatial_walk_of<Ranks, R, type_list<As...>> {
  using type = spatial_walk<Ranks, R, void, type_list<>, As...>;
};

template <std::size_t Ranks, Region R, class A>
constexpr bool check_spatial_layer() {
  using L = typename A::layer;
  using In = typename A::input_shape;
  using Out = typename A::output_shape;
  using index = layer_index<A::index>;
  if constexpr (R == Region::whole) {
    return true;
  } else if constexpr (R == Region::band && Windowed<L>) {
    using footprint = typename L::footprint;
    if constexpr (Out::dims[1] % Ranks != 0) {
      using show [[maybe_unused]] =
          decltype(sizeof(loom_error_SpatialParallel_output_rows_not_divisible<
                          index, L, Out, std::integral_constant<std::size_t, Ranks>>));
      static_assert(Out::dims[1] % Ranks == 0,
                    "loom::SpatialParallel<P>: a windowed layer's output rows (after its stride) "
                    "are not divisible by P, so they cannot be split into equal bands; change "
                    "the input height, the padding or P (search the compiler output for "
                    "'loom_error_SpatialParallel_output_rows_not_divisible' for the layer's "
                    "position, type and output shape)");
      return false;
    } else if constexpr (!BandRows<Ranks, In::dims[1], Out::dims[1], footprint::kernel.h,
                                   footprint::stride.h, footprint::padding.h>::fits()) {
      using show [[maybe_unused]] =
          decltype(sizeof(loom_error_SpatialParallel_halo_wider_than_a_band<
                          index, L, In, std::integral_constant<std::size_t, Ranks>>));
      static_assert(BandRows<Ranks, In::dims[1], Out::dims[1], footprint::kernel.h,
                             footprint::stride.h, footprint::padding.h>::fits(),
                    "loom::SpatialParallel<P>: a windowed layer reads more rows beyond a band "
                    "than a neighbouring band holds; use a smaller P or a smaller kernel "
                    "(search the compiler output for "
                    "'loom_error_SpatialParallel_halo_wider_than_a_band' for the layer)");
      return false;
    }
    return true;
  } else if constexpr (R == Region::band && Composite<L, In>) {
    using block =
        typename spatial_walk_of<Ranks, Region::band, typename L::template block_layers<In>>::type;
    using shortcut = typename spatial_walk_of<Ranks, Region::band,
                                              typename L::template shortcut_layers<In>>::type;
    if constexpr (!block::valid || !shortcut::valid) {
      return false; // an inner layer's diagnostic has been given
    } else if constexpr (block::end != Region::band || shortcut::end != Region::band) {
      using show [[maybe_unused]] = decltype(sizeof(
          loom_error_SpatialParallel_layer_ends_the_band_inside_Residual<index, L>));
      static_assert(block::end == Region::band && shortcut::end == Region::band,
                    "loom::SpatialParallel: inside a Residual every layer must keep the image "
                    "split into bands (no Flatten or GlobalAvgPool2D inside it)");
      return false;
    }
    return true;
  } else if constexpr (R == Region::band && (BandStatistics<L> || ElementwiseActivation<L> ||
                                             SplitDropout<L> || ReshapeOnly<L>)) {
    return true;
  } else if constexpr (R == Region::split_features &&
                       (ElementwiseActivation<L> || SplitDropout<L> || is_dense<L>::value)) {
    return true;
  } else {
    using show [[maybe_unused]] =
        decltype(sizeof(loom_error_layer_not_splittable_by_SpatialParallel<index, L>));
    static_assert(R == Region::whole,
                  "loom::SpatialParallel: a layer of the network has no split over bands of "
                  "rows (Conv2D, MaxPool2D, AvgPool2D, BatchNorm2D, activations, Dropout and "
                  "Residual have one, and after Flatten activations, Dropout and Dense); "
                  "search the compiler output for "
                  "'loom_error_layer_not_splittable_by_SpatialParallel' to see which, or move it "
                  "after GlobalAvgPool2D or the first Dense, where every rank computes the "
                  "whole");
    return false;
  }
}

/// The stages of placed layers (plan_stages' maker).
template <class Scalar, class ExecutionSpace>
struct SpatialStages {
  template <class P, class Activation = Identity>
  static auto make() {
    using L = typename P::layer;
    using In = typename P::input_shape;
    constexpr std::size_t ranks = P::ranks;
    if constexpr (P::region == Region::whole) {
      if constexpr (std::is_same_v<Activation, Identity>) {
        return std::type_identity<typename L::template stage<In, Scalar, ExecutionSpace>>{};
      } else {
        return std::type_identity<
            typename L::template fused_stage<In, Scalar, ExecutionSpace, Activation>>{};
      }
    } else if constexpr (P::region == Region::split_features) {
      using Features = typename P::features;
      using Local = Shape<Features::count>;
      if constexpr (is_dense<L>::value) {
        return std::type_identity<typename L::template fused_stage<
            Local, Scalar, ExecutionSpace, Activation, dense::SplitInputs<Features, In::size>>>{};
      } else if constexpr (SplitDropout<L>) {
        return std::type_identity<
            typename L::template split_stage<Local, Scalar, ExecutionSpace, Features, In::size>>{};
      } else {
        return std::type_identity<typename L::template stage<Local, Scalar, ExecutionSpace>>{};
      }
    } else {
      using Local = band_of<In, ranks>;
      if constexpr (Windowed<L>) {
        using Out = typename P::output_shape;
        using footprint = typename L::footprint;
        using Rows = BandRows<ranks, In::dims[1], Out::dims[1], footprint::kernel.h,
                              footprint::stride.h, footprint::padding.h>;
        using Unpadded = typename L::template with_padding<Window{0, footprint::padding.w}>;
        using WindowIn = Shape<In::dims[0], std::size_t(Rows::window), In::dims[2]>;
        using Inner = typename decltype([] {
          if constexpr (std::is_same_v<Activation, Identity>) {
            return std::type_identity<
                typename Unpadded::template stage<WindowIn, Scalar, ExecutionSpace>>{};
          } else {
            return std::type_identity<typename Unpadded::template fused_stage<
                WindowIn, Scalar, ExecutionSpace, Activation>>{};
          }
        }())::type;
        return std::type_identity<
            HaloStage<Local, Inner, Rows, L::pads_with_lowest, Scalar, ExecutionSpace>>{};
      } else if constexpr (Composite<L, In>) {
        using block = typename spatial_walk_of<ranks, Region::band,
                                               typename L::template block_layers<In>>::type;
        using shortcut = typename spatial_walk_of<ranks, Region::band,
                                                  typename L::template shortcut_layers<In>>::type;
        return std::type_identity<
            ResidualStage<Local, band_of<typename P::output_shape, ranks>, Scalar, ExecutionSpace,
                          typename stages_with<SpatialStages, typename block::type>::list,
                          typename stages_with<SpatialStages, typename shortcut::type>::list>>{};
      } else if constexpr (BandStatistics<L>) {
        return std::type_identity<
            typename L::template band_stage<Local, Scalar, ExecutionSpace, ranks>>{};
      } else if constexpr (SplitDropout<L>) {
        return std::type_identity<typename L::template split_stage<
            Local, Scalar, ExecutionSpace,
            FeatureBlocks<In::dims[0], In::dims[1] * In::dims[2], Local::dims[1] * In::dims[2]>,
            In::size>>{};
      } else {
        return std::type_identity<typename L::template stage<Local, Scalar, ExecutionSpace>>{};
      }
    }
  }

  template <class P>
  using stage = typename decltype(make<P>())::type;
  template <class P, class Activation>
  using fused_stage = typename decltype(make<P, typename Activation::layer>())::type;
};

/// \brief SpatialParallel<Ranks>'s placement (model/placement.hpp): a rank's band of rows.
template <std::size_t Ranks>
struct SpatialPlacement {
  template <class Net>
  static constexpr bool image_input = Net::input_shape::rank == 3;

  template <class Net>
  using input_shape =
      std::conditional_t<image_input<Net>, band_of<typename Net::input_shape, Ranks>,
                         typename Net::input_shape>;

  template <class Net>
  using walk = typename spatial_walk_of<Ranks, Region::band, typename Net::layers>::type;

  template <class Net, class Scalar, class ExecutionSpace>
  using stage_list =
      typename stages_with<SpatialStages<Scalar, ExecutionSpace>, typename walk<Net>::type>::list;

  template <class Net>
  static constexpr bool check() {
    using In = typename Net::input_shape;
    if constexpr (!image_input<Net>) {
      using show [[maybe_unused]] =
          decltype(sizeof(loom_error_SpatialParallel_needs_an_image_input<Net>));
      static_assert(image_input<Net>,
                    "loom::SpatialParallel<P>: the network's input must be an image, "
                    "Input<C, H, W>, whose rows the ranks split; for vector inputs use "
                    "DataParallel or TensorParallel");
      return false;
    } else if constexpr (In::dims[1] % Ranks != 0) {
      using show [[maybe_unused]] = decltype(sizeof(
          loom_error_SpatialParallel_rows_not_divisible<std::integral_constant<std::size_t, Ranks>,
                                                        In>));
      static_assert(In::dims[1] % Ranks == 0,
                    "loom::SpatialParallel<P>: the input's height is not divisible by P; change "
                    "P or the input shape (search the compiler output for "
                    "'loom_error_SpatialParallel_rows_not_divisible')");
      return false;
    } else if constexpr (!walk<Net>::valid) {
      return false; // a layer's diagnostic has been given
    } else if constexpr (walk<Net>::end != Region::whole) {
      using show [[maybe_unused]] =
          decltype(sizeof(loom_error_SpatialParallel_output_still_split<Net>));
      static_assert(walk<Net>::end == Region::whole,
                    "loom::SpatialParallel: the network's output is still split over the ranks; "
                    "end the image part with GlobalAvgPool2D, or Flatten followed by Dense");
      return false;
    }
    return true;
  }

  static std::string name() { return "SpatialParallel<" + std::to_string(Ranks) + ">"; }
};

} // namespace detail
} // namespace loom
