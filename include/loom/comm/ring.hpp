#pragma once

#include <loom/config.hpp>

#include <loom/comm/concepts.hpp>
#include <loom/comm/detail/mpi_base.hpp>
#include <loom/comm/detail/schedule.hpp>
#include <loom/core/environment.hpp>

#include <cstddef>
#include <span>
#include <string>
#include <vector>

namespace loom::comm {

#if defined(LOOM_ENABLE_MPI)
/// \brief The bandwidth-optimal ring: all-reduce as a reduce-scatter then an all-gather, each
///        p - 1 steps in which every rank sends one block to its right neighbour and receives
///        one from its left. Every rank sends and receives 2(p-1)/p of the buffer, whatever p.
///
/// \code
///        step 0 of the reduce-scatter (p = 4): rank r sends block r-1, adds block r-2
///   rank 0 ──b3──▶ rank 1 ──b0──▶ rank 2 ──b1──▶ rank 3 ──b2──▶ rank 0
/// \endcode
/// After p - 1 steps rank r holds block r reduced over all ranks; the all-gather passes the
/// finished blocks around the same ring. Messages are written on MPI point-to-point; large
/// blocks go in segments, each combined as soon as it arrives, into scratch buffers the
/// communicator keeps.
class Ring : public detail::MpiBase {
public:
  using communicator_type = Ring;
  static std::string name() { return "comm::Ring"; }

  /// \param comm  the MPI communicator to work over (duplicated)
  explicit Ring(MPI_Comm comm)
      : MpiBase(comm, "loom::comm::Ring") {}
  /// Works over the communicator of loom's strategies, env.comm() (duplicated).
  explicit Ring(Environment const& env)
      : Ring(env.comm()) {}

  template <class T>
  void all_reduce(std::span<T> data, ReduceOp op) {
    run(data, all_reduce_steps(data.size()), op);
  }
  template <class T>
  Request iall_reduce(std::span<T> data, ReduceOp op) {
    return start(data, all_reduce_steps(data.size()), op);
  }
  template <class T>
  void reduce_scatter(std::span<T> data, ReduceOp op) {
    run(data, reduce_scatter_steps(data.size()), op);
  }
  template <class T>
  Request ireduce_scatter(std::span<T> data, ReduceOp op) {
    return start(data, reduce_scatter_steps(data.size()), op);
  }
  template <class T>
  void all_gather(std::span<T> data) {
    run(data, all_gather_steps(data.size()), ReduceOp::sum);
  }
  template <class T>
  Request iall_gather(std::span<T> data) {
    return start(data, all_gather_steps(data.size()), ReduceOp::sum);
  }

  Ring split(int color, int key) const { return Ring(handle_.split(color, key)); }

private:
  explicit Ring(detail::CommHandle handle)
      : MpiBase(std::move(handle)) {}

  int wrap(int r) const { return ((r % size()) + size()) % size(); }

  std::vector<detail::Step> all_reduce_steps(std::size_t n) const {
    auto steps = reduce_scatter_steps(n);
    auto gather = all_gather_steps(n);
    steps.insert(steps.end(), gather.begin(), gather.end());
    return steps;
  }

  // Step s: send block r-s-1 to the right, receive block r-s-2 from the left and add it; after
  // p - 1 steps block r is complete here.
  std::vector<detail::Step> reduce_scatter_steps(std::size_t n) const {
    std::vector<detail::Step> steps;
    int const r = rank(), p = size();
    for (int s = 0; s + 1 < p; ++s) {
      Block const out = block(n, wrap(r - s - 1), p);
      Block const in = block(n, wrap(r - s - 2), p);
      steps.push_back({wrap(r + 1), out.begin, out.count, wrap(r - 1), in.begin, in.count, true});
    }
    return steps;
  }

  // Step s: send block r-s to the right, store block r-s-1 from the left.
  std::vector<detail::Step> all_gather_steps(std::size_t n) const {
    std::vector<detail::Step> steps;
    int const r = rank(), p = size();
    for (int s = 0; s + 1 < p; ++s) {
      Block const out = block(n, wrap(r - s), p);
      Block const in = block(n, wrap(r - s - 1), p);
      steps.push_back({wrap(r + 1), out.begin, out.count, wrap(r - 1), in.begin, in.count, false});
    }
    return steps;
  }
};
#else
class Ring;
#endif

} // namespace loom::comm
