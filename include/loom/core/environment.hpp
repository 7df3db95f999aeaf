#pragma once

#include <loom/config.hpp>

#include <loom/core/detail/consensus.hpp>
#include <loom/core/error.hpp>

#include <Kokkos_Core.hpp>

#if defined(LOOM_ENABLE_MPI)
#include <mpi.h>
#endif

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <type_traits>
#include <utility>

namespace loom {

#if defined(LOOM_ENABLE_MPI)
namespace detail {
/// The communicator that std::terminate's handler stops (the Environment's).
inline MPI_Comm& abort_communicator() {
  static MPI_Comm comm = MPI_COMM_WORLD;
  return comm;
}
} // namespace detail
#endif

/// \brief The lifetime of the runtimes loom uses, as one object at the top of main():
///        initialises MPI (when loom is built with it) and Kokkos (command-line arguments
///        such as --kokkos-num-threads included) unless the program already did, and
///        finalises what it initialised, Kokkos first.
/// \code
/// int main(int argc, char* argv[]) {
///   loom::Environment env(argc, argv);   // every rank under mpiexec
///   return env.run([&] {
///     ...                                // an exception here stops every rank with its message
///     return 0;
///   });
/// }
/// \endcode
/// The processes loom's strategies run over are those of env.comm(): MPI_COMM_WORLD unless
/// another communicator is given.
///
/// No rank is left waiting: an exception that ends one rank while the others wait for it in
/// a collective operation stops every rank. run() prints the message (with the rank) and
/// calls MPI_Abort unless every rank raised the error together (Error::collective()); an
/// exception that leaves main() unhandled does the same through std::terminate, and one that
/// unwinds through the Environment calls MPI_Abort.
class Environment {
public:
  Environment(int& argc, char* argv[]) {
    if (argc > 0 && argv != nullptr && argv[0] != nullptr) {
      program_ = argv[0];
      auto const slash = program_.find_last_of('/');
      if (slash != std::string::npos) {
        program_.erase(0, slash + 1);
      }
    }
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
    detail::abort_communicator() = comm;
  }
#endif
  ~Environment() {
#if defined(LOOM_ENABLE_MPI)
    if (std::uncaught_exceptions() > uncaught_at_start_ && mpi_running() && size() > 1) {
      // Other ranks may wait for this one in a collective: finalising would hang them.
      std::fprintf(stderr,
                   "%s: rank %d: an exception is leaving the scope of loom::Environment; stopping "
                   "every rank (loom::Environment::run prints its message)\n",
                   program_.c_str(), rank());
      std::fflush(stderr);
      MPI_Abort(comm_, 1);
    }
#endif
    if (owns_kokkos_) {
      Kokkos::finalize();
    }
#if defined(LOOM_ENABLE_MPI)
    if (owns_mpi_) {
      std::set_terminate(previous_terminate_);
      if (mpi_running()) {
        MPI_Finalize();
      }
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

  /// \brief Runs the body of a program and returns its exit status (its result, or 0 for a
  ///        body that returns nothing). An exception out of it is printed to stderr as
  ///        "<program>: <message>" ("<program>: rank <r>: <message>" on several processes);
  ///        the status is then 1, and, when other processes may be waiting for this one
  ///        (any error but a loom::Error every rank raised together), every process is
  ///        stopped with MPI_Abort.
  template <class F>
  int run(F&& body) {
    bool every_rank = false;
    try {
      if constexpr (std::is_void_v<decltype(body())>) {
        body();
        return 0;
      } else {
        return static_cast<int>(body());
      }
    } catch (Error const& e) {
      report(e.what());
      every_rank = e.collective();
    } catch (std::exception const& e) {
      report(e.what());
    } catch (...) {
      report("an exception that is not a std::exception");
    }
#if defined(LOOM_ENABLE_MPI)
    if (!every_rank && mpi_running() && size() > 1) {
      std::fprintf(stderr, "%s: rank %d: stopping every rank\n", program_.c_str(), rank());
      std::fflush(stderr);
      MPI_Abort(comm_, 1);
    }
#endif
    (void)every_rank;
    return 1;
  }

#if defined(LOOM_ENABLE_MPI)
  /// The communicator loom's strategies and communicator policies run over.
  MPI_Comm comm() const {
    return comm_;
  }
#endif

private:
  void report(char const* message) const {
    std::fflush(stdout);
    if (size() > 1) {
      std::fprintf(stderr, "%s: rank %d: %s\n", program_.c_str(), rank(), message);
    } else {
      std::fprintf(stderr, "%s: %s\n", program_.c_str(), message);
    }
    std::fflush(stderr);
  }

#if defined(LOOM_ENABLE_MPI)
  static bool mpi_running() {
    int initialized = 0;
    int finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    return initialized && !finalized;
  }

  // An exception that leaves main() unhandled: print it and stop every rank, which may be
  // waiting for this one.
  [[noreturn]] static void terminate_handler() {
    std::string message = "std::terminate was called without an active exception";
    if (auto const current = std::current_exception()) {
      try {
        std::rethrow_exception(current);
      } catch (std::exception const& e) {
        message = std::string("uncaught exception: ") + e.what();
      } catch (...) {
        message = "uncaught exception that is not a std::exception";
      }
    }
    int rank = 0;
    if (mpi_running()) {
      MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    }
    std::fflush(stdout);
    std::fprintf(stderr, "loom: rank %d: %s; stopping every rank\n", rank, message.c_str());
    std::fflush(stderr);
    if (mpi_running()) {
      MPI_Abort(detail::abort_communicator(), 1);
    }
    std::abort();
  }

  void init_mpi(int* argc, char*** argv) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
      owns_mpi_ = true;
      previous_terminate_ = std::set_terminate(&terminate_handler);
    }
  }
  MPI_Comm comm_ = MPI_COMM_WORLD;
  bool owns_mpi_ = false;
  std::terminate_handler previous_terminate_ = nullptr;
#endif
  std::string program_ = "loom";
  int uncaught_at_start_ = std::uncaught_exceptions();
  bool owns_kokkos_ = false;
};

} // namespace loom
