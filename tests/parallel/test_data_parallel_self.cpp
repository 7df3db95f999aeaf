// DataParallel over comm::Self: one process, no MPI needed (also built with
// LOOM_ENABLE_MPI=OFF); it trains exactly as SingleProcess does, without the fused SGD step.

#include <loom/loom.hpp>

#include <gtest/gtest.h>

#include <vector>

#include "loom_test.hpp"

namespace {

using namespace loom;
using ExecutionSpace = test::ExecutionSpace;
using Net = Sequential<Input<6>, Dense<8>, ReLU, Dense<3>>;

TEST(data_parallel_self, trains_like_a_single_process) {
  Environment env;
  std::vector<float> x;
  std::vector<std::int32_t> y;
  CounterRng rng(1);
  for (int i = 0; i < 50; ++i) {
    for (int j = 0; j < 6; ++j) {
      x.push_back(rng.normal<float>(std::uint64_t(i * 6 + j)));
    }
    y.push_back(i % 3);
  }
  data::InMemoryDataset<std::int32_t> data(x, 6, y, 1, "tiny");
  Trainer<Net, SoftmaxCrossEntropy, Adam, SingleProcess, ExecutionSpace> single(
      {.batch = 8, .seed = 4});
  Trainer<Net, SoftmaxCrossEntropy, Adam, DataParallel<comm::Self>, ExecutionSpace> parallel(
      env, {.batch = 8, .seed = 4, .parallel = {.bucket_bytes = 64}});
  single.fit(data, epochs(3));
  parallel.fit(data, epochs(3));
  auto const a = test::host_copy(single.model().parameters());
  auto const b = test::host_copy(parallel.model().parameters());
  for (std::size_t k = 0; k < a.size(); ++k) {
    ASSERT_EQ(a(k), b(k)) << k; // the same arithmetic in the same order
  }
  EXPECT_EQ(parallel.size(), 1);
  EXPECT_EQ(DataParallel<comm::Self>::name(), "DataParallel<comm::Self, NoCompression>");
}

} // namespace
