// The strategies that split layers, against their peers on the same ranks:
//
//   mpiexec -n 2 benchmarks/parallel/split_throughput --net cnn --strategy spatial [--batch 4]
//       [--overlap 1] [--steps 20]
//   benchmarks/parallel/split_throughput --net cnn --strategy single|spatial1 [--batch 4]
//     examples/06's CNN on 224×224 images: seconds per step (median), the share of a step
//     spent waiting for halo rows and for the group's sums (batch norm statistics, the
//     row-parallel Dense), the workspace and parameter memory the model holds, peak RSS
//
//   mpiexec -n 2 benchmarks/parallel/split_throughput --net mlp --strategy tensor|data
//       [--batch 256] [--steps 20]
//     a 784-4096-4096-10 ReLU MLP: samples/s and parameter memory per rank
//
// Each run warms up for 3 steps on random data; rank 0 prints one line of key=value pairs.

#include <loom/loom.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "../../examples/06_spatial_parallel_cnn/network.hpp"

#include <sys/resource.h>

namespace {

using Clock = std::chrono::steady_clock;
using Space = Kokkos::DefaultExecutionSpace;
using Memory = Space::memory_space;
using Cnn = example06::Net;
using Mlp = loom::Sequential<loom::Input<784>, loom::Dense<4096>, loom::ReLU, loom::Dense<4096>,
                             loom::ReLU, loom::Dense<10>>;

struct Options {
  std::string net = "cnn", strategy = "single";
  std::size_t batch = 0, steps = 20;
  bool overlap = true;
};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) / 1024.0;
}

// The group of a split model, timing what its stages wait for.
class TimedGroup final : public loom::detail::SampleGroup<float> {
public:
  explicit TimedGroup(loom::detail::SampleGroup<float>& inner)
      : inner_(&inner) {}
  int rank() const override { return inner_->rank(); }
  int size() const override { return inner_->size(); }
  void sum(float* data, std::size_t count) override {
    auto const start = Clock::now();
    inner_->sum(data, count);
    sums += seconds_since(start);
  }
  void all_gather(float* data, std::size_t count) override {
    auto const start = Clock::now();
    inner_->all_gather(data, count);
    sums += seconds_since(start);
  }
  void start_exchange(std::span<float const> up, std::span<float const> down,
                      std::span<float> from_up, std::span<float> from_down) override {
    auto const start = Clock::now();
    inner_->start_exchange(up, down, from_up, from_down);
    halo += seconds_since(start);
  }
  void finish_exchange() override {
    auto const start = Clock::now();
    inner_->finish_exchange();
    halo += seconds_since(start);
  }
  double halo = 0, sums = 0;

private:
  loom::detail::SampleGroup<float>* inner_;
};

template <class View>
void fill_random(View const& v, std::uint64_t seed) {
  auto h = Kokkos::create_mirror_view(v);
  loom::CounterRng rng(seed);
  for (std::size_t k = 0; k < h.size(); ++k) {
    h.data()[k] = rng.normal<float>(k);
  }
  Kokkos::deep_copy(v, h);
}

struct Result {
  double step = 0, halo = 0, sums = 0; // medians, seconds
  std::size_t parameters = 0, workspace = 0;
};

// One step: forward, loss, backward with the runtime's hooks, the runtime's completion of the
// gradients, SGD with momentum. `runtime` is null on one process.
template <class Model, class Runtime>
Result run(Model& model, Runtime* runtime, TimedGroup* group, std::size_t batch, std::size_t steps,
           int rank) {
  Space space;
  loom::Vector<float, Memory> x("x", batch * Model::input_shape::size);
  fill_random(x, 1 + std::uint64_t(rank));
  loom::Vector<std::int32_t, Memory> labels("labels", batch);
  loom::SGD::state<float, Space> sgd(Model::num_parameters, {.momentum = 0.9});
  loom::MatrixSlice<float, Memory> const input(x.data(), batch, Model::input_shape::size);
  std::vector<double> times, halos, sums;
  model.train();
  for (std::size_t s = 0; s < steps + 3; ++s) {
    double const halo_before = group ? group->halo : 0, sums_before = group ? group->sums : 0;
    auto const start = Clock::now();
    auto const y = model.forward(input);
    loom::SoftmaxCrossEntropy::compute(space, y, labels, model.output_gradient(),
                                       1.0 / double(batch));
    if constexpr (std::is_same_v<Runtime, void>) {
      model.backward();
    } else {
      model.backward(0, [&](std::size_t offset, std::size_t) {
        runtime->gradients_ready(model, offset, true);
      });
      runtime->finish_gradients(model);
    }
    sgd.step(space, model.parameters(), model.gradients(), 0.01);
    space.fence();
    if (s >= 3) {
      times.push_back(seconds_since(start));
      halos.push_back(group ? group->halo - halo_before : 0);
      sums.push_back(group ? group->sums - sums_before : 0);
    }
  }
  auto const median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  return {median(times), median(halos), median(sums), Model::num_parameters * sizeof(float),
          Model::workspace_per_sample * batch * sizeof(float)};
}

template <class Net, class Strategy>
Result run_split(loom::Environment& env, Options const& o, typename Strategy::options options) {
  using Runtime = typename Strategy::template runtime<Net, Space, float>;
  Runtime runtime(env, options);
  auto model = runtime.make_model(42);
  runtime.start(model, o.batch);
  loom::detail::CommGroup<typename Strategy::comm_type, float> inner(runtime.communicator());
  TimedGroup group(inner);
  model.set_group(&group);
  return run(model, &runtime, &group, o.batch, o.steps, runtime.rank());
}

// Data parallelism over the same ranks: each rank a slice of the batch.
template <class Net>
Result run_data(loom::Environment& env, Options const& o) {
  using Runtime = loom::DataParallel<>::runtime<Net, Space, float>;
  Runtime runtime(env, {.overlap = o.overlap});
  auto model = runtime.make_model(42);
  runtime.start(model, o.batch);
  auto const rows = runtime.shard(o.batch);
  return run(model, &runtime, static_cast<TimedGroup*>(nullptr), rows.size(), o.steps,
             runtime.rank());
}

template <class Net>
Result run_single(Options const& o) {
  loom::Model<Net, Space, float> model(42);
  return run(model, static_cast<void*>(nullptr), nullptr, o.batch, o.steps, 0);
}

} // namespace

int main(int argc, char* argv[]) {
  loom::Environment env(argc, argv);
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string const key = argv[i], value = argv[i + 1];
    if (key == "--net")
      o.net = value;
    else if (key == "--strategy")
      o.strategy = value;
    else if (key == "--batch")
      o.batch = std::stoul(value);
    else if (key == "--steps")
      o.steps = std::stoul(value);
    else if (key == "--overlap")
      o.overlap = value != "0";
  }
  if (o.batch == 0) {
    o.batch = o.net == "cnn" ? 4 : 256;
  }
  return env.run([&] {
    Result r;
    if (o.net == "cnn" && o.strategy == "spatial") {
      r = run_split<Cnn, loom::SpatialParallel<2>>(env, o, {.overlap = o.overlap});
    } else if (o.net == "cnn" && o.strategy == "spatial1") { // the split's overhead alone
      r = run_split<Cnn, loom::SpatialParallel<1>>(env, o, {.overlap = o.overlap});
    } else if (o.net == "cnn") {
      r = run_single<Cnn>(o);
    } else if (o.strategy == "tensor") {
      r = run_split<Mlp, loom::TensorParallel<2>>(env, o, {});
    } else if (o.strategy == "data") {
      r = run_data<Mlp>(env, o);
    } else {
      r = run_single<Mlp>(o);
    }
    if (env.rank() == 0) {
      std::printf("net=%s strategy=%s ranks=%d batch=%zu overlap=%d step_ms=%.3f "
                  "samples_per_s=%.1f halo_share=%.3f sums_share=%.3f parameter_mib=%.2f "
                  "workspace_mib=%.2f peak_rss_mib=%.1f\n",
                  o.net.c_str(), o.strategy.c_str(), env.size(), o.batch, int(o.overlap),
                  1e3 * r.step, double(o.batch) / r.step, r.halo / r.step, r.sums / r.step,
                  double(r.parameters) / 1048576.0, double(r.workspace) / 1048576.0,
                  peak_rss_mib());
    }
    return 0;
  });
}
