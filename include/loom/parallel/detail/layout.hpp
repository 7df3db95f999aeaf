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
  SplitLayout(Comm& comm, std::vector<ParameterRun> runs, std::size_t logical_size)
      : comm_(&comm)
      , runs_(std::move(runs))
      , logical_size_(logical_size) {}

  template <class View>
  std::vector<typename View::non_const_value_type> to_logical(View const& view) const {
    using T = typename View::non_const_value_type;
    static_assert(sizeof(T) <= sizeof(std::uint64_t));
    if (view.extent(0) == 0) {
      return {}; // an optimizer buffer its options leave unused
    }
    auto const local = to_host(view);
    // Each value as its bit pattern, from the rank that holds it (replicated values from
    // group rank 0); zero elsewhere, so that the maximum over the group is the value.
    std::vector<std::uint64_t> bits(logical_size_, 0);
    for (auto const& run : runs_) {
      if (!run.sharded && comm_->rank() != 0) {
        continue;
      }
      for (std::size_t k = 0; k < run.count; ++k) {
        std::uint64_t word = 0;
        std::memcpy(&word, &local[run.local + k], sizeof(T));
        bits[run.logical + k] = word;
      }
    }
    comm_->all_reduce(std::span<std::uint64_t>(bits), comm::ReduceOp::max);
    std::vector<T> logical(logical_size_);
    for (std::size_t k = 0; k < logical_size_; ++k) {
      std::memcpy(&logical[k], &bits[k], sizeof(T));
    }
    return logical;
  }

  template <class View, class T>
  void assign(View const& view, std::vector<T> const& logical) const {
    if (view.extent(0) == 0) {
      return;
    }
    std::vector<T> local(view.extent(0));
    for (auto const& run : runs_) {
      std::copy_n(logical.begin() + std::ptrdiff_t(run.logical), run.count,
                  local.begin() + std::ptrdiff_t(run.local));
    }
    from_host(view, local);
  }

  std::vector<ParameterRun> const& runs() const { return runs_; }

private:
  Comm* comm_;
  std::vector<ParameterRun> runs_;
  std::size_t logical_size_;
};

} // namespace loom::detail
