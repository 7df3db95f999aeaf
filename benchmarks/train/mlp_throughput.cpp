// Training throughput of the 784-512-512-10 ReLU MLP (examples/02's network) with plain SGD
// (lr 0.01, no momentum) on data already in memory: 60000 random samples and labels, the size
// of Fashion-MNIST, shuffled every epoch as training does. Prints samples/s:
//
//   loom     through loom::Trainer::fit, the path users take
//   ceiling  the same forward and backward GEMMs alone (3 forward, 3 weight-gradient and 2
//            input-gradient GEMMs per batch, row-major through the BLAS library's sgemm_):
//            what a framework reaches if everything but GEMM is free
//   breakdown  the Trainer's step rebuilt from the lower-level API (BatchPlan, gather,
//            Model::forward, SoftmaxCrossEntropy::compute, Model::backward_into with the SGD
//            step fused where loom has it, else Model::backward and the SGD step), each
//            phase timed, with every Kokkos kernel and profiling region timed through the
//            Kokkos Tools callbacks: where the time of a step goes
//
// Each measurement warms up for one epoch, then times whole epochs until at least
// --min-epochs epochs and --min-seconds seconds have passed; loom and the ceiling take turns,
// one epoch each, so that their ratio holds while the machine's speed drifts.
//
//   mlp_throughput [--batch 32,256] [--what loom,ceiling[,breakdown]] [--samples 60000]
//                  [--min-epochs 2] [--min-seconds 5]
//
// One line per measurement and batch size, e.g. "loom batch=256 samples_per_s=31234.5 ...".

#include <loom/loom.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "blas.hpp"
#include "throughput.hpp"

namespace {

using Net = loom::Sequential<loom::Input<784>, loom::Dense<512>, loom::ReLU, loom::Dense<512>,
                             loom::ReLU, loom::Dense<10>>;
using ExecutionSpace = Kokkos::DefaultExecutionSpace;
using MemorySpace = ExecutionSpace::memory_space;
using namespace loom::bench;

constexpr std::size_t inputs = 784;
constexpr std::size_t hidden = 512;
constexpr std::size_t classes = 10;
constexpr double learning_rate = 0.01;

using Options = ThroughputOptions;

// --- the GEMM-only ceiling ----------------------------------------------------------------

// The GEMMs of one training step of the MLP on `rows` samples, as loom's Dense layers issue
// them (y = x·Wᵀ; dW = dyᵀ·x; dx = dy·W), with nothing else.
class MlpGemms {
public:
  explicit MlpGemms(std::size_t capacity)
      : x_(capacity * inputs)
      , h1_(capacity * hidden)
      , h2_(capacity * hidden)
      , y_(capacity * classes)
      , dy_(capacity * classes)
      , dh2_(capacity * hidden)
      , dh1_(capacity * hidden)
      , w1_(hidden * inputs)
      , w2_(hidden * hidden)
      , w3_(classes * hidden)
      , dw1_(w1_.size())
      , dw2_(w2_.size())
      , dw3_(w3_.size()) {
    Random random{7};
    for (auto* v : {&x_, &w1_, &w2_, &w3_, &dy_}) {
      for (auto& f : *v) {
        f = 0.1f * (random.uniform() - 0.5f);
      }
    }
  }

  void forward(std::size_t rows) {
    using loom::bench::sgemm_row_major;
    sgemm_row_major(false, true, rows, hidden, inputs, 1, x_.data(), w1_.data(), 0, h1_.data());
    sgemm_row_major(false, true, rows, hidden, hidden, 1, h1_.data(), w2_.data(), 0, h2_.data());
    sgemm_row_major(false, true, rows, classes, hidden, 1, h2_.data(), w3_.data(), 0, y_.data());
  }

  void backward(std::size_t rows) {
    using loom::bench::sgemm_row_major;
    sgemm_row_major(true, false, classes, hidden, rows, 1, dy_.data(), h2_.data(), 0, dw3_.data());
    sgemm_row_major(false, false, rows, hidden, classes, 1, dy_.data(), w3_.data(), 0, dh2_.data());
    sgemm_row_major(true, false, hidden, hidden, rows, 1, dh2_.data(), h1_.data(), 0, dw2_.data());
    sgemm_row_major(false, false, rows, hidden, hidden, 1, dh2_.data(), w2_.data(), 0, dh1_.data());
    sgemm_row_major(true, false, hidden, inputs, rows, 1, dh1_.data(), x_.data(), 0, dw1_.data());
  }

  static double flops(std::size_t rows) {
    // 3 forward + 3 weight-gradient + 2 input-gradient GEMMs.
    double const per_sample = inputs * hidden + hidden * hidden + hidden * classes;
    return 2.0 * double(rows) * (3 * per_sample - inputs * hidden);
  }

private:
  std::vector<float> x_, h1_, h2_, y_, dy_, dh2_, dh1_, w1_, w2_, w3_, dw1_, dw2_, dw3_;
};

// One epoch of the ceiling: the GEMMs of every batch, the last one short as in training.
void ceiling_epoch(MlpGemms& gemms, std::size_t samples, std::size_t batch) {
  for (std::size_t first = 0; first < samples; first += batch) {
    std::size_t const rows = std::min(batch, samples - first);
    gemms.forward(rows);
    gemms.backward(rows);
  }
}

// loom through Trainer::fit, the path users take, and the ceiling, taking turns.
void run_throughput(Options const& options, Dataset const& data, std::size_t batch, bool with_loom,
                    bool with_ceiling) {
  loom::Trainer<Net, loom::SoftmaxCrossEntropy, loom::SGD> trainer(
      {.batch = batch, .lr = learning_rate, .seed = 1});
  MlpGemms gemms(batch);
  std::uint64_t fitted = 0;
  std::vector<std::function<void()>> epochs;
  if (with_loom) {
    epochs.emplace_back([&] { trainer.fit(data, loom::epochs(++fitted)); });
  }
  if (with_ceiling) {
    epochs.emplace_back([&] { ceiling_epoch(gemms, data.size(), batch); });
  }
  auto const results = time_epochs(options, data.size(), epochs);
  if (with_loom) {
    report("loom", batch, results.front());
  }
  if (with_ceiling) {
    report("ceiling", batch, results.back());
    std::printf("ceiling batch=%zu gflop_per_s=%.1f\n", batch,
                results.back().samples_per_s * MlpGemms::flops(1) * 1e-9);
  }
}

// --- the breakdown ------------------------------------------------------------------------

// Time in every Kokkos kernel and profiling region, by label, through the Kokkos Tools
// callbacks (no tool library needed).
struct KernelTimes {
  struct Entry {
    double seconds = 0;
    std::size_t calls = 0;
  };
  static inline std::map<std::string, Entry> totals;
  static inline std::vector<std::pair<std::string, Clock::time_point>> kernels;
  static inline std::vector<std::pair<std::string, Clock::time_point>> regions;
  static inline bool recording = false;

  static void begin(char const* name, std::uint32_t, std::uint64_t* id) {
    kernels.emplace_back(name, Clock::now());
    *id = kernels.size();
  }
  static void end(std::uint64_t) {
    auto const [name, start] = kernels.back();
    kernels.pop_back();
    add(name, start);
  }
  static void push(char const* name) {
    regions.emplace_back(std::string("[region] ") + name, Clock::now());
  }
  static void pop() {
    auto const [name, start] = regions.back();
    regions.pop_back();
    add(name, start);
  }
  static void add(std::string const& name, Clock::time_point start) {
    if (recording) {
      auto& entry = totals[name];
      entry.seconds += seconds_since(start);
      entry.calls += 1;
    }
  }
  static void install() {
    namespace tools = Kokkos::Tools::Experimental;
    tools::set_begin_parallel_for_callback(&begin);
    tools::set_end_parallel_for_callback(&end);
    tools::set_begin_parallel_reduce_callback(&begin);
    tools::set_end_parallel_reduce_callback(&end);
    tools::set_begin_parallel_scan_callback(&begin);
    tools::set_end_parallel_scan_callback(&end);
    tools::set_push_region_callback(&push);
    tools::set_pop_region_callback(&pop);
  }
};

// Whether this loom applies plain SGD inside the backward pass (Model::backward_into).
template <class OptimizerState>
constexpr bool fused_sgd = requires(OptimizerState& state) {
  state.linear_update(0.01);
  state.count_step();
};

// A template, so that only the branch this loom supports is compiled.
template <class Optimizer = loom::SGD>
void run_breakdown(Options const& options, Dataset const& data, std::size_t batch) {
  using OptimizerState = typename Optimizer::template state<float, ExecutionSpace>;
  using Model = loom::Model<Net, ExecutionSpace, typename OptimizerState::value_type>;
  using batch_view = Kokkos::View<float**, Kokkos::LayoutRight, MemorySpace>;
  using label_view = Kokkos::View<std::int32_t*, MemorySpace>;
  static_assert(loom::is_host_accessible<MemorySpace>,
                "the breakdown gathers straight into the model's memory space");

  ExecutionSpace const space;
  Model model(1, space);
  OptimizerState optimizer(Model::num_parameters, {});
  loom::data::BatchPlan plan(data.size(), batch, /*seed=*/1, /*shuffle=*/true);
  batch_view x_all("x", batch, inputs);
  label_view y_all("y", batch);

  enum Phase { shuffle, gather, forward, loss, backward, step, phases };
  char const* const names[phases] = {
      "shuffle (BatchPlan::set_epoch)",
      "gather",
      "forward",
      "loss",
      fused_sgd<OptimizerState> ? "backward, SGD step fused (Model::backward_into)" : "backward",
      "optimizer step"};
  double seconds[phases] = {};
  std::uint64_t epoch = 0;
  std::size_t steps = 0;
  auto lap = [&](Phase phase, Clock::time_point& start) {
    space.fence();
    auto const now = Clock::now();
    seconds[phase] += std::chrono::duration<double>(now - start).count();
    start = now;
  };
  auto run_epoch = [&] {
    auto t = Clock::now();
    plan.set_epoch(epoch++);
    lap(shuffle, t);
    for (std::size_t b = 0; b < plan.num_batches(); ++b) {
      auto const indices = plan.batch(b);
      std::size_t const rows = indices.size();
      batch_view x(x_all, std::make_pair(std::size_t{0}, rows), Kokkos::ALL);
      label_view y(y_all, std::make_pair(std::size_t{0}, rows));
      data.gather(indices, x.data(), y.data());
      lap(gather, t);
      auto const output = model.forward(x);
      lap(forward, t);
      auto const value =
          loom::SoftmaxCrossEntropy::compute(space, output, y, model.output_gradient(), 1.0 / rows);
      if (value.count != rows) {
        std::abort();
      }
      lap(loss, t);
      // As Trainer::train_step: plain SGD is written into the weights by the backward pass
      // where loom can (Model::backward_into), else backward, then the optimizer's pass.
      if constexpr (fused_sgd<OptimizerState>) {
        auto const update = optimizer.linear_update(learning_rate);
        model.backward_into(model.parameters(), float(update->alpha), float(update->beta));
        optimizer.count_step();
        lap(backward, t);
      } else {
        model.backward();
        lap(backward, t);
        optimizer.step(space, model.parameters(), model.gradients(), learning_rate);
        lap(step, t);
      }
      ++steps;
    }
  };

  KernelTimes::install();
  run_epoch(); // warm-up
  std::fill(std::begin(seconds), std::end(seconds), 0.0);
  steps = 0;
  KernelTimes::totals.clear();
  KernelTimes::recording = true;
  auto const start = Clock::now();
  std::size_t epochs = 0;
  do {
    run_epoch();
    ++epochs;
  } while (epochs < options.min_epochs || seconds_since(start) < options.min_seconds);
  double const wall = seconds_since(start);
  KernelTimes::recording = false;

  // The same GEMMs alone, per full batch, for comparison with forward and backward.
  MlpGemms gemms(batch);
  auto time_gemms = [&](auto&& f) {
    f();
    auto const t = Clock::now();
    std::size_t n = 0;
    do {
      f();
      ++n;
    } while (seconds_since(t) < 1.0);
    return seconds_since(t) / double(n);
  };
  double const gemm_forward = time_gemms([&] { gemms.forward(batch); });
  double const gemm_backward = time_gemms([&] { gemms.backward(batch); });

  double const per_step = 1e6 / double(steps);
  std::printf("breakdown batch=%zu samples_per_s=%.1f steps=%zu us_per_step=%.1f\n", batch,
              double(epochs * data.size()) / wall, steps, wall * per_step);
  for (int p = 0; p < phases; ++p) {
    std::printf("breakdown batch=%zu phase=\"%s\" us_per_step=%.2f share=%.1f%%\n", batch, names[p],
                seconds[p] * per_step, 100.0 * seconds[p] / wall);
  }
  std::printf("breakdown batch=%zu phase=\"GEMMs alone, forward (sgemm_)\" us_per_step=%.2f\n",
              batch, gemm_forward * 1e6);
  std::printf("breakdown batch=%zu phase=\"GEMMs alone, backward (sgemm_)\" us_per_step=%.2f\n",
              batch, gemm_backward * 1e6);
  std::vector<std::pair<std::string, KernelTimes::Entry>> kernels(KernelTimes::totals.begin(),
                                                                  KernelTimes::totals.end());
  std::sort(kernels.begin(), kernels.end(),
            [](auto const& a, auto const& b) { return a.second.seconds > b.second.seconds; });
  for (auto const& [name, entry] : kernels) {
    std::printf("breakdown batch=%zu kernel=\"%s\" calls_per_step=%.2f us_per_step=%.2f "
                "share=%.1f%%\n",
                batch, name.c_str(), double(entry.calls) / double(steps), entry.seconds * per_step,
                100.0 * entry.seconds / wall);
  }
  std::fflush(stdout);
}

char const* gemm_name() {
  switch (loom::kernels::gemm_backend<float, MemorySpace>()) {
  case loom::kernels::GemmBackend::kokkos_kernels:
    return "KokkosBlas::gemm";
  case loom::kernels::GemmBackend::blas:
    return "BLAS";
  default:
    return "loom tiled kernel";
  }
}

} // namespace

int main(int argc, char* argv[]) {
  loom::Environment env(argc, argv);
  try {
    Options const options = parse(argc, argv, {.batches = {32, 256}, .what = {"loom", "ceiling"}});
    std::printf("# loom %s, Kokkos %d.%d.%d %s, GEMM: %s, %zu samples, SGD lr %g\n", LOOM_VERSION,
                KOKKOS_VERSION / 10000, KOKKOS_VERSION / 100 % 100, KOKKOS_VERSION % 100,
                ExecutionSpace::name(), gemm_name(), options.samples, learning_rate);
    std::fflush(stdout);
    Dataset const data = random_dataset(options.samples, inputs, classes);
    auto const wants = [&](char const* what) {
      return std::find(options.what.begin(), options.what.end(), what) != options.what.end();
    };
    for (auto const& what : options.what) {
      if (what != "loom" && what != "ceiling" && what != "breakdown") {
        throw std::runtime_error("--what takes loom, ceiling or breakdown, not " + what);
      }
    }
    for (std::size_t batch : options.batches) {
      if (wants("loom") || wants("ceiling")) {
        run_throughput(options, data, batch, wants("loom"), wants("ceiling"));
      }
    }
    if (wants("breakdown")) {
      for (std::size_t batch : options.batches) {
        run_breakdown<>(options, data, batch);
      }
    }
    return 0;
  } catch (std::exception const& e) {
    std::fprintf(stderr, "mlp_throughput: %s\n", e.what());
    return 1;
  }
}
