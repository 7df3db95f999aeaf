#pragma once

#include <loom/comm/concepts.hpp>
#include <loom/core/detail/consensus.hpp>
#include <loom/core/environment.hpp>
#include <loom/core/error.hpp>
#include <loom/data/sampler.hpp>
#include <loom/loss/concepts.hpp>
#include <loom/parallel/concepts.hpp>
#include <loom/parallel/data_parallel.hpp>
#include <loom/parallel/detail/layout.hpp>
#include <loom/parallel/detail/replicas.hpp>
#include <loom/parallel/detail/step.hpp>
#include <loom/parallel/pipeline.hpp>
#include <loom/parallel/single_process.hpp>
#include <loom/parallel/spatial_parallel.hpp>
#include <loom/parallel/tensor_parallel.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace loom {

// Named in compiler output by Hybrid's diagnostic.
template <class Outer, class Inner>
struct loom_error_Hybrid_pair_not_supported;

namespace detail {
template <class S>
inline constexpr bool is_data_parallel = false;
template <class C, class Compression>
inline constexpr bool is_data_parallel<DataParallel<C, Compression>> = true;
template <class S>
inline constexpr bool is_spatial_parallel = false;
template <std::size_t P, class C>
inline constexpr bool is_spatial_parallel<SpatialParallel<P, C>> = true;
template <class S>
inline constexpr bool is_tensor_parallel = false;
template <std::size_t P, class C>
inline constexpr bool is_tensor_parallel<TensorParallel<P, C>> = true;
template <class S>
inline constexpr bool is_pipeline = false;
template <class Cuts, class Micro, class Schedule, class C>
inline constexpr bool is_pipeline<Pipeline<Cuts, Micro, Schedule, C>> = true;

/// The processes a strategy takes along its axis of a grid (0: whatever the rest is).
template <class S>
constexpr std::size_t axis_ranks() {
  if constexpr (is_pipeline<S>) {
    return S::stages;
  } else if constexpr (requires { S::ranks; }) {
    return S::ranks;
  } else {
    return 0;
  }
}

template <class Outer, class Inner>
inline constexpr bool replicated_pair = is_data_parallel<Outer> &&
                                        (is_spatial_parallel<Inner> || is_tensor_parallel<Inner> ||
                                         is_pipeline<Inner>);
template <class Outer, class Inner>
inline constexpr bool pipeline_tensor_pair = is_pipeline<Outer>&& is_tensor_parallel<Inner>;

template <class Outer, class Inner>
constexpr bool check_hybrid() {
  if constexpr (!Strategy<Outer> || !Strategy<Inner>) {
    using show [[maybe_unused]] =
        decltype(sizeof(loom_error_Hybrid_pair_not_supported<Outer, Inner>));
    static_assert(Strategy<Outer> && Strategy<Inner>,
                  "loom::Hybrid<A, B>: A and B must be loom strategies");
    return false;
  } else if constexpr (!replicated_pair<Outer, Inner> && !pipeline_tensor_pair<Outer, Inner>) {
    using show [[maybe_unused]] =
        decltype(sizeof(loom_error_Hybrid_pair_not_supported<Outer, Inner>));
    static_assert(replicated_pair<Outer, Inner> || pipeline_tensor_pair<Outer, Inner>,
                  "loom::Hybrid<A, B>: the pairs are Hybrid<DataParallel<...>, B> with B a "
                  "SpatialParallel, TensorParallel or Pipeline, and Hybrid<Pipeline<...>, "
                  "TensorParallel<P>>; A runs across the grid's rows, B within each row "
                  "(search the compiler output for 'loom_error_Hybrid_pair_not_supported' to "
                  "see the pair given)");
    return false;
  }
  return true;
}

/// This rank's place on a grid of rows × columns (rank = row · columns + column), the
/// columns fixed by the inner strategy; the rows fixed by the outer one or, for
/// DataParallel, what the world size leaves. The same error on every rank when the world
/// does not fit.
struct GridPlace {
  int row = 0, rows = 1, column = 0, columns = 1;
};
template <class H>
GridPlace grid_place(int rank, int size) {
  constexpr std::size_t fixed_rows = axis_ranks<typename H::outer_type>();
  constexpr std::size_t columns = axis_ranks<typename H::inner_type>();
  std::size_t const world = std::size_t(size);
  bool const fits = fixed_rows == 0 ? world % columns == 0 : world == fixed_rows * columns;
  if (!fits) {
    std::string const wanted =
        fixed_rows == 0 ? "a multiple of " + std::to_string(columns) + " processes (replicas × " +
                              std::to_string(columns) + ")"
                        : std::to_string(fixed_rows) + " × " + std::to_string(columns) + " = " +
                              std::to_string(fixed_rows * columns) + " processes";
    std::string const start = fixed_rows == 0
                                  ? std::to_string(columns) + ", " + std::to_string(2 * columns) +
                                        ", " + std::to_string(4 * columns) + ", ..."
                                  : std::to_string(fixed_rows * columns);
    fail_collective("loom::" + H::name() + " runs on a grid of " + wanted + ": " +
                    H::outer_type::name() + " across its rows, " + H::inner_type::name() +
                    " within each row of " + std::to_string(columns) +
                    " consecutive ranks; this run has " + std::to_string(size) + " (rank " +
                    std::to_string(rank) + "): start it with mpiexec -n " + start);
  }
  return {int(std::size_t(rank) / columns), int(world / columns), int(std::size_t(rank) % columns),
          int(columns)};
}

/// What every Hybrid runtime does over the whole grid: its world communicator (the outer
/// strategy's policy over env.comm()), its place, the configuration check, errors raised on
/// every rank, broadcasts, and the checkpoint layout gathered from one replica.
template <class H, class WorldComm>
class HybridWorld {
public:
  explicit HybridWorld(Environment const& env)
      : world_(env)
      , place_(grid_place<H>(world_.rank(), world_.size())) {}

  int rank() const { return world_.rank(); }
  int size() const { return world_.size(); }
  bool is_root() const { return rank() == 0; }
  /// Where this rank lies on the grid.
  GridPlace const& place() const { return place_; }

  void check_configuration(Configuration const& configuration) {
    world_.check_configuration(configuration, who_.c_str());
  }
  template <class F>
  auto collectively(F&& f) -> decltype(f()) {
    return world_.collectively(std::forward<F>(f));
  }
  void broadcast(std::vector<std::byte>& bytes) { broadcast_bytes(world_, bytes); }

protected:
  /// The whole network's layout, gathered over the grid from the ranks of the first replica
  /// (`gathers`).
  template <class M>
  SplitLayout<WorldComm> grid_layout(M const& model, bool gathers) {
    return SplitLayout<WorldComm>::grid(world_, model.parameter_map(), M::num_logical_parameters,
                                        model.state_map(), M::num_logical_states, gathers);
  }

  std::string who_ = "loom::" + H::name();
  WorldComm world_;
  GridPlace place_;
};

/// Hybrid<DataParallel<C, Compression>, B>: replicas of B's placement along the grid's rows,
/// B within each row. Each replica computes its share of every global batch; after B has
/// completed its gradients within the row, they are summed over the replicas.
template <class H, class Net, class ExecutionSpace, class Scalar>
class ReplicatedRuntime : public HybridWorld<H, typename H::outer_type::comm_type> {
  using A = typename H::outer_type;
  using B = typename H::inner_type;
  using world = HybridWorld<H, typename A::comm_type>;
  using inner_runtime = typename B::template runtime<Net, ExecutionSpace, Scalar>;

public:
  using model_type = typename inner_runtime::model_type;
  /// Gradients are summed over the replicas before the optimizer step.
  static constexpr bool local_gradients = false;

  ReplicatedRuntime(Environment const& env, typename H::options const& opts)
      : world(env)
      , replicas_(this->world_.split(this->place_.column, this->place_.row),
                  opts.outer.bucket_bytes)
      , inner_(typename B::comm_type(env).split(this->place_.row, this->place_.column),
               opts.inner) {
    if constexpr (is_pipeline<B>) {
      inner_.set_replicas(&replicas_);
    }
  }
  ReplicatedRuntime(ReplicatedRuntime const&) = delete; // the inner runtime points at replicas_
  ReplicatedRuntime& operator=(ReplicatedRuntime const&) = delete;

  model_type make_model(std::uint64_t seed) { return inner_.make_model(seed); }
  /// Every replica draws the same parameters from the same seed (check_configuration
  /// compares it); each needs a sample of every global batch.
  void start(model_type& model, std::size_t batch) {
    if (batch < std::size_t(replicas_.size())) {
      fail("loom::Trainer: ", H::name(), " with ", replicas_.size(),
           " replicas needs a global batch of at least ", replicas_.size(),
           " samples, one per replica; batch is ", batch);
    }
    inner_.start(model, batch);
  }

  template <class Optimizer, class Work>
  LossValue step(model_type& model, Optimizer& optimizer, Work& work) {
    if constexpr (is_pipeline<B>) {
      return inner_.step(model, optimizer, work); // its schedule sums over the replicas
    } else {
      return standard_step(*this, model, optimizer, work);
    }
  }

  /// This replica's rows of a batch, of which B computes its own.
  data::IndexRange shard(std::size_t rows) const {
    auto const mine = replicas_.shard(rows);
    auto const inner = inner_.shard(mine.size());
    return {mine.begin + inner.begin, mine.begin + inner.end};
  }
  template <class Batch>
  auto input(model_type const& model, Batch const& batch) {
    return inner_.input(model, batch);
  }

  void gradients_ready(model_type& model, std::size_t offset, bool last_micro_batch) {
    inner_.gradients_ready(model, offset, last_micro_batch);
  }
  /// B's gradients completed within the row, then summed over the replicas.
  void finish_gradients(model_type& model) {
    inner_.finish_gradients(model);
    replicas_.sum_gradients(model.gradients().data(), model.gradients().extent(0));
  }
  double gradient_norm(model_type const& model) { return inner_.gradient_norm(model); }

  LossValue combine(LossValue const& local) { return replicas_.combine(inner_.combine(local)); }
  void sum(std::span<double> values) {
    inner_.sum(values);
    replicas_.sum(values);
  }
  void start_combine(LossValue const& local) { replicas_.start_combine(inner_.combine(local)); }
  LossValue finish_combine() { return replicas_.finish_combine(); }

  SplitLayout<typename A::comm_type> layout(model_type const& model) {
    return this->grid_layout(model, replicas_.rank() == 0);
  }

private:
  Replicas<typename A::comm_type, typename A::compression_type, Scalar> replicas_;
  inner_runtime inner_;
};

/// Hybrid<Pipeline<...>, TensorParallel<P>>: the stages along the grid's rows, each stage's
/// layers split over the P ranks of its row.
template <class H, class Net, class ExecutionSpace, class Scalar>
class PipelineTensorRuntime : public HybridWorld<H, typename H::outer_type::comm_type> {
  using A = typename H::outer_type;
  using B = typename H::inner_type;
  using world = HybridWorld<H, typename A::comm_type>;
  using inner_runtime = PipelineRuntime<A, Net, ExecutionSpace, Scalar, typename B::placement_type,
                                        typename B::comm_type>;

public:
  using model_type = typename inner_runtime::model_type;

  PipelineTensorRuntime(Environment const& env, typename H::options const& opts)
      : world(env)
      , inner_(this->world_.split(this->place_.column, this->place_.row), opts.outer,
               typename B::comm_type(env).split(this->place_.row, this->place_.column)) {}
  PipelineTensorRuntime(PipelineTensorRuntime const&) = delete;
  PipelineTensorRuntime& operator=(PipelineTensorRuntime const&) = delete;

  model_type make_model(std::uint64_t seed) { return inner_.make_model(seed); }
  void start(model_type& model, std::size_t batch) { inner_.start(model, batch); }
  template <class Optimizer, class Work>
  LossValue step(model_type& model, Optimizer& optimizer, Work& work) {
    return inner_.step(model, optimizer, work);
  }
  data::IndexRange shard(std::size_t rows) const { return inner_.shard(rows); }
  template <class Batch>
  auto input(model_type const& model, Batch const& batch) {
    return inner_.input(model, batch);
  }
  LossValue combine(LossValue const& local) { return inner_.combine(local); }
  void sum(std::span<double> values) { inner_.sum(values); }
  SplitLayout<typename A::comm_type> layout(model_type const& model) {
    return this->grid_layout(model, true);
  }

private:
  inner_runtime inner_;
};
/// What a pair that is not supported compiles with after its diagnostic.
template <class Options, class Net, class ExecutionSpace, class Scalar>
class StandInRuntime : public SingleProcess::runtime<Net, ExecutionSpace, Scalar> {
public:
  StandInRuntime(Environment const&, Options const&) {}
};
} // namespace detail

/// \brief Two strategies on a 2-D grid of processes (what Megatron-LM and DeepSpeed call 3-D
///        parallelism, here checked at compile time): A across the grid's rows, B within
///        each row of consecutive ranks.
///
/// \code
///   Hybrid<DataParallel<>, TensorParallel<2>> on 4 ranks     Hybrid<Pipeline<Cuts<4>>,
///                                                                   TensorParallel<2>>
///            column 0   column 1                                     column 0   column 1
///   row 0:   rank 0     rank 1    ← TensorParallel<2>         stage 0: rank 0    rank 1
///   row 1:   rank 2     rank 3    ← TensorParallel<2>         stage 1: rank 2    rank 3
///            ↑ DataParallel over each column                          ↑ activations
/// \endcode
/// The pairs:
///   - Hybrid<DataParallel<C, Compression>, B> for B a SpatialParallel<P>, TensorParallel<P>
///     or Pipeline<...>: as many replicas of B's P ranks as the run has rows (the same binary
///     runs on P, 2P, 4P, ... ranks). Each replica computes its rows of every global batch
///     (as DataParallel splits it); B completes the gradients within the row, then they are
///     summed over the replicas of each rank's part (DataParallel's bucket size and
///     compression apply), so each rank communicates only along its row and its column.
///   - Hybrid<Pipeline<...>, TensorParallel<P>>: stage s on row s, each stage's Dense layers
///     split over its P ranks (TensorParallel's rules within the stage); activations travel
///     between the ranks of the same column.
/// One step equals SingleProcess training on the whole batch to float rounding (batch
/// norm: as each strategy says, a replica's rows being one micro-batch). Checkpoints hold the
/// whole network (gathered from the first replica) and load under any strategy or grid.
///
/// Checked at compile time: a pair not listed is a compile error. At run time the world must
/// fit the grid (the same error on every rank otherwise, with the grid and the ranks).
/// \tparam A  the strategy across the rows (DataParallel<...> or Pipeline<...>)
/// \tparam B  the strategy within each row
template <class A, class B>
struct Hybrid {
  static_assert(detail::checked<detail::check_hybrid<A, B>()>);

  using strategy_type = Hybrid;
  using outer_type = A;
  using inner_type = B;
  static constexpr bool needs_environment = true;

  static std::string name() { return "Hybrid<" + A::name() + ", " + B::name() + ">"; }

  /// \brief Runtime options (TrainerOptions::parallel): each strategy's own.
  struct options {
    typename A::options outer{}; ///< the strategy across the rows
    typename B::options inner{}; ///< the strategy within each row
  };
  static std::string describe(options const& o) {
    return "outer={" + A::describe(o.outer) + "}, inner={" + B::describe(o.inner) + "}";
  }

  template <class Net, class ExecutionSpace, class Scalar>
  static auto runtime_of() {
    if constexpr (detail::pipeline_tensor_pair<A, B>) {
      return std::type_identity<
          detail::PipelineTensorRuntime<Hybrid, Net, ExecutionSpace, Scalar>>{};
    } else if constexpr (detail::replicated_pair<A, B>) {
      return std::type_identity<detail::ReplicatedRuntime<Hybrid, Net, ExecutionSpace, Scalar>>{};
    } else {
      // After the diagnostic, compile on with a stand-in so that it is the only error.
      return std::type_identity<detail::StandInRuntime<options, Net, ExecutionSpace, Scalar>>{};
    }
  }
  template <class Net, class ExecutionSpace, class Scalar = float>
  using runtime = typename decltype(runtime_of<Net, ExecutionSpace, Scalar>())::type;
};

} // namespace loom
