// Pipeline's bubble and memory, and the strategies on a deep MLP:
//
//   mpiexec -n 2 benchmarks/pipeline_throughput --mode bubble --schedule gpipe|1f1b
//       --micro M [--recompute 1] [--batch 256] [--steps 40]
//     an MLP of 8 × Dense<512> cut in two equal stages, M = 1, 2, 4, 8 or 16 micro-batches:
//     each stage's share of a step spent waiting for messages (its bubble) against the model
//     (p − 1)/(M + p − 1), seconds per step, and the workspace (activations kept for
//     backward, the buffers between layers) each stage holds
//
//   mpiexec -n 2 benchmarks/pipeline_throughput --mode deep --strategy pipeline|data|tensor
//       [--batch 256] [--steps 5]
//   benchmarks/pipeline_throughput --mode deep --strategy single
//     16 × Dense<2048> (67 M parameters): samples/s, the model's memory per rank (parameters,
//     gradients, SGD momentum, workspace) and peak RSS
//
//   mpiexec -n 4 benchmarks/pipeline_throughput --mode grid
//       --strategy hybrid|data|tensor|pipeline|replicated-pipeline [--batch 16] [--steps 5]
//   benchmarks/pipeline_throughput --mode grid --strategy single
//     example 07's CNN (224×224 images) on 4 ranks: Hybrid<DataParallel<>, SpatialParallel<2>>
//     against DataParallel, TensorParallel<4>, a 4-stage Pipeline and
//     Hybrid<DataParallel<>, Pipeline> (2 replicas of 2 stages); SpatialParallel<4> does not
//     compile for it (its last convolution has 14 rows)
//
// Each run warms up for 2 steps on random data; rank 0 prints one line of key=value pairs.

#include <loom/loom.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include "../../examples/07_hybrid_parallel/network.hpp"

#include <sys/resource.h>

namespace {

using Clock = std::chrono::steady_clock;
using Space = Kokkos::DefaultExecutionSpace;
using Memory = Space::memory_space;

template <std::size_t Width, std::size_t Depth, class... Layers>
struct DeepMlp : DeepMlp<Width, Depth - 1, loom::Dense<Width>, loom::ReLU, Layers...> {};
template <std::size_t Width, class... Layers>
struct DeepMlp<Width, 0, Layers...> {
  using type = loom::Sequential<loom::Input<Width>, Layers..., loom::Dense<10>>;
};
using Balanced = DeepMlp<512, 8>::type; // layers 0–15 and the last Dense
using Deep = DeepMlp<2048, 16>::type;   // layers 0–31 and the last Dense
using BalancedCuts = loom::Cuts<8>;     // 4 + 4 Dense<512>, the last Dense on stage 1
using DeepCuts = loom::Cuts<16>;        // 8 + 8 Dense<2048>

struct Options {
  std::string mode = "bubble", schedule = "1f1b", strategy = "pipeline";
  std::size_t micro = 4, batch = 256, steps = 0;
  bool recompute = false;
};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) / 1024.0;
}

// One global batch of random samples per step (the strategies' StepWork).
template <std::size_t Inputs>
struct RandomWork {
  struct Batch {
    loom::MatrixSlice<float, Memory> x;
    Kokkos::View<std::int32_t*, Memory> y;
    loom::VectorSlice<std::int32_t, Memory> labels() const {
      return loom::VectorSlice<std::int32_t, Memory>(y.data(), y.extent(0));
    }
  };
  explicit RandomWork(std::size_t batch)
      : x("x", batch * Inputs)
      , y("y", batch)
      , indices(batch) {
    auto h = Kokkos::create_mirror_view(x);
    loom::CounterRng rng(3);
    for (std::size_t k = 0; k < h.size(); ++k) {
      h(k) = rng.normal<float>(k);
    }
    Kokkos::deep_copy(x, h);
    std::iota(indices.begin(), indices.end(), std::size_t{0});
  }
  loom::Vector<float, Memory> x;
  Kokkos::View<std::int32_t*, Memory> y;
  std::vector<std::size_t> indices;
  std::size_t step = 0;

  std::size_t micro_batches() const { return 1; }
  std::span<std::size_t const> samples(std::size_t) const { return indices; }
  std::uint64_t first_sample(std::size_t) const { return step * indices.size(); }
  Batch gather(std::span<std::size_t const> rows) const {
    std::size_t const first = rows.empty() ? 0 : rows.front();
    return {loom::MatrixSlice<float, Memory>(x.data() + first * Inputs, rows.size(), Inputs),
            Kokkos::subview(y, std::make_pair(first, first + rows.size()))};
  }
  template <class M, class Output>
  loom::LossValue loss(M& model, Output const& output, Batch const& b, double scale) const {
    return loom::SoftmaxCrossEntropy::compute(model.space(), output, b.labels(),
                                              model.output_gradient(), scale);
  }
  void check(loom::LossValue const&, std::size_t) const {}
  double lr() const { return 0.01; }
  double clip_norm() const { return 0; }
};

struct Result {
  double step = 0;           // median seconds
  double idle = 0;           // share waiting (pipelines)
  std::size_t model = 0;     // bytes: parameters, gradients, momentum, workspace
  std::size_t workspace = 0; // bytes of activations and the buffers between layers
};

template <class Model>
std::size_t workspace_of(Model const& model) {
  if constexpr (requires { model.with_stage([](auto const&) { return 0; }); }) {
    return model.with_stage([](auto const& m) { return m.workspace_bytes(); });
  } else {
    return model.workspace_bytes();
  }
}

template <class Net, class Strategy, class... Env>
Result run(Options const& o, typename Strategy::options options, Env&... env) {
  using Runtime = typename Strategy::template runtime<Net, Space, float>;
  Runtime runtime(env..., options);
  auto model = runtime.make_model(42);
  runtime.start(model, o.batch);
  std::size_t const parameters = model.parameters().extent(0);
  loom::SGD::state<float, Space> sgd(parameters, {.momentum = 0.9});
  RandomWork<Net::input_shape::size> work(o.batch);
  std::vector<double> times;
  for (std::size_t s = 0; s < o.steps + 2; ++s) {
    if (s == 2) {
      if constexpr (requires { runtime.reset_times(); }) {
        runtime.reset_times();
      }
    }
    work.step = s;
    auto const start = Clock::now();
    runtime.step(model, sgd, work);
    Space().fence();
    if (s >= 2) {
      times.push_back(seconds_since(start));
    }
  }
  std::sort(times.begin(), times.end());
  std::size_t const workspace = workspace_of(model);
  Result result{times[times.size() / 2], 0, 3 * parameters * sizeof(float) + workspace, workspace};
  if constexpr (requires { runtime.times(); }) {
    result.idle = runtime.times().idle_share();
  }
  return result;
}

// Every rank's value on rank 0, in rank order.
template <class T>
std::vector<double> gathered(loom::Environment& env, T value) {
  loom::comm::Mpi comm(env);
  std::vector<double> all(std::size_t(comm.size()), 0.0);
  all[std::size_t(comm.rank())] = double(value);
  comm.all_reduce(std::span<double>(all), loom::comm::ReduceOp::sum);
  return all;
}

std::string joined(std::vector<double> const& values, char const* format) {
  std::string out;
  for (double v : values) {
    char text[32];
    std::snprintf(text, sizeof(text), format, v);
    out += (out.empty() ? "" : ",") + std::string(text);
  }
  return out;
}

template <std::size_t M, class Schedule>
Result bubble(loom::Environment& env, Options const& o) {
  using Strategy = loom::Pipeline<BalancedCuts, loom::MicroBatches<M>, Schedule>;
  return run<Balanced, Strategy>(o, {.recompute = o.recompute}, env);
}

template <class Schedule>
Result bubble_of(loom::Environment& env, Options const& o) {
  switch (o.micro) {
  case 1:
    return bubble<1, Schedule>(env, o);
  case 2:
    return bubble<2, Schedule>(env, o);
  case 4:
    return bubble<4, Schedule>(env, o);
  case 8:
    return bubble<8, Schedule>(env, o);
  case 16:
    return bubble<16, Schedule>(env, o);
  default:
    loom::detail::fail("pipeline_throughput: --micro takes 1, 2, 4, 8 or 16");
  }
}

Result deep(loom::Environment& env, Options const& o) {
  if (o.strategy == "single") {
    return run<Deep, loom::SingleProcess>(o, {});
  }
  if (o.strategy == "data") {
    return run<Deep, loom::DataParallel<>>(o, {}, env);
  }
  if (o.strategy == "tensor") {
    return run<Deep, loom::TensorParallel<2>>(o, {}, env);
  }
  if (o.strategy == "pipeline") {
    return run<Deep, loom::Pipeline<DeepCuts, loom::MicroBatches<4>>>(o, {}, env);
  }
  loom::detail::fail("pipeline_throughput: --strategy takes single, data, tensor or pipeline");
}

// Example 07's CNN; the cuts at its pooling layers (3, 7, 11) balance four stages.
Result grid(loom::Environment& env, Options const& o) {
  using Cnn = example07::Net;
  if (o.strategy == "single") {
    return run<Cnn, loom::SingleProcess>(o, {});
  }
  if (o.strategy == "hybrid") {
    return run<Cnn, loom::Hybrid<loom::DataParallel<>, loom::SpatialParallel<2>>>(o, {}, env);
  }
  if (o.strategy == "data") {
    return run<Cnn, loom::DataParallel<>>(o, {}, env);
  }
  if (o.strategy == "tensor") {
    return run<Cnn, loom::TensorParallel<4>>(o, {}, env);
  }
  if (o.strategy == "pipeline") {
    return run<Cnn, loom::Pipeline<loom::Cuts<3, 7, 11>, loom::MicroBatches<4>>>(o, {}, env);
  }
  if (o.strategy == "replicated-pipeline") {
    using Stages = loom::Pipeline<loom::Cuts<7>, loom::MicroBatches<4>>;
    return run<Cnn, loom::Hybrid<loom::DataParallel<>, Stages>>(o, {}, env);
  }
  loom::detail::fail("pipeline_throughput: --mode grid --strategy takes single, hybrid, data, "
                     "tensor, pipeline or replicated-pipeline");
}

} // namespace

int main(int argc, char* argv[]) {
  loom::Environment env(argc, argv);
  return env.run([&] {
    Options o;
    for (int i = 1; i + 1 < argc; i += 2) {
      std::string const key = argv[i], value = argv[i + 1];
      if (key == "--mode") {
        o.mode = value;
      } else if (key == "--schedule") {
        o.schedule = value;
      } else if (key == "--strategy") {
        o.strategy = value;
      } else if (key == "--micro") {
        o.micro = std::stoul(value);
      } else if (key == "--batch") {
        o.batch = std::stoul(value);
      } else if (key == "--steps") {
        o.steps = std::stoul(value);
      } else if (key == "--recompute") {
        o.recompute = value != "0";
      } else {
        loom::detail::fail("pipeline_throughput: unknown option ", key);
      }
    }
    if (o.mode == "bubble") {
      o.steps = o.steps == 0 ? 40 : o.steps;
      bool const gpipe = o.schedule == "gpipe";
      Result const r = gpipe ? bubble_of<loom::schedule::GPipe>(env, o)
                             : bubble_of<loom::schedule::OneFOneB>(env, o);
      auto const idle = gathered(env, r.idle);
      auto const memory = gathered(env, double(r.workspace) / (1024.0 * 1024.0));
      double const p = double(env.size());
      if (env.is_root()) {
        std::printf("mode=bubble schedule=%s micro=%zu recompute=%d batch=%zu step_s=%.5f "
                    "idle=%s model_idle=%.3f workspace_MiB=%s\n",
                    gpipe ? "gpipe" : "1f1b", o.micro, o.recompute ? 1 : 0, o.batch, r.step,
                    joined(idle, "%.3f").c_str(), (p - 1) / (double(o.micro) + p - 1),
                    joined(memory, "%.2f").c_str());
      }
    } else {
      o.steps = o.steps == 0 ? 5 : o.steps;
      if (o.mode == "grid" && o.batch == 256) {
        o.batch = 16;
      }
      Result const r = o.mode == "grid" ? grid(env, o) : deep(env, o);
      auto const memory = gathered(env, double(r.model) / (1024.0 * 1024.0));
      auto const rss = gathered(env, peak_rss_mib());
      if (env.is_root()) {
        std::printf("mode=%s strategy=%s ranks=%d batch=%zu step_s=%.4f samples_per_s=%.1f "
                    "model_MiB=%s peak_rss_MiB=%s\n",
                    o.mode.c_str(), o.strategy.c_str(), env.size(), o.batch, r.step,
                    double(o.batch) / r.step, joined(memory, "%.1f").c_str(),
                    joined(rss, "%.1f").c_str());
      }
    }
  });
}
