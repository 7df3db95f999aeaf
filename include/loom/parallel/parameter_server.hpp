#pragma once

#include <loom/comm/concepts.hpp>
#include <loom/comm/default.hpp>
#include <loom/core/detail/host_copy.hpp>
#include <loom/core/environment.hpp>
#include <loom/core/error.hpp>
#include <loom/data/sampler.hpp>
#include <loom/loss/concepts.hpp>
#include <loom/model/model.hpp>
#include <loom/optim/clip.hpp>
#include <loom/parallel/data_parallel.hpp>
#include <loom/parallel/detail/gradient_sync.hpp>
#include <loom/parallel/detail/layout.hpp>
#include <loom/parallel/detail/replica_runtime.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace loom {

/// \brief Asynchronous SGD with parameter servers (stale-synchronous parallel). The first
///        `servers` ranks are servers, each holding a contiguous shard of the parameters and
///        the optimizer's state for it; the other ranks are workers. A worker pulls the
///        parameters and the index of a batch not yet trained on, computes that batch's
///        gradient, pushes it to the servers, which apply it with the optimizer as it arrives,
///        and pulls again; no worker waits for another, beyond the staleness bound:
/// \code
///   server 0 (shard 0), server 1 (shard 1)      worker 2        worker 3 (slower)
///     θ ← opt(θ, ∇) as each push arrives ◀── push ∇(b₀) ─┐   push ∇(b₁) ──┐
///     hands out the epoch's batches      ──▶ θ, b₂ ──────┘                 │
///                                        ◀── push ∇(b₂)       ...  ◀───────┘
/// \endcode
/// The staleness bound S: a worker that has pushed c gradients in the epoch gets parameters
/// only once every other worker has pushed at least c − S (S = 0: synchronous rounds; one
/// worker with S = 0 is serial SGD on the same batches, bit for bit; unbounded_staleness:
/// fully asynchronous, a slow worker never holds the others back). Batches are handed out as
/// workers ask, so a fast worker trains on more of them; every batch of an epoch is trained
/// on once. At an epoch's end the servers wait for every worker, and every rank then holds
/// the same parameters (batch norm's running statistics averaged over the workers): that is
/// where evaluation and checkpoints see one model (with several servers a checkpoint can be
/// written only there). A checkpoint resumes (under this or any other strategy) but not bit
/// for bit: the order in which pushes arrive is the network's.
///
/// A worker that sends nothing for `worker_timeout` seconds while it holds a batch is lost:
/// the servers report it (on server 0's standard error and in lost_workers()), drop its batch
/// and go on with the others; what follows runs without collectives over it (each rank then
/// checks its own inputs, evaluates alone, and load() is refused). A worker the servers gave
/// up on that comes back is told so and stops with a message. A loss that is not finite on
/// any worker is not pushed; every rank stops at the epoch's end, with the Trainer's message.
/// On one process the process is its own server: serial SGD.
/// \tparam Comm  communicator policy (point-to-point messages; comm::Mpi)
template <class Comm = comm::Default>
struct ParameterServer {
  static_assert(detail::checked<detail::check_communicator<Comm>()>);

  using strategy_type = ParameterServer;
  using comm_type = Comm;
  static constexpr bool needs_environment = true;
  /// options::staleness for fully asynchronous workers.
  static constexpr std::size_t unbounded_staleness = std::numeric_limits<std::size_t>::max();

  static std::string name() { return "ParameterServer<" + Comm::name() + ">"; }

  /// \brief Runtime options (TrainerOptions::parallel).
  struct options {
    std::size_t servers = 1;    ///< the first `servers` ranks hold the parameters' shards
    std::size_t staleness = 0;  ///< S: how many pushes a worker may run ahead of the slowest
    double worker_timeout = 60; ///< seconds of silence after which a worker is lost
  };
  static std::string describe(options const& o) {
    return "servers=" + std::to_string(o.servers) + ", staleness=" +
           (o.staleness == unbounded_staleness ? std::string("unbounded")
                                               : std::to_string(o.staleness)) +
           ", worker_timeout=" + detail::format_number(o.worker_timeout);
  }

  template <class Net, class ExecutionSpace, class Scalar = float>
  class runtime {
  public:
    using model_type = Model<Net, ExecutionSpace, Scalar>;
    static_assert(is_host_accessible<typename model_type::memory_space>,
                  "loom::ParameterServer: the model's memory space must be host accessible "
                  "(GPU-aware communication is not supported yet)");

    runtime(Environment const& env, options const& opts)
        : comm_(env)
        , options_(opts) {
      std::size_t const size = std::size_t(comm_.size());
      if (opts.servers == 0 || (size > 1 && opts.servers >= size) || !(opts.worker_timeout > 0)) {
        detail::fail_collective(detail::concat(
            "loom::ParameterServer: servers = ", opts.servers,
            ", worker_timeout = ", opts.worker_timeout, " over ", size,
            " processes; there must be at least one server and one worker (servers < processes, "
            "or one process that is its own server) and a positive timeout"));
      }
      servers_ = size == 1 ? 1 : int(opts.servers);
      std::size_t const n = model_type::num_parameters;
      for (int s = 0; s < servers_; ++s) {
        shards_.push_back(comm::block(n, s, servers_));
      }
      if (is_server() && size > 1) {
        workers_.resize(std::size_t(comm_.size() - servers_));
        for (std::size_t w = 0; w < workers_.size(); ++w) {
          workers_[w].rank = servers_ + int(w);
        }
      }
    }
    runtime(runtime const&) = delete;
    runtime& operator=(runtime const&) = delete;
    ~runtime() {
      for (Worker& w : workers_) {
        w.message.cancel(); // no worker sends after its last epoch
      }
    }

    model_type make_model(std::uint64_t seed) const { return model_type(seed); }
    int rank() const { return comm_.rank(); }
    int size() const { return comm_.size(); }
    bool is_root() const { return rank() == 0; }
    bool is_server() const { return rank() < servers_; }
    Comm& communicator() { return comm_; }
    options const& settings() const { return options_; }
    /// The ranks the servers gave up on (on server ranks; empty on workers).
    std::vector<int> lost_workers() const {
      std::vector<int> lost;
      for (Worker const& w : workers_) {
        if (w.lost) {
          lost.push_back(w.rank);
        }
      }
      return lost;
    }
    /// Batches this rank trained on (a worker) or applied (a server), over the run.
    std::uint64_t batches() const { return batches_; }
    /// Bytes this rank sent and received (gradients and parameters), against what a
    /// DataParallel rank would have all-reduced over the same steps.
    Traffic traffic() const { return traffic_; }

    // Evaluation: every rank computes every row itself (no rank waits on another).
    data::IndexRange shard(std::size_t rows) const { return {0, rows}; }
    template <class Batch>
    auto input(model_type const&, Batch const& batch) const {
      return batch.x;
    }
    LossValue combine(LossValue const& local) { return local; }
    void sum(std::span<double>) {}

    void check_configuration(detail::Configuration const& configuration) {
      if (!degraded_) {
        comm_.check_configuration(configuration, "loom::ParameterServer");
      }
    }
    template <class F>
    auto collectively(F&& f) -> decltype(f()) {
      if (degraded_) {
        return f(); // a worker was lost: no collective over it
      }
      return comm_.collectively(std::forward<F>(f));
    }
    void broadcast(std::vector<std::byte>& bytes) {
      if (degraded_) {
        detail::fail("loom::ParameterServer: a worker was lost in this run (", lost_description(),
                     "); a checkpoint cannot be loaded over the ranks that remain: restart "
                     "the run from it");
      }
      detail::broadcast_bytes(comm_, bytes);
    }
    /// Every rank holds the whole network at an epoch's end (rank 0's is written).
    detail::WholeLayout layout(model_type const&) const { return {}; }

    /// Every rank checks the batch, then takes rank 0's parameters.
    void start(model_type& model, std::size_t batch) {
      if (batch == 0) {
        detail::fail_collective("loom::Trainer: ParameterServer needs a batch of at least 1");
      }
      if (!degraded_) {
        auto host = detail::to_host(model.parameters());
        comm_.broadcast(std::span(host), 0);
        detail::from_host(model.parameters(), host);
      }
      shard_state_.reset(); // taken from the optimizer at the next step
    }
    /// A checkpoint was loaded: the servers take their shards from the optimizer at the next
    /// step.
    void parameters_replaced(model_type const&) { shard_state_.reset(); }

    /// Refuses a checkpoint inside an epoch with several servers (only server 0's shard is
    /// current on rank 0 there).
    template <class F>
    decltype(auto) with_model_parameters(model_type&, F&& f) {
      if (in_epoch_ && servers_ > 1) {
        detail::fail("loom::ParameterServer: with ", servers_,
                     " servers the parameters are whole only at an epoch's end; write "
                     "checkpoints and evaluate there (callbacks::checkpoint at epoch ends)");
      }
      return f();
    }

    template <class Optimizer, class Work>
    LossValue step(model_type& model, Optimizer& optimizer, Work& work) {
      if (work.micro_batches() != 1) {
        detail::fail_collective(
            "loom::ParameterServer: gradient accumulation (TrainerOptions::accumulate > 1) "
            "is not supported: each push is one batch's gradient");
      }
      traffic_.data_parallel_bytes +=
          size() > 1 ? model.parameters().extent(0) * sizeof(Scalar) : 0;
      if (size() == 1) {
        LossValue const loss = gradient(model, work, work.first_batch());
        if (!finite(loss)) {
          work.check(loss, 0);
        }
        optimizer.step(model.space(), model.parameters(), model.gradients(), work.lr(), scale_);
        ++batches_;
        return loss;
      }
      return is_server() ? serve(model, optimizer, work) : train(model, optimizer, work);
    }

  private:
    // Message kinds, in a header of 9 doubles: kind, clock or batch, loss sum, count, correct,
    // invalid, regression, gradient scale, optimizer steps.
    enum Kind : int { pull = 1, push = 2, done = 3, bad = 4, params = 10, lost = 11, last = 12 };
    enum Tag : int {
      header_tag = 1,
      gradient_tag = 2,
      reply_tag = 3,
      shard_tag = 4,
      final_tag = 5,
      state_tag = 6,
      optimizer_tag = 7
    };
    using Header = std::array<double, 9>;
    using clock = std::chrono::steady_clock;

    struct Worker {
      int rank = 0;
      bool done = false, lost = false, owed = false;
      std::uint64_t clock = 0;    // pushes in this epoch
      std::int64_t batch = -1;    // the batch it trains on
      Header header{};            // the message being received
      comm::Request message;      // its receive
      std::vector<Scalar> reply;  // the shard sent back
      std::vector<Scalar> states; // its running statistics at the epoch's end (server 0)
      Header reply_header{};
      comm::Request reply_sent, shard_sent;
      clock::time_point heard{};
    };

    static bool finite(LossValue const& l) { return std::isfinite(l.sum) && l.invalid == 0; }
    static Header loss_header(int kind, double clock, LossValue const& l, double scale) {
      return {double(kind),
              clock,
              l.sum,
              double(l.count),
              double(l.correct),
              double(l.invalid),
              l.regression ? 1.0 : 0.0,
              scale,
              0.0};
    }
    static LossValue header_loss(Header const& h) {
      LossValue l;
      l.sum = h[2];
      l.count = std::size_t(h[3]);
      l.correct = std::size_t(h[4]);
      l.invalid = std::size_t(h[5]);
      l.regression = h[6] != 0;
      return l;
    }
    std::string lost_description() const {
      std::string text;
      for (int r : lost_workers()) {
        text += (text.empty() ? "rank " : ", rank ") + std::to_string(r);
      }
      return text.empty() ? "seen by the servers" : text;
    }

    // Batch i's gradient on this rank's model (its mean over the batch), clipped as the
    // Trainer says; the clipping factor is kept in scale_.
    template <class Work>
    LossValue gradient(model_type& model, Work& work, std::size_t i) {
      std::span<std::size_t const> const samples = work.epoch_batch(i);
      model.train();
      model.set_sample_offset(work.epoch_batch_first_sample(i));
      auto const batch = work.gather(samples);
      auto const output = model.forward(batch.x);
      LossValue const loss = work.loss(model, output, batch, 1.0 / double(samples.size()));
      model.backward();
      scale_ = 1.0;
      if (work.clip_norm() > 0) {
        scale_ = clip_factor(global_norm(model.space(), model.gradients()), work.clip_norm());
      }
      model.space().fence();
      return loss;
    }

    // ---- a worker ----------------------------------------------------------------------

    template <class Optimizer, class Work>
    LossValue train(model_type& model, Optimizer& optimizer, Work& work) {
      if (!in_epoch_) {
        in_epoch_ = true;
        done_sent_ = false;
        pushes_ = 0;
        exchange(model, loss_header(pull, 0, {}, 1), false);
      }
      // One batch a step; at the epoch's last step, every batch still to be had.
      while (batch_ >= 0) {
        LossValue const loss = gradient(model, work, std::size_t(batch_));
        ++batches_;
        ++pushes_;
        bool const ok = finite(loss); // a bad loss is reported, its gradient not pushed
        exchange(model, loss_header(ok ? push : bad, double(pushes_), loss, scale_), ok);
        if (!work.ends_epoch()) {
          break;
        }
      }
      if (batch_ < 0 && !done_sent_) {
        // Nothing left to train on in this epoch: its running statistics to server 0.
        Header const header = loss_header(done, double(pushes_), {}, 1);
        for (int s = 0; s < servers_; ++s) {
          comm_.send(std::span<double const>(header), s, header_tag);
        }
        auto const states = detail::to_host(model.states());
        comm_.send(std::span<Scalar const>(states), 0, state_tag);
        done_sent_ = true;
      }
      if (work.ends_epoch()) {
        receive_final(model, optimizer, work);
      }
      return {}; // the servers report the losses (rank 0's callbacks)
    }

    // Sends `header` (with this rank's gradient shards when `gradients`) to every server and
    // waits for their parameters; server 0's reply carries the next batch (-1: none left).
    void exchange(model_type& model, Header header, bool gradients) {
      std::vector<comm::Request> sent;
      Scalar* const g = model.gradients().data();
      for (int s = 0; s < servers_; ++s) {
        sent.push_back(comm_.isend(std::span<double const>(header), s, header_tag));
        if (gradients) {
          sent.push_back(comm_.isend(
              std::span<Scalar const>(g + shards_[s].begin, shards_[s].count), s, gradient_tag));
        }
      }
      for (auto& r : sent) {
        r.wait();
      }
      std::size_t const n = model.parameters().extent(0);
      traffic_.bytes += (gradients ? 2 : 1) * n * sizeof(Scalar);
      Scalar* const p = model.parameters().data();
      for (int s = 0; s < servers_; ++s) {
        Header reply{};
        comm_.recv(std::span<double>(reply), s, reply_tag);
        if (int(reply[0]) == lost) {
          detail::fail("loom::ParameterServer: worker rank ", rank(),
                       " sent nothing for more than ", options_.worker_timeout,
                       " s, and the servers went on without it; it stops here (raise "
                       "options.worker_timeout where a worker may be that slow)");
        }
        comm_.recv(std::span<Scalar>(p + shards_[s].begin, shards_[s].count), s, shard_tag);
        if (s == 0) {
          batch_ = std::int64_t(reply[1]);
        }
      }
    }

    // The epoch's end on any rank but server 0: the whole model from the servers (with
    // server 0's running statistics), whether a worker was lost, and a bad loss if one was
    // seen (then every rank stops here).
    template <class Optimizer, class Work>
    void receive_final(model_type& model, Optimizer& optimizer, Work& work) {
      Scalar* const p = model.parameters().data();
      Header h{};
      for (int s = 0; s < servers_; ++s) {
        if (s == rank()) {
          continue;
        }
        comm_.recv(std::span<double>(h), s, final_tag);
        degraded_ = degraded_ || h[1] > 0;
        comm_.recv(std::span<Scalar>(p + shards_[s].begin, shards_[s].count), s, final_tag);
      }
      if (model.states().extent(0) > 0) {
        std::vector<Scalar> states(model.states().extent(0));
        comm_.recv(std::span<Scalar>(states), 0, state_tag);
        detail::from_host(model.states(), states);
      }
      in_epoch_ = false;
      optimizer.set_steps(std::uint64_t(h[8])); // the servers' updates
      if (h[7] != 0) {
        work.check(header_loss(h), 0);
      }
    }

    // ---- a server ----------------------------------------------------------------------

    // This server's optimizer over its shard, taken from the whole network's (its layout is
    // the parameters'): at the first step, and after a checkpoint was loaded.
    template <class Optimizer>
    Optimizer& shard_optimizer(Optimizer& whole) {
      if (servers_ == 1) {
        return whole; // the whole network is its shard
      }
      if (!shard_state_) {
        comm::Block const mine = shards_[std::size_t(rank())];
        auto state = std::make_shared<Optimizer>(mine.count, whole.options());
        copy_buffers(whole, *state, mine.begin, 0, mine.count);
        state->set_steps(whole.steps());
        shard_state_ = state;
      }
      return *static_cast<Optimizer*>(shard_state_.get());
    }
    template <class From, class To>
    static void copy_buffers(From const& from, To& to, std::size_t at_from, std::size_t at_to,
                             std::size_t count) {
      for (std::size_t b = 0; b < from.buffers().size(); ++b) {
        if (from.buffers()[b].used) {
          std::copy_n(from.buffers()[b].view.data() + at_from, count,
                      to.buffers()[b].view.data() + at_to);
        }
      }
    }

    template <class Optimizer, class Work>
    LossValue serve(model_type& model, Optimizer& whole, Work& work) {
      Optimizer& optimizer = shard_optimizer(whole);
      auto const entered = clock::now();
      for (Worker& w : workers_) {
        w.heard += entered - left_; // the time spent outside the servers' loop is nobody's
      }
      if (!in_epoch_) {
        in_epoch_ = true;
        next_batch_ = work.first_batch();
        batches_in_epoch_ = work.epoch_batches();
        for (Worker& w : workers_) {
          w.done = w.lost;
          w.clock = 0;
          w.batch = -1;
          w.states.clear();
          w.heard = entered;
          if (!w.lost && w.message.done()) {
            w.message = comm_.irecv(std::span<double>(w.header), w.rank, header_tag);
          }
        }
      }
      LossValue applied;
      bool const last = work.ends_epoch();
      // Until one push is applied (the Trainer's steps count the epoch's batches), or at the
      // epoch's end until every worker is done.
      while (!all_done() && (last || applied.count == 0)) {
        bool progressed = false;
        for (Worker& w : workers_) {
          w.reply_sent.test(); // progress on the replies in flight
          w.shard_sent.test();
          if (w.message.done() || !w.message.test()) {
            continue;
          }
          progressed = true;
          w.heard = clock::now();
          Header const h = w.header;
          int const kind = int(h[0]);
          comm::Block const mine = shards_[std::size_t(rank())];
          if (kind == push) {
            gradient_.resize(mine.count);
            comm_.recv(std::span<Scalar>(gradient_), w.rank, gradient_tag);
            traffic_.bytes += mine.count * sizeof(Scalar);
          }
          if (w.lost) {
            // Given up on, it came back: it is told so, and stops.
            w.reply_sent.wait();
            w.reply_header = loss_header(lost, 0, {}, 1);
            w.reply_sent = comm_.isend(std::span<double const>(w.reply_header), w.rank, reply_tag);
            w.message = comm_.irecv(std::span<double>(w.header), w.rank, header_tag);
            continue;
          }
          if (kind == push) {
            apply(model, optimizer, mine, work.lr(), h[7]);
            applied += header_loss(h);
            ++batches_;
          }
          if (kind == bad && !stop_) {
            stop_ = header_loss(h);
          }
          if (kind == push || kind == bad) {
            w.clock = std::uint64_t(h[1]);
          }
          if (kind == done) {
            w.done = true;
            if (rank() == 0) {
              w.states.resize(model.states().extent(0));
              comm_.recv(std::span<Scalar>(w.states), w.rank, state_tag);
            }
          } else {
            w.owed = true;
            w.message = comm_.irecv(std::span<double>(w.header), w.rank, header_tag);
          }
        }
        release(model);
        if (!progressed) {
          give_up_on_silent_workers();
          std::this_thread::sleep_for(std::chrono::microseconds(20)); // the workers' cores
        }
      }
      if (last) {
        finish_epoch_as_server(model, whole, optimizer);
        if (stop_) {
          LossValue const bad_loss = *stop_;
          stop_.reset();
          work.check(bad_loss, 0); // as on every other rank
        }
      }
      left_ = clock::now();
      return rank() == 0 ? applied : LossValue{};
    }

    bool all_done() const {
      return std::all_of(workers_.begin(), workers_.end(),
                         [](Worker const& w) { return w.done || w.lost; });
    }

    void apply(model_type& model, auto& optimizer, comm::Block mine, double lr, double scale) {
      auto const p = Kokkos::subview(model.parameters(), std::make_pair(mine.begin, mine.end()));
      // (the model's memory is host accessible: the received gradients are used in place)
      Kokkos::View<Scalar*, typename model_type::memory_space,
                   Kokkos::MemoryTraits<Kokkos::Unmanaged>> const g(gradient_.data(),
                                                                    gradient_.size());
      optimizer.step(model.space(), p, g, lr, scale);
      model.space().fence();
    }

    // Answers the workers waiting for parameters whose staleness allows it.
    void release(model_type& model) {
      std::uint64_t slowest = std::numeric_limits<std::uint64_t>::max();
      for (Worker const& w : workers_) {
        if (!w.done && !w.lost) {
          slowest = std::min(slowest, w.clock);
        }
      }
      comm::Block const mine = shards_[std::size_t(rank())];
      Scalar const* const p = model.parameters().data() + mine.begin;
      for (Worker& w : workers_) {
        if (!w.owed) {
          continue;
        }
        // (the slowest is at most w's clock: w is not done)
        bool const allowed = slowest == std::numeric_limits<std::uint64_t>::max() ||
                             w.clock - slowest <= options_.staleness;
        if (!allowed) {
          continue;
        }
        w.reply_sent.wait();
        w.shard_sent.wait();
        w.owed = false;
        w.heard = clock::now(); // its silence counts from here
        double batch = -1;
        if (rank() == 0 && next_batch_ < batches_in_epoch_) {
          batch = double(next_batch_++);
        }
        w.batch = std::int64_t(batch);
        w.reply_header = loss_header(params, batch, {}, 1);
        w.reply.assign(p, p + mine.count);
        w.reply_sent = comm_.isend(std::span<double const>(w.reply_header), w.rank, reply_tag);
        w.shard_sent = comm_.isend(std::span<Scalar const>(w.reply), w.rank, shard_tag);
        traffic_.bytes += mine.count * sizeof(Scalar);
      }
    }

    void give_up_on_silent_workers() {
      auto const now = clock::now();
      for (Worker& w : workers_) {
        if (w.lost || w.done || w.owed ||
            std::chrono::duration<double>(now - w.heard).count() < options_.worker_timeout) {
          continue;
        }
        w.lost = true; // its receive stays posted: a worker that comes back is told
        degraded_ = true;
        if (rank() == 0) {
          std::cerr << detail::concat("loom::ParameterServer: worker rank ", w.rank,
                                      " sent nothing for ", options_.worker_timeout,
                                      " s after its push ", w.clock, " of this epoch",
                                      w.batch >= 0 ? detail::concat(", holding batch ", w.batch + 1)
                                                   : std::string(),
                                      "; the servers go on with the other workers")
                    << std::endl;
        }
      }
    }

    template <class Optimizer>
    void finish_epoch_as_server(model_type& model, Optimizer& whole, Optimizer& optimizer) {
      comm::Block const mine = shards_[std::size_t(rank())];
      Scalar* const p = model.parameters().data();
      // Running statistics: the mean over the workers that finished the epoch.
      if (rank() == 0 && model.states().extent(0) > 0) {
        std::vector<Scalar> mean(model.states().extent(0), Scalar(0));
        std::size_t finished = 0;
        for (Worker const& w : workers_) {
          if (!w.lost && w.states.size() == mean.size()) {
            for (std::size_t i = 0; i < mean.size(); ++i) {
              mean[i] += w.states[i];
            }
            ++finished;
          }
        }
        if (finished > 0) {
          for (Scalar& m : mean) {
            m /= Scalar(finished);
          }
          detail::from_host(model.states(), mean);
        }
      }
      // Every other live rank gets this shard (and rank 0's running statistics), the number of
      // workers lost and a bad loss seen.
      Header h = loss_header(last, double(lost_workers().size()), stop_.value_or(LossValue{}),
                             stop_ ? 1 : 0);
      h[8] = double(optimizer.steps());
      std::vector<int> others;
      for (int s = 0; s < servers_; ++s) {
        if (s != rank()) {
          others.push_back(s);
        }
      }
      for (Worker const& w : workers_) {
        if (!w.lost) {
          others.push_back(w.rank);
        }
      }
      auto const states = detail::to_host(model.states());
      std::vector<comm::Request> sent;
      for (int r : others) {
        sent.push_back(comm_.isend(std::span<double const>(h), r, final_tag));
        sent.push_back(
            comm_.isend(std::span<Scalar const>(p + mine.begin, mine.count), r, final_tag));
        if (rank() == 0 && !states.empty()) {
          sent.push_back(comm_.isend(std::span<Scalar const>(states), r, state_tag));
        }
      }
      // The whole optimizer state on rank 0, which writes checkpoints.
      if (&optimizer != &whole) {
        copy_buffers(optimizer, whole, 0, mine.begin, mine.count);
        whole.set_steps(optimizer.steps());
      }
      if (rank() != 0) {
        for (auto const& buffer : optimizer.buffers()) {
          if (buffer.used) {
            comm_.send(std::span<Scalar const>(buffer.view.data(), mine.count), 0, optimizer_tag);
          }
        }
      } else {
        for (int s = 1; s < servers_; ++s) {
          for (auto const& buffer : whole.buffers()) {
            if (buffer.used) {
              comm_.recv(std::span<Scalar>(buffer.view.data() + shards_[s].begin, shards_[s].count),
                         s, optimizer_tag);
            }
          }
        }
      }
      for (int s = 0; s < servers_; ++s) {
        if (s != rank()) {
          Header other{};
          comm_.recv(std::span<double>(other), s, final_tag);
          comm_.recv(std::span<Scalar>(p + shards_[s].begin, shards_[s].count), s, final_tag);
        }
      }
      if (rank() != 0 && !states.empty()) {
        std::vector<Scalar> root_states(states.size());
        comm_.recv(std::span<Scalar>(root_states), 0, state_tag);
        detail::from_host(model.states(), root_states);
      }
      for (auto& r : sent) {
        r.wait();
      }
      in_epoch_ = false;
    }

    Comm comm_;
    options options_;
    int servers_ = 1;
    std::vector<comm::Block> shards_;
    std::vector<Worker> workers_;       // on a server
    std::shared_ptr<void> shard_state_; // a server's optimizer over its shard
    std::vector<Scalar> gradient_;
    std::optional<LossValue> stop_;         // a bad loss a worker reported in this epoch
    clock::time_point left_ = clock::now(); // when the servers' loop was last left
    bool in_epoch_ = false;
    bool done_sent_ = false;
    bool degraded_ = false;
    std::size_t next_batch_ = 0, batches_in_epoch_ = 0;
    std::int64_t batch_ = -1;  // a worker's batch
    std::uint64_t pushes_ = 0; // a worker's pushes in the epoch
    std::uint64_t batches_ = 0;
    double scale_ = 1.0;
    Traffic traffic_;
  };
};

} // namespace loom
