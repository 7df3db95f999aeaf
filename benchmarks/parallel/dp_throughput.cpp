// Data-parallel training throughput of the 784-512-512-10 ReLU MLP (examples/02's network) at a
// fixed global batch, on data already in memory (60000 random samples, shuffled every epoch):
//
//   mpiexec -n 2 benchmarks/parallel/dp_throughput [--batch 256] [--comm mpi|ring|halving]
//       [--overlap 1] [--bucket-kib 1024] [--optimizer sgd|momentum] [--min-seconds 5]
//       [--single-only 1]
//
// prints "dp ranks=2 comm=... overlap=1 batch=256 samples_per_s=..." on rank 0; with
// --single-only 1, SingleProcess instead (where plain SGD is applied inside backward), the
// serial reference. Each measurement warms up for one epoch and times whole epochs for at least
// --min-seconds.

#include <loom/loom.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace {

using Net = loom::Sequential<loom::Input<784>, loom::Dense<512>, loom::ReLU, loom::Dense<512>,
                             loom::ReLU, loom::Dense<10>>;
using Dataset = loom::data::InMemoryDataset<std::int32_t>;

struct Options {
  std::size_t batch = 256, bucket_kib = 1024;
  std::string comm = "mpi", optimizer = "sgd";
  bool overlap = true, single_only = false;
  double min_seconds = 5;
};

Dataset make_data() {
  std::size_t const n = 60000;
  loom::CounterRng rng(7);
  std::vector<float> x(n * 784);
  std::vector<std::int32_t> y(n);
  for (std::size_t i = 0; i < x.size(); ++i) {
    x[i] = rng.uniform<float>(i);
  }
  for (std::size_t i = 0; i < n; ++i) {
    y[i] = static_cast<std::int32_t>(rng.below(10, x.size() + i));
  }
  return {std::move(x), 784, std::move(y), 1, "random"};
}

// Samples per second over whole epochs after one epoch of warm-up.
template <class Trainer>
double measure(Trainer& trainer, Dataset const& data, double min_seconds) {
  trainer.fit(data, loom::epochs(1));
  std::uint64_t epochs = 1;
  auto const start = std::chrono::steady_clock::now();
  double elapsed = 0;
  int stop = 0;
  while (!stop) {
    trainer.fit(data, loom::epochs(++epochs));
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    stop = elapsed >= min_seconds && epochs >= 3;
#if defined(LOOM_ENABLE_MPI)
    MPI_Bcast(&stop, 1, MPI_INT, 0, MPI_COMM_WORLD); // every rank stops after the same epoch
#endif
  }
  return double(data.size()) * double(epochs - 1) / elapsed;
}

template <class Comm>
double run_parallel(loom::Environment& env, Options const& o, Dataset const& data) {
  loom::SGD::options sgd{.momentum = o.optimizer == "momentum" ? 0.9 : 0.0};
  loom::Trainer<Net, loom::SoftmaxCrossEntropy, loom::SGD, loom::DataParallel<Comm>> trainer(
      env, {.batch = o.batch,
            .lr = 0.01,
            .optimizer = sgd,
            .parallel = {.bucket_bytes = o.bucket_kib * 1024, .overlap = o.overlap}});
  return measure(trainer, data, o.min_seconds);
}

} // namespace

int main(int argc, char* argv[]) {
  loom::Environment env(argc, argv);
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string const key = argv[i], value = argv[i + 1];
    if (key == "--batch")
      o.batch = std::stoul(value);
    else if (key == "--comm")
      o.comm = value;
    else if (key == "--overlap")
      o.overlap = value != "0";
    else if (key == "--bucket-kib")
      o.bucket_kib = std::stoul(value);
    else if (key == "--optimizer")
      o.optimizer = value;
    else if (key == "--min-seconds")
      o.min_seconds = std::stod(value);
  }
  auto const data = make_data();
  if (o.single_only) {
    loom::SGD::options sgd{.momentum = o.optimizer == "momentum" ? 0.9 : 0.0};
    loom::Trainer<Net, loom::SoftmaxCrossEntropy, loom::SGD> single(
        {.batch = o.batch, .lr = 0.01, .optimizer = sgd});
    double const serial = measure(single, data, o.min_seconds);
    std::printf("single-process optimizer=%s batch=%zu samples_per_s=%.0f\n", o.optimizer.c_str(),
                o.batch, serial);
    return 0;
  }
  double rate = 0;
  if (o.comm == "ring") {
    rate = run_parallel<loom::comm::Ring>(env, o, data);
  } else if (o.comm == "halving") {
    rate = run_parallel<loom::comm::RecursiveHalving>(env, o, data);
  } else {
    rate = run_parallel<loom::comm::Mpi>(env, o, data);
  }
  if (env.is_root()) {
    std::printf("dp ranks=%d comm=%s overlap=%d optimizer=%s batch=%zu samples_per_s=%.0f\n",
                env.size(), o.comm.c_str(), int(o.overlap), o.optimizer.c_str(), o.batch, rate);
  }
}
