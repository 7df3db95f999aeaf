#pragma once

// MPI plumbing shared by the MPI-based communicator policies: error checking, datatypes,
// and the duplicated communicator each policy owns.

#include <loom/config.hpp>

#include <loom/comm/concepts.hpp>
#include <loom/core/error.hpp>

#if defined(LOOM_ENABLE_MPI)
#include <mpi.h>
#endif

#include <climits>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>

#if defined(LOOM_ENABLE_MPI)
namespace loom::comm::detail {

inline std::string mpi_error_string(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) {
    return "MPI error " + std::to_string(code);
  }
  return std::string(text, static_cast<std::size_t>(length));
}

inline int world_rank() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  int rank = -1;
  if (initialized) {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  }
  return rank;
}

/// Throws loom::Error naming the MPI call and this process's rank when `code` is an error.
inline void check_mpi(int code, char const* call) {
  if (code != MPI_SUCCESS) {
    loom::detail::fail("loom::comm: ", call, " failed on rank ", world_rank(), ": ",
                       mpi_error_string(code));
  }
}

template <class T>
MPI_Datatype mpi_datatype() {
  if constexpr (std::is_same_v<T, float>) {
    return MPI_FLOAT;
  } else if constexpr (std::is_same_v<T, double>) {
    return MPI_DOUBLE;
  } else if constexpr (std::is_same_v<T, std::int32_t>) {
    return MPI_INT32_T;
  } else if constexpr (std::is_same_v<T, std::int64_t>) {
    return MPI_INT64_T;
  } else if constexpr (std::is_same_v<T, std::uint64_t>) {
    return MPI_UINT64_T;
  } else if constexpr (std::is_same_v<T, std::byte> || std::is_same_v<T, std::uint8_t>) {
    return MPI_BYTE;
  } else {
    static_assert(loom::detail::always_false<T>,
                  "loom::comm: element types are float, double, std::int32_t, std::int64_t, "
                  "std::uint64_t and std::byte");
    return MPI_DATATYPE_NULL;
  }
}

inline MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
  case ReduceOp::max:
    return MPI_MAX;
  case ReduceOp::min:
    return MPI_MIN;
  default:
    return MPI_SUM; // average divides afterwards
  }
}

/// An MPI element count: MPI-3 counts are int.
inline int mpi_count(std::size_t n, char const* call) {
  if (n > static_cast<std::size_t>(INT_MAX)) {
    loom::detail::fail("loom::comm: ", call, " of ", n, " elements exceeds MPI's limit of ",
                       INT_MAX, " per message; split the buffer");
  }
  return static_cast<int>(n);
}

/// A duplicate of the communicator a policy was given, freed with it. Errors return codes
/// (MPI_ERRORS_RETURN) so that loom can report them as loom::Error.
class CommHandle {
public:
  explicit CommHandle(MPI_Comm comm, char const* who) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      loom::detail::fail(who, ": MPI is not initialized; create a loom::Environment (or call "
                              "MPI_Init) first");
    }
    check_mpi(MPI_Comm_dup(comm, &comm_), "MPI_Comm_dup");
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  /// Takes ownership of an already created communicator (from MPI_Comm_split).
  static CommHandle adopt(MPI_Comm comm) {
    CommHandle handle;
    handle.comm_ = comm;
    MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm, &handle.rank_);
    MPI_Comm_size(comm, &handle.size_);
    return handle;
  }
  CommHandle(CommHandle&& other) noexcept
      : comm_(std::exchange(other.comm_, MPI_COMM_NULL))
      , rank_(other.rank_)
      , size_(other.size_) {}
  CommHandle& operator=(CommHandle&& other) noexcept {
    if (this != &other) {
      release();
      comm_ = std::exchange(other.comm_, MPI_COMM_NULL);
      rank_ = other.rank_;
      size_ = other.size_;
    }
    return *this;
  }
  CommHandle(CommHandle const&) = delete;
  CommHandle& operator=(CommHandle const&) = delete;
  ~CommHandle() { release(); }

  MPI_Comm get() const { return comm_; }
  int rank() const { return rank_; }
  int size() const { return size_; }

  /// MPI_Comm_split of this communicator, owned by the result.
  CommHandle split(int color, int key) const {
    MPI_Comm out = MPI_COMM_NULL;
    check_mpi(MPI_Comm_split(comm_, color, key, &out), "MPI_Comm_split");
    return adopt(out);
  }

private:
  CommHandle() = default;
  void release() noexcept {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (comm_ != MPI_COMM_NULL && !finalized) {
      MPI_Comm_free(&comm_);
    }
    comm_ = MPI_COMM_NULL;
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
};

/// Nonblocking MPI calls as a comm::Request: MPI_Test to advance, MPI_Waitall to finish, then
/// an optional completion step (the division of an average, moving a reduce-scatter result).
template <class Complete>
class MpiOperation final : public Operation {
public:
  MpiOperation(MPI_Request request, Complete complete, bool cancellable)
      : request_(request)
      , complete_(std::move(complete))
      , cancellable_(cancellable) {}
  ~MpiOperation() override {
    if (request_ != MPI_REQUEST_NULL) {
      MPI_Wait(&request_, MPI_STATUS_IGNORE);
    }
  }
  bool advance() override {
    int flag = 0;
    check_mpi(MPI_Test(&request_, &flag, MPI_STATUS_IGNORE), "MPI_Test");
    if (flag) {
      complete_();
    }
    return flag != 0;
  }
  void finish() override {
    check_mpi(MPI_Wait(&request_, MPI_STATUS_IGNORE), "MPI_Wait");
    complete_();
  }
  bool cancel() override {
    if (!cancellable_) {
      return false;
    }
    // A receive: cancelled, or complete if a message matched it first.
    check_mpi(MPI_Cancel(&request_), "MPI_Cancel");
    check_mpi(MPI_Wait(&request_, MPI_STATUS_IGNORE), "MPI_Wait");
    return true;
  }

private:
  MPI_Request request_;
  Complete complete_;
  bool cancellable_;
};

/// `cancellable`: a point-to-point receive, which Request::cancel() may abandon.
template <class Complete>
Request make_request(MPI_Request request, Complete complete, bool cancellable = false) {
  return Request(
      std::make_unique<MpiOperation<Complete>>(request, std::move(complete), cancellable));
}

} // namespace loom::comm::detail
#endif
