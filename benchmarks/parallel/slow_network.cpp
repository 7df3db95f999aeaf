// Example 02's MLP on Fashion-MNIST over a slow network: every collective completes no sooner
// than --delay-us microseconds after it started, and every point-to-point message leaves that
// long after it was sent (a latency added to comm::Mpi; nonblocking operations can overlap it
// with computation, as they would a real link's). DataParallel against LocalSGD,
// ElasticAveraging and ParameterServer (rank 0 the server, staleness 4, lr 0.02), a batch of
// 64, Nesterov momentum, a cosine schedule: the training seconds and the test accuracy after
// each epoch, and the bytes communicated.
//
//   mpiexec -n 2 benchmarks/slow_network --strategy data|local|elastic|server [--period 16]
//       [--delay-us 0|1000|10000] [--epochs 3] [--train-limit N]
//
// Rank 0 prints one line per epoch: strategy=... delay_us=... epoch=... seconds=...
// (cumulative training seconds) accuracy=...

#include <loom/loom.hpp>

#include <chrono>
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <utility>

namespace {

using Clock = std::chrono::steady_clock;
using Net = loom::Sequential<loom::Input<784>, loom::Dense<512>, loom::ReLU, loom::Dense<512>,
                             loom::ReLU, loom::Dense<10>>;

// comm::Mpi with a latency: a collective is complete `Micros` after it started, not before.
template <unsigned Micros>
class Delayed : public loom::comm::Mpi {
public:
  using communicator_type = Delayed;
  static std::string name() { return "Delayed<" + std::to_string(Micros) + "us, comm::Mpi>"; }
  explicit Delayed(loom::Environment const& env)
      : Mpi(env) {}
  explicit Delayed(Mpi&& mpi)
      : Mpi(std::move(mpi)) {}

  template <class T>
  void all_reduce(std::span<T> data, loom::comm::ReduceOp op) {
    auto const due = Clock::now() + delay;
    Mpi::all_reduce(data, op);
    std::this_thread::sleep_until(due);
  }
  template <class T>
  void broadcast(std::span<T> data, int root) {
    auto const due = Clock::now() + delay;
    Mpi::broadcast(data, root);
    std::this_thread::sleep_until(due);
  }
  template <class T>
  loom::comm::Request iall_reduce(std::span<T> data, loom::comm::ReduceOp op) {
    return loom::comm::Request(
        std::make_unique<Late>(Mpi::iall_reduce(data, op), Clock::now() + delay));
  }
  Delayed split(int color, int key) const { return Delayed(Mpi::split(color, key)); }
  template <class T>
  void send(std::span<T const> data, int dest, int tag) {
    std::this_thread::sleep_for(delay);
    Mpi::send(data, dest, tag);
  }
  template <class T>
  void send(std::span<T> data, int dest, int tag) {
    send(std::span<T const>(data), dest, tag);
  }
  // The message leaves `delay` after the call, when the request is next tested or waited on.
  template <class T>
  loom::comm::Request isend(std::span<T const> data, int dest, int tag) {
    return loom::comm::Request(std::make_unique<LateSend<T>>(this, data, dest, tag));
  }
  template <class T>
  loom::comm::Request isend(std::span<T> data, int dest, int tag) {
    return isend(std::span<T const>(data), dest, tag);
  }

private:
  static constexpr std::chrono::microseconds delay{Micros};
  struct Late final : loom::comm::detail::Operation {
    Late(loom::comm::Request r, Clock::time_point d)
        : inner(std::move(r))
        , due(d) {}
    bool advance() override { return inner.test() && Clock::now() >= due; }
    void finish() override {
      inner.wait();
      std::this_thread::sleep_until(due);
    }
    loom::comm::Request inner;
    Clock::time_point due;
  };
  template <class T>
  struct LateSend final : loom::comm::detail::Operation {
    LateSend(Delayed* c, std::span<T const> d, int to, int t)
        : comm(c)
        , data(d)
        , dest(to)
        , tag(t)
        , due(Clock::now() + delay) {}
    bool advance() override {
      if (!sent) {
        if (Clock::now() < due) {
          return false;
        }
        inner = comm->Mpi::isend(data, dest, tag);
        sent = true;
      }
      return inner.test();
    }
    void finish() override {
      std::this_thread::sleep_until(due);
      advance();
      inner.wait();
    }
    Delayed* comm;
    std::span<T const> data;
    int dest, tag;
    Clock::time_point due;
    bool sent = false;
    loom::comm::Request inner;
  };
};

struct Options {
  std::string strategy = "local";
  std::size_t period = 16, epochs = 3, train_limit = 0;
  unsigned delay = 0;
};

// Prints the test accuracy after each epoch with the training seconds so far.
struct Report {
  Options const* options;
  loom::data::InMemoryDataset<std::int32_t> const* test;
  double seconds = 0;
  template <class Trainer>
  void on_epoch_end(Trainer& trainer, loom::EpochInfo const& info) {
    seconds += info.seconds;
    auto const result = trainer.evaluate(*test);
    if (trainer.is_root()) {
      std::printf("strategy=%s period=%zu delay_us=%u ranks=%d epoch=%zu seconds=%.2f "
                  "accuracy=%.4f\n",
                  options->strategy.c_str(), options->period, options->delay, trainer.size(),
                  std::size_t(info.epoch + 1), seconds, result.accuracy());
      std::fflush(stdout);
    }
  }
};

template <class Comm>
int run(loom::Environment& env, Options const& o) {
  auto train = loom::data::fashion_mnist(env, "train");
  auto test = loom::data::fashion_mnist(env, "test");
  if (o.train_limit > 0 && o.train_limit < train.size()) {
    train = train.subset(0, o.train_limit);
  }
  loom::data::standardize(train, test);
  auto const train_with = [&](auto strategy, auto parallel) {
    using Strategy = decltype(strategy);
    loom::Trainer<Net, loom::SoftmaxCrossEntropy, loom::SGD, Strategy> trainer(
        env, {.batch = 64,
              .lr = o.strategy == "server" ? 0.02 : 0.05,
              .optimizer = {.momentum = 0.9, .nesterov = true},
              .schedule = loom::LrSchedule::cosine(),
              .seed = 42,
              .parallel = parallel});
    trainer.fit(train, loom::epochs(o.epochs), Report{&o, &test});
    if constexpr (requires { trainer.runtime().traffic(); }) {
      auto const traffic = trainer.runtime().traffic();
      if (env.is_root()) {
        std::printf("strategy=%s period=%zu delay_us=%u traffic_MiB=%.1f data_parallel_MiB=%.1f\n",
                    o.strategy.c_str(), o.period, o.delay, double(traffic.bytes) / 1048576.0,
                    double(traffic.data_parallel_bytes) / 1048576.0);
      }
    }
  };
  if (o.strategy == "data") {
    train_with(loom::DataParallel<Comm>{}, typename loom::DataParallel<Comm>::options{});
  } else if (o.strategy == "local") {
    train_with(loom::LocalSGD<Comm>{}, typename loom::LocalSGD<Comm>::options{.period = o.period});
  } else if (o.strategy == "elastic") {
    train_with(loom::ElasticAveraging<Comm>{},
               typename loom::ElasticAveraging<Comm>::options{.period = o.period});
  } else if (o.strategy == "server") {
    train_with(loom::ParameterServer<Comm>{},
               typename loom::ParameterServer<Comm>::options{.servers = 1, .staleness = 4});
  } else {
    loom::detail::fail("slow_network: --strategy takes data, local, elastic or server");
  }
  return 0;
}

} // namespace

int main(int argc, char* argv[]) {
  loom::Environment env(argc, argv);
  return env.run([&] {
    Options o;
    for (int i = 1; i + 1 < argc; i += 2) {
      std::string const key = argv[i], value = argv[i + 1];
      if (key == "--strategy") {
        o.strategy = value;
      } else if (key == "--period") {
        o.period = std::stoul(value);
      } else if (key == "--delay-us") {
        o.delay = unsigned(std::stoul(value));
      } else if (key == "--epochs") {
        o.epochs = std::stoul(value);
      } else if (key == "--train-limit") {
        o.train_limit = std::stoul(value);
      } else {
        loom::detail::fail("slow_network: unknown option ", key);
      }
    }
    switch (o.delay) {
    case 0:
      return run<loom::comm::Mpi>(env, o);
    case 1000:
      return run<Delayed<1000>>(env, o);
    case 10000:
      return run<Delayed<10000>>(env, o);
    default:
      loom::detail::fail("slow_network: --delay-us takes 0, 1000 or 10000");
    }
  });
}
