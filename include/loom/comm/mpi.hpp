#pragma once

#include <loom/config.hpp>

#include <loom/comm/concepts.hpp>
#include <loom/comm/detail/mpi.hpp>
#include <loom/comm/detail/mpi_base.hpp>
#include <loom/comm/detail/schedule.hpp>
#include <loom/core/environment.hpp>

#include <cstddef>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace loom::comm {

#if defined(LOOM_ENABLE_MPI)
/// \brief Collectives through the MPI library's own algorithms (MPI_Allreduce,
///        MPI_Reduce_scatter, MPI_Allgatherv, MPI_Bcast and their nonblocking forms): the
///        default policy, and the baseline the other policies are measured against.
class Mpi : public detail::MpiBase {
public:
  using communicator_type = Mpi;
  static std::string name() { return "comm::Mpi"; }

  /// \param comm  the MPI communicator to work over (duplicated; the duplicate is freed with
  ///              this object)
  explicit Mpi(MPI_Comm comm)
      : MpiBase(comm, "loom::comm::Mpi") {}
  /// Works over the communicator of loom's strategies, env.comm() (duplicated).
  explicit Mpi(Environment const& env)
      : Mpi(env.comm()) {}

  template <class T>
  void all_reduce(std::span<T> data, ReduceOp op) {
    detail::check_mpi(MPI_Allreduce(MPI_IN_PLACE, data.data(),
                                    detail::mpi_count(data.size(), "MPI_Allreduce"),
                                    detail::mpi_datatype<T>(), detail::mpi_op(op), handle_.get()),
                      "MPI_Allreduce");
    if (op == ReduceOp::average) {
      detail::divide(data, size());
    }
  }
  template <class T>
  Request iall_reduce(std::span<T> data, ReduceOp op) {
    MPI_Request request;
    detail::check_mpi(
        MPI_Iallreduce(MPI_IN_PLACE, data.data(), detail::mpi_count(data.size(), "MPI_Iallreduce"),
                       detail::mpi_datatype<T>(), detail::mpi_op(op), handle_.get(), &request),
        "MPI_Iallreduce");
    int const size = this->size();
    return detail::make_request(request, [data, op, size] {
      if (op == ReduceOp::average) {
        detail::divide(data, size);
      }
    });
  }

  template <class T>
  void reduce_scatter(std::span<T> data, ReduceOp op) {
    ireduce_scatter(data, op).wait();
  }
  template <class T>
  Request ireduce_scatter(std::span<T> data, ReduceOp op) {
    auto counts = std::make_shared<std::vector<int>>(counts_of(data.size()));
    MPI_Request request;
    detail::check_mpi(MPI_Ireduce_scatter(MPI_IN_PLACE, data.data(), counts->data(),
                                          detail::mpi_datatype<T>(), detail::mpi_op(op),
                                          handle_.get(), &request),
                      "MPI_Ireduce_scatter");
    // In place, MPI leaves this rank's result at the start of the buffer: move it to its block.
    Block const mine = block(data.size(), rank(), size());
    int const size = this->size();
    return detail::make_request(request, [data, op, size, mine, counts] {
      if (mine.begin > 0 && mine.count > 0) {
        std::memmove(data.data() + mine.begin, data.data(), mine.count * sizeof(T));
      }
      if (op == ReduceOp::average) {
        detail::divide(data.subspan(mine.begin, mine.count), size);
      }
    });
  }

  template <class T>
  void all_gather(std::span<T> data) {
    iall_gather(data).wait();
  }
  template <class T>
  Request iall_gather(std::span<T> data) {
    auto counts = std::make_shared<std::vector<int>>(counts_of(data.size()));
    auto displacements = std::make_shared<std::vector<int>>(counts->size());
    for (int r = 0; r < size(); ++r) {
      (*displacements)[r] = static_cast<int>(block(data.size(), r, size()).begin);
    }
    MPI_Request request;
    detail::check_mpi(MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, data.data(),
                                      counts->data(), displacements->data(),
                                      detail::mpi_datatype<T>(), handle_.get(), &request),
                      "MPI_Iallgatherv");
    return detail::make_request(request, [counts, displacements] {});
  }

  /// A communicator over the ranks that pass the same color, ordered by key.
  Mpi split(int color, int key) const { return Mpi(handle_.split(color, key)); }

private:
  explicit Mpi(detail::CommHandle handle)
      : MpiBase(std::move(handle)) {}

  std::vector<int> counts_of(std::size_t n) const {
    detail::mpi_count(n, "a collective");
    std::vector<int> counts(static_cast<std::size_t>(size()));
    for (int r = 0; r < size(); ++r) {
      counts[static_cast<std::size_t>(r)] = static_cast<int>(block(n, r, size()).count);
    }
    return counts;
  }
};
#else
/// \brief Declared without definition when loom is configured with LOOM_ENABLE_MPI=OFF;
///        communicate with comm::Self, or reconfigure loom with MPI.
class Mpi;
#endif

} // namespace loom::comm
