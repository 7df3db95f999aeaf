#pragma once

// The communicator concept: what every communicator policy (comm::Mpi, comm::Ring,
// comm::RecursiveHalving, comm::Self) offers the parallel strategies.
//
// Communicator
//   Requirements (c a communicator, data a std::span<T> of host memory, T one of float,
//   double, std::int32_t, std::int64_t, std::uint64_t, std::byte)
//     C::communicator_type          C itself
//     C::name()                     "comm::Ring", for messages and summaries
//     c.rank(), c.size()            this process and the number of processes
//     c.all_reduce(data, op)        in place: every rank ends with op over all ranks
//     c.reduce_scatter(data, op)    in place: block(data.size(), rank, size) of data ends
//                                   with op over all ranks (the rest is left undefined)
//     c.all_gather(data)            in place: each rank brings its block, all end with all
//     c.broadcast(data, root)       every rank ends with root's data
//     c.send(data, dest, tag), c.recv(data, source, tag)
//     c.barrier()
//     C(env)                        over env.comm() (an Environment), duplicated
//     c.collectively(f)             runs f; a loom::Error on one rank is raised on every rank
//     c.check_configuration(cfg, who)
//                                   every rank stops with the same message when a rank's
//                                   loom::detail::Configuration differs from rank 0's
//     c.split(color, key)           a communicator of the same policy over the ranks that
//                                   gave the same color, ordered by key
//     c.iall_reduce(data, op), c.ireduce_scatter, c.iall_gather, c.ibroadcast, c.isend,
//     c.irecv                       the same, nonblocking: a comm::Request to test() or
//                                   wait() on; data must stay alive until then (an
//                                   irecv's request can cancel() a receive never matched)
//   Semantics: collectives are called by every rank of the communicator in the same order.
//   Results are bitwise identical on every rank. A communicator works on the MPI
//   communicator it was given (duplicated, so that its messages never meet the caller's)
//   and frees its duplicate when destroyed; it must outlive its requests.
//   Models: comm::Mpi, comm::Ring, comm::RecursiveHalving, comm::Self.

#include <loom/core/detail/consensus.hpp>
#include <loom/core/environment.hpp>
#include <loom/core/error.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <utility>

namespace loom::comm {

/// \brief How all_reduce and reduce_scatter combine the ranks' values.
enum class ReduceOp { sum, average, max, min };

/// \brief Rank `rank`'s block when `n` elements are split over `size` ranks: contiguous, in
///        rank order, sizes differing by at most one (the first n % size ranks get one more).
struct Block {
  std::size_t begin = 0;
  std::size_t count = 0;
  std::size_t end() const { return begin + count; }
};
constexpr Block block(std::size_t n, int rank, int size) {
  std::size_t const p = static_cast<std::size_t>(size);
  std::size_t const r = static_cast<std::size_t>(rank);
  std::size_t const base = n / p;
  std::size_t const extra = n % p;
  return {r * base + (r < extra ? r : extra), base + (r < extra ? 1 : 0)};
}

namespace detail {
/// A communication in flight. advance() makes what progress it can without blocking and says
/// whether it is complete; finish() blocks until it is.
class Operation {
public:
  virtual ~Operation() = default;
  virtual bool advance() = 0;
  virtual void finish() {
    while (!advance()) {
    }
  }
  /// Abandons a receive no message has matched yet; false where that is not possible.
  virtual bool cancel() { return false; }
};
} // namespace detail

/// \brief A nonblocking communication: test() makes progress and says whether it is complete,
///        wait() completes it. Move-only; a default-constructed Request is complete.
class Request {
public:
  Request() = default;
  explicit Request(std::unique_ptr<detail::Operation> operation)
      : operation_(std::move(operation)) {}
  Request(Request&&) noexcept = default;
  Request& operator=(Request&& other) noexcept {
    if (this != &other) {
      wait_quietly();
      operation_ = std::move(other.operation_);
    }
    return *this;
  }
  ~Request() { wait_quietly(); }

  /// Makes progress; true once complete.
  bool test() {
    if (operation_ && operation_->advance()) {
      operation_.reset();
    }
    return !operation_;
  }
  /// Blocks until complete.
  void wait() {
    if (operation_) {
      auto operation = std::move(operation_);
      operation->finish();
    }
  }
  bool done() const { return !operation_; }
  /// Abandons a receive that no message has matched (its sender is gone), so that dropping
  /// the request does not wait for it; true if it was abandoned or complete. A send, or a
  /// policy that cannot cancel, returns false and leaves the request as it was.
  bool cancel() {
    if (operation_ && !operation_->cancel()) {
      return false;
    }
    operation_.reset();
    return true;
  }

private:
  // A request dropped unfinished completes first: its buffers may be in use by MPI.
  void wait_quietly() noexcept {
    try {
      wait();
    } catch (...) {
    }
  }

  std::unique_ptr<detail::Operation> operation_;
};

namespace detail {
/// A request followed by a step that runs once it completes (decompressing what arrived).
template <class Then>
class ThenOperation final : public Operation {
public:
  ThenOperation(Request first, Then then)
      : first_(std::move(first))
      , then_(std::move(then)) {}
  bool advance() override {
    if (!first_.test()) {
      return false;
    }
    run_then();
    return true;
  }
  void finish() override {
    first_.wait();
    run_then();
  }

private:
  void run_then() {
    if (!done_) {
      done_ = true;
      then_();
    }
  }
  Request first_;
  Then then_;
  bool done_ = false;
};
} // namespace detail

/// \brief A request that runs `then` after `first` completes.
template <class Then>
Request then(Request first, Then then) {
  return Request(std::make_unique<detail::ThenOperation<Then>>(std::move(first), std::move(then)));
}

/// \brief Completes every request in a range.
template <class Range>
void wait_all(Range& requests) {
  for (auto& request : requests) {
    request.wait();
  }
}

template <class C>
concept Communicator = requires(C& c, C const& cc, std::span<float> data,
                                loom::detail::Configuration const& configuration) {
  typename C::communicator_type;
  { C::name() } -> std::convertible_to<std::string>;
  { cc.rank() } -> std::convertible_to<int>;
  { cc.size() } -> std::convertible_to<int>;
  c.all_reduce(data, ReduceOp::sum);
  c.reduce_scatter(data, ReduceOp::sum);
  c.all_gather(data);
  c.broadcast(data, 0);
  c.barrier();
  { c.iall_reduce(data, ReduceOp::sum) } -> std::same_as<Request>;
  { c.split(0, 0) } -> std::same_as<C>;
  c.collectively([] { return 0; });
  c.check_configuration(configuration, "");
}
&&std::constructible_from<C, Environment const&>&& std::is_same_v<typename C::communicator_type, C>;

/// \brief Trait form of the concept, for static_assert messages.
template <class C>
struct is_communicator : std::bool_constant<Communicator<C>> {};

} // namespace loom::comm
