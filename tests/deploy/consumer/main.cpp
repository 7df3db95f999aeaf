// A tiny forward pass through an installed loom: the deploy test (tests/deploy) builds this
// against `cmake --install`ed headers and config files and runs it.
#include <loom/config.hpp>

#include <loom/layers/activations.hpp>
#include <loom/layers/dense.hpp>
#include <loom/model/model.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstdio>

// Whether this file was compiled with optimisation: loom::loom adds it where the consumer sets no
// build type, and the deploy test checks what this reports.
#ifdef __OPTIMIZE__
constexpr int optimize = 1;
#else
constexpr int optimize = 0;
#endif

int main(int argc, char* argv[]) {
  Kokkos::ScopeGuard guard(argc, argv);
  int status = 0;
  {
    using Net = loom::Sequential<loom::Input<4>, loom::Dense<3>, loom::ReLU, loom::Dense<2>>;
    loom::Model<Net> m(1);
    Kokkos::View<float**, Kokkos::LayoutRight> x("x", 5, 4);
    Kokkos::deep_copy(x, 0.5F);
    auto y = m.forward(x);
    if (y.extent(0) != 5 || y.extent(1) != 2) {
      std::fprintf(stderr, "loom deploy: expected a 5 x 2 output, got %zu x %zu\n",
                   static_cast<std::size_t>(y.extent(0)), static_cast<std::size_t>(y.extent(1)));
      status = 1;
    } else {
      auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), y);
      for (std::size_t i = 0; i < host.extent(0); ++i) {
        for (std::size_t j = 0; j < host.extent(1); ++j) {
          if (!std::isfinite(host(i, j))) {
            std::fprintf(stderr, "loom deploy: y(%zu, %zu) is not finite\n", i, j);
            status = 1;
          }
        }
      }
    }
    if (status == 0) {
      std::printf("loom deploy: ok (loom %s, Kokkos %d on %s, output 5 x 2) optimize=%d\n",
                  LOOM_VERSION, KOKKOS_VERSION, Kokkos::DefaultExecutionSpace::name(), optimize);
    }
  }
  return status;
}
