#pragma once

// Checks that a network split over the ranks of a run (a SpatialParallel or TensorParallel
// placement) computes what the whole network computes on one process: one forward and
// backward of a batch, the outputs, the input gradient of the rank's part of the input, the
// parameters drawn and their gradients (partial sums added up over the group).

#include <loom/loom.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "loom_test.hpp"

namespace loom::test {

template <class View>
std::vector<double> host_values(View const& v) {
  auto h = host_copy(v);
  return {h.data(), h.data() + h.size()};
}

/// max |a − b| / max |b| (a huge value when the sizes differ).
inline double relative_difference(std::vector<double> const& a, std::vector<double> const& b) {
  double diff = 0, scale = 1e-30;
  for (std::size_t k = 0; k < std::min(a.size(), b.size()); ++k) {
    diff = std::max(diff, std::abs(a[k] - b[k]));
    scale = std::max(scale, std::abs(b[k]));
  }
  return a.size() == b.size() ? diff / scale : 1e30;
}

template <class T>
Vector<double, MemorySpace> device_values(std::vector<T> const& values) {
  Vector<double, MemorySpace> v(std::string("loom::test::values"), values.size());
  auto h = Kokkos::create_mirror_view(v);
  for (std::size_t k = 0; k < values.size(); ++k) {
    h(k) = double(values[k]);
  }
  Kokkos::deep_copy(v, h);
  return v;
}

/// Net under Placement on this run's ranks against Net on one process. `part(sample, k)` is
/// the position in a whole sample of the k-th input value the rank holds.
template <class Net, class Placement, class Part>
void check_split(std::string const& what, Part const& part, bool training = true,
                 std::size_t batch = 3) {
  using Serial = Model<Net, ExecutionSpace, double>;
  using Split = Model<Net, ExecutionSpace, double, Placement>;
  using In = typename Net::input_shape;
  constexpr std::size_t mine = Split::input_shape::size, outputs = Net::output_shape::size;
  Environment env;
  comm::Mpi comm(env);
  int const rank = comm.rank();
  std::string const where =
      what + " (" + Placement::name() + ", rank " + std::to_string(rank) + ")";

  CounterRng rng(11, 3);
  std::vector<double> x(batch * In::size), dy(batch * outputs), x_part(batch * mine);
  for (std::size_t k = 0; k < x.size(); ++k) {
    x[k] = rng.normal<double>(k);
  }
  for (std::size_t k = 0; k < dy.size(); ++k) {
    dy[k] = rng.normal<double>(1000000 + k);
  }
  for (std::size_t k = 0; k < x_part.size(); ++k) {
    x_part[k] = x[k / mine * In::size + part(k % mine)];
  }
  using HostMatrix = Kokkos::View<double**, Kokkos::LayoutRight, Kokkos::HostSpace>;

  Serial serial(5);
  serial.train(training);
  serial.enable_input_gradient();
  auto const xs = device_values(x);
  auto const ys =
      host_values(serial.forward(MatrixSlice<double, MemorySpace>(xs.data(), batch, In::size)));
  Kokkos::deep_copy(serial.output_gradient(), HostMatrix(dy.data(), batch, outputs));
  serial.backward();

  detail::CommGroup<comm::Mpi, double> group(comm);
  Split split(5, Shard{rank, comm.size()});
  split.set_group(&group);
  split.train(training);
  split.enable_input_gradient();
  auto const xp = device_values(x_part);
  auto const yp =
      host_values(split.forward(MatrixSlice<double, MemorySpace>(xp.data(), batch, mine)));
  Kokkos::deep_copy(split.output_gradient(), HostMatrix(dy.data(), batch, outputs));
  split.backward();
  for (auto const& range : detail::partial_ranges(split.parameter_map())) {
    comm.all_reduce(std::span<double>(split.gradients().data() + range.offset, range.count),
                    comm::ReduceOp::sum);
  }

  EXPECT_LE(relative_difference(yp, ys), 1e-12) << where << ": outputs";
  detail::SplitLayout<comm::Mpi> layout(comm, split.parameter_map(), Split::num_logical_parameters);
  EXPECT_EQ(layout.to_logical(split.parameters()), host_values(serial.parameters()))
      << where << ": initial parameters";
  EXPECT_LE(
      relative_difference(layout.to_logical(split.gradients()), host_values(serial.gradients())),
      1e-11)
      << where << ": parameter gradients";
  auto const dx_serial = host_values(serial.input_gradient());
  std::vector<double> expected(x_part.size());
  for (std::size_t k = 0; k < expected.size(); ++k) {
    expected[k] = dx_serial[k / mine * In::size + part(k % mine)];
  }
  EXPECT_LE(relative_difference(host_values(split.input_gradient()), expected), 1e-11)
      << where << ": input gradients";
}

/// `steps` steps of SGD with momentum, in double, of Net under Placement against Net on one
/// process, on one batch of random samples: the parameters and states stay equal to double
/// rounding (in float, rounding differences grow with training, so this is the exact check).
template <class Net, class Placement, class Part>
void check_split_training(std::string const& what, Part const& part, std::size_t steps = 10,
                          std::size_t batch = 4) {
  using Serial = Model<Net, ExecutionSpace, double>;
  using Split = Model<Net, ExecutionSpace, double, Placement>;
  using In = typename Net::input_shape;
  constexpr std::size_t mine = Split::input_shape::size;
  Environment env;
  comm::Mpi comm(env);
  int const rank = comm.rank();
  CounterRng rng(17, 5);
  std::vector<double> x(batch * In::size), x_part(batch * mine);
  for (std::size_t k = 0; k < x.size(); ++k) {
    x[k] = rng.normal<double>(k);
  }
  for (std::size_t k = 0; k < x_part.size(); ++k) {
    x_part[k] = x[k / mine * In::size + part(k % mine)];
  }
  std::vector<std::int32_t> labels(batch);
  for (std::size_t i = 0; i < batch; ++i) {
    labels[i] = std::int32_t(rng.below(Net::output_shape::size, x.size() + i));
  }
  Kokkos::View<std::int32_t*, MemorySpace> y("labels", batch);
  Kokkos::deep_copy(y, Kokkos::View<std::int32_t*, Kokkos::HostSpace>(labels.data(), batch));
  auto const xs = device_values(x);
  auto const xp = device_values(x_part);
  ExecutionSpace space;

  Serial serial(9);
  detail::CommGroup<comm::Mpi, double> group(comm);
  Split split(9, Shard{rank, comm.size()});
  split.set_group(&group);
  SGD::state<double, ExecutionSpace> serial_sgd(Serial::num_parameters, {.momentum = 0.9});
  SGD::state<double, ExecutionSpace> split_sgd(Split::num_parameters, {.momentum = 0.9});
  detail::SplitLayout<comm::Mpi> layout(comm, split.parameter_map(), Split::num_logical_parameters);
  for (std::size_t step = 0; step < steps; ++step) {
    serial.set_step(step);
    split.set_step(step);
    auto const ys = serial.forward(MatrixSlice<double, MemorySpace>(xs.data(), batch, In::size));
    SoftmaxCrossEntropy::compute(space, ys, y, serial.output_gradient(), 1.0 / double(batch));
    serial.backward();
    serial_sgd.step(space, serial.parameters(), serial.gradients(), 0.05);
    auto const yp = split.forward(MatrixSlice<double, MemorySpace>(xp.data(), batch, mine));
    SoftmaxCrossEntropy::compute(space, yp, y, split.output_gradient(), 1.0 / double(batch));
    split.backward();
    space.fence();
    for (auto const& range : detail::partial_ranges(split.parameter_map())) {
      comm.all_reduce(std::span<double>(split.gradients().data() + range.offset, range.count),
                      comm::ReduceOp::sum);
    }
    split_sgd.step(space, split.parameters(), split.gradients(), 0.05);
  }
  std::string const where = what + " (" + Placement::name() + ", " + std::to_string(steps) +
                            " steps, rank " + std::to_string(rank) + ")";
  EXPECT_LE(
      relative_difference(layout.to_logical(split.parameters()), host_values(serial.parameters())),
      1e-12)
      << where << ": parameters";
  EXPECT_LE(relative_difference(host_values(split.states()), host_values(serial.states())), 1e-12)
      << where << ": states";
}

/// Runs F<P>::run() for P = the rank count (1, 2 or 4).
template <template <std::size_t> class F>
void at_rank_count() {
  Environment env;
  switch (env.size()) {
  case 1:
    F<1>::run();
    break;
  case 2:
    F<2>::run();
    break;
  case 4:
    F<4>::run();
    break;
  default:
    GTEST_SKIP() << "runs at 1, 2 or 4 ranks";
  }
}

} // namespace loom::test
