#pragma once

#include <loom/comm/concepts.hpp>
#include <loom/comm/default.hpp>
#include <loom/comm/self.hpp>
#include <loom/core/detail/host_copy.hpp>
#include <loom/core/detail/kokkos.hpp>
#include <loom/core/environment.hpp>
#include <loom/core/error.hpp>
#include <loom/core/tensor.hpp>
#include <loom/data/sampler.hpp>
#include <loom/kernels/copy.hpp>
#include <loom/loss/concepts.hpp>
#include <loom/model/model.hpp>
#include <loom/optim/clip.hpp>
#include <loom/parallel/data_parallel.hpp>
#include <loom/parallel/detail/gradient_sync.hpp>
#include <loom/parallel/detail/layout.hpp>
#include <loom/parallel/detail/pipeline.hpp>
#include <loom/parallel/detail/replicas.hpp>
#include <loom/parallel/detail/sample_group.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace loom {

/// \brief Where a Pipeline cuts a network: the positions (from 0, the first layer after
///        Input) of the layers that begin a new stage. Cuts<4, 9> makes three stages: layers
///        0–3, 4–8 and 9 to the end.
template <std::size_t... Layers>
struct Cuts {
  static constexpr std::size_t count = sizeof...(Layers);
  static constexpr std::array<std::size_t, count> at{Layers...};
  static std::string name() {
    std::string out = "Cuts<";
    bool first = true;
    ((out += (first ? "" : ", ") + std::to_string(Layers), first = false), ...);
    return out + ">";
  }
};

/// \brief The micro-batches a Pipeline splits every batch into (a batch of fewer rows into
///        as many micro-batches as it has rows).
template <std::size_t M>
struct MicroBatches {
  static_assert(M >= 1, "loom::MicroBatches<M>: M must be at least 1");
  static constexpr std::size_t count = M;
};

/// \brief The order in which a Pipeline's stages run their micro-batches.
namespace schedule {
/// Fill-drain (GPipe): every micro-batch's forward, then every backward. Keeps all M
/// micro-batches' activations on every stage.
struct GPipe {
  static constexpr bool one_f_one_b = false;
  static constexpr char const* name = "GPipe";
};
/// One forward, one backward (PipeDream-Flush, Megatron-LM's default): stage s runs
/// min(p − s − 1, M) forwards ahead, then alternates. The same idle time as GPipe, with at
/// most p − s micro-batches' activations kept on stage s.
struct OneFOneB {
  static constexpr bool one_f_one_b = true;
  static constexpr char const* name = "1F1B";
};
} // namespace schedule

namespace detail {
template <class T>
inline constexpr bool is_cuts = false;
template <std::size_t... L>
inline constexpr bool is_cuts<Cuts<L...>> = true;
template <class T>
inline constexpr bool is_micro_batches = false;
template <std::size_t M>
inline constexpr bool is_micro_batches<MicroBatches<M>> = true;
template <class T>
inline constexpr bool is_schedule =
    std::is_same_v<T, schedule::GPipe> || std::is_same_v<T, schedule::OneFOneB>;

/// \brief The model of a rank under a Pipeline: the Model of its stage (stage_type<K> for
///        its K), with the interface of a whole network's Model the Trainer and checkpoints
///        use. forward() outside the strategy's step is collective over the stages (an
///        evaluation): the batch passes every stage in turn and the output reaches every
///        rank.
template <class Net, class ExecutionSpace, class Scalar, class CutsT, class Comm,
          class Inner = Whole, class Indices = std::make_index_sequence<CutsT::count + 1>>
class PipelineModel;

template <class Net, class ExecutionSpace, class Scalar, class CutsT, class Comm, class Inner,
          std::size_t... K>
class PipelineModel<Net, ExecutionSpace, Scalar, CutsT, Comm, Inner, std::index_sequence<K...>> {
public:
  template <std::size_t I>
  using stage_type = Model<Net, ExecutionSpace, Scalar, PipelineStage<CutsT, I, Inner>>;
  using whole_type = Model<Net, ExecutionSpace, Scalar>;
  using network_type = Net;
  using execution_space = ExecutionSpace;
  using memory_space = typename ExecutionSpace::memory_space;
  using value_type = Scalar;
  using input_shape = typename Net::input_shape;
  using output_shape = typename Net::output_shape;
  using buffer_type = Vector<Scalar, memory_space>;
  using batch_type = MatrixSlice<Scalar, memory_space>;
  using const_batch_type = MatrixSlice<Scalar const, memory_space>;
  static_assert(is_host_accessible<memory_space>,
                "loom::Pipeline: the model's memory space must be host accessible (GPU-aware "
                "communication is not supported yet)");

  static constexpr bool whole = false;
  static constexpr std::size_t stages = sizeof...(K);
  static constexpr std::size_t num_logical_parameters = whole_type::num_logical_parameters;
  static constexpr std::size_t num_network_stages = whole_type::num_network_stages;
  static constexpr auto network_parameter_offsets = whole_type::network_parameter_offsets;
  static constexpr std::size_t num_logical_states = whole_type::num_logical_states;
  static std::string identity() { return whole_type::identity(); }
  static std::string summary() { return whole_type::summary(); }

  /// Stage `stage` of the network, drawn as the whole network's parameters would be; its
  /// part `shard` of the stage's ranks (`group`), where Inner splits the stage.
  PipelineModel(std::uint64_t seed, std::size_t stage, Comm& comm, Shard shard = {},
                SampleGroup<Scalar>* group = nullptr)
      : stage_index_(stage)
      , comm_(&comm) {
    ((stage == K ? (void)stage_.template emplace<K>(std::make_unique<stage_type<K>>(seed, shard))
                 : (void)0),
     ...);
    with_stage([stage, group](auto& m) {
      if (group != nullptr) {
        m.set_group(group);
      }
      if (stage > 0) {
        m.enable_input_gradient();
      }
    });
  }

  /// This rank's stage (0 to stages − 1).
  std::size_t stage() const { return stage_index_; }
  /// f(model) on this rank's stage Model.
  template <class F>
  decltype(auto) with_stage(F&& f) {
    return std::visit([&](auto& m) -> decltype(auto) { return f(*m); }, stage_);
  }
  template <class F>
  decltype(auto) with_stage(F&& f) const {
    return std::visit([&](auto const& m) -> decltype(auto) { return f(std::as_const(*m)); },
                      stage_);
  }

  buffer_type const& parameters() const {
    return with_stage([](auto const& m) -> buffer_type const& { return m.parameters(); });
  }
  buffer_type const& gradients() const {
    return with_stage([](auto const& m) -> buffer_type const& { return m.gradients(); });
  }
  buffer_type const& states() const {
    return with_stage([](auto const& m) -> buffer_type const& { return m.states(); });
  }
  execution_space const& space() const {
    return with_stage([](auto const& m) -> execution_space const& { return m.space(); });
  }
  std::uint64_t seed() const {
    return with_stage([](auto const& m) { return m.seed(); });
  }
  std::uint64_t step() const {
    return with_stage([](auto const& m) { return m.step(); });
  }
  void set_seed(std::uint64_t seed) {
    with_stage([seed](auto& m) { m.set_seed(seed); });
  }
  void set_step(std::uint64_t step) {
    with_stage([step](auto& m) { m.set_step(step); });
  }
  void train(bool on = true) {
    with_stage([on](auto& m) { m.train(on); });
  }
  void eval() { train(false); }
  bool training() const {
    return with_stage([](auto const& m) { return m.training(); });
  }
  /// How this stage's parameters and states lie in the whole network's.
  std::vector<ParameterRun> parameter_map() const {
    return with_stage([](auto const& m) { return m.parameter_map(); });
  }
  std::vector<ParameterRun> state_map() const {
    return with_stage([](auto const& m) { return m.state_map(); });
  }

  /// The whole network's output for x on every rank (collective over the stages): each
  /// stage runs on what the one before sent, the last stage's output is broadcast.
  template <class XView>
  const_batch_type forward(XView const& x) {
    std::size_t const rows = x.extent(0);
    evaluating_ = true;
    with_stage([&](auto& m) {
      using M = std::decay_t<decltype(m)>;
      constexpr std::size_t in = M::input_shape::size, out = M::output_shape::size;
      m.select_slot(0);
      const_batch_type y;
      if (stage_index_ == 0) {
        y = m.forward(x);
      } else {
        grow(evaluation_input_, rows * in);
        comm_->recv(std::span<Scalar>(evaluation_input_.data(), rows * in), int(stage_index_ - 1),
                    activation_tag);
        y = m.forward(batch_type(evaluation_input_.data(), rows, in));
      }
      fence(m.space(), "loom::Pipeline::forward");
      if (stage_index_ + 1 < stages) {
        comm_->send(std::span<Scalar const>(y.data(), rows * out), int(stage_index_ + 1),
                    activation_tag);
      } else {
        grow(evaluation_output_, rows * out);
        std::copy_n(y.data(), rows * out, evaluation_output_.data());
      }
    });
    grow(evaluation_output_, rows * output_shape::size);
    grow(evaluation_gradient_, rows * output_shape::size);
    comm_->broadcast(std::span<Scalar>(evaluation_output_.data(), rows * output_shape::size),
                     int(stages - 1));
    rows_ = rows;
    return const_batch_type(evaluation_output_.data(), rows, output_shape::size);
  }

  /// Where the loss writes ∂loss/∂output: after forward(), for its output; within the
  /// strategy's step, the last stage's for the micro-batch it runs.
  batch_type output_gradient() const {
    if (evaluating_) {
      return batch_type(evaluation_gradient_.data(), rows_, output_shape::size);
    }
    return with_stage([](auto const& m) { return m.output_gradient(); });
  }

  /// The strategy's step begins: output_gradient() is the stage's again.
  void begin_step() { evaluating_ = false; }

  static constexpr int activation_tag = 17, gradient_tag = 18;

private:
  static void grow(buffer_type& buffer, std::size_t size) {
    if (buffer.extent(0) < size) {
      buffer = buffer_type(
          Kokkos::view_alloc(Kokkos::WithoutInitializing, "loom::Pipeline::buffer"), size);
    }
  }

  std::size_t stage_index_;
  Comm* comm_;
  std::variant<std::unique_ptr<stage_type<K>>...> stage_;
  buffer_type evaluation_input_, evaluation_output_, evaluation_gradient_;
  std::size_t rows_ = 0;
  bool evaluating_ = false;
};
/// \brief Where a pipeline stage's time went (PipelineRuntime::times()).
struct PipelineTimes {
  double step = 0;       ///< seconds in steps
  double wait = 0;       ///< of which waiting for messages
  std::size_t steps = 0; ///< steps taken
  /// The share of the steps' time the stage waited (its bubble).
  double idle_share() const { return step > 0 ? wait / step : 0.0; }
};

/// \brief Pipeline's runtime: stage s of the network on rank s of the stages' communicator,
///        its layers whole (Inner = loom::Whole, InnerComm = comm::Self) or split by Inner
///        over the ranks of InnerComm (Hybrid<Pipeline<...>, TensorParallel<P>>). Along a
///        Hybrid's data-parallel axis (set_replicas), each step runs this replica's rows of
///        every batch and sums the gradients and the loss over the replicas.
template <class Strategy, class Net, class ExecutionSpace, class Scalar, class Inner = Whole,
          class InnerComm = comm::Self>
class PipelineRuntime {
  using CutsT = typename Strategy::cuts_type;
  using Micro = MicroBatches<Strategy::micro_batches>;
  using Schedule = typename Strategy::schedule_type;
  using Comm = typename Strategy::comm_type;
  using options = typename Strategy::options;
  static constexpr bool plan_ok = check_cuts<Net, CutsT>();
  // After a failed check, compile on with a plan that holds, so that the diagnostic is the
  // only error.
  using net = std::conditional_t<plan_ok, Net, Sequential<Input<1>, Identity>>;
  using cuts = std::conditional_t<plan_ok, CutsT, Cuts<>>;

public:
  using model_type = PipelineModel<net, ExecutionSpace, Scalar, cuts, Comm, Inner>;
  using memory_space = typename ExecutionSpace::memory_space;

  /// The ranks of `env`'s communicator, one per stage (the same error on every rank
  /// otherwise).
  PipelineRuntime(Environment const& env, options const& opts)
      : PipelineRuntime(Comm(env), opts) {}
  /// The ranks of `stages`, one per stage; each stage's layers split over the ranks of
  /// `inner` (one axis of a Hybrid's grid each).
  PipelineRuntime(Comm stages, options const& opts, InnerComm inner = InnerComm())
      : comm_(checked(std::move(stages)))
      , inner_(std::move(inner))
      , group_(inner_)
      , recompute_(opts.recompute) {}
  PipelineRuntime(PipelineRuntime const&) = delete; // the model points at comm_
  PipelineRuntime& operator=(PipelineRuntime const&) = delete;

  model_type make_model(std::uint64_t seed) {
    return model_type(seed, std::size_t(comm_.rank()), comm_, Shard{inner_.rank(), inner_.size()},
                      &group_);
  }
  /// Runs each step on this replica's rows of every batch, the gradients and the loss summed
  /// over the replicas (nullptr: every batch whole).
  void set_replicas(ReplicaAxis<Scalar>* replicas) { replicas_ = replicas; }
  void start(model_type&, std::size_t) {}

  /// One optimizer step: the schedule's passes over the micro-batches of each of the
  /// work's batches, the loss (on the last stage) shared by every stage, each stage's
  /// optimizer step on its parameters.
  template <class Optimizer, class Work>
  LossValue step(model_type& model, Optimizer& optimizer, Work& work) {
    model.begin_step();
    auto const begin = std::chrono::steady_clock::now();
    LossValue const loss =
        model.with_stage([&](auto& stage) { return run(model, stage, optimizer, work); });
    times_.step += seconds_since(begin);
    ++times_.steps;
    return loss;
  }

  /// Where this stage's time went since the start (or reset_times()): the steps' wall time,
  /// and the part of it spent waiting for activations and gradients to arrive and leave
  /// (the pipeline's bubble and its messages).
  PipelineTimes const& times() const { return times_; }
  void reset_times() { times_ = {}; }

  int rank() const { return comm_.rank(); }
  int size() const { return comm_.size(); }
  bool is_root() const { return rank() == 0; }

  /// Every rank takes part in every batch (evaluation passes each batch through the
  /// stages; every rank receives the output).
  data::IndexRange shard(std::size_t rows) const { return {0, rows}; }
  template <class Batch>
  auto input(model_type const&, Batch const& batch) const {
    return batch.x;
  }
  /// Every rank computed the same loss and metrics from the same output: nothing to sum.
  LossValue combine(LossValue const& local) const { return local; }
  void sum(std::span<double>) {}

  void check_configuration(Configuration const& configuration) {
    comm_.check_configuration(configuration, who_.c_str());
  }
  template <class F>
  auto collectively(F&& f) -> decltype(f()) {
    return comm_.collectively(std::forward<F>(f));
  }
  void broadcast(std::vector<std::byte>& bytes) { broadcast_bytes(comm_, bytes); }
  /// Each stage's parameters and states gathered into, and taken from, the whole network's
  /// layout.
  SplitLayout<Comm> layout(model_type const& model) {
    return SplitLayout<Comm>(comm_, model.parameter_map(), model_type::num_logical_parameters,
                             model.state_map(), model_type::num_logical_states);
  }

private:
  template <class Stage, class Optimizer, class Work>
  LossValue run(model_type& model, Stage& m, Optimizer& optimizer, Work& work) {
    constexpr std::size_t in = Stage::input_shape::size, out = Stage::output_shape::size;
    std::size_t const s = model.stage(), p = model_type::stages;
    bool const first = s == 0, last = s + 1 == p;
    constexpr bool one_f_one_b = Schedule::one_f_one_b;
    std::size_t rows_total = 0;
    for (std::size_t w = 0; w < work.micro_batches(); ++w) {
      rows_total += work.samples(w).size();
    }
    std::uint64_t const step = m.step();
    m.train();
    LossValue local;
    bool accumulate = false;
    for (std::size_t w = 0; w < work.micro_batches(); ++w) {
      // This replica's rows of the batch (all of them without a replica axis).
      std::span<std::size_t const> const batch_samples = work.samples(w);
      auto const range = replicas_ != nullptr ? replicas_->shard(batch_samples.size())
                                              : data::IndexRange{0, batch_samples.size()};
      std::span<std::size_t const> const samples = batch_samples.subspan(range.begin, range.size());
      std::size_t const rows = samples.size();
      if (rows == 0) {
        continue; // a short batch leaves this replica without rows
      }
      std::size_t const parts = std::min(Micro::count, rows);
      std::size_t const slots = pipeline_slots(one_f_one_b, p, s, parts);
      std::size_t const longest = (rows + parts - 1) / parts;
      // Recomputing, the stage keeps only its micro-batches' inputs (inputs_): one slot of
      // activations, run again before each backward whose forward is not the last one run.
      std::size_t const model_slots = recompute_ ? 1 : slots;
      m.set_activation_slots(std::max(model_slots, slots_));
      slots_ = std::max(model_slots, slots_);
      grow(inputs_, slots * longest * in);
      grow(sent_gradients_, first ? 0 : slots * longest * in);
      grow(output_gradients_, last ? slots * longest * out : 0);
      grow(received_gradients_, last ? 0 : slots * longest * out);
      grow(outbox_, recompute_ && !last ? slots * longest * out : 0);
      forward_sends_.resize(std::max(forward_sends_.size(), slots));
      backward_sends_.resize(std::max(backward_sends_.size(), slots));
      auto const ops = pipeline_order(one_f_one_b, p, s, parts);
      // Each op's message is received into its own buffer (an F's input slot, a B's
      // gradient slot), its receive posted while the op before it computes where the buffer
      // is free by then.
      auto const needs_message = [&](PipelineOp op) { return op.forward ? !first : !last; };
      comm::Request ahead;
      std::size_t posted = ops.size();
      auto const post = [&](std::size_t i) {
        if (i >= ops.size() || posted == i || !needs_message(ops[i])) {
          return;
        }
        auto const mb = micro_batch(rows, parts, ops[i].micro_batch);
        std::size_t const slot = ops[i].micro_batch % slots;
        ahead =
            ops[i].forward
                ? comm_.irecv(
                      std::span<Scalar>(inputs_.data() + slot * longest * in, mb.count * in),
                      int(s - 1), model_type::activation_tag)
                : comm_.irecv(std::span<Scalar>(received_gradients_.data() + slot * longest * out,
                                                mb.count * out),
                              int(s + 1), model_type::gradient_tag);
        posted = i;
      };
      std::size_t resident = parts; // the micro-batch whose activations slot 0 holds
      for (std::size_t i = 0; i < ops.size(); ++i) {
        auto const op = ops[i];
        auto const mb = micro_batch(rows, parts, op.micro_batch);
        std::size_t const slot = op.micro_batch % slots;
        std::span<std::size_t const> const mine = samples.subspan(mb.first, mb.count);
        Scalar* const x = inputs_.data() + slot * longest * in;
        m.set_step(step + w);
        m.set_sample_offset(work.first_sample(w) + range.begin + mb.first);
        m.select_slot(recompute_ ? 0 : slot);
        if (needs_message(op)) {
          post(i);
          waited([&] { ahead.wait(); });
        }
        // The next F's input slot is free unless this op is the backward that still reads it.
        auto const& next = i + 1 < ops.size() ? ops[i + 1] : op;
        bool const next_free =
            !(next.forward && !op.forward && op.micro_batch + slots == next.micro_batch);
        if (next_free) {
          post(i + 1);
        }
        if (op.forward) {
          waited([&] { forward_sends_[slot].wait(); }); // the slot's last activations left
          std::optional<decltype(work.gather(mine))> batch;
          if (first) {
            batch.emplace(work.gather(mine));
            kernels::copy(m.space(), VectorSlice<Scalar, memory_space>(x, mb.count * in),
                          VectorSlice<Scalar const, memory_space>(batch->x.data(), mb.count * in));
          }
          auto const y = m.forward(MatrixSlice<Scalar, memory_space>(x, mb.count, in));
          resident = op.micro_batch;
          if (last) {
            if (!batch) {
              batch.emplace(work.gather(mine));
            }
            local += work.loss(model, y, *batch, 1.0 / double(rows_total));
            kernels::copy(m.space(),
                          VectorSlice<Scalar, memory_space>(
                              output_gradients_.data() + slot * longest * out, mb.count * out),
                          m.output_gradient());
          } else {
            Scalar const* sent = y.data();
            if (recompute_) {
              // Slot 0's output is overwritten by the next pass: send a copy.
              Scalar* const copy = outbox_.data() + slot * longest * out;
              kernels::copy(m.space(), VectorSlice<Scalar, memory_space>(copy, mb.count * out),
                            VectorSlice<Scalar const, memory_space>(y.data(), mb.count * out));
              sent = copy;
            }
            fence(m.space(), "loom::Pipeline: activations");
            forward_sends_[slot] = comm_.isend(std::span<Scalar const>(sent, mb.count * out),
                                               int(s + 1), model_type::activation_tag);
          }
        } else {
          if (recompute_ && resident != op.micro_batch) {
            // The forward again, from the kept input, with the same dropout masks; batch
            // norm's running statistics are not updated twice.
            m.set_update_states(false);
            m.forward(MatrixSlice<Scalar, memory_space>(x, mb.count, in));
            m.set_update_states(true);
            resident = op.micro_batch;
          }
          auto const dy = m.output_gradient();
          Scalar const* source = last ? output_gradients_.data() + slot * longest * out
                                      : received_gradients_.data() + slot * longest * out;
          kernels::copy(m.space(), dy,
                        VectorSlice<Scalar const, memory_space>(source, mb.count * out));
          m.backward(accumulate ? Scalar(1) : Scalar(0));
          accumulate = true;
          if (!first) {
            waited([&] { backward_sends_[slot].wait(); });
            Scalar* const dx = sent_gradients_.data() + slot * longest * in;
            kernels::copy(m.space(), VectorSlice<Scalar, memory_space>(dx, mb.count * in),
                          m.input_gradient());
            fence(m.space(), "loom::Pipeline: input gradients");
            backward_sends_[slot] = comm_.isend(std::span<Scalar const>(dx, mb.count * in),
                                                int(s - 1), model_type::gradient_tag);
          }
        }
        post(i + 1); // if its buffer was in use until now
      }
      // Every message of this batch has left before its buffers may grow for the next.
      waited([&] {
        for (auto& request : forward_sends_) {
          request.wait();
        }
        for (auto& request : backward_sends_) {
          request.wait();
        }
      });
    }
    m.set_step(step + work.micro_batches());
    if (!accumulate) {
      kernels::fill(m.space(), m.gradients(), Scalar(0)); // no rows on this replica
    }
    // The loss, known on the last stage, reaches every stage; each checks it before the
    // step, so that all stop together.
    LossValue step_loss = from_last_stage(local, last);
    if (replicas_ != nullptr) {
      replicas_->start_combine(step_loss);
      fence(m.space(), "loom::Pipeline: gradients");
      replicas_->sum_gradients(m.gradients().data(), m.gradients().extent(0));
      step_loss = replicas_->finish_combine();
    }
    work.check(step_loss, work.micro_batches() - 1);
    double scale = 1.0;
    if (work.clip_norm() > 0) {
      double squares = stage_squares(m);
      comm_.all_reduce(std::span<double>(&squares, 1), comm::ReduceOp::sum);
      scale = clip_factor(std::sqrt(squares), work.clip_norm());
    }
    optimizer.step(m.space(), m.parameters(), m.gradients(), work.lr(), scale);
    return step_loss;
  }

  // The squared norm of this stage's gradients: over the stage's ranks where Inner splits
  // it, the replicated values once and the sharded ones summed.
  template <class Stage>
  double stage_squares(Stage const& m) {
    if constexpr (std::is_same_v<Inner, Whole>) {
      double const norm = global_norm(m.space(), m.gradients());
      return norm * norm;
    } else {
      auto const gradients = to_host(m.gradients());
      double squares = 0;
      for (auto const& run : m.parameter_map()) {
        if (!run.sharded && inner_.rank() != 0) {
          continue;
        }
        for (std::size_t k = 0; k < run.count; ++k) {
          double const g = gradients[run.local + k];
          squares += g * g;
        }
      }
      inner_.all_reduce(std::span<double>(&squares, 1), comm::ReduceOp::sum);
      return squares;
    }
  }

  template <class F>
  void waited(F&& f) {
    auto const begin = std::chrono::steady_clock::now();
    f();
    times_.wait += seconds_since(begin);
  }
  static double seconds_since(std::chrono::steady_clock::time_point begin) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  }

  LossValue from_last_stage(LossValue const& local, bool last) {
    std::array<double, 5> values{};
    if (last) {
      values = {local.sum, double(local.count), double(local.correct), double(local.invalid),
                local.regression ? 1.0 : 0.0};
    }
    comm_.broadcast(std::span<double>(values), comm_.size() - 1);
    LossValue total;
    total.sum = values[0];
    total.count = static_cast<std::size_t>(values[1]);
    total.correct = static_cast<std::size_t>(values[2]);
    total.invalid = static_cast<std::size_t>(values[3]);
    total.regression = values[4] != 0;
    return total;
  }

  static void grow(Vector<Scalar, memory_space>& buffer, std::size_t size) {
    if (buffer.extent(0) < size) {
      buffer = Vector<Scalar, memory_space>(
          Kokkos::view_alloc(Kokkos::WithoutInitializing, "loom::Pipeline::buffer"), size);
    }
  }

  static Comm checked(Comm comm) {
    constexpr std::size_t stages = Strategy::stages;
    if (std::size_t(comm.size()) != stages) {
      fail_collective("loom::" + Strategy::name() + " runs its " + std::to_string(stages) +
                      " stages on exactly as many processes; this run has " +
                      std::to_string(comm.size()) + " (rank " + std::to_string(comm.rank()) +
                      "): start it with mpiexec -n " + std::to_string(stages) +
                      ", or change the cuts");
    }
    return comm;
  }

  std::string who_ = "loom::" + Strategy::name();
  Comm comm_;
  InnerComm inner_;
  CommGroup<InnerComm, Scalar> group_;
  ReplicaAxis<Scalar>* replicas_ = nullptr;
  bool recompute_;
  std::size_t slots_ = 1;
  PipelineTimes times_;
  // Per slot: the micro-batch's input (received or gathered; kept for backward), the
  // input gradient sent back, the loss gradient kept until backward (last stage), the
  // output gradient received (other stages), the activations sent (when recomputing).
  Vector<Scalar, memory_space> inputs_, sent_gradients_, output_gradients_, received_gradients_,
      outbox_;
  std::vector<comm::Request> forward_sends_, backward_sends_;
};

} // namespace detail

/// \brief Split a network by layers into stages on consecutive ranks, each batch into
///        micro-batches that flow through the stages (GPipe, PipeDream-Flush): the strategy
///        for networks whose parameters do not fit one process.
///
/// \code
///   using Net = Sequential<Input<784>, Dense<2048>, ReLU, Dense<2048>, ReLU,   // stage 0
///                          Dense<2048>, ReLU, Dense<10>>;                      // stage 1
///   Trainer<Net, SoftmaxCrossEntropy, SGD,
///           Pipeline<Cuts<4>, MicroBatches<8>, schedule::OneFOneB>> trainer(env, options);
/// \endcode
/// Stage s holds the layers from its cut to the next, their parameters, gradients, optimizer
/// state and the activations of its micro-batches in flight. Activations travel to the next
/// stage and their gradients back by nonblocking point-to-point messages, whose shapes are
/// known at compile time. The loss is computed on the last stage; each stage adds up its
/// gradients over the micro-batches and steps its own parameters, so that a step equals
/// SingleProcess training on the whole batch to rounding, dropout included. A batch that M
/// does not divide is split as torch.tensor_split does (the first micro-batches one row
/// longer). BatchNorm2D normalises each micro-batch with its own statistics and updates its
/// running statistics once per micro-batch (as GPipe does): with M > 1 a step equals
/// SingleProcess training that accumulates the same micro-batches (TrainerOptions::
/// accumulate), not one on the whole batch. Evaluation and predict() run each batch through
/// the stages whole; every rank receives the output.
///
/// options::recompute keeps only each micro-batch's stage input and runs its forward again
/// before its backward: one micro-batch's activations per stage instead of one per
/// micro-batch in flight, for about a third more compute. runtime().times() says how much of
/// a stage's step went to waiting (its bubble, about (p − 1)/(M + p − 1) of it). Within
/// Hybrid, Pipeline runs across the rows of a grid with TensorParallel splitting each stage,
/// or within each row of a DataParallel grid.
///
/// Checked at compile time: cuts that do not increase, lie outside the network, fall
/// between a layer and the activation fused into it, or leave a stage with nothing to
/// compute are compile errors naming the cut. A Residual is one layer: a cut never falls
/// inside it. At run time the communicator must have exactly as many processes as stages.
///
/// \tparam CutsT     loom::Cuts<...>: the stages' first layers (stages = cuts + 1)
/// \tparam Micro     loom::MicroBatches<M>
/// \tparam Schedule  loom::schedule::OneFOneB (default) or loom::schedule::GPipe
/// \tparam Comm      communicator policy (comm::Default: comm::Mpi, or comm::Self without MPI)
template <class CutsT, class Micro = MicroBatches<1>, class Schedule = schedule::OneFOneB,
          class Comm = comm::Default>
struct Pipeline {
  static_assert(detail::is_cuts<CutsT>,
                "loom::Pipeline<Cuts, ...>: the first argument must be loom::Cuts<...>, the "
                "positions of the layers that begin a stage");
  static_assert(detail::is_micro_batches<Micro>,
                "loom::Pipeline<Cuts, MicroBatches, ...>: the second argument must be "
                "loom::MicroBatches<M>");
  static_assert(detail::is_schedule<Schedule>,
                "loom::Pipeline<Cuts, MicroBatches, Schedule>: the schedule must be "
                "loom::schedule::GPipe or loom::schedule::OneFOneB");
  static_assert(detail::checked<detail::check_communicator<Comm>()>);

  using strategy_type = Pipeline;
  using comm_type = Comm;
  using cuts_type = CutsT;
  using schedule_type = Schedule;
  static constexpr std::size_t stages = CutsT::count + 1;
  static constexpr std::size_t micro_batches = Micro::count;
  static constexpr bool needs_environment = true;

  static std::string name() {
    return "Pipeline<" + CutsT::name() + ", MicroBatches<" + std::to_string(Micro::count) + ">, " +
           Schedule::name + ", " + Comm::name() + ">";
  }

  /// \brief Runtime options (TrainerOptions::parallel).
  struct options {
    /// Keep only each micro-batch's stage input and run its forward again before its
    /// backward (activation recomputation): one micro-batch's activations per stage instead
    /// of one per micro-batch in flight, for about one more forward pass of time.
    bool recompute = false;
  };
  static std::string describe(options const& o) {
    return std::string("recompute=") + (o.recompute ? "true" : "false");
  }

  template <class Net, class ExecutionSpace, class Scalar = float>
  using runtime = detail::PipelineRuntime<Pipeline, Net, ExecutionSpace, Scalar>;
};

} // namespace loom
