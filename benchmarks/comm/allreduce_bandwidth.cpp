// Bus bandwidth of all-reduce for each communicator policy against MPI_Allreduce, from 4 KiB
// to 64 MiB of floats, in one run:
//
//   mpiexec -n 2 benchmarks/comm/allreduce_bandwidth [--min-seconds 0.5] [--csv FILE]
//
// Bus bandwidth is the NCCL convention, 2(p-1)/p · bytes / time: what each link carries, so
// that algorithms and rank counts compare. Each size takes the median of repeated timings.

#include <loom/comm/mpi.hpp>
#include <loom/comm/recursive_halving.hpp>
#include <loom/comm/ring.hpp>
#include <loom/core/environment.hpp>

#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace {

struct Options {
  double min_seconds = 0.5;
  std::string csv;
};

// Median over repetitions of the slowest rank's time for one all-reduce of `data`.
template <class AllReduce>
double time_all_reduce(AllReduce&& all_reduce, std::vector<float>& data, double min_seconds) {
  std::vector<double> times;
  double total = 0;
  for (int warmup = 0; warmup < 3; ++warmup) {
    all_reduce(data);
  }
  while (total < min_seconds || times.size() < 5) {
    MPI_Barrier(MPI_COMM_WORLD);
    double const start = MPI_Wtime();
    all_reduce(data);
    double elapsed = MPI_Wtime() - start;
    MPI_Allreduce(MPI_IN_PLACE, &elapsed, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    times.push_back(elapsed);
    total += elapsed;
    int stop = total >= min_seconds && times.size() >= 5;
    MPI_Bcast(&stop, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (stop) {
      break;
    }
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

} // namespace

int main(int argc, char* argv[]) {
  loom::Environment env(argc, argv);
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string const key = argv[i];
    if (key == "--min-seconds") {
      options.min_seconds = std::stod(argv[i + 1]);
    } else if (key == "--csv") {
      options.csv = argv[i + 1];
    }
  }
  int const p = env.size();
  loom::comm::Mpi mpi(env.comm());
  loom::comm::Ring ring(env.comm());
  loom::comm::RecursiveHalving halving(env.comm());

  std::FILE* csv = nullptr;
  if (env.is_root()) {
    std::printf("all-reduce bus bandwidth, %d ranks (GB/s = 2(p-1)/p * bytes / time / 1e9)\n", p);
    std::printf("%10s %14s %14s %14s %14s\n", "bytes", "MPI_Allreduce", "comm::Mpi", "comm::Ring",
                "RecursiveHalving");
    if (!options.csv.empty()) {
      csv = std::fopen(options.csv.c_str(), "w");
      std::fprintf(csv, "bytes,MPI_Allreduce,comm::Mpi,comm::Ring,comm::RecursiveHalving\n");
    }
  }
  for (std::size_t bytes = 4096; bytes <= (std::size_t{64} << 20); bytes *= 4) {
    std::vector<float> data(bytes / sizeof(float), 1.0f);
    auto const span = [](std::vector<float>& v) { return std::span<float>(v); };
    double const t_raw = time_all_reduce(
        [](std::vector<float>& v) {
          MPI_Allreduce(MPI_IN_PLACE, v.data(), int(v.size()), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        },
        data, options.min_seconds);
    double const t_mpi = time_all_reduce(
        [&](std::vector<float>& v) { mpi.all_reduce(span(v), loom::comm::ReduceOp::sum); }, data,
        options.min_seconds);
    double const t_ring = time_all_reduce(
        [&](std::vector<float>& v) { ring.all_reduce(span(v), loom::comm::ReduceOp::sum); }, data,
        options.min_seconds);
    double const t_halving = time_all_reduce(
        [&](std::vector<float>& v) { halving.all_reduce(span(v), loom::comm::ReduceOp::sum); },
        data, options.min_seconds);
    double const factor = p > 1 ? 2.0 * (p - 1) / p * double(bytes) / 1e9 : double(bytes) / 1e9;
    if (env.is_root()) {
      std::printf("%10zu %14.2f %14.2f %14.2f %14.2f\n", bytes, factor / t_raw, factor / t_mpi,
                  factor / t_ring, factor / t_halving);
      if (csv) {
        std::fprintf(csv, "%zu,%.4f,%.4f,%.4f,%.4f\n", bytes, factor / t_raw, factor / t_mpi,
                     factor / t_ring, factor / t_halving);
      }
    }
  }
  if (csv) {
    std::fclose(csv);
  }
}
