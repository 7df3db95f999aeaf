#pragma once

// A model's parameters and states, and an optimizer's state, as sections of a loom checkpoint
// file (io/checkpoint.hpp): what PyTorch's state_dict and dlib's serialize give a hand-written
// training loop. A Trainer's checkpoint holds the same sections and more (the data position,
// the schedule), so io::load(path, model) also takes the weights out of one.
//
//   section      contents
//   "model"      the model's identity (network type and scalar) and its FNV-1a fingerprint,
//                the parameter count, the stages' parameter offsets, the dropout seed and step
//   "parameters" the flat parameter buffer (Model::parameters(), layout in Model's docs)
//   "states"     the flat state buffer (batch norm's running statistics), when there is one
//   "optimizer"  the optimizer's name, its step count, and each state buffer by name

#include <loom/core/detail/format.hpp>
#include <loom/core/detail/host_copy.hpp>
#include <loom/core/error.hpp>
#include <loom/io/bytes.hpp>
#include <loom/io/checkpoint.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace loom::io {

namespace detail {

/// FNV-1a: the model-type fingerprint in checkpoints.
inline std::uint64_t fingerprint(std::string const& text) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    hash = (hash ^ c) * 0x100000001b3ULL;
  }
  return hash;
}

/// io::save and io::load take a model of the whole network (a strategy that splits layers
/// saves through Trainer::save, which gathers the parts).
template <class M>
constexpr bool holds_whole_network() {
  static_assert(M::whole, "loom::io::save / io::load: the model holds a rank's part of a network "
                          "split over ranks; save and load it through its strategy, with "
                          "Trainer::save and Trainer::load, which write the whole network");
  return M::whole;
}

/// What a checkpoint holds for a model, read and checked before any of it is applied.
template <class Scalar>
struct ModelContents {
  std::vector<Scalar> parameters;
  std::vector<Scalar> states;
  std::uint64_t seed = 0;
  std::uint64_t step = 0;
};

/// What a checkpoint holds for an optimizer, read and checked before it is applied.
template <class Scalar>
struct OptimizerContents {
  std::uint64_t steps = 0;
  std::vector<std::vector<Scalar>> buffers;
};

/// Adds the sections "model", "parameters" and (for a model with states) "states", in the whole
/// network's layout; `layout` moves the model's buffers there (loom::detail::WholeLayout for a
/// model that holds the whole network).
template <class M, class Layout = loom::detail::WholeLayout>
void add_model(CheckpointWriter& writer, M const& model, Layout const& layout = {}) {
  ByteWriter out;
  out.write_string(M::identity());
  out.write_u64(fingerprint(M::identity()));
  out.write_u64(M::num_logical_parameters);
  std::vector<std::uint64_t> const offsets(M::network_parameter_offsets.begin(),
                                           M::network_parameter_offsets.end());
  out.write_array(offsets);
  out.write_u64(model.seed());
  out.write_u64(model.step());
  writer.add("model", std::move(out));
  ByteWriter parameters;
  parameters.write_array(layout.to_logical(model.parameters()));
  writer.add("parameters", std::move(parameters));
  if constexpr (M::num_logical_states > 0) {
    ByteWriter states;
    states.write_array(layout.states_to_logical(model.states()));
    writer.add("states", std::move(states));
  }
}

/// Reads and checks the model sections written by add_model() for a model of type M.
/// \param who  the caller, for messages ("loom::Trainer::load")
/// \param mine how messages name the model read into ("this trainer's model")
template <class M>
ModelContents<typename M::value_type> read_model(CheckpointReader const& reader, char const* who,
                                                 char const* mine = "the model") {
  using Scalar = typename M::value_type;
  std::string const file = reader.path().string();
  ModelContents<Scalar> contents;
  {
    auto in = reader.section("model");
    std::string const identity = in.read_string();
    std::uint64_t const fingerprint_read = in.read_u64();
    if (identity != M::identity() || fingerprint_read != fingerprint(M::identity())) {
      loom::detail::fail(who, ": checkpoint '", file, "' was written for the model ", identity,
                         ", but ", mine, " is ", M::identity(),
                         "; load it into a model of the type it was written for");
    }
    if (in.read_u64() != M::num_logical_parameters ||
        in.template read_array<std::uint64_t>().size() != M::num_network_stages) {
      loom::detail::fail(who, ": checkpoint '", file, "' describes the parameters of ", identity,
                         " differently from this build of loom");
    }
    contents.seed = in.read_u64();
    contents.step = in.read_u64();
    in.expect_end();
  }
  {
    auto in = reader.section("parameters");
    contents.parameters = in.template read_array<Scalar>();
    in.expect_end();
  }
  if (contents.parameters.size() != M::num_logical_parameters) {
    loom::detail::fail(who, ": checkpoint '", file, "' holds ", contents.parameters.size(),
                       " parameters; the model has ", M::num_logical_parameters);
  }
  // Models without state (most) write no "states" section and ignore one.
  if constexpr (M::num_logical_states > 0) {
    if (!reader.has("states")) {
      loom::detail::fail(who, ": checkpoint '", file, "' has no section 'states', but the model ",
                         "keeps ", M::num_logical_states,
                         " state values (running statistics); it was not written for this model");
    }
    auto in = reader.section("states");
    contents.states = in.template read_array<Scalar>();
    in.expect_end();
    if (contents.states.size() != M::num_logical_states) {
      loom::detail::fail(who, ": checkpoint '", file, "' holds ", contents.states.size(),
                         " state values; the model has ", M::num_logical_states);
    }
  }
  return contents;
}

/// Applies what read_model() returned; `layout` takes the model's part of the whole network.
template <class M, class Layout = loom::detail::WholeLayout>
void restore_model(M& model, ModelContents<typename M::value_type> const& contents,
                   Layout const& layout = {}) {
  layout.assign(model.parameters(), contents.parameters);
  if constexpr (M::num_logical_states > 0) {
    layout.assign_states(model.states(), contents.states);
  }
  model.set_seed(contents.seed);
  model.set_step(contents.step);
}

/// Adds the section "optimizer", its buffers in the whole network's layout.
template <class State, class Layout = loom::detail::WholeLayout>
void add_optimizer(CheckpointWriter& writer, State const& state, Layout const& layout = {}) {
  ByteWriter out;
  out.write_string(State::optimizer_type::name());
  out.write_u64(state.steps());
  out.write_u64(state.buffers().size());
  for (auto const& buffer : state.buffers()) {
    out.write_string(buffer.name);
    out.write_array(layout.to_logical(buffer.view));
  }
  writer.add("optimizer", std::move(out));
}

/// Reads and checks the section written by add_optimizer() against `state`'s type and options.
/// \param uses     how messages name the optimizer read into ("this trainer uses")
/// \param logical  the whole network's parameter count, when the state is a rank's part of a
///                 split network's (the buffers are saved in the whole network's layout)
template <class State>
OptimizerContents<typename State::value_type>
read_optimizer(CheckpointReader const& reader, State const& state, char const* who,
               char const* uses = "the optimizer is", std::size_t logical = 0) {
  using Scalar = typename State::value_type;
  std::string const file = reader.path().string();
  std::string const mine = State::optimizer_type::name();
  auto in = reader.section("optimizer");
  std::string const name = in.read_string();
  if (name != mine) {
    loom::detail::fail(who, ": checkpoint '", file, "' holds the state of optimizer ", name,
                       ", but ", uses, " ", mine);
  }
  OptimizerContents<Scalar> contents;
  contents.steps = in.read_u64();
  std::uint64_t const count = in.read_u64();
  if (count != state.buffers().size()) {
    loom::detail::fail(who, ": checkpoint '", file, "' holds ", count, " state buffers of ", name,
                       "; this build of loom has ", state.buffers().size());
  }
  for (auto const& buffer : state.buffers()) {
    std::string const buffer_name = in.read_string();
    auto values = in.template read_array<Scalar>();
    std::size_t const expected = !buffer.used ? 0 : logical == 0 ? buffer.view.extent(0) : logical;
    if (buffer_name != buffer.name || values.size() != expected) {
      loom::detail::fail(who, ": checkpoint '", file, "' holds ", name, " state '", buffer_name,
                         "' of ", values.size(), " values where this optimizer keeps '",
                         buffer.name, "' of ", expected,
                         " (were the optimizer options, e.g. momentum, different?)");
    }
    contents.buffers.push_back(std::move(values));
  }
  in.expect_end();
  return contents;
}

/// Applies what read_optimizer() returned.
template <class State, class Layout = loom::detail::WholeLayout>
void restore_optimizer(State& state, OptimizerContents<typename State::value_type> const& contents,
                       Layout const& layout = {}) {
  for (std::size_t b = 0; b < state.buffers().size(); ++b) {
    layout.assign(state.buffers()[b].view, contents.buffers[b]);
  }
  state.set_steps(contents.steps);
}

} // namespace detail

/// \brief Saves a model's parameters and states (running statistics) to `path`, atomically,
///        as a checkpoint that io::load() reads back: PyTorch's torch.save(model.state_dict()).
/// \tparam M a loom::Model
/// \throws loom::Error naming the file when it cannot be written (a file already there stays)
template <class M>
void save(std::filesystem::path const& path, M const& model) {
  static_assert(loom::detail::checked<detail::holds_whole_network<M>()>);
  CheckpointWriter writer;
  detail::add_model(writer, model);
  writer.write(path);
}

/// \brief Saves a model and the state of its optimizer (moments, momentum, step count) to
///        `path`, atomically: what a hand-written loop needs to resume.
/// \tparam M     a loom::Model
/// \tparam State the optimizer's state, e.g. loom::Adam::state<float, ExecutionSpace>
template <class M, class State>
void save(std::filesystem::path const& path, M const& model, State const& optimizer) {
  static_assert(loom::detail::checked<detail::holds_whole_network<M>()>);
  CheckpointWriter writer;
  detail::add_model(writer, model);
  detail::add_optimizer(writer, optimizer);
  writer.write(path);
}

/// \brief Restores a model's parameters, states and dropout stream from a file written by
///        io::save() or by loom::Trainer::save() for the same network type and scalar. Nothing
///        changes when the file is refused.
/// \throws loom::Error naming the file when it is missing, damaged, or holds another model
template <class M>
void load(std::filesystem::path const& path, M& model) {
  static_assert(loom::detail::checked<detail::holds_whole_network<M>()>);
  CheckpointReader const reader(path);
  auto const contents = detail::read_model<M>(reader, "loom::io::load");
  detail::restore_model(model, contents);
}

/// \brief Restores a model and its optimizer's state from a file written by io::save(path,
///        model, optimizer) or by loom::Trainer::save(). Nothing changes when it is refused.
/// \throws loom::Error naming the file when it is missing, damaged, has no optimizer state, or
///         holds another model or optimizer (or one with other options, e.g. no momentum)
template <class M, class State>
void load(std::filesystem::path const& path, M& model, State& optimizer) {
  static_assert(loom::detail::checked<detail::holds_whole_network<M>()>);
  CheckpointReader const reader(path);
  auto const contents = detail::read_model<M>(reader, "loom::io::load");
  auto const optimizer_contents = detail::read_optimizer(reader, optimizer, "loom::io::load");
  detail::restore_model(model, contents);
  detail::restore_optimizer(optimizer, optimizer_contents);
}

} // namespace loom::io
