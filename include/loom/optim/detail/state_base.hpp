#pragma once

#include <loom/core/tensor.hpp>

#include <Kokkos_Core.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

namespace loom::detail {

/// A named per-parameter buffer of an optimizer's state.
template <class Scalar, class MemorySpace>
struct NamedBuffer {
  std::string name;
  Vector<Scalar, MemorySpace> view;
  bool used = true; ///< false: the options leave it unused (empty)
};

/// What every optimizer state shares: its options, per-parameter buffers (zero-initialised)
/// and the number of steps taken.
template <class Options, class Scalar, class ExecutionSpace, std::size_t Buffers>
class OptimizerStateBase {
public:
  using execution_space = ExecutionSpace;
  using memory_space = typename ExecutionSpace::memory_space;
  using value_type = Scalar;
  using options_type = Options;
  using buffer_type = Vector<Scalar, memory_space>;

  /// \param n      parameters
  /// \param names  the buffers; a buffer whose `used` flag is false is left empty
  OptimizerStateBase(std::size_t n, Options const& options,
                     std::array<char const*, Buffers> const& names,
                     std::array<bool, Buffers> const& used)
      : options_(options)
      , size_(n) {
    for (std::size_t b = 0; b < Buffers; ++b) {
      buffers_[b] = {names[b],
                     buffer_type(std::string("loom::optimizer::") + names[b], used[b] ? n : 0),
                     used[b]};
    }
  }

  Options const& options() const { return options_; }
  std::size_t size() const { return size_; }
  std::uint64_t steps() const { return steps_; }
  void set_steps(std::uint64_t steps) { steps_ = steps; }
  std::array<NamedBuffer<Scalar, memory_space>, Buffers> const& buffers() const { return buffers_; }

protected:
  buffer_type const& buffer(std::size_t b) const { return buffers_[b].view; }

  Options options_;
  std::size_t size_;
  std::uint64_t steps_ = 0;
  std::array<NamedBuffer<Scalar, memory_space>, Buffers> buffers_;
};

} // namespace loom::detail
