#pragma once

// What the training-throughput programs (train/mlp_throughput.cpp, train/cnn_throughput.cpp)
// share: their command line, random data the size of Fashion-MNIST, and the epoch timer that
// reports samples/s by wall-clock and by process CPU time.

#include <loom/data/in_memory.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace loom::bench {

using Clock = std::chrono::steady_clock;
using Dataset = loom::data::InMemoryDataset<std::int32_t>;

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// CPU time of the process (all threads), which other work on the machine inflates less than
/// wall-clock time.
inline double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

/// --batch 32,256 --what loom,ceiling --samples N --min-epochs N --min-seconds S
struct ThroughputOptions {
  std::vector<std::size_t> batches;
  std::vector<std::string> what;
  std::size_t samples = 60000;
  std::size_t min_epochs = 2;
  double min_seconds = 5.0;
};

template <class T>
std::vector<T> split(std::string const& text) {
  std::vector<T> out;
  std::istringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    std::istringstream value(item);
    T parsed{};
    value >> parsed;
    out.push_back(parsed);
  }
  return out;
}

/// The options on the command line, starting from `options` (the program's defaults).
inline ThroughputOptions parse(int argc, char* argv[], ThroughputOptions options) {
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string const key = argv[i];
    std::string const value = argv[i + 1];
    if (key == "--batch") {
      options.batches = split<std::size_t>(value);
    } else if (key == "--what") {
      options.what = split<std::string>(value);
    } else if (key == "--samples") {
      options.samples = std::stoul(value);
    } else if (key == "--min-epochs") {
      options.min_epochs = std::stoul(value);
    } else if (key == "--min-seconds") {
      options.min_seconds = std::stod(value);
    } else {
      throw std::runtime_error("unknown option " + key);
    }
  }
  if (argc % 2 == 0) {
    throw std::runtime_error(std::string("option ") + argv[argc - 1] + " needs a value");
  }
  return options;
}

/// splitmix64: fast, seeded, good enough for benchmark data.
struct Random {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  float uniform() { return float(next() >> 40) * (1.0f / 16777216.0f); } // [0, 1)
};

/// `samples` rows of `features` values uniform in [0, 1) and labels in [0, classes).
inline Dataset random_dataset(std::size_t samples, std::size_t features, std::size_t classes) {
  Random random{42};
  std::vector<float> values(samples * features);
  for (auto& f : values) {
    f = random.uniform();
  }
  std::vector<std::int32_t> labels(samples);
  for (auto& l : labels) {
    l = static_cast<std::int32_t>(random.next() % classes);
  }
  return Dataset(std::move(values), features, std::move(labels), 1, "random data");
}

struct Throughput {
  double samples_per_s;     // wall clock
  double samples_per_cpu_s; // process CPU time
  std::size_t epochs;
};

/// Runs each of `epochs` (functions that run one epoch of `samples`) once to warm up, then
/// takes turns, one epoch each, until each has run at least --min-epochs epochs for at least
/// --min-seconds seconds. Taking turns makes the measurements share the machine's conditions,
/// so that their ratio holds even when the machine's speed drifts.
inline std::vector<Throughput> time_epochs(ThroughputOptions const& options, std::size_t samples,
                                           std::vector<std::function<void()>> const& epochs) {
  struct Sum {
    double wall = 0, cpu = 0;
    std::size_t epochs = 0;
  };
  std::vector<Sum> sums(epochs.size());
  for (auto const& epoch : epochs) {
    epoch();
    Kokkos::fence();
  }
  auto done = [&] {
    return std::all_of(sums.begin(), sums.end(), [&](Sum const& sum) {
      return sum.epochs >= options.min_epochs && sum.wall >= options.min_seconds;
    });
  };
  while (!done()) {
    for (std::size_t i = 0; i < epochs.size(); ++i) {
      auto const start = Clock::now();
      double const cpu_start = cpu_seconds();
      epochs[i]();
      Kokkos::fence();
      sums[i].wall += seconds_since(start);
      sums[i].cpu += cpu_seconds() - cpu_start;
      sums[i].epochs += 1;
    }
  }
  std::vector<Throughput> out;
  for (auto const& sum : sums) {
    double const total = double(sum.epochs * samples);
    out.push_back({total / sum.wall, total / sum.cpu, sum.epochs});
  }
  return out;
}

/// "loom batch=256 samples_per_s=... samples_per_cpu_s=... epochs=..."
inline void report(char const* what, std::size_t batch, Throughput const& result) {
  std::printf("%s batch=%zu samples_per_s=%.1f samples_per_cpu_s=%.1f epochs=%zu\n", what, batch,
              result.samples_per_s, result.samples_per_cpu_s, result.epochs);
  std::fflush(stdout);
}

} // namespace loom::bench
