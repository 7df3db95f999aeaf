#pragma once

// Buffers laid out like a rank's parameters() (its parameters, gradients, optimizer state),
// moved to and from the whole network's layout: what checkpoints hold, so that a checkpoint
// of any strategy and rank count loads under any other.

#include <loom/comm/concepts.hpp>
#include <loom/core/detail/host_copy.hpp>
#include <loom/layers/concepts.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

namespace loom::detail {

/// The layout of a rank's part of a network split over the ranks of `Comm` (its parameter
/// map, Model::parameter_map()). to_logical() is collective over the group: every rank ends
/// with the whole buffer, each value exactly as its holder has it (the bit patterns travel,
/// so that a checkpoint resumes bit for bit).
template <class Comm>
class SplitLayout {
public:
  /// Every rank holds all states (batch norm's running statistics are the same on each).
  SplitLayout(Comm& comm, std::vector<ParameterRun> runs, std::size_t logical_size)
      : comm_(&comm)
      , runs_(std::move(runs))
      , logical_size_(logical_size) {}
  /// `state_runs` relate the model's states() to the whole network's, as `runs` its
  /// parameters (a pipeline stage holds only its layers' states).
  SplitLayout(Comm& comm, std::vector<ParameterRun> runs, std::size_t logical_size,
              std::vector<ParameterRun> state_runs, std::size_t logical_states)
      : comm_(&comm)
      , runs_(std::move(runs))
      , logical_size_(logical_size)
      , states_split_(true)
      , state_runs_(std::move(state_runs))
      , logical_states_(logical_states) {}

  /// A Hybrid grid's layout over all ranks of `comm`: each rank of the replica that
  /// `gathers` gives every value it holds (a value several ranks of a part hold is the same,
  /// bit for bit, on each); the other replicas give none.
  static SplitLayout grid(Comm& comm, std::vector<ParameterRun> runs, std::size_t logical_size,
                          std::vector<ParameterRun> state_runs, std::size_t logical_states,
                          bool gathers) {
    for (auto* list : {&runs, &state_runs}) {
      for (auto& run : *list) {
        run.sharded = true;
      }
    }
    SplitLayout layout(comm, std::move(runs), logical_size, std::move(state_runs), logical_states);
    layout.gathers_ = gathers;
    return layout;
  }

  template <class View>
  std::vector<typename View::non_const_value_type> to_logical(View const& view) const {
    return gather(view, runs_, logical_size_);
  }
  template <class View, class T>
  void assign(View const& view, std::vector<T> const& logical) const {
    scatter(view, logical, runs_);
  }
  template <class View>
  std::vector<typename View::non_const_value_type> states_to_logical(View const& view) const {
    return states_split_ ? gather(view, state_runs_, logical_states_) : to_host(view);
  }
  template <class View, class T>
  void assign_states(View const& view, std::vector<T> const& logical) const {
    if (states_split_) {
      scatter(view, logical, state_runs_);
    } else {
      from_host(view, logical);
    }
  }

  std::vector<ParameterRun> const& runs() const { return runs_; }

private:
  template <class View>
  std::vector<typename View::non_const_value_type>
  gather(View const& view, std::vector<ParameterRun> const& runs, std::size_t size) const {
    using T = typename View::non_const_value_type;
    static_assert(sizeof(T) <= sizeof(std::uint64_t));
    // A buffer empty on every rank (an optimizer buffer its options leave unused) has no
    // logical values; one empty on some ranks only (a pipeline stage without parameters or
    // states) takes its values from the others.
    std::uint64_t held = view.extent(0);
    comm_->all_reduce(std::span<std::uint64_t>(&held, 1), comm::ReduceOp::max);
    if (held == 0) {
      return {};
    }
    std::vector<T> const local = view.extent(0) == 0 ? std::vector<T>() : to_host(view);
    // Each value as its bit pattern, from the rank that holds it (replicated values from
    // group rank 0); zero elsewhere, so that the maximum over the group is the value.
    std::vector<std::uint64_t> bits(size, 0);
    for (auto const& run : runs) {
      if ((!run.sharded && comm_->rank() != 0) || local.empty() || !gathers_) {
        continue;
      }
      for (std::size_t k = 0; k < run.count; ++k) {
        std::uint64_t word = 0;
        std::memcpy(&word, &local[run.local + k], sizeof(T));
        bits[run.logical + k] = word;
      }
    }
    comm_->all_reduce(std::span<std::uint64_t>(bits), comm::ReduceOp::max);
    std::vector<T> logical(size);
    for (std::size_t k = 0; k < size; ++k) {
      std::memcpy(&logical[k], &bits[k], sizeof(T));
    }
    return logical;
  }

  template <class View, class T>
  static void scatter(View const& view, std::vector<T> const& logical,
                      std::vector<ParameterRun> const& runs) {
    if (view.extent(0) == 0) {
      return;
    }
    std::vector<T> local(view.extent(0));
    for (auto const& run : runs) {
      std::copy_n(logical.begin() + std::ptrdiff_t(run.logical), run.count,
                  local.begin() + std::ptrdiff_t(run.local));
    }
    from_host(view, local);
  }

  Comm* comm_;
  std::vector<ParameterRun> runs_;
  std::size_t logical_size_;
  bool states_split_ = false;
  bool gathers_ = true;
  std::vector<ParameterRun> state_runs_;
  std::size_t logical_states_ = 0;
};

} // namespace loom::detail
