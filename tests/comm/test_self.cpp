#include <loom/comm/self.hpp>

#include <gtest/gtest.h>

#include <vector>

namespace {

using namespace loom::comm;

static_assert(Communicator<Self>);

TEST(self, collectives_leave_the_data) {
  Self comm;
  EXPECT_EQ(comm.rank(), 0);
  EXPECT_EQ(comm.size(), 1);
  std::vector<float> v{1.5f, -2.0f, 3.0f};
  auto const copy = v;
  comm.all_reduce(std::span(v), ReduceOp::average);
  comm.reduce_scatter(std::span(v), ReduceOp::sum);
  comm.all_gather(std::span(v));
  comm.broadcast(std::span(v), 0);
  auto request = comm.iall_reduce(std::span(v), ReduceOp::sum);
  EXPECT_TRUE(request.test());
  request.wait();
  EXPECT_EQ(v, copy);
  EXPECT_EQ(comm.split(3, 0).size(), 1);
}

TEST(self, errors_name_the_problem) {
  Self comm;
  std::vector<int> v(3);
  try {
    comm.broadcast(std::span(v), 1);
    FAIL();
  } catch (loom::Error const& e) {
    EXPECT_STREQ(e.what(), "loom::comm::Self: root 1 does not exist; the only rank is 0");
  }
  EXPECT_THROW(comm.send(std::span(v), 0, 0), loom::Error);
}

TEST(block, splits_evenly_with_the_remainder_first) {
  EXPECT_EQ(block(10, 0, 4).begin, 0u);
  EXPECT_EQ(block(10, 0, 4).count, 3u);
  EXPECT_EQ(block(10, 1, 4).begin, 3u);
  EXPECT_EQ(block(10, 1, 4).count, 3u);
  EXPECT_EQ(block(10, 2, 4).begin, 6u);
  EXPECT_EQ(block(10, 2, 4).count, 2u);
  EXPECT_EQ(block(10, 3, 4).end(), 10u);
  EXPECT_EQ(block(2, 3, 4).count, 0u);
  EXPECT_EQ(block(2, 3, 4).begin, 2u);
}

} // namespace
