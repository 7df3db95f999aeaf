#pragma once

#include <loom/config.hpp>

#include <loom/comm/concepts.hpp>
#include <loom/comm/detail/mpi_base.hpp>
#include <loom/comm/detail/schedule.hpp>
#include <loom/core/environment.hpp>

#include <cstddef>
#include <cstring>
#include <span>
#include <string>
#include <vector>

namespace loom::comm {

#if defined(LOOM_ENABLE_MPI)
/// \brief Rabenseifner's all-reduce: a reduce-scatter by recursive halving (log₂ p steps, each
///        exchanging half of what is left with the rank at distance p/2, p/4, ..., 1) and an
///        all-gather by recursive doubling, for log-depth latency and near-optimal bandwidth.
///        Small messages take recursive doubling on the whole buffer instead (log₂ p steps).
///
/// Any number of ranks works: with p = 2^k + r, the first 2r ranks first fold in pairs (the
/// even rank sends its buffer to the odd one, which adds it), the 2^k remaining ranks run the
/// algorithm, and the odd ranks hand the result back.
/// \code
///   p = 4, halving:  0 ⇄ 2, 1 ⇄ 3  (exchange halves)   then  0 ⇄ 1, 2 ⇄ 3  (quarters)
///          doubling: 0 ⇄ 1, 2 ⇄ 3  (quarters back)     then  0 ⇄ 2, 1 ⇄ 3  (halves back)
/// \endcode
class RecursiveHalving : public detail::MpiBase {
public:
  using communicator_type = RecursiveHalving;
  static std::string name() { return "comm::RecursiveHalving"; }

  /// Buffers up to this many bytes use recursive doubling on the whole buffer...
  static constexpr std::size_t small_message_bytes = 32 * 1024;
  /// ...except those that fit the MPI library's eager protocol only once halved (Open MPI's
  /// shared-memory transport sends up to 4 KiB, headers included, without a handshake).
  static constexpr std::size_t eager_bytes = 4000;

  /// \param comm  the MPI communicator to work over (duplicated)
  explicit RecursiveHalving(MPI_Comm comm)
      : MpiBase(comm, "loom::comm::RecursiveHalving") {}
  /// Works over the communicator of loom's strategies, env.comm() (duplicated).
  explicit RecursiveHalving(Environment const& env)
      : RecursiveHalving(env.comm()) {}

  template <class T>
  void all_reduce(std::span<T> data, ReduceOp op) {
    run(data, all_reduce_steps(data.size(), small<T>(data.size())), op);
  }
  template <class T>
  Request iall_reduce(std::span<T> data, ReduceOp op) {
    return start(data, all_reduce_steps(data.size(), small<T>(data.size())), op);
  }

  /// With a power-of-two number of ranks, recursive halving; otherwise a full all-reduce (every
  /// rank then holds every block, its own included).
  template <class T>
  void reduce_scatter(std::span<T> data, ReduceOp op) {
    ireduce_scatter(data, op).wait();
  }
  template <class T>
  Request ireduce_scatter(std::span<T> data, ReduceOp op) {
    if (power_of_two() != size()) {
      return iall_reduce(data, op);
    }
    std::vector<detail::Step> steps;
    halving_steps(steps, data.size(), rank());
    return start(data, std::move(steps), op);
  }

  /// With a power-of-two number of ranks, recursive doubling; otherwise an all-reduce in which
  /// every rank contributes its block and zeros elsewhere, combined bitwise (exact for any
  /// type).
  template <class T>
  void all_gather(std::span<T> data) {
    iall_gather(data).wait();
  }
  template <class T>
  Request iall_gather(std::span<T> data) {
    if (power_of_two() != size()) {
      Block const mine = block(data.size(), rank(), size());
      std::memset(static_cast<void*>(data.data()), 0, mine.begin * sizeof(T));
      std::memset(static_cast<void*>(data.data() + mine.end()), 0,
                  (data.size() - mine.end()) * sizeof(T));
      std::span<std::byte> bytes(reinterpret_cast<std::byte*>(data.data()), data.size_bytes());
      bool const small = bytes.size() <= small_message_bytes;
      return start(bytes, all_reduce_steps(bytes.size(), small), ReduceOp::sum);
    }
    std::vector<detail::Step> steps;
    doubling_gather_steps(steps, data.size(), rank());
    return start(data, std::move(steps), ReduceOp::sum);
  }

  RecursiveHalving split(int color, int key) const {
    return RecursiveHalving(handle_.split(color, key));
  }

private:
  explicit RecursiveHalving(detail::CommHandle handle)
      : MpiBase(std::move(handle)) {}

  template <class T>
  bool small(std::size_t n) const {
    std::size_t const bytes = n * sizeof(T);
    if (n < static_cast<std::size_t>(power_of_two())) {
      return true;
    }
    bool const halves_go_eagerly = bytes > eager_bytes && bytes <= 2 * eager_bytes;
    return bytes <= small_message_bytes && !halves_go_eagerly;
  }

  int power_of_two() const {
    int p = 1;
    while (p * 2 <= size()) {
      p *= 2;
    }
    return p;
  }
  int folded() const { return size() - power_of_two(); } // ranks folded into a partner

  // Rank within the power-of-two group, or -1 for a rank folded out.
  int group_rank() const {
    int const r = rank(), extra = folded();
    if (r < 2 * extra) {
      return r % 2 == 1 ? r / 2 : -1;
    }
    return r - extra;
  }
  int real_rank(int group) const {
    int const extra = folded();
    return group < extra ? 2 * group + 1 : group + extra;
  }

  // Block i of n elements over the power-of-two group.
  Block group_block(std::size_t n, int i) const { return block(n, i, power_of_two()); }

  std::size_t range_begin(std::size_t n, int first) const { return group_block(n, first).begin; }
  std::size_t range_end(std::size_t n, int last) const { return group_block(n, last - 1).end(); }

  // Halving: at distance d the group [lo, hi) of blocks splits in two; keep the half of this
  // rank, send the other, receive the partner's copy of the kept half and add it.
  void halving_steps(std::vector<detail::Step>& steps, std::size_t n, int me) const {
    int lo = 0, hi = power_of_two();
    for (int distance = power_of_two() / 2; distance >= 1; distance /= 2) {
      int const partner = me ^ distance;
      int const mid = (lo + hi) / 2;
      bool const lower = me < partner;
      int const keep_lo = lower ? lo : mid, keep_hi = lower ? mid : hi;
      int const give_lo = lower ? mid : lo, give_hi = lower ? hi : mid;
      std::size_t const send_begin = range_begin(n, give_lo);
      std::size_t const recv_begin = range_begin(n, keep_lo);
      steps.push_back({real_rank(partner), send_begin, range_end(n, give_hi) - send_begin,
                       real_rank(partner), recv_begin, range_end(n, keep_hi) - recv_begin, true});
      lo = keep_lo;
      hi = keep_hi;
    }
  }

  // Doubling, the halving in reverse: send what this rank holds, store the partner's part.
  void doubling_gather_steps(std::vector<detail::Step>& steps, std::size_t n, int me) const {
    int lo = me, hi = me + 1;
    for (int distance = 1; distance < power_of_two(); distance *= 2) {
      int const partner = me ^ distance;
      int const partner_lo = lo ^ distance, partner_hi = partner_lo + (hi - lo);
      std::size_t const send_begin = range_begin(n, lo);
      std::size_t const recv_begin = range_begin(n, partner_lo);
      steps.push_back({real_rank(partner), send_begin, range_end(n, hi) - send_begin,
                       real_rank(partner), recv_begin, range_end(n, partner_hi) - recv_begin,
                       false});
      lo = std::min(lo, partner_lo);
      hi = std::max(hi, partner_hi);
    }
  }

  std::vector<detail::Step> all_reduce_steps(std::size_t n, bool small) const {
    std::vector<detail::Step> steps;
    int const r = rank(), extra = folded();
    if (r < 2 * extra) {
      if (r % 2 == 0) {
        // Fold out: give the buffer to the odd partner, get the result back at the end.
        steps.push_back({r + 1, 0, n, -1, 0, 0, true});
        steps.push_back({-1, 0, 0, r + 1, 0, n, false});
        return steps;
      }
      steps.push_back({-1, 0, 0, r - 1, 0, n, true});
    }
    int const me = group_rank();
    if (small) {
      for (int distance = 1; distance < power_of_two(); distance *= 2) {
        int const partner = real_rank(me ^ distance);
        steps.push_back({partner, 0, n, partner, 0, n, true});
      }
    } else {
      halving_steps(steps, n, me);
      doubling_gather_steps(steps, n, me);
    }
    if (r < 2 * extra) {
      steps.push_back({r - 1, 0, n, -1, 0, 0, false});
    }
    return steps;
  }
};
#else
class RecursiveHalving;
#endif

} // namespace loom::comm
