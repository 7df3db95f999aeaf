#pragma once

// Checks that a network split over the ranks of a run (a SpatialParallel or TensorParallel
// placement) computes what the whole network computes on one process: one forward and
// backward of a batch, the outputs, the input gradient of the rank's part of the input, the
// parameters drawn and their gradients (partial sums added up over the group); and training
// in double through the strategy's own step against SingleProcess's.

#include <loom/loom.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
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

/// One global batch of a step, for a strategy's runtime (StepWork, parallel/concepts.hpp):
/// its samples, their labels, SGD's rate, the dropout stream at `step`. With parts > 1 the
/// batch is split into that many micro-batches whose gradients add up (as torch.tensor_split
/// splits it: the first ones a row longer).
struct DoubleWork {
  struct Batch {
    MatrixSlice<double, MemorySpace> x;
    Kokkos::View<std::int32_t*, MemorySpace> y;
    VectorSlice<std::int32_t, MemorySpace> labels() const {
      return VectorSlice<std::int32_t, MemorySpace>(y.data(), y.extent(0));
    }
  };
  Batch batch;
  std::vector<std::size_t> indices;
  std::size_t step;
  std::size_t parts = 1;

  std::size_t micro_batches() const { return parts; }
  std::span<std::size_t const> samples(std::size_t m) const {
    auto const part = detail::micro_batch(indices.size(), parts, m);
    return std::span<std::size_t const>(indices).subspan(part.first, part.count);
  }
  std::uint64_t first_sample(std::size_t m) const {
    return step * indices.size() + detail::micro_batch(indices.size(), parts, m).first;
  }
  // Samples are rows: the rows [first, first + count) of the batch.
  Batch gather(std::span<std::size_t const> rows) const {
    std::size_t const first = rows.empty() ? 0 : rows.front(), width = batch.x.extent(1);
    for (std::size_t k = 0; k < rows.size(); ++k) {
      EXPECT_EQ(rows[k], first + k) << "consecutive samples";
    }
    return {MatrixSlice<double, MemorySpace>(batch.x.data() + first * width, rows.size(), width),
            Kokkos::subview(batch.y, std::make_pair(first, first + rows.size()))};
  }
  template <class M, class Output>
  LossValue loss(M& model, Output const& output, Batch const& b, double scale) const {
    return SoftmaxCrossEntropy::compute(model.space(), output, b.labels(), model.output_gradient(),
                                        scale);
  }
  void check(LossValue const&, std::size_t) const {}
  double lr() const { return 0.05; }
  double clip_norm() const { return 0; }
};

/// `steps` steps of SGD (with momentum 0.9, or without: then a strategy whose gradients are
/// complete after backward writes the step in backward), in double, through the runtime of
/// Strategy on this run's ranks and of SingleProcess, on one batch of random samples: the
/// whole network's parameters and states stay equal to double rounding (in float, rounding
/// differences grow with training, so this is the exact check). SingleProcess accumulates
/// the batch in `serial_parts` micro-batches (a pipeline's with batch norm); where those are
/// replicas' rows, batch norm's running statistics are the first replica's, which the serial
/// run does not have (`states`: false). `options` are the strategy's.
template <class Net, class Strategy>
void check_split_training(std::string const& what, double momentum, std::size_t steps = 10,
                          std::size_t batch = 4, std::size_t serial_parts = 1, bool states = true,
                          typename Strategy::options options = {}) {
  using Serial = SingleProcess::runtime<Net, ExecutionSpace, double>;
  using Split = typename Strategy::template runtime<Net, ExecutionSpace, double>;
  using In = typename Net::input_shape;
  Environment env;
  CounterRng rng(17, 5);
  std::vector<double> x(batch * In::size);
  for (std::size_t k = 0; k < x.size(); ++k) {
    x[k] = rng.normal<double>(k);
  }
  std::vector<std::int32_t> labels(batch);
  for (std::size_t i = 0; i < batch; ++i) {
    labels[i] = std::int32_t(rng.below(Net::output_shape::size, x.size() + i));
  }
  Kokkos::View<std::int32_t*, MemorySpace> y("labels", batch);
  Kokkos::deep_copy(y, Kokkos::View<std::int32_t*, Kokkos::HostSpace>(labels.data(), batch));
  auto const xs = device_values(x);
  DoubleWork work{{MatrixSlice<double, MemorySpace>(xs.data(), batch, In::size), y}, {}, 0};
  work.indices.resize(batch);
  std::iota(work.indices.begin(), work.indices.end(), std::size_t{0});
  DoubleWork serial_work = work;
  serial_work.parts = serial_parts;

  Serial serial_runtime;
  auto serial = serial_runtime.make_model(9);
  Split split_runtime(env, options);
  auto split = split_runtime.make_model(9);
  split_runtime.start(split, batch);
  SGD::state<double, ExecutionSpace> serial_sgd(Serial::model_type::num_parameters,
                                                {.momentum = momentum});
  SGD::state<double, ExecutionSpace> split_sgd(split.parameters().extent(0),
                                               {.momentum = momentum});
  for (work.step = 0; work.step < steps; ++work.step) {
    serial_work.step = work.step;
    serial_runtime.step(serial, serial_sgd, serial_work);
    split_runtime.step(split, split_sgd, work);
  }
  std::string const where = what + " (" + Strategy::name() + ", momentum " +
                            std::to_string(momentum) + ", " + std::to_string(steps) +
                            " steps, rank " + std::to_string(split_runtime.rank()) + ")";
  EXPECT_EQ(split_sgd.steps(), steps) << where;
  EXPECT_LE(relative_difference(split_runtime.layout(split).to_logical(split.parameters()),
                                host_values(serial.parameters())),
            1e-12)
      << where << ": parameters";
  auto const split_states = split_runtime.layout(split).states_to_logical(split.states());
  if (states) {
    EXPECT_LE(relative_difference(split_states, host_values(serial.states())), 1e-12)
        << where << ": states";
  }
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
