#pragma once

// The one stage executor: runs a list of stages forward and backward, with the places where a
// strategy hooks in before and after each stage. loom::Model runs the network's stages through
// it, Residual each of its branches.
//
// Storage is not the chain's: parameters, states, activations (each stage's output and
// workspace, kept from forward to backward) and scratch are slices of buffers that the owner
// binds, and rebinding activations to another slice before a pass is cheap, so an owner can
// keep several batches in flight (a pipeline's micro-batches) over one set of stages.
//
// Hooks (all optional members of the object passed to forward/backward)
//   hooks.before_forward(k), hooks.after_forward(k)     around stage k's forward
//   hooks.before_backward(k)                            before stage k's backward
//   hooks.after_backward(k, offset, count)              after it, with the slice of the
//                                                       gradient target it finished (offset
//                                                       within the chain's parameters)

#include <loom/core/detail/type_list.hpp>
#include <loom/core/random.hpp>
#include <loom/core/tensor.hpp>
#include <loom/layers/concepts.hpp>

#include <boost/hana/at.hpp>
#include <boost/hana/tuple.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <type_traits>
#include <utility>
#include <vector>

namespace loom::detail {

/// Hooks that do nothing.
struct NoHooks {};

/// Where each of `sizes` starts when they are laid out one after the other.
template <std::size_t N>
constexpr std::array<std::size_t, N> running_offsets(std::array<std::size_t, N> const& sizes) {
  std::array<std::size_t, N> out{};
  for (std::size_t k = 1; k < N; ++k) {
    out[k] = out[k - 1] + sizes[k - 1];
  }
  return out;
}

// The stage protocol's optional calls, made only where the stage has the member.
template <class Stage, class Slice>
void bind_parameters(Stage& stage, Slice const& params) {
  if constexpr (requires { stage.bind(params); }) {
    stage.bind(params);
  }
}
template <class Stage, class Slice>
void bind_state(Stage& stage, Slice const& state) {
  if constexpr (state_count_of<Stage>() > 0) {
    stage.bind_state(state);
  }
}
template <class Stage, class Slice>
void bind_workspace(Stage& stage, Slice const& workspace, std::size_t batch) {
  if constexpr (requires { stage.bind_workspace(workspace, batch); }) {
    stage.bind_workspace(workspace, batch);
  }
}
template <class Stage, class Slice>
void bind_scratch(Stage& stage, Slice const& scratch, std::size_t batch) {
  if constexpr (scratch_per_sample_of<Stage>() > 0) {
    stage.bind_scratch(scratch, batch);
  }
}
template <class Stage>
void set_shard(Stage& stage, Shard shard) {
  if constexpr (requires { stage.set_shard(shard); }) {
    stage.set_shard(shard);
  }
}
template <class Stage, class ExecutionSpace>
void initialize_stage(Stage& stage, ExecutionSpace const& space, CounterRng const& rng) {
  if constexpr (requires { stage.initialize(space, rng); }) {
    stage.initialize(space, rng);
  }
}

/// The parameters of the whole layer a stage computes a part of (its own count for a stage
/// that holds the whole layer).
template <class S>
constexpr std::size_t logical_parameter_count_of() {
  if constexpr (requires { S::logical_parameter_count; }) {
    return S::logical_parameter_count;
  } else {
    return parameter_count_of<S>();
  }
}

/// Appends how stage S's parameters, from `local` in a rank's buffer, relate to its layer's,
/// from `logical` in the whole network's (layers/concepts.hpp, parameter_roles).
template <class S>
void parameter_roles_of(std::vector<ParameterRun>& out, std::size_t local, std::size_t logical,
                        Shard shard) {
  if constexpr (requires { S::parameter_roles(out, local, logical, shard); }) {
    S::parameter_roles(out, local, logical, shard);
  } else if constexpr (parameter_count_of<S>() > 0) {
    out.push_back({local, logical, parameter_count_of<S>(), false, false});
  }
}

template <class Scalar, class ExecutionSpace, class Stages>
class StageChain;

/// \brief Stages run in order, each one's output the next one's input.
template <class Scalar, class ExecutionSpace, class... Stages>
class StageChain<Scalar, ExecutionSpace, type_list<Stages...>> {
public:
  using memory_space = typename ExecutionSpace::memory_space;
  using batch_type = MatrixSlice<Scalar, memory_space>;
  using const_batch_type = MatrixSlice<Scalar const, memory_space>;
  using slice_type = VectorSlice<Scalar, memory_space>;
  using stage_list = type_list<Stages...>;

  static constexpr std::size_t count = sizeof...(Stages);
  static constexpr std::array<std::size_t, count> parameter_counts{parameter_count_of<Stages>()...};
  static constexpr std::size_t parameter_count =
      (std::size_t{0} + ... + parameter_count_of<Stages>());
  static constexpr std::array<std::size_t, count> parameter_offsets =
      running_offsets<count>({parameter_count_of<Stages>()...});
  static constexpr std::size_t logical_parameter_count =
      (std::size_t{0} + ... + logical_parameter_count_of<Stages>());
  static constexpr std::array<std::size_t, count> logical_parameter_offsets =
      running_offsets<count>({logical_parameter_count_of<Stages>()...});
  static constexpr std::size_t state_count = (std::size_t{0} + ... + state_count_of<Stages>());
  static constexpr std::array<std::size_t, count> state_offsets =
      running_offsets<count>({state_count_of<Stages>()...});
  /// Per sample: every stage's output and its own workspace, kept from forward to backward.
  static constexpr std::size_t activations_per_sample =
      (std::size_t{0} + ... + (Stages::output_shape::size + workspace_per_sample_of<Stages>()));
  /// Per pass, whatever the batch: what stages keep besides (batch norm's statistics).
  static constexpr std::size_t activations_per_pass =
      (std::size_t{0} + ... + workspace_per_pass_of<Stages>());
  /// What bind_activations takes for `batch` rows.
  static constexpr std::size_t activations_of(std::size_t batch) {
    return batch * activations_per_sample + activations_per_pass;
  }
  /// Per sample: the largest scratch any stage needs within one pass.
  static constexpr std::size_t scratch_per_sample =
      std::max({std::size_t{0}, scratch_per_sample_of<Stages>()...});
  /// The widest gradient passed between two of its stages (the outputs of all but the last).
  static constexpr std::size_t widest_inner = [] {
    constexpr std::size_t widths[] = {Stages::output_shape::size..., 0};
    std::size_t widest = 0;
    for (std::size_t k = 0; k + 1 < count; ++k) {
      widest = std::max(widest, widths[k]);
    }
    return widest;
  }();

  /// Appends how the chain's parameters relate to the whole layers' (parameter_roles_of).
  static void parameter_roles(std::vector<ParameterRun>& out, std::size_t local,
                              std::size_t logical, Shard shard) {
    roles(out, local, logical, shard, std::make_index_sequence<count>{});
  }

  /// Stage k.
  template <std::size_t K>
  auto& stage() {
    return boost::hana::at_c<K>(stages_);
  }
  template <std::size_t K>
  auto const& stage() const {
    return boost::hana::at_c<K>(stages_);
  }

  /// Calls f(k, stage) for every stage, first to last; k is a std::integral_constant.
  template <class F>
  void for_each(F&& f) {
    each(f, std::make_index_sequence<count>{});
  }
  template <class F>
  void for_each(F&& f) const {
    each(f, std::make_index_sequence<count>{});
  }

  void bind(slice_type const& params) {
    for_each([&](auto k, auto& stage) {
      bind_parameters(stage, slice_type(params.data() + parameter_offsets[k], parameter_counts[k]));
    });
  }

  /// Tells stages that hold a part of a split layer which part (optional stage member
  /// set_shard(Shard), called before bind and initialize).
  void set_shard(Shard shard) {
    for_each([&](auto, auto& stage) { detail::set_shard(stage, shard); });
  }

  void bind_state(slice_type const& state) {
    for_each([&](auto k, auto& stage) {
      using Stage = std::decay_t<decltype(stage)>;
      detail::bind_state(stage,
                         slice_type(state.data() + state_offsets[k], state_count_of<Stage>()));
    });
  }

  /// Binds outputs and workspaces from `cursor` on, for `batch` rows; returns the end of what
  /// it took (activations_of(batch) values).
  Scalar* bind_activations(Scalar* cursor, std::size_t batch) {
    for_each([&](auto k, auto& stage) {
      using Stage = std::decay_t<decltype(stage)>;
      outputs_[k] = batch_type(cursor, batch, Stage::output_shape::size);
      cursor += batch * Stage::output_shape::size;
      detail::bind_workspace(stage, slice_type(cursor, workspace_of<Stage>(batch)), batch);
      cursor += workspace_of<Stage>(batch);
    });
    return cursor;
  }

  void bind_scratch(slice_type const& scratch, std::size_t batch) {
    for_each([&](auto, auto& stage) { detail::bind_scratch(stage, scratch, batch); });
  }

  /// Fills every stage's parameters, stage k's from rng_for(k).
  template <class RngFor>
  void initialize(ExecutionSpace const& space, RngFor&& rng_for) {
    for_each([&](auto k, auto& stage) { initialize_stage(stage, space, rng_for(std::size_t(k))); });
  }

  /// Runs the stages on x; stage k is told it is stage `first_id + k` (its dropout stream).
  template <class Hooks = NoHooks>
  void forward(ExecutionSpace const& space, PassContext<Scalar> ctx, const_batch_type const& x,
               std::size_t first_id = 0, Hooks&& hooks = {}) const {
    for_each([&](auto k, auto const& stage) {
      if constexpr (requires { hooks.before_forward(std::size_t(k)); }) {
        hooks.before_forward(std::size_t(k));
      }
      ctx.stage = first_id + k;
      stage.forward(space, ctx, input(k, x), outputs_[k]);
      if constexpr (requires { hooks.after_forward(std::size_t(k)); }) {
        hooks.after_forward(std::size_t(k));
      }
    });
  }

  /// Runs the stages backward from dy (overwritten) to dx (empty: not needed), passing the
  /// gradients between stages through the two buffers `between`, each of batch ×
  /// widest_inner values; target is laid out like the chain's parameters.
  template <class Hooks = NoHooks>
  void backward(ExecutionSpace const& space, PassContext<Scalar> ctx, const_batch_type const& x,
                batch_type const& dy, batch_type const& dx, slice_type const& target,
                std::array<Scalar*, 2> const& between, std::size_t first_id = 0,
                Hooks&& hooks = {}) const {
    std::size_t const batch = ctx.batch;
    each_reverse(
        [&](auto k, auto const& stage) {
          using Stage = std::decay_t<decltype(stage)>;
          if constexpr (requires { hooks.before_backward(std::size_t(k)); }) {
            hooks.before_backward(std::size_t(k));
          }
          ctx.stage = first_id + k;
          batch_type const stage_dy =
              k + 1 == count ? dy
                             : batch_type(between[(k + 1) % 2], batch, Stage::output_shape::size);
          batch_type const stage_dx =
              k == 0 ? dx : batch_type(between[k % 2], batch, Stage::input_shape::size);
          stage.backward(space, ctx, input(k, x), outputs_[k], stage_dy, stage_dx,
                         slice_type(target.data() + parameter_offsets[k], parameter_counts[k]));
          if constexpr (parameter_count_of<Stage>() > 0 &&
                        requires { hooks.after_backward(std::size_t(k), 0, 0); }) {
            hooks.after_backward(std::size_t(k), parameter_offsets[k], parameter_counts[k]);
          }
        },
        std::make_index_sequence<count>{});
  }

  /// Stage k's output of the last forward (k < count).
  batch_type const& output(std::size_t k) const { return outputs_[k]; }
  /// The last stage's output.
  const_batch_type output() const {
    auto const& y = outputs_[count - 1];
    return const_batch_type(y.data(), y.extent(0), y.extent(1));
  }

private:
  const_batch_type input(std::size_t k, const_batch_type const& x) const {
    if (k == 0) {
      return x;
    }
    auto const& y = outputs_[k - 1];
    return const_batch_type(y.data(), y.extent(0), y.extent(1));
  }

  template <std::size_t... K>
  static void roles([[maybe_unused]] std::vector<ParameterRun>& out,
                    [[maybe_unused]] std::size_t local, [[maybe_unused]] std::size_t logical,
                    [[maybe_unused]] Shard shard, std::index_sequence<K...>) {
    (parameter_roles_of<Stages>(out, local + parameter_offsets[K],
                                logical + logical_parameter_offsets[K], shard),
     ...);
  }

  template <class F, std::size_t... K>
  void each(F& f, std::index_sequence<K...>) {
    (f(std::integral_constant<std::size_t, K>{}, boost::hana::at_c<K>(stages_)), ...);
  }
  template <class F, std::size_t... K>
  void each(F& f, std::index_sequence<K...>) const {
    (f(std::integral_constant<std::size_t, K>{}, boost::hana::at_c<K>(stages_)), ...);
  }
  template <class F, std::size_t... K>
  void each_reverse(F&& f, std::index_sequence<K...>) const {
    (f(std::integral_constant<std::size_t, count - 1 - K>{},
       boost::hana::at_c<count - 1 - K>(stages_)),
     ...);
  }

  boost::hana::tuple<Stages...> stages_;
  std::array<batch_type, count> outputs_;
};

} // namespace loom::detail
