#pragma once

#include <loom/config.hpp>

#include <loom/core/detail/consensus.hpp>

#include <Kokkos_Core.hpp>

#if defined(LOOM_ENABLE_MPI)
#include <mpi.h>
#endif

#include <utility>

namespace loom {

/// \brief The lifetime of the runtimes loom uses, as one object at the top of main():
///        initialises MPI (when loom is built with it) and Kokkos (command-line arguments
///        such as --kokkos-num-threads included) unless the program already did, and
///        finalises what it initialised, Kokkos first.
/// \code
/// int main(int argc, char* argv[]) {
///   loom::Environment env(argc, argv);   // every rank under mpiexec
///   ...
/// }
/// \endcode
/// The processes loom's strategies run over are those of env.comm(): MPI_COMM_WORLD unless
/// another communicator is given.
class Environment {
public:
  Environment(int& argc, char* argv[]) {
#if defined(LOOM_ENABLE_MPI)
    init_mpi(&argc, &argv);
#endif
    if (!Kokkos::is_initialized()) {
      Kokkos::initialize(argc, argv);
      owns_kokkos_ = true;
    }
  }
  Environment() {
#if defined(LOOM_ENABLE_MPI)
    init_mpi(nullptr, nullptr);
#endif
    if (!Kokkos::is_initialized()) {
      Kokkos::initialize();
      owns_kokkos_ = true;
    }
  }
#if defined(LOOM_ENABLE_MPI)
  /// Runs loom's strategies over `comm` (e.g. a sub-communicator of a larger program).
  Environment(int& argc, char* argv[], MPI_Comm comm)
      : Environment(argc, argv) {
    comm_ = comm;
  }
#endif
  ~Environment() {
    if (owns_kokkos_) {
      Kokkos::finalize();
    }
#if defined(LOOM_ENABLE_MPI)
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (owns_mpi_ && !finalized) {
      MPI_Finalize();
    }
#endif
  }
  Environment(Environment const&) = delete;
  Environment& operator=(Environment const&) = delete;

  /// This process's rank in comm() and the number of processes (0 and 1 without MPI).
  int rank() const {
#if defined(LOOM_ENABLE_MPI)
    int rank = 0;
    MPI_Comm_rank(comm_, &rank);
    return rank;
#else
    return 0;
#endif
  }
  int size() const {
#if defined(LOOM_ENABLE_MPI)
    int size = 1;
    MPI_Comm_size(comm_, &size);
    return size;
#else
    return 1;
#endif
  }
  bool is_root() const {
    return rank() == 0;
  }

  /// Runs f on every process; if it throws loom::Error on any process, every process throws
  /// that message (the lowest failing rank's), so that none is left waiting for the others.
  /// \code
  /// auto train = env.collectively([] { return loom::data::fashion_mnist("train"); });
  /// \endcode
  template <class F>
  auto collectively(F&& f) const -> decltype(f()) {
#if defined(LOOM_ENABLE_MPI)
    return detail::collectively(comm_, std::forward<F>(f));
#else
    return f();
#endif
  }

#if defined(LOOM_ENABLE_MPI)
  /// The communicator loom's strategies and communicator policies run over.
  MPI_Comm comm() const {
    return comm_;
  }
#endif

private:
#if defined(LOOM_ENABLE_MPI)
  void init_mpi(int* argc, char*** argv) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
      owns_mpi_ = true;
    }
  }
  MPI_Comm comm_ = MPI_COMM_WORLD;
  bool owns_mpi_ = false;
#endif
  bool owns_kokkos_ = false;
};

} // namespace loom
