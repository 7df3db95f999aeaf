#pragma once

#include <loom/comm/concepts.hpp>
#include <loom/core/detail/consensus.hpp>
#include <loom/core/environment.hpp>
#include <loom/core/error.hpp>

#include <span>
#include <string>

namespace loom::comm {

/// \brief One process, no MPI: every collective leaves the data as it is (the sum over one
///        rank). loom builds and runs with it when configured with LOOM_ENABLE_MPI=OFF.
class Self {
public:
  using communicator_type = Self;
  static std::string name() { return "comm::Self"; }

  Self() = default;
  explicit Self(Environment const&) {}

  int rank() const { return 0; }
  int size() const { return 1; }

  template <class T>
  void all_reduce(std::span<T>, ReduceOp) {}
  template <class T>
  Request iall_reduce(std::span<T>, ReduceOp) {
    return {};
  }
  template <class T>
  void reduce_scatter(std::span<T>, ReduceOp) {}
  template <class T>
  Request ireduce_scatter(std::span<T>, ReduceOp) {
    return {};
  }
  template <class T>
  void all_gather(std::span<T>) {}
  template <class T>
  Request iall_gather(std::span<T>) {
    return {};
  }
  template <class T>
  void broadcast(std::span<T>, int root) {
    check_root(root);
  }
  template <class T>
  Request ibroadcast(std::span<T>, int root) {
    check_root(root);
    return {};
  }
  template <class T>
  void send(std::span<T>, int, int) {
    no_peer("send");
  }
  template <class T>
  void recv(std::span<T>, int, int) {
    no_peer("recv");
  }
  template <class T>
  Request isend(std::span<T>, int, int) {
    no_peer("isend");
  }
  template <class T>
  Request irecv(std::span<T>, int, int) {
    no_peer("irecv");
  }
  void barrier() {}
  template <class F>
  auto collectively(F&& f) -> decltype(f()) {
    return f();
  }
  void check_configuration(loom::detail::Configuration const&, char const*) {}
  Self split(int, int) const { return {}; }

private:
  static void check_root(int root) {
    if (root != 0) {
      loom::detail::fail("loom::comm::Self: root ", root, " does not exist; the only rank is 0");
    }
  }
  [[noreturn]] static void no_peer(char const* what) {
    loom::detail::fail("loom::comm::Self: ", what, " needs a peer, and comm::Self has one rank");
  }
};

} // namespace loom::comm
