#pragma once

// The group of ranks that share each sample, over a communicator policy: what the stages of a
// split network communicate through (layers/concepts.hpp, detail::SampleGroup).

#include <loom/comm/concepts.hpp>
#include <loom/layers/concepts.hpp>

#include <array>
#include <cstddef>
#include <span>

namespace loom::detail {

template <class Comm, class Scalar>
class CommGroup final : public SampleGroup<Scalar> {
public:
  explicit CommGroup(Comm& comm)
      : comm_(&comm) {}

  int rank() const override { return comm_->rank(); }
  int size() const override { return comm_->size(); }

  void sum(Scalar* data, std::size_t count) override {
    if (comm_->size() > 1) {
      comm_->all_reduce(std::span<Scalar>(data, count), comm::ReduceOp::sum);
    }
  }

  void all_gather(Scalar* data, std::size_t count) override {
    if (comm_->size() > 1) {
      comm_->all_gather(std::span<Scalar>(data, count));
    }
  }

  void start_exchange(std::span<Scalar const> up, std::span<Scalar const> down,
                      std::span<Scalar> from_up, std::span<Scalar> from_down) override {
    int const rank = comm_->rank();
    // Tags tell the two directions apart between the same two ranks.
    if (!from_up.empty()) {
      requests_[0] = comm_->irecv(from_up, rank - 1, down_tag);
    }
    if (!from_down.empty()) {
      requests_[1] = comm_->irecv(from_down, rank + 1, up_tag);
    }
    if (!up.empty()) {
      requests_[2] = comm_->isend(up, rank - 1, up_tag);
    }
    if (!down.empty()) {
      requests_[3] = comm_->isend(down, rank + 1, down_tag);
    }
  }

  void finish_exchange() override {
    for (auto& request : requests_) {
      request.wait();
    }
  }

private:
  static constexpr int up_tag = 11;
  static constexpr int down_tag = 12;
  Comm* comm_;
  std::array<comm::Request, 4> requests_;
};

} // namespace loom::detail
