// Training throughput of examples/04's convolutional network (two 3×3 convolutions with ReLU
// and 2×2 max pooling, then Dense 128 and Dense 10) with plain SGD (lr 0.01, no momentum) on
// data already in memory: 60000 random 1×28×28 images and labels, the size of Fashion-MNIST,
// shuffled every epoch as training does. Prints samples/s:
//
//   loom       through loom::Trainer::fit, the path users take
//   breakdown  the Trainer's step rebuilt from the lower-level API (BatchPlan, gather,
//              Model::forward, SoftmaxCrossEntropy::compute, Model::backward_into with the SGD
//              step fused), each phase timed, with every Kokkos kernel and profiling region
//              timed through the Kokkos Tools callbacks: where the time of a step goes. A
//              kernel that runs more than once a step is listed once with its calls per step;
//              each GEMM is named after the layer and pass that issues it, or counts towards
//              the loom profiling region it runs in (Conv2D's Winograd GEMMs)
//
// Each measurement warms up for one epoch, then times whole epochs until at least
// --min-epochs epochs and --min-seconds seconds have passed.
//
//   cnn_throughput [--batch 64] [--what loom[,breakdown]] [--samples 60000]
//                  [--min-epochs 2] [--min-seconds 5]
//
// One line per measurement and batch size, e.g. "loom batch=64 samples_per_s=1234.5 ...";
// the same format as mlp_throughput and benchmarks/peers/pytorch_cnn.py.

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
#include <initializer_list>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "throughput.hpp"

namespace {

using Net = loom::Sequential<loom::Input<1, 28, 28>,                                    //
                             loom::Conv2D<32, 3, 1, 1>, loom::ReLU, loom::MaxPool2D<2>, // 32×14×14
                             loom::Conv2D<64, 3, 1, 1>, loom::ReLU, loom::MaxPool2D<2>, // 64×7×7
                             loom::Flatten, loom::Dense<128>, loom::ReLU, loom::Dense<10>>;
using ExecutionSpace = Kokkos::DefaultExecutionSpace;
using MemorySpace = ExecutionSpace::memory_space;
using namespace loom::bench;

constexpr std::size_t inputs = 28 * 28;
constexpr std::size_t classes = 10;
constexpr double learning_rate = 0.01;

// How the two convolutions run on this execution space (see loom::conv): the first by the
// direct kernel and the second by Winograd's F(2×2, 3×3) on host spaces, both by im2col
// elsewhere.
using Conv1 = loom::Conv2D<32, 3, 1, 1>::fused_stage<loom::Shape<1, 28, 28>, float, ExecutionSpace,
                                                     loom::ReLU>;
using Conv2 = loom::Conv2D<64, 3, 1, 1>::fused_stage<loom::Shape<32, 14, 14>, float, ExecutionSpace,
                                                     loom::ReLU>;

// The GEMMs of one training step that run outside a loom profiling region, in the order the
// model issues them: forward stage by stage, then backward in reverse, each layer its input
// gradient (none for the first layer) before its weight gradient. Winograd's GEMMs run in
// regions of their own and are named after them.
std::vector<char const*> gemm_names() {
  std::vector<char const*> names;
  if constexpr (Conv1::im2col) {
    names.push_back("conv1 forward");
  }
  if constexpr (Conv2::im2col) {
    names.push_back("conv2 forward");
  }
  for (char const* name : {"dense1 forward", "dense2 forward", "dense2 input grad",
                           "dense2 weight grad", "dense1 input grad", "dense1 weight grad"}) {
    names.push_back(name);
  }
  if constexpr (Conv2::im2col) {
    names.push_back("conv2 input grad");
    names.push_back("conv2 weight grad");
  }
  if constexpr (Conv1::im2col) {
    names.push_back("conv1 weight grad");
  }
  return names;
}

using Options = ThroughputOptions;

// loom through Trainer::fit, the path users take.
void run_throughput(Options const& options, Dataset const& data, std::size_t batch) {
  loom::Trainer<Net, loom::SoftmaxCrossEntropy, loom::SGD> trainer(
      {.batch = batch, .lr = learning_rate, .seed = 1});
  std::uint64_t fitted = 0;
  auto const results =
      time_epochs(options, data.size(), {[&] { trainer.fit(data, loom::epochs(++fitted)); }});
  report("loom", batch, results.front());
}

// --- the breakdown ------------------------------------------------------------------------

// Time in every Kokkos kernel and profiling region, by label, through the Kokkos Tools
// callbacks (no tool library needed). A kernel that runs several times a step (two pooling
// layers, Winograd's rounds) is one entry; a GEMM inside a loom profiling region counts
// towards the region, and one outside is named by its place in the step (gemm_names).
struct KernelTimes {
  struct Entry {
    double seconds = 0;
    std::size_t calls = 0;
  };
  static inline std::map<std::string, Entry> totals;
  static inline std::vector<char const*> const names = gemm_names();
  static inline std::size_t gemms_this_step = 0;
  static inline std::vector<std::pair<std::string, Clock::time_point>> kernels;
  static inline std::vector<std::pair<std::string, Clock::time_point>> regions;
  static inline bool recording = false;

  static void new_step() { gemms_this_step = 0; }
  static bool in_loom_region() {
    return std::any_of(regions.begin(), regions.end(),
                       [](auto const& r) { return r.first.starts_with("[region] loom::"); });
  }
  // GEMM regions outside loom's own regions by layer and pass; everything else by its name.
  static std::string label(std::string const& name) {
    if (name.find("gemm") == std::string::npos) {
      return name;
    }
    if (in_loom_region()) {
      return name + " (within loom's regions)";
    }
    std::size_t const k = gemms_this_step++;
    return "GEMM " + (k < names.size() ? std::string(names[k]) : "#" + std::to_string(k)) + " (" +
           name + ")";
  }
  static void begin(char const* name, std::uint32_t, std::uint64_t* id) {
    kernels.emplace_back(label(name), Clock::now());
    *id = kernels.size();
  }
  static void end(std::uint64_t) {
    auto const [name, start] = kernels.back();
    kernels.pop_back();
    add(name, start);
  }
  static void push(char const* name) {
    std::string const labelled = "[region] " + label(name);
    regions.emplace_back(labelled, Clock::now());
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

void run_breakdown(Options const& options, Dataset const& data, std::size_t batch) {
  using OptimizerState = loom::SGD::state<float, ExecutionSpace>;
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

  enum Phase { shuffle, gather, forward, loss, backward, phases };
  char const* const names[phases] = {"shuffle (BatchPlan::set_epoch)", "gather", "forward", "loss",
                                     "backward, SGD step fused (Model::backward_into)"};
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
      KernelTimes::new_step();
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
      // As Trainer::train_step: plain SGD written into the weights by the backward pass.
      auto const update = optimizer.linear_update(learning_rate);
      model.backward_into(model.parameters(), float(update->alpha), float(update->beta));
      optimizer.count_step();
      lap(backward, t);
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

  double const per_step = 1e6 / double(steps);
  std::printf("breakdown batch=%zu samples_per_s=%.1f steps=%zu us_per_step=%.1f\n", batch,
              double(epochs * data.size()) / wall, steps, wall * per_step);
  for (int p = 0; p < phases; ++p) {
    std::printf("breakdown batch=%zu phase=\"%s\" us_per_step=%.2f share=%.1f%%\n", batch, names[p],
                seconds[p] * per_step, 100.0 * seconds[p] / wall);
  }
  std::vector<std::pair<std::string, KernelTimes::Entry>> kernels(KernelTimes::totals.begin(),
                                                                  KernelTimes::totals.end());
  std::sort(kernels.begin(), kernels.end(),
            [](auto const& a, auto const& b) { return a.second.seconds > b.second.seconds; });
  // GEMMs: those named by their place in the step, and loom's regions of GEMMs.
  double gemm_seconds = 0;
  for (auto const& [name, entry] : kernels) {
    if (name.starts_with("[region] GEMM") || name.find("GEMMs") != std::string::npos) {
      gemm_seconds += entry.seconds;
    }
  }
  std::printf("breakdown batch=%zu phase=\"all GEMMs\" us_per_step=%.2f share=%.1f%%\n", batch,
              gemm_seconds * per_step, 100.0 * gemm_seconds / wall);
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
    Options const options = parse(argc, argv, {.batches = {64}, .what = {"loom"}});
    std::printf("# loom %s, Kokkos %d.%d.%d %s, GEMM: %s, %zu samples, SGD lr %g\n", LOOM_VERSION,
                KOKKOS_VERSION / 10000, KOKKOS_VERSION / 100 % 100, KOKKOS_VERSION % 100,
                ExecutionSpace::name(), gemm_name(), options.samples, learning_rate);
    std::fflush(stdout);
    Dataset const data = random_dataset(options.samples, inputs, classes);
    auto const wants = [&](char const* what) {
      return std::find(options.what.begin(), options.what.end(), what) != options.what.end();
    };
    for (auto const& what : options.what) {
      if (what != "loom" && what != "breakdown") {
        throw std::runtime_error("--what takes loom or breakdown, not " + what);
      }
    }
    if (wants("loom")) {
      for (std::size_t batch : options.batches) {
        run_throughput(options, data, batch);
      }
    }
    if (wants("breakdown")) {
      for (std::size_t batch : options.batches) {
        run_breakdown(options, data, batch);
      }
    }
    return 0;
  } catch (std::exception const& e) {
    std::fprintf(stderr, "cnn_throughput: %s\n", e.what());
    return 1;
  }
}
