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
#include <climits>
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

/// How steps combine: sum (also for average, divided at the end), max, min; bytes with bitwise
/// or (all_gather built on all_reduce: every other rank contributes zeros). Through
/// MPI_Reduce_local, which runs the MPI library's own vectorised reduction kernels.
template <class T>
void combine(T* out, T const* in, std::size_t n, ReduceOp op) {
  MPI_Op const mpi = std::is_same_v<T, std::byte> ? MPI_BOR : mpi_op(op);
  for (std::size_t first = 0; first < n;) {
    std::size_t const count = std::min<std::size_t>(n - first, INT_MAX);
    check_mpi(
        MPI_Reduce_local(in + first, out + first, static_cast<int>(count), mpi_datatype<T>(), mpi),
        "MPI_Reduce_local");
    first += count;
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

/// Runs a schedule over `data`, nonblocking: posts each step's receives and sends in
/// segments and combines segments as they arrive. It also looks one step ahead: a segment the
/// next step sends goes out as soon as the segment of this step that produces it is combined,
/// and the next step's receives are posted early, so that the steps overlap instead of
/// running one after the other.
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
        scratch = std::max(scratch, slots(step) * segment);
      }
    }
    if (scratch > 0) {
      scratch_ = pool_->take(2 * scratch * sizeof(T)); // two: this step's and the next's
      scratch_elements_ = scratch;
    }
    if (!steps_.empty()) {
      open(current_, 0);
    }
  }
  ~ScheduleOperation() override {
    cancel(current_);
    cancel(next_);
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
  // A step that receives more than `spread` segments into scratch keeps only `window` of them
  // in flight, in slots reused in turn, so that combining reads them from cache rather than
  // from memory (64 MiB on 2 ranks: about 1.2x the bandwidth); smaller steps post every
  // receive at once, which keeps the peer's sends flowing.
  static constexpr std::size_t window = 4;
  static constexpr std::size_t spread = 8;

  // One step's messages in flight.
  struct InFlight {
    std::size_t index = 0;
    bool open = false;
    bool receives_posted = false;
    std::vector<MPI_Request> receives; // one a segment, in order
    std::size_t received = 0;          // segments received (and combined)
    std::size_t receives_total = 0;    // segments to receive
    std::vector<MPI_Request> sends;
    std::size_t sends_posted = 0; // segments of the send range posted
  };

  static std::size_t segments(std::size_t count) { return (count + segment - 1) / segment; }
  // Scratch slots of one segment each that `step`'s receives land in.
  static std::size_t slots(Step const& step) {
    std::size_t const n = segments(step.recv_count);
    return n > spread ? window : n;
  }
  static bool overlap(std::size_t a, std::size_t a_count, std::size_t b, std::size_t b_count) {
    return a < b + b_count && b < a + a_count;
  }
  T* scratch_for(std::size_t index) {
    return reinterpret_cast<T*>(scratch_.data()) + (index % 2) * scratch_elements_;
  }

  void open(InFlight& f, std::size_t index) {
    f = InFlight{};
    f.index = index;
    f.open = true;
  }

  // Posts the receives of `f` that may go: all of them when they land in the buffer, a window
  // of them when they land in scratch (a slot frees up once its segment is combined).
  void post_receives(InFlight& f) {
    Step const& step = steps_[f.index];
    if (!f.receives_posted) {
      f.receives_posted = true;
      f.receives_total = step.recv_from >= 0 ? segments(step.recv_count) : 0;
    }
    std::size_t const limit =
        step.reduce ? std::min(f.receives_total, f.received + slots(step)) : f.receives_total;
    while (f.receives.size() < limit) {
      std::size_t const k = f.receives.size();
      std::size_t const first = k * segment;
      std::size_t const n = std::min(segment, step.recv_count - first);
      T* target = step.reduce ? scratch_for(f.index) + (k % slots(step)) * segment
                              : data_.data() + step.recv_begin + first;
      MPI_Request request;
      check_mpi(MPI_Irecv(target, static_cast<int>(n), mpi_datatype<T>(), step.recv_from, tag_,
                          comm_, &request),
                "MPI_Irecv");
      f.receives.push_back(request);
    }
  }

  // Posts the sends of `f` whose data is final: all of them for the current step; for the next
  // step, those not written by the current step's receives, or already combined there.
  void post_ready_sends(InFlight& f, InFlight const* producer) {
    Step const& step = steps_[f.index];
    if (step.send_to < 0) {
      return;
    }
    std::size_t const total = segments(step.send_count);
    while (f.sends_posted < total) {
      std::size_t const first = f.sends_posted * segment;
      std::size_t const n = std::min(segment, step.send_count - first);
      std::size_t const begin = step.send_begin + first;
      if (producer) {
        Step const& p = steps_[producer->index];
        if (p.recv_from >= 0 && overlap(begin, n, p.recv_begin, p.recv_count)) {
          std::size_t const done = std::min(p.recv_count, producer->received * segment);
          if (std::min(begin + n, p.recv_begin + p.recv_count) > p.recv_begin + done) {
            return; // not combined yet
          }
        }
      }
      MPI_Request request;
      check_mpi(MPI_Isend(data_.data() + begin, static_cast<int>(n), mpi_datatype<T>(),
                          step.send_to, tag_, comm_, &request),
                "MPI_Isend");
      f.sends.push_back(request);
      ++f.sends_posted;
    }
  }

  // What can start of the step after the current one.
  void look_ahead() {
    std::size_t const index = current_.index + 1;
    if (index >= steps_.size()) {
      return;
    }
    Step const& now = steps_[current_.index];
    Step const& step = steps_[index];
    // Messages to one peer are matched in the order they are posted: the next step may only
    // start once the current one has posted all of its own.
    if (!next_.open) {
      open(next_, index);
    }
    bool const safe = step.reduce || step.recv_from < 0 ||
                      (!overlap(step.recv_begin, step.recv_count, now.send_begin, now.send_count) &&
                       !overlap(step.recv_begin, step.recv_count, now.recv_begin, now.recv_count));
    if (!safe) {
      return;
    }
    if (current_.receives.size() == current_.receives_total) {
      post_receives(next_);
    }
    post_ready_sends(next_, &current_);
  }

  bool complete_sends(InFlight& f, bool block) {
    if (f.sends.empty()) {
      return true;
    }
    if (block) {
      check_mpi(MPI_Waitall(static_cast<int>(f.sends.size()), f.sends.data(), MPI_STATUSES_IGNORE),
                "MPI_Waitall");
    } else {
      int flag = 0;
      check_mpi(
          MPI_Testall(static_cast<int>(f.sends.size()), f.sends.data(), &flag, MPI_STATUSES_IGNORE),
          "MPI_Testall");
      if (!flag) {
        return false;
      }
    }
    f.sends.clear();
    return true;
  }

  // Advances through the steps; with `block`, waits instead of testing.
  bool run(bool block) {
    while (current_.open) {
      Step const& step = steps_[current_.index];
      post_receives(current_);
      post_ready_sends(current_, nullptr);
      look_ahead();
      // Combining into a range that is also being sent must wait until the send is done.
      bool const overlapping =
          step.reduce && step.send_to >= 0 && step.recv_from >= 0 &&
          overlap(step.send_begin, step.send_count, step.recv_begin, step.recv_count);
      if (overlapping && !complete_sends(current_, block)) {
        return false;
      }
      while (current_.received < current_.receives_total) {
        MPI_Request& request = current_.receives[current_.received];
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
          std::size_t const first = current_.received * segment;
          std::size_t const n = std::min(segment, step.recv_count - first);
          combine(data_.data() + step.recv_begin + first,
                  scratch_for(current_.index) + (current_.received % slots(step)) * segment, n,
                  op_);
        }
        ++current_.received;
        post_receives(current_); // the freed scratch slot takes a later segment
        look_ahead();
      }
      if (!complete_sends(current_, block)) {
        return false;
      }
      if (next_.open) {
        current_ = std::move(next_);
        next_ = InFlight{};
      } else if (current_.index + 1 < steps_.size()) {
        open(current_, current_.index + 1);
      } else {
        current_.open = false;
      }
    }
    if (!finished_) {
      finished_ = true;
      if (op_ == ReduceOp::average) {
        divide(data_, size_);
      }
    }
    return true;
  }

  // Requests still in flight when an operation is abandoned (an exception) complete before
  // the buffers go away.
  static void cancel(InFlight& f) noexcept {
    for (std::size_t i = f.received; i < f.receives.size(); ++i) {
      MPI_Wait(&f.receives[i], MPI_STATUS_IGNORE);
    }
    if (!f.sends.empty()) {
      MPI_Waitall(static_cast<int>(f.sends.size()), f.sends.data(), MPI_STATUSES_IGNORE);
    }
    f.receives.clear();
    f.sends.clear();
  }

  MPI_Comm comm_;
  int tag_;
  std::span<T> data_;
  std::vector<Step> steps_;
  ReduceOp op_;
  int size_;
  BufferPool* pool_;
  std::vector<std::byte> scratch_;
  std::size_t scratch_elements_ = 0;
  InFlight current_;
  InFlight next_;
  bool finished_ = false;
};

/// Runs a schedule to completion with one MPI_Sendrecv a step: for messages no larger than a
/// segment, without the allocations of a nonblocking operation. `scratch` is reused.
template <class T>
void run_blocking(MPI_Comm comm, int tag, std::span<T> data, std::vector<Step> const& steps,
                  ReduceOp op, int size, std::vector<std::byte>& scratch) {
  MPI_Datatype const type = mpi_datatype<T>();
  for (Step const& step : steps) {
    bool const sends = step.send_to >= 0 && step.send_count > 0;
    bool const receives = step.recv_from >= 0 && step.recv_count > 0;
    T* target = data.data() + step.recv_begin;
    if (receives && step.reduce) {
      if (scratch.size() < step.recv_count * sizeof(T)) {
        scratch.resize(step.recv_count * sizeof(T));
      }
      target = reinterpret_cast<T*>(scratch.data());
    }
    if (sends && receives) {
      check_mpi(MPI_Sendrecv(data.data() + step.send_begin, static_cast<int>(step.send_count), type,
                             step.send_to, tag, target, static_cast<int>(step.recv_count), type,
                             step.recv_from, tag, comm, MPI_STATUS_IGNORE),
                "MPI_Sendrecv");
    } else if (sends) {
      check_mpi(MPI_Send(data.data() + step.send_begin, static_cast<int>(step.send_count), type,
                         step.send_to, tag, comm),
                "MPI_Send");
    } else if (receives) {
      check_mpi(MPI_Recv(target, static_cast<int>(step.recv_count), type, step.recv_from, tag, comm,
                         MPI_STATUS_IGNORE),
                "MPI_Recv");
    }
    if (receives && step.reduce) {
      combine(data.data() + step.recv_begin, target, step.recv_count, op);
    }
  }
  if (op == ReduceOp::average) {
    divide(data, size);
  }
}

/// Tags of schedule messages: one per operation, in a range above the tags users send with,
/// so that concurrent operations on one communicator never match each other's messages.
inline constexpr int first_collective_tag = 16384;
inline constexpr int collective_tags = 16384;
inline constexpr int max_user_tag = first_collective_tag - 1;

} // namespace loom::comm::detail
#endif
