// Every MPI communicator policy against exact expectations, at sizes 0, 1, p-1, p+1 and 1 Mi,
// blocking and nonblocking, over MPI_COMM_WORLD and over a communicator split from it.

#include <loom/comm/mpi.hpp>
#include <loom/comm/recursive_halving.hpp>
#include <loom/comm/ring.hpp>

#include <mpi.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace {

using namespace loom::comm;

static_assert(Communicator<Mpi> && Communicator<Ring> && Communicator<RecursiveHalving>);

int world_size() {
  int size = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

// The sizes the issue asks for, plus a few around segment and block boundaries, and one whose
// per-rank chunk spans more 1 MiB segments than a step posts at once (scratch slots reused).
std::vector<std::size_t> sizes() {
  std::size_t const p = static_cast<std::size_t>(world_size());
  return {0,    1,      p > 1 ? p - 1 : 0,    p + 1,
          1000, 100003, std::size_t{1} << 20, p * 9 * (std::size_t{1} << 18) + 7};
}

// Integer-valued floats: sums are exact, so results compare with ==.
template <class T>
T value(int rank, std::size_t i) {
  return static_cast<T>((rank + 1) * static_cast<int>(i % 13 + 1));
}

template <class C>
class communicators : public ::testing::Test {
protected:
  C comm{MPI_COMM_WORLD};
};
using Policies = ::testing::Types<Mpi, Ring, RecursiveHalving>;
TYPED_TEST_SUITE(communicators, Policies);

template <class T, class C>
void check_all_reduce(C& comm, std::size_t n, ReduceOp op, bool nonblocking) {
  int const p = comm.size(), r = comm.rank();
  std::vector<T> data(n);
  for (std::size_t i = 0; i < n; ++i) {
    data[i] = value<T>(r, i);
  }
  if (nonblocking) {
    auto request = comm.iall_reduce(std::span(data), op);
    while (!request.test()) {
    }
  } else {
    comm.all_reduce(std::span(data), op);
  }
  for (std::size_t i = 0; i < n; ++i) {
    T const unit = value<T>(0, i);
    T expected = unit * static_cast<T>(p * (p + 1) / 2);
    if (op == ReduceOp::average) {
      expected = expected / static_cast<T>(p);
    } else if (op == ReduceOp::max) {
      expected = unit * static_cast<T>(p);
    } else if (op == ReduceOp::min) {
      expected = unit;
    }
    if (data[i] != expected) {
      ADD_FAILURE() << "rank " << r << ", n " << n << ", element " << i << ": " << data[i]
                    << " instead of " << expected;
      return;
    }
  }
}

TYPED_TEST(communicators, all_reduce_sums_exactly_at_every_size) {
  for (std::size_t n : sizes()) {
    check_all_reduce<float>(this->comm, n, ReduceOp::sum, false);
    check_all_reduce<float>(this->comm, n, ReduceOp::sum, true);
  }
}

TYPED_TEST(communicators, all_reduce_other_types_and_operations) {
  for (std::size_t n : {std::size_t{0}, std::size_t{5}, std::size_t{70001}}) {
    check_all_reduce<double>(this->comm, n, ReduceOp::sum, false);
    check_all_reduce<std::int64_t>(this->comm, n, ReduceOp::sum, true);
    check_all_reduce<std::int32_t>(this->comm, n, ReduceOp::max, false);
    check_all_reduce<float>(this->comm, n, ReduceOp::min, true);
    check_all_reduce<double>(this->comm, n, ReduceOp::average, false);
  }
}

TYPED_TEST(communicators, concurrent_nonblocking_all_reduces_finish_in_any_order) {
  int const p = this->comm.size();
  std::vector<std::vector<float>> buffers;
  std::vector<Request> requests;
  for (std::size_t b = 0; b < 5; ++b) {
    buffers.emplace_back(1000 * b + 3, float(this->comm.rank() + 1));
  }
  for (auto& buffer : buffers) {
    requests.push_back(this->comm.iall_reduce(std::span(buffer), ReduceOp::sum));
  }
  for (int b = 4; b >= 0; --b) {
    requests[static_cast<std::size_t>(b)].wait();
  }
  for (auto const& buffer : buffers) {
    for (float v : buffer) {
      ASSERT_EQ(v, float(p * (p + 1) / 2));
    }
  }
}

TYPED_TEST(communicators, reduce_scatter_leaves_each_rank_its_block) {
  int const p = this->comm.size(), r = this->comm.rank();
  for (std::size_t n : sizes()) {
    for (bool nonblocking : {false, true}) {
      std::vector<float> data(n);
      for (std::size_t i = 0; i < n; ++i) {
        data[i] = value<float>(r, i);
      }
      if (nonblocking) {
        this->comm.ireduce_scatter(std::span(data), ReduceOp::sum).wait();
      } else {
        this->comm.reduce_scatter(std::span(data), ReduceOp::sum);
      }
      Block const mine = block(n, r, p);
      for (std::size_t i = mine.begin; i < mine.end(); ++i) {
        ASSERT_EQ(data[i], value<float>(0, i) * float(p * (p + 1) / 2))
            << "n " << n << " element " << i;
      }
    }
  }
}

TYPED_TEST(communicators, all_gather_collects_every_block) {
  int const p = this->comm.size(), r = this->comm.rank();
  for (std::size_t n : sizes()) {
    for (bool nonblocking : {false, true}) {
      std::vector<double> data(n, -1.0);
      Block const mine = block(n, r, p);
      for (std::size_t i = mine.begin; i < mine.end(); ++i) {
        data[i] = double(i) + 0.25;
      }
      if (nonblocking) {
        this->comm.iall_gather(std::span(data)).wait();
      } else {
        this->comm.all_gather(std::span(data));
      }
      for (std::size_t i = 0; i < n; ++i) {
        ASSERT_EQ(data[i], double(i) + 0.25) << "n " << n << " element " << i;
      }
    }
  }
}

TYPED_TEST(communicators, broadcast_and_point_to_point) {
  int const p = this->comm.size(), r = this->comm.rank();
  std::vector<std::int64_t> data(1001, r == p - 1 ? 7 : 0);
  this->comm.broadcast(std::span(data), p - 1);
  for (auto v : data) {
    ASSERT_EQ(v, 7);
  }
  auto again = std::vector<std::int64_t>(10, r == 0 ? 3 : 0);
  this->comm.ibroadcast(std::span(again), 0).wait();
  EXPECT_EQ(again[9], 3);
  // A ring of messages.
  std::vector<float> out(100, float(r)), in(100);
  auto receive = this->comm.irecv(std::span(in), (r + p - 1) % p, 5);
  this->comm.send(std::span(out), (r + 1) % p, 5);
  receive.wait();
  EXPECT_EQ(in[99], float((r + p - 1) % p));
  this->comm.barrier();
  try {
    this->comm.send(std::span(out), 0, 20000);
    ADD_FAILURE() << "a reserved tag was accepted";
  } catch (loom::Error const& e) {
    EXPECT_NE(std::string(e.what()).find("tag 20000 is outside [0, 16383]"), std::string::npos);
  }
}

TYPED_TEST(communicators, results_are_bitwise_identical_on_every_rank) {
  int const r = this->comm.rank();
  std::vector<float> data(50001);
  for (std::size_t i = 0; i < data.size(); ++i) {
    data[i] = 0.1f * float(r + 1) / float(i + 3); // inexact sums
  }
  this->comm.all_reduce(std::span(data), ReduceOp::sum);
  std::vector<float> root = data;
  this->comm.broadcast(std::span(root), 0);
  EXPECT_EQ(std::memcmp(root.data(), data.data(), data.size() * sizeof(float)), 0);
}

TYPED_TEST(communicators, work_over_a_communicator_the_user_hands_in) {
  // Even and odd ranks of MPI_COMM_WORLD, as MPI_Comm_split gives them and as split() does.
  int const world_rank = this->comm.rank();
  MPI_Comm half;
  MPI_Comm_split(MPI_COMM_WORLD, world_rank % 2, world_rank, &half);
  {
    TypeParam sub(half);
    TypeParam split = this->comm.split(world_rank % 2, world_rank);
    for (TypeParam* c : {&sub, &split}) {
      int const p = c->size();
      EXPECT_EQ(p, (this->comm.size() + 1 - world_rank % 2) / 2);
      std::vector<float> data(1001, float(c->rank() + 1));
      c->all_reduce(std::span(data), ReduceOp::sum);
      EXPECT_EQ(data[1000], float(p * (p + 1) / 2));
    }
  }
  MPI_Comm_free(&half);
}

} // namespace
