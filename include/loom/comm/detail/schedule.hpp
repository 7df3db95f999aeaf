#pragma once

// Collectives written on point-to-point messages, as schedules: a list of steps, each sending
// one range of the buffer to a peer and receiving another range from a peer, then combining
// (reduce) or storing (copy) what arrived. comm::Ring and comm::RecursiveHalving differ only
// in the schedules they build; one executor runs them, blocking or nonblocking, splitting
// large messages into segments so that combining one overlaps the arrival of the next.

#include <loom/config.hpp>

#include <loom/comm/concepts.hpp>
#include <loom/comm/detail/mpi.hpp>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <mutex>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(LOOM_ENABLE_MPI)
namespace loom::comm::detail {

/// One step of a schedule; a peer of -1 means no message in that direction.
struct Step {
  int send_to = -1;
  std::size_t send_begin = 0;
  std::size_t send_count = 0;
  int recv_from = -1;
  std::size_t recv_begin = 0;
  std::size_t recv_count = 0;
  bool reduce = true; ///< combine what arrives into the buffer; false: store it
};

/// How steps combine: sum (also for average, divided at the end), max, min; bytes are combined
/// with bitwise or (all_gather built on all_reduce: every other rank contributes zeros).
template <class T>
void combine(T* out, T const* in, std::size_t n, ReduceOp op) {
  if constexpr (std::is_same_v<T, std::byte>) {
    for (std::size_t i = 0; i < n; ++i) {
      out[i] |= in[i];
    }
  } else if (op == ReduceOp::max) {
    for (std::size_t i = 0; i < n; ++i) {
      out[i] = in[i] > out[i] ? in[i] : out[i];
    }
  } else if (op == ReduceOp::min) {
    for (std::size_t i = 0; i < n; ++i) {
      out[i] = in[i] < out[i] ? in[i] : out[i];
    }
  } else {
    for (std::size_t i = 0; i < n; ++i) {
      out[i] += in[i];
    }
  }
}

template <class T>
void divide(std::span<T> data, int size) {
  if constexpr (std::is_floating_point_v<T>) {
    T const inverse = T(1) / T(size);
    for (T& value : data) {
      value *= inverse;
    }
  }
}

/// Scratch buffers a communicator keeps and lends to its operations: steady-state steps
/// allocate nothing.
class BufferPool {
public:
  std::vector<std::byte> take(std::size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = free_.begin(); it != free_.end(); ++it) {
      if (it->size() >= bytes) {
        std::vector<std::byte> buffer = std::move(*it);
        free_.erase(it);
        return buffer;
      }
    }
    return std::vector<std::byte>(bytes);
  }
  void give(std::vector<std::byte> buffer) {
    std::lock_guard<std::mutex> lock(mutex_);
    free_.push_back(std::move(buffer));
  }

private:
  std::mutex mutex_;
  std::vector<std::vector<std::byte>> free_;
};

/// Messages up to this size go in one piece; larger ones in segments of this size.
inline constexpr std::size_t segment_bytes = std::size_t{1} << 20;

/// Runs a schedule over `data`: posts each step's receives and sends (in segments), combines
/// segments as they arrive, and moves to the next step when all of the step's messages are
/// complete.
template <class T>
class ScheduleOperation final : public Operation {
public:
  ScheduleOperation(MPI_Comm comm, int tag, std::span<T> data, std::vector<Step> steps, ReduceOp op,
                    int size, BufferPool& pool)
      : comm_(comm)
      , tag_(tag)
      , data_(data)
      , steps_(std::move(steps))
      , op_(op)
      , size_(size)
      , pool_(&pool) {
    std::size_t scratch = 0;
    for (Step const& step : steps_) {
      if (step.recv_from >= 0 && step.reduce) {
        scratch = std::max(scratch, step.recv_count);
      }
    }
    if (scratch > 0) {
      scratch_ = pool_->take(scratch * sizeof(T));
    }
  }
  ~ScheduleOperation() override {
    cancel_outstanding();
    if (!scratch_.empty()) {
      pool_->give(std::move(scratch_));
    }
  }
  ScheduleOperation(ScheduleOperation const&) = delete;
  ScheduleOperation& operator=(ScheduleOperation const&) = delete;

  bool advance() override { return run(false); }
  void finish() override { run(true); }

private:
  static constexpr std::size_t segment = std::max<std::size_t>(1, segment_bytes / sizeof(T));

  T* scratch() { return reinterpret_cast<T*>(scratch_.data()); }

  void post(Step const& step) {
    receives_.clear();
    sends_.clear();
    next_receive_ = 0;
    MPI_Datatype const type = mpi_datatype<T>();
    if (step.recv_from >= 0 && step.recv_count > 0) {
      T* target = step.reduce ? scratch() : data_.data() + step.recv_begin;
      for (std::size_t first = 0; first < step.recv_count; first += segment) {
        std::size_t const n = std::min(segment, step.recv_count - first);
        MPI_Request request;
        check_mpi(MPI_Irecv(target + first, static_cast<int>(n), type, step.recv_from, tag_, comm_,
                            &request),
                  "MPI_Irecv");
        receives_.push_back(request);
      }
    }
    if (step.send_to >= 0 && step.send_count > 0) {
      T const* source = data_.data() + step.send_begin;
      for (std::size_t first = 0; first < step.send_count; first += segment) {
        std::size_t const n = std::min(segment, step.send_count - first);
        MPI_Request request;
        check_mpi(MPI_Isend(source + first, static_cast<int>(n), type, step.send_to, tag_, comm_,
                            &request),
                  "MPI_Isend");
        sends_.push_back(request);
      }
    }
    posted_ = true;
  }

  // Advances through the steps; with `block`, waits instead of testing.
  bool run(bool block) {
    while (current_ < steps_.size()) {
      Step const& step = steps_[current_];
      if (!posted_) {
        post(step);
      }
      // Combining into a range that is also being sent must wait until the send is done.
      bool const overlapping = step.reduce && step.send_to >= 0 && step.recv_from >= 0 &&
                               step.send_begin < step.recv_begin + step.recv_count &&
                               step.recv_begin < step.send_begin + step.send_count;
      if (overlapping && !complete_sends(block)) {
        return false;
      }
      while (next_receive_ < receives_.size()) {
        MPI_Request& request = receives_[next_receive_];
        if (block) {
          check_mpi(MPI_Wait(&request, MPI_STATUS_IGNORE), "MPI_Wait");
        } else {
          int flag = 0;
          check_mpi(MPI_Test(&request, &flag, MPI_STATUS_IGNORE), "MPI_Test");
          if (!flag) {
            return false;
          }
        }
        if (step.reduce) {
          std::size_t const first = next_receive_ * segment;
          std::size_t const n = std::min(segment, step.recv_count - first);
          combine(data_.data() + step.recv_begin + first, scratch() + first, n, op_);
        }
        ++next_receive_;
      }
      if (!complete_sends(block)) {
        return false;
      }
      ++current_;
      posted_ = false;
    }
    if (!finished_) {
      finished_ = true;
      if (op_ == ReduceOp::average) {
        divide(data_, size_);
      }
    }
    return true;
  }

  bool complete_sends(bool block) {
    if (sends_.empty()) {
      return true;
    }
    if (block) {
      check_mpi(MPI_Waitall(static_cast<int>(sends_.size()), sends_.data(), MPI_STATUSES_IGNORE),
                "MPI_Waitall");
    } else {
      int flag = 0;
      check_mpi(
          MPI_Testall(static_cast<int>(sends_.size()), sends_.data(), &flag, MPI_STATUSES_IGNORE),
          "MPI_Testall");
      if (!flag) {
        return false;
      }
    }
    sends_.clear();
    return true;
  }

  // Requests still in flight when an operation is abandoned (an exception) complete before
  // the buffers go away.
  void cancel_outstanding() noexcept {
    for (std::size_t i = next_receive_; i < receives_.size(); ++i) {
      MPI_Wait(&receives_[i], MPI_STATUS_IGNORE);
    }
    if (!sends_.empty()) {
      MPI_Waitall(static_cast<int>(sends_.size()), sends_.data(), MPI_STATUSES_IGNORE);
    }
  }

  MPI_Comm comm_;
  int tag_;
  std::span<T> data_;
  std::vector<Step> steps_;
  ReduceOp op_;
  int size_;
  BufferPool* pool_;
  std::vector<std::byte> scratch_;
  std::vector<MPI_Request> receives_;
  std::vector<MPI_Request> sends_;
  std::size_t current_ = 0;
  std::size_t next_receive_ = 0;
  bool posted_ = false;
  bool finished_ = false;
};

/// Tags of schedule messages: one per operation, in a range above the tags users send with,
/// so that concurrent operations on one communicator never match each other's messages.
inline constexpr int first_collective_tag = 16384;
inline constexpr int collective_tags = 16384;
inline constexpr int max_user_tag = first_collective_tag - 1;

} // namespace loom::comm::detail
#endif
