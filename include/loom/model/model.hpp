#pragma once

#include <loom/core/detail/format.hpp>
#include <loom/core/detail/host_copy.hpp>
#include <loom/core/detail/kokkos.hpp>
#include <loom/core/error.hpp>
#include <loom/core/random.hpp>
#include <loom/core/tensor.hpp>
#include <loom/data/concepts.hpp>
#include <loom/kernels/copy.hpp>
#include <loom/kernels/gemm.hpp>
#include <loom/layers/activations.hpp>
#include <loom/layers/concepts.hpp>
#include <loom/layers/detail/stage_chain.hpp>
#include <loom/model/placement.hpp>
#include <loom/model/sequential.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>
#include <vector>

namespace loom {

template <class Net>
struct loom_error_not_a_network;

namespace detail {
template <class Net>
constexpr bool check_network() {
  if constexpr (!Network<Net>) {
    using show [[maybe_unused]] = decltype(sizeof(loom_error_not_a_network<Net>));
    static_assert(Network<Net>, "loom::Model<Net>: Net must be a network type such as "
                                "loom::Sequential<loom::Input<784>, loom::Dense<10>>");
    return false;
  } else if constexpr (requires { Net::valid; }) {
    return Net::valid; // false after a layer's diagnostic: a network still, but not a valid one
  } else {
    return true;
  }
}

template <class ExecutionSpace>
std::string execution_space_name() {
  return ExecutionSpace::name();
}

struct NoCallback {
  void operator()(std::size_t, std::size_t) const {}
};

/// The hook through which Model::backward reports each stage's finished gradients.
template <class Callback>
struct GradientsReady {
  Callback& callback;
  void after_backward(std::size_t, std::size_t offset, std::size_t count) {
    callback(offset, count);
  }
};
} // namespace detail

/// \brief A network's parameters, gradients and activations on an execution space, with the
///        forward and backward passes. This is the lower level the Trainer is built on; a
///        hand-written training loop uses it directly:
/// \code
/// loom::Model<Net> model(/*seed=*/42);
/// auto logits = model.forward(x);                      // x: batch × 784 on the device
/// auto result = loss(space, logits, labels, model.output_gradient());
/// model.backward();                                    // fills model.gradients()
/// optimizer.step(space, model.parameters(), model.gradients());
/// \endcode
///
/// All parameters live in one flat buffer (parameters()), layer after layer, each layer's
/// weights then its bias; gradients() has the same layout. Stage activations live in one
/// workspace that grows with the largest batch seen. The input given to forward() must stay
/// alive and unchanged until backward() has run.
///
/// \tparam Net             a network type, e.g. loom::Sequential<...>
/// \tparam ExecutionSpace  where every kernel runs (default Kokkos::DefaultExecutionSpace)
/// \tparam Scalar          float (default) or double
/// \tparam Placement       which part of the network this process holds: loom::Whole (default),
///                         or the placement of a strategy that splits layers over ranks
///                         (model/placement.hpp), which the strategy's runtime constructs
template <class Net, class ExecutionSpace = Kokkos::DefaultExecutionSpace, class Scalar = float,
          class Placement = Whole>
class Model {
  static_assert(Kokkos::is_execution_space<ExecutionSpace>::value,
                "loom::Model<Net, ExecutionSpace, Scalar>: ExecutionSpace must be a Kokkos "
                "execution space such as Kokkos::DefaultExecutionSpace");
  static_assert(std::is_floating_point_v<Scalar>,
                "loom::Model<Net, ExecutionSpace, Scalar>: Scalar must be float or double");
  static_assert(detail::checked<detail::check_network<Net>()>);
  // After a failed check (here or in a layer of Net), compile on with a stand-in so that the
  // diagnostic is the only error.
  static constexpr bool network_ok = detail::check_network<Net>();
  using checked_net = std::conditional_t<network_ok, Net, Sequential<Input<1>, Identity>>;
  static constexpr bool placement_ok = [] {
    if constexpr (network_ok) {
      return Placement::template check<Net>();
    } else {
      return true;
    }
  }();
  using net = std::conditional_t<placement_ok, checked_net, Sequential<Input<1>, Identity>>;
  using placement = std::conditional_t<placement_ok, Placement, Whole>;

public:
  using network_type = Net;
  using execution_space = ExecutionSpace;
  using memory_space = typename ExecutionSpace::memory_space;
  using value_type = Scalar;
  using placement_type = Placement;
  /// The shape of one sample of this process's input (the network's unless the placement
  /// splits it, e.g. a band of rows).
  using input_shape = typename placement::template input_shape<net>;
  /// The shape of one sample of this process's output (the network's unless the placement
  /// holds only some of its stages, a pipeline's).
  using output_shape = typename detail::placement_output<placement, net>::type;
  using stage_list = typename placement::template stage_list<net, Scalar, ExecutionSpace>;
  using buffer_type = Vector<Scalar, memory_space>;
  using batch_type = MatrixSlice<Scalar, memory_space>;
  using const_batch_type = MatrixSlice<Scalar const, memory_space>;

private:
  using chain_type = detail::StageChain<Scalar, ExecutionSpace, stage_list>;
  // The whole network's stages, for what checkpoints record of it.
  using network_chain_type =
      detail::StageChain<Scalar, ExecutionSpace,
                         typename net::template stage_list<Scalar, ExecutionSpace>>;
  static constexpr std::size_t first_stage = detail::placement_first_stage<placement, net>();
  static constexpr std::size_t parameter_base =
      detail::placement_parameter_offset<placement, net>();
  static constexpr std::size_t state_base = detail::placement_state_offset<placement, net>();
  static_assert(!placement_ok || chain_type::logical_parameter_count ==
                                     detail::placement_parameter_count<placement, net>(),
                "loom::Model: the placement's stages must hold parts of the network's layers");

public:
  /// Whether this process holds the whole network (Placement = loom::Whole).
  static constexpr bool whole = std::is_same_v<placement, Whole>;
  /// The parameters this process holds: the network's, Net::num_parameters, unless the
  /// placement splits layers.
  static constexpr std::size_t num_parameters = chain_type::parameter_count;
  /// The parameters of the whole network (the layout of checkpoints).
  static constexpr std::size_t num_logical_parameters = net::num_parameters;
  /// The whole network's stages and where each one's parameters start (checkpoints record
  /// them).
  static constexpr std::size_t num_network_stages = network_chain_type::count;
  static constexpr std::array<std::size_t, num_network_stages> network_parameter_offsets =
      network_chain_type::parameter_offsets;
  /// The whole network's states (the layout of checkpoints).
  static constexpr std::size_t num_logical_states = network_chain_type::state_count;

private:
  // The gradient buffers passed between stages hold the widest input or output.
  static constexpr std::size_t widest =
      std::max({chain_type::widest_inner, input_shape::size, output_shape::size});

public:
  /// Values the model's workspace holds per sample of a batch: every stage's output and what
  /// it keeps for backward, the two gradient buffers passed between stages, and the largest
  /// scratch of a stage (the workspace's size is this × the largest batch seen).
  static constexpr std::size_t workspace_per_sample =
      chain_type::activations_per_sample + 2 * widest + chain_type::scratch_per_sample;
  /// Values the workspace holds besides, whatever the batch (batch norm's statistics).
  static constexpr std::size_t workspace_per_pass = chain_type::activations_per_pass;
  static constexpr std::size_t num_stages = chain_type::count;
  /// Whether backward() also computes ∂loss/∂input (off by default: training does not need
  /// it). Read it with input_gradient().
  void enable_input_gradient(bool on = true) { input_gradient_enabled_ = on; }
  /// ∂loss/∂input of the last backward(), batch × input_shape::size (needs
  /// enable_input_gradient()); valid until the next forward().
  batch_type input_gradient() const {
    if (!input_gradient_enabled_) {
      detail::fail("loom::Model::input_gradient: call enable_input_gradient() before backward()");
    }
    return gradient_view(0, input_shape::size);
  }

  /// The parameters of each stage start here in parameters() and gradients().
  static constexpr std::array<std::size_t, num_stages> parameter_offsets =
      chain_type::parameter_offsets;
  /// Where each stage's layer starts in the whole network's parameters (= parameter_offsets
  /// for a whole network).
  static constexpr std::array<std::size_t, num_stages> logical_parameter_offsets = [] {
    auto offsets = chain_type::logical_parameter_offsets;
    for (auto& offset : offsets) {
      offset += parameter_base;
    }
    return offsets;
  }();
  /// Values kept between passes that are not trained (batch norm's running statistics), in
  /// one flat buffer, states(); saved in checkpoints with the parameters.
  static constexpr std::size_t num_states = chain_type::state_count;

  /// \param seed   initialises the parameters (loom::CounterRng) and the dropout streams
  /// \param space  the execution space instance kernels are launched on
  explicit Model(std::uint64_t seed = 0, ExecutionSpace space = ExecutionSpace())
      : Model(seed, Shard{}, std::move(space)) {}
  /// A process's part of a network split over `shard.size` ranks: each part draws its
  /// initial parameters as the same values of the whole network would be drawn.
  Model(std::uint64_t seed, Shard shard, ExecutionSpace space = ExecutionSpace())
      : space_(std::move(space))
      , parameters_(Kokkos::view_alloc(Kokkos::WithoutInitializing, "loom::Model::parameters"),
                    num_parameters)
      , gradients_("loom::Model::gradients", num_parameters)
      , states_("loom::Model::states", num_states)
      , shard_(shard) {
    set_up(seed);
  }

  Model(Model const&) = delete;
  Model& operator=(Model const&) = delete;
  Model(Model&&) = default;
  Model& operator=(Model&&) = default;

  /// Draws every parameter anew from `seed` and resets the step counter.
  void initialize(std::uint64_t seed) {
    seed_ = seed;
    step_ = 0;
    // Stage i draws from the stream of its offset in the whole network's parameters, so that
    // a part of a split network draws what the whole one would.
    chain_.initialize(space_, [seed](std::size_t i) {
      return CounterRng(seed, logical_parameter_offsets[i] + 1);
    });
    kernels::fill(space_, gradients_, Scalar(0));
  }

  /// The flat parameter buffer (num_parameters values).
  buffer_type const& parameters() const { return parameters_; }
  /// The flat gradient buffer, laid out like parameters().
  buffer_type const& gradients() const { return gradients_; }
  /// The flat buffer of untrained state (num_states values; empty for most networks).
  buffer_type const& states() const { return states_; }
  execution_space const& space() const { return space_; }

  /// "Sequential<Input<784>, Dense<10>> (float)": the model type, as checkpoints record it.
  static std::string identity() { return net::name() + " (" + scalar_name() + ")"; }

  /// \brief This process's place in the group its network is split over ({0, 1}: whole).
  Shard shard() const { return shard_; }

  /// \brief How this process's parameters relate to the whole network's: runs of values in
  ///        parameters() and where they lie in the whole network's parameters (the layout of
  ///        parameter_layout() and of checkpoints), each replicated or held by this process
  ///        alone, and whether backward leaves a partial sum to add up over the group. For a
  ///        whole network, one replicated, complete run per stage with parameters.
  std::vector<ParameterRun> parameter_map() const { return parameter_map_of(shard_); }
  /// parameter_map() of the part at `shard`, before any Model exists.
  static std::vector<ParameterRun> parameter_map_of(Shard shard) {
    std::vector<ParameterRun> runs;
    chain_type::parameter_roles(runs, 0, parameter_base, shard);
    if constexpr (detail::placement_holds_alone<placement>()) {
      for (auto& run : runs) {
        run.sharded = true;
      }
    }
    return runs;
  }
  /// How states() relate to the whole network's states, as parameter_map() for parameters.
  static std::vector<ParameterRun> state_map() {
    if constexpr (num_states == 0) {
      return {};
    } else {
      return {{0, state_base, num_states, detail::placement_holds_alone<placement>(), false}};
    }
  }

  /// \brief Keeps the activations of `count` batches at once (a pipeline's micro-batches in
  ///        flight): forward() and backward() use the slot select_slot() chose last (0).
  ///        Each slot's workspace grows with the largest batch run in it.
  void set_activation_slots(std::size_t count) {
    if (count == 0) {
      detail::fail("loom::Model::set_activation_slots: at least one slot");
    }
    slots_.resize(count);
    slot_ = std::min(slot_, count - 1);
  }
  /// The slot of the next forward(), or of the next backward() after the forward() that ran
  /// in it: its activations, batch and input are bound again.
  void select_slot(std::size_t k) {
    if (k >= slots_.size()) {
      detail::fail("loom::Model::select_slot: slot ", k, " of ", slots_.size());
    }
    slot_ = k;
    if (slots_[k].batch > 0) {
      bind_slot();
    }
    input_ = slots_[k].input;
  }

  /// \brief The ranks that share each sample, for the stages of a split network to
  ///        communicate through (the strategy's runtime sets it; null: none).
  void set_group(detail::SampleGroup<Scalar>* group) { group_ = group; }

  /// \brief Where a layer's parameters lie in parameters() and gradients().
  struct ParameterBlock {
    std::size_t layer;  ///< its position: 0 for the first layer after Input
    std::string name;   ///< its type, e.g. "Dense<512>"
    std::size_t offset; ///< its first value in parameters()
    std::size_t count;  ///< its number of values
  };

  /// \brief The layers that have parameters, in the order of parameters(): each layer's
  ///        position, type name, offset and count. Within a block: Dense, weights (units ×
  ///        inputs, row-major) then bias; Conv2D, weights (out × in × kh × kw) then bias;
  ///        BatchNorm2D, scale γ then shift β (its running statistics are in states());
  ///        Residual, its block's layers in order, then its shortcut's.
  static std::vector<ParameterBlock> parameter_layout() {
    std::vector<ParameterBlock> blocks;
    add_blocks(blocks, typename net::layers{});
    return blocks;
  }

  /// \brief The layer with parameters named `name` (as parameter_layout() names it, e.g.
  ///        "Dense<512>"); `occurrence` picks the second, third, … layer of that name.
  /// \throws loom::Error when there is no such layer (the message lists the names)
  static ParameterBlock parameter_block(std::string_view name, std::size_t occurrence = 0) {
    std::string known;
    std::size_t found = 0;
    for (auto const& block : parameter_layout()) {
      if (block.name == name && found++ == occurrence) {
        return block;
      }
      known += (known.empty() ? "" : ", ") + block.name;
    }
    detail::fail("loom::Model::parameter_block: ", net::name(), " has ", found,
                 found == 1 ? " layer" : " layers", " with parameters named ", name, ", not ",
                 occurrence + 1,
                 "; its layers with parameters: ", known.empty() ? std::string("none") : known);
  }

  /// \brief The parameters of the layer at position `layer` (0: the first after Input), a
  ///        view into parameters(); empty for a layer without parameters.
  /// \throws loom::Error when there is no such layer
  VectorSlice<Scalar, memory_space> layer_parameters(std::size_t layer) const requires whole {
    auto const [offset, count] = layer_range(layer, "layer_parameters");
    return VectorSlice<Scalar, memory_space>(parameters_.data() + offset, count);
  }
  /// \brief The gradients of the layer at position `layer`, a view into gradients().
  /// \throws loom::Error when there is no such layer
  VectorSlice<Scalar, memory_space> layer_gradients(std::size_t layer) const requires whole {
    auto const [offset, count] = layer_range(layer, "layer_gradients");
    return VectorSlice<Scalar, memory_space>(gradients_.data() + offset, count);
  }

  /// \brief A host copy of parameters() (num_parameters values, in parameter_layout()).
  std::vector<Scalar> get_parameters() const { return detail::to_host(parameters_); }
  /// \brief Sets every parameter from host values laid out as parameters().
  /// \throws loom::Error when `values` does not hold num_parameters values
  void set_parameters(std::span<Scalar const> values) {
    check_size(values.size(), num_parameters, "set_parameters", "parameters");
    detail::from_host(parameters_, std::vector<Scalar>(values.begin(), values.end()));
  }
  /// \brief A host copy of states() (num_states values).
  std::vector<Scalar> get_states() const { return detail::to_host(states_); }
  /// \brief Sets the untrained state (batch norm's running statistics) from host values.
  /// \throws loom::Error when `values` does not hold num_states values
  void set_states(std::span<Scalar const> values) {
    check_size(values.size(), num_states, "set_states", "state values");
    detail::from_host(states_, std::vector<Scalar>(values.begin(), values.end()));
  }

  /// \brief The network's outputs for samples on the host, in evaluation mode (dropout off,
  ///        batch norm's running statistics): n × output_shape::size values, row-major, on the
  ///        host, for `inputs` of n × input_shape::size values, row-major. The samples run
  ///        in batches of at most `batch`. The mode is restored afterwards; the activations of
  ///        an earlier forward() are not kept (run forward() again before backward()).
  /// \throws loom::Error when inputs is not a whole number of samples or batch is 0
  std::vector<Scalar> predict(std::span<Scalar const> inputs,
                              std::size_t batch = 256) requires whole {
    if (inputs.size() % input_shape::size != 0) {
      detail::fail("loom::Model::predict: ", inputs.size(),
                   " input values are not a whole number of samples of ", input_shape::size,
                   " values (", detail::input_name<input_shape>::get(), ")");
    }
    return predict_rows(inputs.size() / input_shape::size, batch,
                        [&](std::size_t first, std::size_t rows, Scalar* x) {
                          std::copy_n(inputs.data() + first * input_shape::size,
                                      rows * input_shape::size, x);
                        });
  }

  /// \brief The network's outputs for every sample of a data set (loom::data::Dataset), in
  ///        its order, as predict(inputs) gives them.
  /// \throws loom::Error when the data's samples do not have input_shape::size values
  template <data::Dataset Data>
  std::vector<Scalar> predict(Data const& data, std::size_t batch = 256) requires whole {
    if (data.sample_size() != input_shape::size) {
      detail::fail("loom::Model::predict: '", data.source(), "' has ", data.sample_size(),
                   " features per sample but the network's ",
                   detail::input_name<input_shape>::get(), " takes ", input_shape::size);
    }
    std::vector<std::size_t> indices;
    return predict_rows(data.size(), batch, [&](std::size_t first, std::size_t rows, Scalar* x) {
      indices.resize(rows);
      std::iota(indices.begin(), indices.end(), first);
      data.gather(std::span<std::size_t const>(indices), x,
                  static_cast<typename Data::target_type*>(nullptr));
    });
  }

  /// \brief The predicted class of each sample: the index of its largest output (the first
  ///        on ties), from outputs as predict() returns them.
  static std::vector<std::int32_t> classes_of(std::span<Scalar const> outputs) {
    constexpr std::size_t width = output_shape::size;
    std::vector<std::int32_t> classes(outputs.size() / width);
    for (std::size_t i = 0; i < classes.size(); ++i) {
      auto const row = outputs.subspan(i * width, width);
      classes[i] =
          static_cast<std::int32_t>(std::max_element(row.begin(), row.end()) - row.begin());
    }
    return classes;
  }

  /// Training mode: dropout active (and, in networks that have them, batch statistics).
  void train(bool on = true) { training_ = on; }
  /// Evaluation mode: the network as it is used for inference.
  void eval() { training_ = false; }
  bool training() const { return training_; }

  std::uint64_t seed() const { return seed_; }
  /// Sets the seed of the dropout streams without drawing parameters (initialize() does both);
  /// used when restoring a checkpoint.
  void set_seed(std::uint64_t seed) { seed_ = seed; }
  /// Backward passes run so far: selects the dropout stream, saved with checkpoints.
  std::uint64_t step() const { return step_; }
  void set_step(std::uint64_t step) { step_ = step; }
  /// Global index of the first row of the batches given to forward(): a data-parallel rank
  /// passes its offset in the global batch so that dropout masks match serial training.
  void set_sample_offset(std::uint64_t offset) { sample_offset_ = offset; }
  /// \brief Whether a training forward() updates running statistics (batch norm's); off
  ///        while a pass is run again for its activations (a pipeline's recomputation).
  void set_update_states(bool on) { update_states_ = on; }
  /// \brief Bytes the workspace holds now: every activation slot's activations and the
  ///        buffers the slots share (gradients passed between stages, scratch).
  std::size_t workspace_bytes() const {
    std::size_t values = shared_.extent(0);
    for (auto const& slot : slots_) {
      values += slot.activations.extent(0);
    }
    return values * sizeof(Scalar);
  }

  /// Runs the forward pass on a batch (rows = samples, input_shape::size columns) and returns
  /// the network's output, batch × output_shape::size, valid until the next forward().
  template <class XView>
  const_batch_type forward(XView const& x) {
    static_assert(Kokkos::is_view<XView>::value && XView::rank == 2,
                  "loom::Model::forward(x): x must be a rank-2 Kokkos::View, batch × features");
    static_assert(std::is_same_v<typename XView::non_const_value_type, Scalar>,
                  "loom::Model::forward(x): x must hold the model's Scalar type");
    static_assert(
        Kokkos::SpaceAccessibility<ExecutionSpace, typename XView::memory_space>::accessible,
        "loom::Model::forward(x): x must live in a memory space the model's execution "
        "space can access; deep_copy it there first");
    if (x.extent(1) != input_shape::size) {
      detail::fail("loom::Model::forward: the batch has ", x.extent(1),
                   " values per sample but the network's ", detail::input_name<input_shape>::get(),
                   " takes ", input_shape::size);
    }
    if (x.span_is_contiguous() == false) {
      detail::fail("loom::Model::forward: the batch must be a contiguous row-major view");
    }
    std::size_t const batch = x.extent(0);
    prepare(batch);
    input_ = const_batch_type(x.data(), batch, input_shape::size);
    slots_[slot_].input = input_;
    chain_.forward(space_, context(), input_, first_stage);
    return chain_.output();
  }

  /// Where the loss writes ∂loss/∂output for the batch of the last forward(); backward()
  /// reads it from here.
  batch_type output_gradient() const { return gradient_view(num_stages % 2, output_shape::size); }

  /// Runs the backward pass from output_gradient(), writing the parameter gradients (or adding
  /// to them when gradient_beta is 1, to accumulate over micro-batches). After each stage,
  /// on_gradients_ready(offset, count) is called with the slice of gradients() it finished,
  /// last layer first: a data-parallel strategy starts reducing it while backward goes on.
  template <class Callback = detail::NoCallback>
  void backward(Scalar gradient_beta = Scalar(0), Callback&& on_gradients_ready = {}) {
    backward_into(gradients_, Scalar(1), gradient_beta, std::forward<Callback>(on_gradients_ready));
  }

  /// The backward pass into any buffer laid out like parameters():
  /// target ← alpha·∂loss/∂θ + beta·target. Each stage finishes reading its parameters before
  /// it writes its slice, so the target may be parameters() itself: with alpha = -lr and
  /// beta = 1 (or 1 - lr·λ for weight decay), backward applies an SGD step as it goes and no
  /// gradient is stored.
  template <class Callback = detail::NoCallback>
  void backward_into(buffer_type const& target, Scalar alpha, Scalar beta,
                     Callback&& on_gradients_ready = {}) {
    if (input_.data() == nullptr) {
      detail::fail("loom::Model::backward: call forward() first");
    }
    if (target.extent(0) != num_parameters) {
      detail::fail("loom::Model::backward_into: the target holds ", target.extent(0),
                   " values; the model has ", num_parameters, " parameters");
    }
    auto ctx = context();
    ctx.gradient_alpha = alpha;
    ctx.gradient_beta = beta;
    chain_.backward(space_, ctx, input_, gradient_view(num_stages % 2, output_shape::size),
                    input_gradient_enabled_ ? gradient_view(0, input_shape::size) : batch_type(),
                    VectorSlice<Scalar, memory_space>(target.data(), num_parameters),
                    gradient_buffers_, first_stage,
                    detail::GradientsReady<Callback>{on_gradients_ready});
    ++step_;
  }

  /// A table of the layers, their output shapes and parameter counts, like Keras's
  /// model.summary().
  static std::string summary() {
    // The layer column widens to the longest name, so that the columns stay aligned.
    std::vector<SummaryRow> rows{
        {detail::input_name<input_shape>::get(), input_shape::to_string(), "0"}};
    summary_rows(rows, typename net::layers{}, "");
    std::size_t width = 34;
    for (auto const& row : rows) {
      width = std::max(width, row.layer.size() + 2);
    }
    std::ostringstream out;
    std::string const rule(width + 38, '-');
    out << "Model: " << net::name() << "\n"
        << rule << "\n"
        << pad("Layer", width) << pad("Output shape", 22) << "Param #\n"
        << std::string(width + 38, '=') << "\n";
    for (auto const& row : rows) {
      out << pad(row.layer, width) << pad(row.shape, 22) << row.parameters << "\n";
    }
    out << std::string(width + 38, '=') << "\n"
        << "Total params: " << detail::group_digits(num_parameters) << " ("
        << format_bytes(num_parameters * sizeof(Scalar)) << ")\n"
        << "Execution space: " << ExecutionSpace::name() << ", scalar: " << scalar_name()
        << ", GEMM: " << gemm_name() << "\n";
#if !defined(__OPTIMIZE__)
    out << "Compiled without optimisation: loom runs several times slower; build with "
           "CMAKE_BUILD_TYPE=Release\n";
#endif
    out << rule << "\n";
    return out.str();
  }

private:
  template <class... Annotated>
  static void add_blocks(std::vector<ParameterBlock>& blocks, detail::type_list<Annotated...>) {
    std::size_t offset = 0;
    ((Annotated::parameter_count > 0
          ? (void)blocks.push_back(
                {Annotated::index, Annotated::layer::name(), offset, Annotated::parameter_count})
          : (void)0,
      offset += Annotated::parameter_count),
     ...);
  }

  // [offset, count) of layer `layer`'s parameters.
  template <class... Annotated>
  static std::pair<std::size_t, std::size_t> layer_ranges(std::size_t layer,
                                                          detail::type_list<Annotated...>) {
    std::size_t offset = 0;
    std::pair<std::size_t, std::size_t> found{0, 0};
    ((Annotated::index == layer ? (void)(found = {offset, Annotated::parameter_count}) : (void)0,
      offset += Annotated::parameter_count),
     ...);
    return found;
  }
  std::pair<std::size_t, std::size_t> layer_range(std::size_t layer, char const* who) const {
    constexpr std::size_t layers = detail::size_of(typename net::layers{});
    if (layer >= layers) {
      detail::fail("loom::Model::", who, ": there is no layer ", layer, "; ", net::name(), " has ",
                   layers, " layers after Input, at positions 0 to ", layers - 1);
    }
    return layer_ranges(layer, typename net::layers{});
  }

  static void check_size(std::size_t given, std::size_t expected, char const* who,
                         char const* what) {
    if (given != expected) {
      detail::fail("loom::Model::", who, ": given ", given, " values; ", net::name(), " has ",
                   expected, " ", what);
    }
  }

  // Runs forward in evaluation mode over `count` samples in batches, `fill(first, rows, x)`
  // writing the inputs of samples [first, first + rows) into host rows x.
  template <class Fill>
  std::vector<Scalar> predict_rows(std::size_t count, std::size_t batch, Fill&& fill) {
    if (batch == 0) {
      detail::fail("loom::Model::predict: batch is 0; it must be at least 1");
    }
    std::vector<Scalar> outputs(count * output_shape::size);
    if (count == 0) {
      return outputs;
    }
    batch = std::min(batch, count);
    bool const was_training = training_;
    training_ = false;
    Matrix<Scalar, memory_space> x(
        Kokkos::view_alloc(Kokkos::WithoutInitializing, "loom::Model::predict::x"), batch,
        input_shape::size);
    auto x_host = Kokkos::create_mirror_view(x);
    for (std::size_t first = 0; first < count; first += batch) {
      std::size_t const rows = std::min(batch, count - first);
      fill(first, rows, x_host.data());
      Matrix<Scalar, memory_space> const input(x, std::make_pair(std::size_t{0}, rows),
                                               Kokkos::ALL);
      if constexpr (!is_host_accessible<memory_space>) {
        Kokkos::deep_copy(
            input, Kokkos::subview(x_host, std::make_pair(std::size_t{0}, rows), Kokkos::ALL));
      }
      auto const y = forward(input);
      if constexpr (is_host_accessible<memory_space>) {
        detail::fence(space_, "loom::Model::predict");
        std::copy_n(y.data(), rows * output_shape::size,
                    outputs.data() + first * output_shape::size);
      } else {
        Kokkos::View<Scalar**, Kokkos::LayoutRight, Kokkos::HostSpace,
                     Kokkos::MemoryTraits<Kokkos::Unmanaged>>
            target(outputs.data() + first * output_shape::size, rows, output_shape::size);
        Kokkos::deep_copy(target, y);
      }
    }
    training_ = was_training;
    input_ = const_batch_type();
    slots_[slot_].input = input_;
    return outputs;
  }

  // The constructor's work, out of line: compilers emit two copies of a constructor.
  [[gnu::noinline]] void set_up(std::uint64_t seed) {
    bind_parameters();
    initialize(seed);
  }

  void bind_parameters() {
    chain_.set_shard(shard_);
    chain_.bind(VectorSlice<Scalar, memory_space>(parameters_.data(), num_parameters));
    chain_.bind_state(VectorSlice<Scalar, memory_space>(states_.data(), num_states));
  }

  PassContext<Scalar> context() const {
    PassContext<Scalar> ctx;
    ctx.batch = batch_;
    ctx.training = training_;
    ctx.update_states = update_states_;
    ctx.seed = seed_;
    ctx.step = step_;
    ctx.sample_offset = sample_offset_;
    ctx.group = group_;
    return ctx;
  }

  batch_type gradient_view(std::size_t parity, std::size_t width) const {
    return batch_type(gradient_buffers_[parity], batch_, width);
  }

  // Sizes the current slot's activations and the shared buffers for `batch` rows and hands
  // each stage its slices.
  void prepare(std::size_t batch) {
    if (batch == 0) {
      detail::fail("loom::Model::forward: the batch is empty");
    }
    Slot& slot = slots_[slot_];
    if (batch > slot.capacity) {
      slot.capacity = batch;
      slot.activations =
          buffer_type(Kokkos::view_alloc(Kokkos::WithoutInitializing, "loom::Model::activations"),
                      chain_type::activations_of(batch));
    }
    if (batch > capacity_) {
      capacity_ = batch;
      shared_ =
          buffer_type(Kokkos::view_alloc(Kokkos::WithoutInitializing, "loom::Model::workspace"),
                      batch * (2 * widest + chain_type::scratch_per_sample));
    }
    slot.batch = batch;
    bind_slot();
  }

  // Binds the current slot's activations and the shared gradient buffers and scratch for
  // its batch.
  void bind_slot() {
    batch_ = slots_[slot_].batch;
    chain_.bind_activations(slots_[slot_].activations.data(), batch_);
    gradient_buffers_[0] = shared_.data();
    gradient_buffers_[1] = shared_.data() + batch_ * widest;
    chain_.bind_scratch(VectorSlice<Scalar, memory_space>(shared_.data() + 2 * batch_ * widest,
                                                          batch_ * chain_type::scratch_per_sample),
                        batch_);
  }

  // One batch's activations: each stage's output and what it keeps for backward.
  struct Slot {
    buffer_type activations;
    std::size_t capacity = 0, batch = 0;
    const_batch_type input;
  };

  struct SummaryRow {
    std::string layer, shape, parameters;
  };

  // One row per layer; the layers inside a Residual follow its row, indented, the
  // shortcut's marked as such.
  template <class... Annotated>
  static void summary_rows(std::vector<SummaryRow>& rows, detail::type_list<Annotated...> layers,
                           std::string const& indent, std::string const& label = "") {
    [[maybe_unused]] constexpr auto fused = detail::fused_flags(layers);
    [[maybe_unused]] std::size_t i = 0;
    (summary_row<Annotated>(rows, indent, label, fused[i++]), ...);
  }
  template <class Annotated>
  static void summary_row(std::vector<SummaryRow>& rows, std::string const& indent,
                          std::string const& label, bool fused) {
    using L = typename Annotated::layer;
    using In = typename Annotated::input_shape;
    constexpr bool nested = requires {
      typename L::template block_layers<In>;
    };
    rows.push_back({indent + label + (nested ? std::string("Residual") : row_name<Annotated>()) +
                        (fused ? " (fused)" : ""),
                    Annotated::output_shape::to_string(),
                    detail::group_digits(Annotated::parameter_count)});
    if constexpr (nested) {
      summary_rows(rows, typename L::template block_layers<In>{}, indent + "  ");
      summary_rows(rows, typename L::template shortcut_layers<In>{}, indent + "  ", "shortcut ");
    }
  }

  // The layer's name, and where it has one the note of its stage ("Conv2D<64, 3> [winograd]").
  template <class Annotated>
  static std::string row_name() {
    using L = typename Annotated::layer;
    using In = typename Annotated::input_shape;
    if constexpr (requires { L::template stage_note<In, Scalar, ExecutionSpace>(); }) {
      return L::name() + " [" + L::template stage_note<In, Scalar, ExecutionSpace>() + "]";
    } else {
      return L::name();
    }
  }
  static std::string pad(std::string s, std::size_t width) {
    s.resize(std::max(width, s.size() + 1), ' ');
    return s;
  }
  static std::string format_bytes(std::size_t bytes) {
    std::ostringstream out;
    out.precision(3);
    if (bytes >= (std::size_t{1} << 20)) {
      out << double(bytes) / double(1 << 20) << " MiB";
    } else {
      out << double(bytes) / 1024.0 << " KiB";
    }
    return out.str();
  }
  static char const* scalar_name() {
    return sizeof(Scalar) == 4 ? "float" : "double";
  }
  static char const* gemm_name() {
    switch (kernels::gemm_backend<Scalar, memory_space>()) {
    case kernels::GemmBackend::kokkos_kernels:
      return "KokkosBlas::gemm";
    case kernels::GemmBackend::blas:
      return "BLAS";
    default:
      return "loom tiled kernel";
    }
  }

  ExecutionSpace space_;
  buffer_type parameters_;
  buffer_type gradients_;
  buffer_type states_;
  std::vector<Slot> slots_ = std::vector<Slot>(1);
  std::size_t slot_ = 0;
  buffer_type shared_; // the gradients passed between stages, then the scratch
  chain_type chain_;
  std::array<Scalar*, 2> gradient_buffers_{};
  const_batch_type input_;
  std::size_t capacity_ = 0;
  std::size_t batch_ = 0;
  std::uint64_t seed_ = 0;
  std::uint64_t step_ = 0;
  std::uint64_t sample_offset_ = 0;
  bool update_states_ = true;
  bool training_ = true;
  bool input_gradient_enabled_ = false;
  Shard shard_;
  detail::SampleGroup<Scalar>* group_ = nullptr;
};

} // namespace loom
