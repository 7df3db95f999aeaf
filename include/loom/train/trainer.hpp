#pragma once

#include <loom/core/detail/format.hpp>
#include <loom/core/detail/host_copy.hpp>
#include <loom/core/detail/kokkos.hpp>
#include <loom/core/environment.hpp>
#include <loom/core/error.hpp>
#include <loom/data/concepts.hpp>
#include <loom/data/loader.hpp>
#include <loom/data/sampler.hpp>
#include <loom/io/checkpoint.hpp>
#include <loom/io/state.hpp>
#include <loom/io/training.hpp>
#include <loom/kernels/copy.hpp>
#include <loom/loss/concepts.hpp>
#include <loom/loss/mse.hpp>
#include <loom/model/model.hpp>
#include <loom/optim/clip.hpp>
#include <loom/optim/concepts.hpp>
#include <loom/optim/schedule.hpp>
#include <loom/optim/sgd.hpp>
#include <loom/parallel/concepts.hpp>
#include <loom/parallel/single_process.hpp>
#include <loom/train/detail/hooks.hpp>
#include <loom/train/info.hpp>
#include <loom/train/metrics.hpp>

#include <Kokkos_Core.hpp>

#include <chrono>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>

namespace loom {

/// \brief The runtime values of a Trainer: a plain aggregate, filled with designated
///        initialisers.
/// \code
/// loom::Trainer<Net, loom::SoftmaxCrossEntropy, loom::SGD> trainer(
///     {.batch = 128, .lr = 0.05, .optimizer = {.momentum = 0.9}, .seed = 1});
/// \endcode
template <class OptimizerType, class StrategyType = SingleProcess>
struct TrainerOptions {
  std::size_t batch = 32;                         ///< global batch size
  double lr = OptimizerType::default_lr;          ///< base learning rate
  typename OptimizerType::options optimizer = {}; ///< the optimizer's other hyperparameters
  LrSchedule schedule = LrSchedule::constant();   ///< factor on lr per optimizer step
  double clip_norm = 0;                           ///< clip gradients to this global norm (0: off)
  std::uint64_t seed = 0;                         ///< parameters, data order, dropout
  bool shuffle = true;                            ///< a new sample order every epoch
  std::size_t accumulate = 1;                     ///< micro-batches per optimizer step
  std::size_t eval_batch = 1000;                  ///< batch size of evaluate()
  typename StrategyType::options parallel = {};   ///< the strategy's options (bucket size, ...)
};

namespace detail {
template <class OptimizerType>
constexpr bool check_optimizer() {
  static_assert(Optimizer<OptimizerType>, "loom::Trainer<Net, Loss, Optimizer, ...>: Optimizer "
                                          "must be a loom optimizer such as loom::SGD or "
                                          "loom::Adam");
  return Optimizer<OptimizerType>;
}

template <class Net, class LossType>
constexpr bool check_loss_fits() {
  if constexpr (!Loss<LossType>) {
    static_assert(Loss<LossType>, "loom::Trainer<Net, Loss, ...>: Loss must be a loom loss such "
                                  "as loom::SoftmaxCrossEntropy or loom::MSE");
    return false;
  } else if constexpr (!check_network<Net>()) {
    return false; // Net's diagnostic has been given; its output says nothing about the loss
  } else {
    return LossType::template check<Net>();
  }
}
} // namespace detail

/// \brief Trains a network: fit() over a data set for some epochs, evaluate() on another,
///        save() and load() checkpoints that resume bit for bit.
///
/// The Trainer is a convenience over the public lower level (loom::Model, a loss's compute(),
/// an optimizer's state); examples/ shows a hand-written loop with the same parts.
/// \tparam Net             the network type, e.g. loom::Sequential<...>
/// \tparam LossType        loom::SoftmaxCrossEntropy, loom::MSE, ...
/// \tparam OptimizerType   loom::SGD, loom::Adam, ...
/// \tparam StrategyType    how the work is split over processes, a loom::Strategy
///                         (loom::SingleProcess, parallel/concepts.hpp)
/// \tparam ExecutionSpace  where kernels run (default Kokkos::DefaultExecutionSpace)
template <class Net, class LossType, class OptimizerType, class StrategyType = SingleProcess,
          class ExecutionSpace = Kokkos::DefaultExecutionSpace>
class Trainer {
  static_assert(detail::checked<detail::check_optimizer<OptimizerType>()>);
  static_assert(detail::checked<detail::check_loss_fits<Net, LossType>()>);
  static_assert(detail::checked<detail::check_strategy<StrategyType>()>);
  // After a failed check, compile on with a stand-in so that the diagnostic is the only error.
  using optimizer_impl = std::conditional_t<Optimizer<OptimizerType>, OptimizerType, SGD>;
  using loss_impl = std::conditional_t<Loss<LossType>, LossType, MSE>;
  using net_impl = std::conditional_t<detail::check_network<Net>(), Net,
                                      Sequential<Input<2>, Identity>>; // fits either loss
  using strategy_impl = std::conditional_t<Strategy<StrategyType>, StrategyType, SingleProcess>;
  using runtime_type = typename strategy_impl::template runtime<net_impl, ExecutionSpace, float>;

public:
  using network_type = Net;
  using loss_type = loss_impl;
  using optimizer_type = optimizer_impl;
  using strategy_type = strategy_impl;
  using execution_space = ExecutionSpace;
  using memory_space = typename ExecutionSpace::memory_space;
  using value_type = float;
  /// The model this process holds: the whole network, or its part under a strategy that
  /// splits layers (SpatialParallel, TensorParallel).
  using model_type = typename runtime_type::model_type;
  using optimizer_state = typename optimizer_impl::template state<float, ExecutionSpace>;
  using options_type = TrainerOptions<optimizer_impl, strategy_impl>;
  using target_type = typename loss_impl::target_type;
  static constexpr bool classification = std::is_integral_v<target_type>;
  static constexpr std::size_t outputs = net_impl::output_shape::size;
  static constexpr std::size_t targets_per_sample = classification ? 1 : outputs;

  /// A trainer of one process.
  explicit Trainer(options_type options = {}) requires(!strategy_impl::needs_environment)
      : options_(check(options))
      , runtime_(options_.parallel)
      , model_(runtime_.make_model(options_.seed))
      , optimizer_(model_.parameters().extent(0), options_.optimizer) {
    start();
  }
  /// A trainer whose strategy runs over the processes of env.comm(). Every process constructs
  /// it; they check that they run the same configuration and start from rank 0's parameters.
  Trainer(Environment const& env, options_type options = {})
      : options_(check(options))
      , runtime_(env, options_.parallel)
      , model_(runtime_.make_model(options_.seed))
      , optimizer_(model_.parameters().extent(0), options_.optimizer) {
    start();
  }
  Trainer(Trainer const&) = delete;
  Trainer& operator=(Trainer const&) = delete;

  /// This process's rank and the number of processes of the strategy.
  int rank() const { return runtime_.rank(); }
  int size() const { return runtime_.size(); }

  model_type& model() { return model_; }
  model_type const& model() const { return model_; }
  /// The strategy at work on this rank (e.g. a Pipeline's times()).
  runtime_type& runtime() { return runtime_; }
  optimizer_state& optimizer() { return optimizer_; }
  options_type const& options() const { return options_; }
  TrainingState const& state() const { return state_; }
  bool is_root() const { return runtime_.is_root(); }
  /// Asks fit() to return after the current step (callbacks call it: early stopping, time
  /// limits). The state stays consistent: a checkpoint saved afterwards resumes there.
  void stop() { stop_requested_ = true; }

  /// The checkpoint last written by save() or read by load(), if any.
  std::optional<std::filesystem::path> const& last_checkpoint() const { return last_checkpoint_; }

  /// Trains until `epochs` epochs are complete, from where the Trainer stands (the start, or
  /// the position a loaded checkpoint recorded). Callbacks may define any of
  /// on_fit_begin(trainer, FitInfo), on_batch_end(trainer, BatchInfo), and at the end of each
  /// epoch, in three rounds over all callbacks: on_epoch_evaluate(trainer, EpochInfo&)
  /// (measures: validation), on_epoch_end(trainer, EpochInfo) (decides and reports: early
  /// stopping, learning-rate changes, progress), on_epoch_save(trainer, EpochInfo)
  /// (checkpoints, which then hold every decision of the epoch); and on_fit_end(trainer).
  /// \throws loom::Error on data that does not fit the network, on a non-finite loss (the
  ///         step is not applied; checkpoints written before stay as they are), and when a
  ///         schedule whose length is the fit's (LrSchedule::cosine()) would change length
  ///         in a training already started
  template <data::Dataset Data, class... Callbacks>
  void fit(Data const& data, Epochs epochs, Callbacks&&... callbacks) {
    runtime_.collectively([&] { check_data(data, "fit"); });
    {
      detail::Configuration configuration = options_configuration();
      configuration.add("samples", std::to_string(data.size()));
      configuration.add("features", std::to_string(data.sample_size()));
      configuration.add("epochs", std::to_string(epochs.count));
      configuration.add("position", detail::concat("epoch ", state_.epoch, ", batch ", state_.batch,
                                                   ", step ", state_.step));
      runtime_.check_configuration(configuration);
    }
    data_size_hint_ = data.size();
    data::BatchPlan plan(data.size(), options_.batch, options_.seed, options_.shuffle);
    if (resumed_data_ &&
        (resumed_data_->first != data.size() || resumed_data_->second != options_.batch)) {
      fail_on_every_rank("loom::Trainer::fit: the checkpoint ", describe_checkpoint(),
                         " was written training on ", resumed_data_->first,
                         " samples in batches of ", resumed_data_->second, ", but this run has ",
                         data.size(), " samples in batches of ", options_.batch,
                         "; resume with the same data and batch size");
    }
    resumed_data_.reset();
    std::uint64_t const steps_per_epoch =
        (plan.num_batches() + options_.accumulate - 1) / options_.accumulate;
    fix_schedule_length(steps_per_epoch, epochs.count);

    FitInfo fit_info;
    fit_info.first_epoch = state_.epoch;
    fit_info.first_batch = state_.batch;
    fit_info.epochs = epochs.count;
    fit_info.batches_per_epoch = plan.num_batches();
    fit_info.samples = data.size();
    fit_info.batch_size = options_.batch;
    fit_info.classification = classification;
    fit_info.model = Net::name();
    fit_info.data = data.source();
    stop_requested_ = false;
    (detail::on_fit_begin(callbacks, *this, fit_info), ...);

    for (; state_.epoch < epochs.count && !stop_requested_; ++state_.epoch, state_.batch = 0) {
      plan.set_epoch(state_.epoch);
      LossValue running;
      double seconds = 0;
      double lr = current_lr();
      while (state_.batch < plan.num_batches() && !stop_requested_) {
        auto const start = std::chrono::steady_clock::now();
        std::size_t const last = std::min(state_.batch + options_.accumulate, plan.num_batches());
        lr = current_lr();
        LossValue const loss = train_step(data, plan, state_.batch, last, lr);
        seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        running += loss;
        state_.batch = last;
        BatchInfo info;
        info.epoch = state_.epoch;
        info.epochs = epochs.count;
        info.batch = state_.batch - 1;
        info.batches = plan.num_batches();
        info.step = state_.step;
        info.loss = loss;
        info.running = running;
        info.lr = lr;
        info.seconds = seconds;
        info.samples_per_second = seconds > 0 ? double(running.count) / seconds : 0;
        info.classification = classification;
        (detail::on_batch_end(callbacks, *this, info), ...);
      }
      if (state_.batch < plan.num_batches()) {
        break; // stopped inside the epoch
      }
      EpochInfo info;
      info.epoch = state_.epoch;
      info.epochs = epochs.count;
      info.step = state_.step;
      info.train = running;
      info.lr = lr;
      info.seconds = seconds;
      info.samples_per_second = seconds > 0 ? double(running.count) / seconds : 0;
      info.classification = classification;
      // The epoch is complete: a checkpoint written now resumes at the next one.
      ++state_.epoch;
      state_.batch = 0;
      (detail::on_epoch_evaluate(callbacks, *this, info), ...);
      (detail::on_epoch_end(callbacks, *this, info), ...);
      (detail::on_epoch_save(callbacks, *this, info), ...);
      --state_.epoch; // the loop's increment
    }
    (detail::on_fit_end(callbacks, *this), ...);
  }

  /// The mean loss and (for classification) accuracy of the network on `data`, in
  /// evaluation mode (dropout off), in batches of options().eval_batch. Metrics given after
  /// the data (loom::metrics::TopK, ConfusionMatrix, Regression, or any metrics::Metric) are
  /// reset, then accumulated over the same samples, over every process:
  /// \code
  /// loom::metrics::TopK top5(5);
  /// loom::metrics::ConfusionMatrix confusion(10);
  /// auto result = trainer.evaluate(test, top5, confusion);  // result.accuracy(), top5.accuracy()
  /// \endcode
  template <data::Dataset Data, metrics::Metric... Metrics>
  LossValue evaluate(Data const& data, Metrics&... metrics) {
    static_assert((std::is_same_v<typename Metrics::target_type, target_type> && ...),
                  "loom::Trainer::evaluate(data, metrics...): a metric's target_type must be the "
                  "loss's (metrics::TopK and metrics::ConfusionMatrix take class labels, "
                  "metrics::Regression float targets)");
    runtime_.collectively([&] { check_data(data, "evaluate"); });
    return with_model_parameters([&] { return evaluate_model(data, metrics...); });
  }

  /// The network's outputs for every sample of `data`, in its order, on the host:
  /// data.size() × outputs values, row-major (Model::predict; classes with
  /// model_type::classes_of()). In evaluation mode, in batches of options().eval_batch; each
  /// process computes all of them (without communicating, unless the strategy splits layers:
  /// then every rank of the group takes part).
  template <data::Dataset Data>
  std::vector<float> predict(Data const& data) {
    runtime_.collectively([&] { check_data(data, "predict"); });
    return with_model_parameters([&] { return predict_model(data); });
  }

private:
  // A strategy whose model is not the rank's parameters (ElasticAveraging's centre) puts it
  // in place for evaluation, prediction and checkpoints.
  template <class F>
  decltype(auto) with_model_parameters(F&& f) {
    if constexpr (requires { runtime_.with_model_parameters(model_, f); }) {
      return runtime_.with_model_parameters(model_, std::forward<F>(f));
    } else {
      return f();
    }
  }

  template <class Data, class... Metrics>
  LossValue evaluate_model(Data const& data, Metrics&... metrics) {
    (metrics.reset(), ...);
    bool const was_training = model_.training();
    model_.eval();
    LossValue total;
    std::size_t const batch = options_.eval_batch;
    std::vector<std::size_t> indices;
    for (std::size_t first = 0; first < data.size(); first += batch) {
      std::size_t const rows = std::min(batch, data.size() - first);
      indices.resize(rows);
      for (std::size_t i = 0; i < rows; ++i) {
        indices[i] = first + i;
      }
      auto const range = runtime_.shard(rows);
      std::span<std::size_t const> mine(indices.data() + range.begin, range.size());
      if (mine.empty()) {
        continue;
      }
      auto const batch_data = buffers_.gather(data, mine);
      auto const output = model_.forward(runtime_.input(model_, batch_data));
      combine_outputs(output);
      total += compute_loss(output, batch_data, 1.0 / double(rows));
      if constexpr (classification) {
        (metrics.update(model_.space(), output, batch_data.labels()), ...);
      } else {
        (metrics.update(model_.space(), output, batch_data.targets), ...);
      }
    }
    model_.train(was_training);
    total = runtime_.combine(total);
    (runtime_.sum(metrics.sums()), ...);
    check_targets(total, data, "evaluate");
    return total;
  }

  // An ensemble's members' outputs for the same rows, combined in place.
  template <class Output>
  void combine_outputs(Output const& output) {
    if constexpr (requires { runtime_.combine_outputs(model_, output, classification); }) {
      runtime_.combine_outputs(model_, output, classification);
    }
  }

  template <class Data>
  std::vector<float> predict_model(Data const& data) {
    bool const was_training = model_.training();
    model_.eval();
    std::vector<float> result(data.size() * outputs);
    std::vector<std::size_t> indices;
    for (std::size_t first = 0; first < data.size(); first += options_.eval_batch) {
      std::size_t const rows = std::min(options_.eval_batch, data.size() - first);
      indices.resize(rows);
      std::iota(indices.begin(), indices.end(), first);
      auto const batch_data = buffers_.gather(data, indices);
      auto const output = model_.forward(runtime_.input(model_, batch_data));
      combine_outputs(output);
      auto const host = detail::to_host(output);
      std::copy(host.begin(), host.end(), result.begin() + std::ptrdiff_t(first * outputs));
    }
    model_.train(was_training);
    return result;
  }

public:
  /// Writes a checkpoint (atomically: a temporary file, then a rename): the model type,
  /// parameters and states (running statistics), the optimizer state, the dropout stream, the
  /// data order and position, the learning-rate schedule and the state of callbacks (early
  /// stopping, plateaus). The parameters and the optimizer's state are those of the whole
  /// network, in its layout, whatever the strategy (a strategy that splits layers gathers
  /// them first), so the checkpoint loads under any strategy and number of processes. With
  /// several processes rank 0 writes it (under DataParallel batch norm's running statistics
  /// are rank 0's); every rank calls save() and learns of a failure.
  void save(std::filesystem::path const& path) {
    auto const layout = runtime_.layout(model_);
    io::CheckpointWriter writer; // on every rank: a split network's parts are gathered
    with_model_parameters([&] {
      io::detail::add_model(writer, model_, layout);
      io::detail::add_optimizer(writer, optimizer_, layout);
    });
    io::add_training(writer, training_record());
    runtime_.collectively([&] {
      if (runtime_.is_root()) {
        writer.write(path);
      }
    });
    last_checkpoint_ = path;
    last_checkpoint_state_ = state_;
  }

  /// Restores what save() wrote, at any number of processes (rank 0 reads the file and
  /// passes it on); the next fit() continues where that run stood. Nothing changes when the
  /// checkpoint is refused. To start a new training from a checkpoint's weights instead
  /// (another schedule, optimizer or data), load them into the model alone:
  /// io::load(path, trainer.model()).
  /// \throws loom::Error naming the file when it is missing, damaged, holds another model
  ///         type or optimizer, or was written with another seed, shuffling or schedule
  void load(std::filesystem::path const& path) {
    std::vector<std::byte> bytes = runtime_.collectively([&] {
      return runtime_.is_root() ? io::CheckpointReader::read_contents(path)
                                : std::vector<std::byte>{};
    });
    runtime_.broadcast(bytes);
    Restored restored = runtime_.collectively([&] {
      io::CheckpointReader reader(path, std::move(bytes));
      return read_checkpoint(reader);
    });
    // Everything was read and checked: apply it.
    auto const layout = runtime_.layout(model_);
    io::detail::restore_model(model_, restored.model, layout);
    io::detail::restore_optimizer(optimizer_, restored.optimizer, layout);
    if constexpr (requires { runtime_.parameters_replaced(model_); }) {
      runtime_.parameters_replaced(model_);
    }
    state_ = restored.record.position;
    schedule_length_ = restored.record.schedule_length;
    lr_scale_ = restored.record.lr_scale;
    callback_state_ = std::move(restored.record.callbacks);
    resumed_data_ =
        std::make_pair(std::size_t(restored.record.samples), std::size_t(restored.record.batch));
    last_checkpoint_ = path;
    last_checkpoint_state_ = state_;
  }

  /// The learning rate of the next optimizer step: lr × lr_scale() × the schedule's factor.
  double current_lr() const {
    return options_.lr * lr_scale_ * current_schedule().factor(state_.step);
  }

  /// A factor on the learning rate that callbacks change (callbacks::reduce_lr_on_plateau);
  /// checkpoints keep it. 1 at the start.
  double lr_scale() const { return lr_scale_; }
  void set_lr_scale(double scale) {
    if (!(scale >= 0)) {
      detail::fail("loom::Trainer::set_lr_scale: the scale must not be negative; got ", scale);
    }
    lr_scale_ = scale;
  }

  /// The state of a callback, kept under a name of its choosing ("early_stopping"), saved in
  /// checkpoints and restored by load(): what makes a resumed run continue as the original
  /// would have. Empty until the callback writes it.
  std::vector<std::byte>& callback_state(std::string const& name) { return callback_state_[name]; }

  /// A fingerprint of the network type and scalar, stored in checkpoints.
  static std::uint64_t model_fingerprint() {
    return io::detail::fingerprint(model_type::identity());
  }

private:
  using batch_type = data::Batch<float, target_type, memory_space>;

  // Throws a loom::Error that every process raises at this point (the checks on values all
  // processes share: combined losses, the checkpoint every rank read), so that each may end
  // normally (Environment::run).
  template <class... Parts>
  [[noreturn]] static void fail_on_every_rank(Parts const&... parts) {
    detail::fail_collective(detail::concat(parts...));
  }

  // The schedule with its length: the length of the fit that started the training where
  // the schedule leaves it to the Trainer.
  LrSchedule current_schedule() const {
    return schedule_length_ ? options_.schedule.with_default_length(*schedule_length_)
                            : options_.schedule;
  }

  // A schedule whose length is the fit's (LrSchedule::cosine()) takes it from the first fit
  // of a training; a later fit (in this process or resumed from a checkpoint) that would
  // give it another length stops, since the learning rates of the steps to come would
  // differ from those of the training that was started.
  void fix_schedule_length(std::uint64_t steps_per_epoch, std::uint64_t epochs) {
    if (!options_.schedule.has_default_length()) {
      return;
    }
    std::uint64_t const length = steps_per_epoch * epochs;
    if (schedule_length_ && *schedule_length_ != length) {
      std::uint64_t const fixed = *schedule_length_;
      std::string const started = fixed % steps_per_epoch == 0
                                      ? detail::concat("fit(epochs(", fixed / steps_per_epoch, "))")
                                      : detail::concat("a fit of ", fixed, " steps");
      std::string const resumed =
          last_checkpoint_ ? detail::concat(" (resumed from ", describe_checkpoint(), ")")
                           : std::string();
      fail_on_every_rank(
          "loom::Trainer::fit: the learning-rate schedule ", options_.schedule.describe(),
          " takes its length from the fit that starts a training: ", started, " fixed it at ",
          fixed, " steps", resumed, "; fit(epochs(", epochs, ")) of ", steps_per_epoch,
          " steps each would make it ", length,
          " steps and change the learning rates still to come. Continue with ", started,
          ", or give the schedule its length, e.g. LrSchedule::cosine(", length, ")");
    }
    schedule_length_ = length;
  }

  // Every process checks it runs what rank 0 runs; replicas start from the same parameters.
  void start() {
    runtime_.check_configuration(options_configuration());
    runtime_.start(model_, options_.batch);
  }

  detail::Configuration options_configuration() const {
    detail::Configuration c;
    c.add("model", model_type::identity());
    c.add("loss", loss_impl::name());
    c.add("optimizer",
          optimizer_impl::name() + "(" + optimizer_impl::describe(options_.optimizer) + ")");
    c.add("strategy", strategy_impl::name());
    c.add("execution space", ExecutionSpace::name());
    c.add("batch", std::to_string(options_.batch));
    c.add("lr", detail::format_number(options_.lr));
    c.add("schedule", options_.schedule.describe());
    c.add("clip_norm", detail::format_number(options_.clip_norm));
    c.add("seed", std::to_string(options_.seed));
    c.add("shuffle", options_.shuffle ? "true" : "false");
    c.add("accumulate", std::to_string(options_.accumulate));
    c.add("eval_batch", std::to_string(options_.eval_batch));
    c.add("parallel", strategy_impl::describe(options_.parallel));
    return c;
  }

  static options_type const& check(options_type const& options) {
    if (options.batch == 0) {
      detail::fail("loom::Trainer: batch is 0; it must be at least 1");
    }
    if (options.accumulate == 0) {
      detail::fail("loom::Trainer: accumulate is 0; it must be at least 1 (no accumulation)");
    }
    if (options.eval_batch == 0) {
      detail::fail("loom::Trainer: eval_batch is 0; it must be at least 1");
    }
    if (!(options.lr >= 0) || !(options.clip_norm >= 0)) {
      detail::fail("loom::Trainer: lr (", options.lr, ") and clip_norm (", options.clip_norm,
                   ") must not be negative");
    }
    return options;
  }

  template <class Data>
  void check_data(Data const& data, char const* what) const {
    if (data.sample_size() != Net::input_shape::size) {
      detail::fail("loom::Trainer::", what, ": '", data.source(), "' has ", data.sample_size(),
                   " features per sample but the network's ",
                   detail::input_name<typename Net::input_shape>::get(), " takes ",
                   Net::input_shape::size);
    }
    if (data.target_size() != targets_per_sample) {
      detail::fail("loom::Trainer::", what, ": '", data.source(), "' has ", data.target_size(),
                   " targets per sample but ", loss_impl::name(), " on this network needs ",
                   targets_per_sample);
    }
    static_assert(std::is_same_v<typename Data::target_type, target_type>,
                  "loom::Trainer: the data set's target_type must be the loss's target_type "
                  "(std::int32_t class labels for SoftmaxCrossEntropy, float for MSE)");
    if constexpr (classification && requires { data.num_classes(); }) {
      if (data.size() > 0 && data.num_classes() > outputs) {
        detail::fail("loom::Trainer::", what, ": '", data.source(), "' has labels up to ",
                     data.num_classes() - 1, " but the network has ", outputs,
                     " outputs; labels must lie in [0, ", outputs, ")");
      }
    }
  }

  template <class Data>
  void check_targets(LossValue const& value, Data const& data, char const* what) const {
    if (value.invalid > 0) {
      fail_on_every_rank("loom::Trainer::", what, ": ", value.invalid, " samples of '",
                         data.source(), "' have labels outside [0, ", outputs, ")");
    }
  }

  template <class Output>
  LossValue compute_loss(Output const& output, batch_type const& batch, double scale) {
    if constexpr (classification) {
      return loss_impl::compute(model_.space(), output, batch.labels(), model_.output_gradient(),
                                scale);
    } else {
      MatrixSlice<target_type const, memory_space> const targets = batch.targets;
      return loss_impl::compute(model_.space(), output, targets, model_.output_gradient(), scale);
    }
  }

  // What one step trains on, for the strategy's step (parallel/concepts.hpp, StepWork):
  // global batches [first, last) of the plan, several when accumulating gradients.
  template <class Data>
  struct Work {
    Trainer& trainer;
    Data const& data;
    data::BatchPlan const& plan;
    std::size_t first, last;
    double rate;

    std::size_t micro_batches() const { return last - first; }
    std::span<std::size_t const> samples(std::size_t m) const { return plan.batch(first + m); }
    std::uint64_t first_sample(std::size_t m) const { return (first + m) * trainer.options_.batch; }
    batch_type gather(std::span<std::size_t const> indices) const {
      return trainer.buffers_.gather(data, indices);
    }
    template <class Output>
    LossValue loss(model_type&, Output const& output, batch_type const& batch, double scale) const {
      return trainer.compute_loss(output, batch, scale);
    }
    void check(LossValue const& loss, std::size_t m) const {
      trainer.check_step_loss(loss, data, first + m, plan.num_batches());
    }
    double lr() const { return rate; }
    double clip_norm() const { return trainer.options_.clip_norm; }
    bool ends_epoch() const { return last == plan.num_batches(); }
    // The epoch's batches by index, for a strategy that hands them out itself.
    std::size_t first_batch() const { return first; }
    std::size_t epoch_batches() const { return plan.num_batches(); }
    std::span<std::size_t const> epoch_batch(std::size_t i) const { return plan.batch(i); }
    std::uint64_t epoch_batch_first_sample(std::size_t i) const {
      return i * trainer.options_.batch;
    }
  };

  // One optimizer step over global batches [first, last) of the plan, as the strategy runs it.
  template <class Data>
  LossValue train_step(Data const& data, data::BatchPlan const& plan, std::size_t first,
                       std::size_t last, double lr) {
    Work<Data> work{*this, data, plan, first, last, lr};
    LossValue const loss = runtime_.step(model_, optimizer_, work);
    ++state_.step;
    return loss;
  }

  // Stops training, before the step touches the parameters, on labels out of range or a loss
  // that is not finite.
  template <class Data>
  void check_step_loss(LossValue const& loss, Data const& data, std::size_t batch,
                       std::size_t batches) const {
    check_targets(loss, data, "fit");
    if (!std::isfinite(loss.sum)) {
      fail_non_finite(loss.sum, batch, batches);
    }
  }

  [[noreturn]] void fail_non_finite(double loss, std::size_t batch, std::size_t batches) const {
    std::string kept = "no checkpoint was written in this run";
    if (last_checkpoint_) {
      kept = detail::concat("the last checkpoint, ", describe_checkpoint(), ", is intact");
    }
    fail_on_every_rank("loom::Trainer::fit: the loss became ", loss, " in epoch ", state_.epoch + 1,
                       ", batch ", batch + 1, " of ", batches, " (optimizer step ", state_.step + 1,
                       "); training stopped before this step changed the parameters, and ", kept,
                       ". Lower the learning rate, set clip_norm, or check the data for NaN/Inf");
  }

  std::string describe_checkpoint() const {
    if (!last_checkpoint_) {
      return "(none)";
    }
    return detail::concat("'", last_checkpoint_->string(), "' (epoch ",
                          last_checkpoint_state_.epoch, ", batch ", last_checkpoint_state_.batch,
                          ")");
  }

  // What a checkpoint holds, read and checked before any of it is applied.
  struct Restored {
    io::detail::ModelContents<float> model;
    io::detail::OptimizerContents<float> optimizer;
    io::TrainingRecord record;
  };

  Restored read_checkpoint(io::CheckpointReader const& reader) const {
    Restored restored;
    char const* const who = "loom::Trainer::load";
    restored.model = io::detail::read_model<model_type>(reader, who, "this trainer's model");
    restored.optimizer = io::detail::read_optimizer(reader, optimizer_, who, "this trainer uses",
                                                    model_type::num_logical_parameters);
    restored.record = io::read_training(reader, who);
    io::TrainingRecord const& record = restored.record;
    if (record.seed != options_.seed || record.shuffle != options_.shuffle) {
      detail::fail(who, ": checkpoint '", reader.path().string(), "' was written with seed ",
                   record.seed, (record.shuffle ? " and shuffling" : " without shuffling"),
                   "; this trainer has seed ", options_.seed,
                   (options_.shuffle ? " and shuffling" : " without shuffling"),
                   "; resume with the same options to continue the same training");
    }
    if (record.schedule && !(*record.schedule == options_.schedule)) {
      detail::fail(who, ": checkpoint '", reader.path().string(),
                   "' was written with the learning-rate schedule ", record.schedule->describe(),
                   "; this trainer has ", options_.schedule.describe(),
                   "; resume with the same schedule to continue the same training, or load the "
                   "weights alone with io::load(path, trainer.model())");
    }
    return restored;
  }

  // What a checkpoint records of the training besides the model and the optimizer.
  io::TrainingRecord training_record() const {
    io::TrainingRecord record;
    record.position = state_;
    record.seed = options_.seed;
    record.batch = options_.batch;
    record.shuffle = options_.shuffle;
    record.samples = data_size_hint_;
    record.schedule = options_.schedule;
    record.schedule_length = schedule_length_;
    record.lr_scale = lr_scale_;
    record.callbacks = callback_state_;
    return record;
  }

  options_type options_;
  runtime_type runtime_;
  model_type model_;
  optimizer_state optimizer_;
  TrainingState state_;
  std::optional<std::uint64_t> schedule_length_; // set by the first fit (or a checkpoint)
  double lr_scale_ = 1.0;
  std::map<std::string, std::vector<std::byte>> callback_state_;
  std::optional<std::filesystem::path> last_checkpoint_;
  TrainingState last_checkpoint_state_;
  std::optional<std::pair<std::size_t, std::size_t>> resumed_data_;
  std::uint64_t data_size_hint_ = 0;
  bool stop_requested_ = false;
  data::BatchBuffers<float, target_type, memory_space> buffers_;
};

} // namespace loom
