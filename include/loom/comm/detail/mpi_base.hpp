#pragma once

// What the MPI-based communicator policies share: the duplicated communicator, point-to-point
// messages, broadcast and barrier through the MPI library, and the scratch pool and tags
// their schedules use.

#include <loom/config.hpp>

#include <loom/comm/concepts.hpp>
#include <loom/comm/detail/mpi.hpp>
#include <loom/comm/detail/schedule.hpp>
#include <loom/core/detail/consensus.hpp>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#if defined(LOOM_ENABLE_MPI)
namespace loom::comm::detail {

class MpiBase {
public:
  int rank() const { return handle_.rank(); }
  int size() const { return handle_.size(); }
  /// The duplicated MPI communicator (for interoperation; do not free it).
  MPI_Comm mpi_comm() const { return handle_.get(); }

  template <class T>
  void send(std::span<T const> data, int dest, int tag) {
    check_tag(tag);
    check_mpi(MPI_Send(data.data(), mpi_count(data.size(), "MPI_Send"), mpi_datatype<T>(), dest,
                       tag, handle_.get()),
              "MPI_Send");
  }
  template <class T>
  void send(std::span<T> data, int dest, int tag) {
    send(std::span<T const>(data), dest, tag);
  }
  template <class T>
  void recv(std::span<T> data, int source, int tag) {
    check_tag(tag);
    check_mpi(MPI_Recv(data.data(), mpi_count(data.size(), "MPI_Recv"), mpi_datatype<T>(), source,
                       tag, handle_.get(), MPI_STATUS_IGNORE),
              "MPI_Recv");
  }
  template <class T>
  Request isend(std::span<T const> data, int dest, int tag) {
    check_tag(tag);
    MPI_Request request;
    check_mpi(MPI_Isend(data.data(), mpi_count(data.size(), "MPI_Isend"), mpi_datatype<T>(), dest,
                        tag, handle_.get(), &request),
              "MPI_Isend");
    return make_request(request, [] {});
  }
  template <class T>
  Request isend(std::span<T> data, int dest, int tag) {
    return isend(std::span<T const>(data), dest, tag);
  }
  template <class T>
  Request irecv(std::span<T> data, int source, int tag) {
    check_tag(tag);
    MPI_Request request;
    check_mpi(MPI_Irecv(data.data(), mpi_count(data.size(), "MPI_Irecv"), mpi_datatype<T>(), source,
                        tag, handle_.get(), &request),
              "MPI_Irecv");
    return make_request(
        request, [] {}, true);
  }

  template <class T>
  void broadcast(std::span<T> data, int root) {
    check_mpi(MPI_Bcast(data.data(), mpi_count(data.size(), "MPI_Bcast"), mpi_datatype<T>(), root,
                        handle_.get()),
              "MPI_Bcast");
  }
  template <class T>
  Request ibroadcast(std::span<T> data, int root) {
    MPI_Request request;
    check_mpi(MPI_Ibcast(data.data(), mpi_count(data.size(), "MPI_Ibcast"), mpi_datatype<T>(), root,
                         handle_.get(), &request),
              "MPI_Ibcast");
    return make_request(request, [] {});
  }

  void barrier() { check_mpi(MPI_Barrier(handle_.get()), "MPI_Barrier"); }

  /// Runs f on every rank; a loom::Error on any rank becomes that error on every rank.
  template <class F>
  auto collectively(F&& f) -> decltype(f()) {
    return loom::detail::collectively(handle_.get(), std::forward<F>(f));
  }
  /// Every rank stops with the same message if any rank's configuration differs from rank 0's.
  void check_configuration(loom::detail::Configuration const& configuration, char const* who) {
    loom::detail::check_same_configuration(handle_.get(), configuration, who);
  }

protected:
  MpiBase(MPI_Comm comm, char const* who)
      : handle_(comm, who)
      , pool_(std::make_unique<BufferPool>()) {}
  explicit MpiBase(CommHandle handle)
      : handle_(std::move(handle))
      , pool_(std::make_unique<BufferPool>()) {}

  // Runs a schedule built for this rank, blocking: small messages by one MPI_Sendrecv a step
  // without allocating, large ones segmented as start() does.
  template <class T>
  void run(std::span<T> data, std::vector<Step> steps, ReduceOp op) {
    std::size_t largest = 0;
    for (Step const& step : steps) {
      largest = std::max({largest, step.send_count, step.recv_count});
    }
    if (largest * sizeof(T) > segment_bytes) {
      start(data, std::move(steps), op).wait();
      return;
    }
    int const tag = first_collective_tag + static_cast<int>(sequence_++ % collective_tags);
    run_blocking(handle_.get(), tag, data, steps, op, size(), scratch_);
  }

  // Runs a schedule built for this rank, nonblocking; wait() on the result to block.
  template <class T>
  Request start(std::span<T> data, std::vector<Step> steps, ReduceOp op) {
    int const tag = first_collective_tag + static_cast<int>(sequence_++ % collective_tags);
    return Request(std::make_unique<ScheduleOperation<T>>(handle_.get(), tag, data,
                                                          std::move(steps), op, size(), *pool_));
  }

  static void check_tag(int tag) {
    if (tag < 0 || tag > max_user_tag) {
      loom::detail::fail("loom::comm: message tag ", tag, " is outside [0, ", max_user_tag,
                         "]; larger tags are reserved for loom's collectives");
    }
  }

  CommHandle handle_;
  std::unique_ptr<BufferPool> pool_; // a pointer: operations hold on to it across moves
  std::vector<std::byte> scratch_;   // for blocking collectives
  unsigned long long sequence_ = 0;
};

} // namespace loom::comm::detail
#endif
