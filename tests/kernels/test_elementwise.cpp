#include <loom/kernels/elementwise.hpp>
#include <loom/layers/activations.hpp>

#include <gtest/gtest.h>

#include "loom_test.hpp"

namespace {

using namespace loom;
using ExecutionSpace = test::ExecutionSpace;
using Memory = test::MemorySpace;
using Mat = Kokkos::View<double**, Kokkos::LayoutRight, Memory>;
using Vec = Kokkos::View<double*, Kokkos::LayoutRight, Memory>;

TEST(elementwise, bias_activation_forward_and_backward_by_hand) {
  Mat z("z", 3, 2);
  Vec b("b", 2), db("db", 2);
  auto hz = Kokkos::create_mirror_view(z);
  double const zv[] = {1, -2, -3, 4, 0.5, 0.5};
  std::copy(zv, zv + 6, hz.data());
  Kokkos::deep_copy(z, hz);
  auto hb = Kokkos::create_mirror_view(b);
  hb(0) = 0.5;
  hb(1) = 1.0;
  Kokkos::deep_copy(b, hb);
  ExecutionSpace space;
  kernels::bias_activation_forward<ReLU>(space, z, b, z); // in place
  auto y = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), z);
  double const expected[] = {1.5, 0, 0, 5, 1, 1.5};
  for (int k = 0; k < 6; ++k) {
    EXPECT_EQ(y.data()[k], expected[k]) << k;
  }
  Mat dy("dy", 3, 2);
  Kokkos::deep_copy(dy, 2.0);
  Kokkos::deep_copy(db, 10.0);
  kernels::bias_activation_backward<ReLU>(space, z, dy, db, 1.0, 1.0); // accumulate into db
  auto hdy = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), dy);
  auto hdb = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), db);
  double const dz[] = {2, 0, 0, 2, 2, 2};
  for (int k = 0; k < 6; ++k) {
    EXPECT_EQ(hdy.data()[k], dz[k]) << k;
  }
  EXPECT_EQ(hdb(0), 14.0);
  EXPECT_EQ(hdb(1), 14.0);
}

TEST(elementwise, bias_gradient_is_independent_of_thread_count) {
  // 300 rows × 100 columns: sums run in row order per column whatever the backend.
  Mat saved("s", 300, 100), dy("dy", 300, 100);
  Vec db("db", 100);
  auto hs = Kokkos::create_mirror_view(saved);
  for (std::size_t k = 0; k < hs.size(); ++k) {
    hs.data()[k] = std::sin(0.37 * double(k));
  }
  Kokkos::deep_copy(saved, hs);
  Kokkos::deep_copy(dy, saved);
  kernels::bias_activation_backward<Tanh>(ExecutionSpace(), saved, dy, db, 1.0, 0.0);
  auto hdb = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), db);
  for (int j = 0; j < 100; ++j) {
    double sum = 0;
    for (int i = 0; i < 300; ++i) {
      double const s = hs(i, j);
      sum += s * (1 - s * s);
    }
    EXPECT_EQ(hdb(j), sum) << "column " << j; // bitwise: same order of additions
  }
}

} // namespace
