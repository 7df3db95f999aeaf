// The Fashion-MNIST MLP of example 02 trained with local SGD: every rank trains its own
// replica on its slice of each global batch of 64, with its own optimizer steps, and the
// replicas' parameters are averaged every --period steps (and at each epoch's end) instead of
// all-reducing gradients every step. --warmup W trains the first W steps data-parallel
// (post-local SGD). Prints how many bytes each rank all-reduced against what DataParallel
// would have for the same steps. --strategy elastic trains with elastic averaging (EASGD)
// instead: every --period steps each replica is pulled toward a centre variable by --alpha,
// the centre toward the replicas, and the centre is what is evaluated. --strategy server
// trains asynchronously with a parameter server (rank 0; the other ranks are workers, each
// training on whole batches of 64 as it gets them) within a staleness bound of --staleness
// pushes, with --lr 0.02 by default (asynchrony adds momentum of its own to Nesterov's: 3
// workers diverge at the 0.05 the synchronous strategies use). Only rank 0 prints; every rank
// exits non-zero below --min-accuracy (default 0.88).
//
//   mpiexec -n 2 08_local_sgd [--strategy local|elastic|server] [--epochs 10] [--batch 64]
//       [--lr 0.05|0.02] [--period 8] [--warmup 0] [--average-state 0] [--compression none|fp16]
//       [--alpha 0] [--staleness 4] [--train-limit N] [--checkpoint DIR] [--log FILE]
//       [--min-accuracy 0.88]

#include <loom/loom.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

using Net = loom::Sequential<loom::Input<784>, loom::Dense<512>, loom::ReLU, loom::Dense<512>,
                             loom::ReLU, loom::Dense<10>>;

struct Options {
  std::size_t epochs = 10, batch = 64, train_limit = 0, period = 8, warmup = 0, staleness = 4;
  double lr = 0, min_accuracy = 0.88, alpha = 0; // lr 0: the strategy's default
  bool average_state = false;
  std::string strategy = "local", compression = "none", checkpoint, log;
};

template <class Strategy>
typename Strategy::options strategy_options(Options const& o) {
  if constexpr (requires { Strategy::unbounded_staleness; }) {
    return {.servers = 1, .staleness = o.staleness};
  } else if constexpr (requires { typename Strategy::compression_type; }) {
    return {
        .period = o.period, .warmup_steps = o.warmup, .average_optimizer_state = o.average_state};
  } else {
    return {.period = o.period, .alpha = o.alpha};
  }
}

template <class Strategy>
int run(loom::Environment& env, Options const& o) {
  auto train = loom::data::fashion_mnist(env, "train");
  auto test = loom::data::fashion_mnist(env, "test");
  if (o.train_limit > 0 && o.train_limit < train.size()) {
    train = train.subset(0, o.train_limit);
  }
  loom::data::standardize(train, test);

  using Trainer = loom::Trainer<Net, loom::SoftmaxCrossEntropy, loom::SGD, Strategy>;
  double const lr = o.lr > 0 ? o.lr : requires {
    Strategy::unbounded_staleness;
  }
  ? 0.02 : 0.05;
  Trainer trainer(env, {.batch = o.batch,
                        .lr = lr,
                        .optimizer = {.momentum = 0.9, .nesterov = true},
                        .schedule = loom::LrSchedule::cosine(),
                        .seed = 42,
                        .parallel = strategy_options<Strategy>(o)});
  if (env.is_root()) {
    std::cout << trainer.model().summary() << Strategy::name() << " over " << env.size()
              << " ranks (" << Strategy::describe(trainer.options().parallel)
              << "), a global batch of " << o.batch << "\n";
  }
  std::filesystem::path const last = std::filesystem::path(o.checkpoint) / "last.ckpt";
  if (!o.checkpoint.empty() && std::filesystem::exists(last)) {
    trainer.load(last);
  }
  trainer.fit(train, loom::epochs(o.epochs), loom::callbacks::validation(test),
              loom::callbacks::progress(), loom::callbacks::checkpoint(o.checkpoint),
              loom::callbacks::metrics_log(o.log));
  auto const result = trainer.evaluate(test); // the replicas' average or centre, on every rank
  auto const traffic = trainer.runtime().traffic();
  if (env.is_root()) {
    double const mib = 1024.0 * 1024.0;
    std::printf("communicated_MiB=%.1f data_parallel_MiB=%.1f (%.1f%%, per rank, before "
                "compression)\n",
                double(traffic.bytes) / mib, double(traffic.data_parallel_bytes) / mib,
                traffic.data_parallel_bytes
                    ? 100.0 * double(traffic.bytes) / double(traffic.data_parallel_bytes)
                    : 0.0);
    std::printf("test_loss=%.4f\n", result.mean());
    std::printf("test_accuracy=%.4f\n", result.accuracy());
    if (result.accuracy() < o.min_accuracy) {
      std::fprintf(stderr, "08_local_sgd: test accuracy %.4f is below %.4f\n", result.accuracy(),
                   o.min_accuracy);
    }
  }
  return result.accuracy() >= o.min_accuracy ? 0 : 1;
}

int main(int argc, char* argv[]) {
  loom::Environment env(argc, argv);
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string const key = argv[i], value = argv[i + 1];
    if (key == "--strategy")
      o.strategy = value;
    else if (key == "--staleness")
      o.staleness = std::stoul(value);
    else if (key == "--alpha")
      o.alpha = std::stod(value);
    else if (key == "--epochs")
      o.epochs = std::stoul(value);
    else if (key == "--batch")
      o.batch = std::stoul(value);
    else if (key == "--lr")
      o.lr = std::stod(value);
    else if (key == "--period")
      o.period = std::stoul(value);
    else if (key == "--warmup")
      o.warmup = std::stoul(value);
    else if (key == "--average-state")
      o.average_state = value != "0";
    else if (key == "--compression")
      o.compression = value;
    else if (key == "--train-limit")
      o.train_limit = std::stoul(value);
    else if (key == "--checkpoint")
      o.checkpoint = value;
    else if (key == "--log")
      o.log = value;
    else if (key == "--min-accuracy")
      o.min_accuracy = std::stod(value);
    else {
      std::fprintf(stderr, "08_local_sgd: unknown option %s\n", key.c_str());
      return 2;
    }
  }
  return env.run([&] {
    if (o.strategy == "elastic") {
      return run<loom::ElasticAveraging<loom::comm::Mpi>>(env, o);
    } else if (o.strategy == "server") {
      return run<loom::ParameterServer<loom::comm::Mpi>>(env, o);
    } else if (o.strategy != "local") {
      std::fprintf(stderr, "08_local_sgd: --strategy is local, elastic or server, not %s\n",
                   o.strategy.c_str());
      return 2;
    } else if (o.compression == "none") {
      return run<loom::LocalSGD<loom::comm::Mpi>>(env, o);
    } else if (o.compression == "fp16") {
      return run<loom::LocalSGD<loom::comm::Mpi, loom::comm::Fp16>>(env, o);
    }
    std::fprintf(stderr, "08_local_sgd: --compression is none or fp16, not %s\n",
                 o.compression.c_str());
    return 2;
  });
}
