#pragma once

#include <Kokkos_Core.hpp>

namespace loom {

/// \brief The lifetime of the runtimes loom uses, as one object at the top of main():
///        initialises Kokkos (command-line arguments such as --kokkos-num-threads included)
///        unless the program already did, and finalises what it initialised.
/// \code
/// int main(int argc, char* argv[]) {
///   loom::Environment env(argc, argv);
///   ...
/// }
/// \endcode
class Environment {
public:
  Environment(int& argc, char* argv[]) {
    if (!Kokkos::is_initialized()) {
      Kokkos::initialize(argc, argv);
      owns_kokkos_ = true;
    }
  }
  Environment() {
    if (!Kokkos::is_initialized()) {
      Kokkos::initialize();
      owns_kokkos_ = true;
    }
  }
  ~Environment() {
    if (owns_kokkos_) {
      Kokkos::finalize();
    }
  }
  Environment(Environment const&) = delete;
  Environment& operator=(Environment const&) = delete;

  /// This process's rank and the number of processes (1 without MPI).
  int rank() const { return 0; }
  int size() const { return 1; }
  bool is_root() const { return rank() == 0; }

private:
  bool owns_kokkos_ = false;
};

} // namespace loom
