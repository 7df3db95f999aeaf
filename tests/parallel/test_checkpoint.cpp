// A checkpoint written by a 2-rank data-parallel run resumes at 1 and at 4 ranks and continues
// the same global training (ctest runs save_at_two_ranks first, then resume_at_any_rank_count).

#include <loom/loom.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "loom_test.hpp"

namespace {

using namespace loom;
using ExecutionSpace = test::ExecutionSpace;
using Net = Sequential<Input<12>, Dense<16>, ReLU, Dropout<0.2>, Dense<4>>;
using Strategy = DataParallel<comm::Ring>;
// Set by ctest (tests/parallel/CMakeLists.txt); a temporary file when run by hand.
std::string const checkpoint_path = [] {
  char const* path = std::getenv("LOOM_TEST_CHECKPOINT");
  return path ? std::string(path)
              : (std::filesystem::temp_directory_path() / "loom_parallel_checkpoint.ckpt").string();
}();

data::InMemoryDataset<std::int32_t> make_data() {
  CounterRng rng(9, 1);
  std::vector<float> x(200 * 12);
  std::vector<std::int32_t> y(200);
  for (std::size_t i = 0; i < 200; ++i) {
    y[i] = static_cast<std::int32_t>(rng.below(4, i));
    for (std::size_t j = 0; j < 12; ++j) {
      x[i * 12 + j] =
          rng.normal<float>(1000 + i * 12 + j) + (j % 4 == std::size_t(y[i]) ? 1.0f : 0.0f);
    }
  }
  return {std::move(x), 12, std::move(y), 1, "synthetic"};
}

TrainerOptions<Adam, Strategy> options() {
  return {.batch = 20, .lr = 0.01, .seed = 3};
}
TrainerOptions<Adam, SingleProcess> serial_options() {
  return {.batch = 20, .lr = 0.01, .seed = 3};
}

template <class View>
std::vector<float> host(View const& v) {
  auto h = test::host_copy(v);
  return {h.data(), h.data() + h.size()};
}

TEST(checkpoint, save_at_two_ranks) {
  Environment env;
  ASSERT_EQ(env.size(), 2);
  Trainer<Net, SoftmaxCrossEntropy, Adam, Strategy, ExecutionSpace> trainer(env, options());
  trainer.fit(make_data(), epochs(1));
  std::filesystem::remove(checkpoint_path);
  trainer.save(checkpoint_path);
  EXPECT_TRUE(std::filesystem::exists(checkpoint_path));
}

TEST(checkpoint, resume_at_any_rank_count) {
  Environment env;
  auto const data = make_data();
  Trainer<Net, SoftmaxCrossEntropy, Adam, Strategy, ExecutionSpace> resumed(env, options());
  resumed.load(checkpoint_path);
  EXPECT_EQ(resumed.state().epoch, 1u);
  resumed.fit(data, epochs(2));
  // The same global training, run serially in one go.
  Trainer<Net, SoftmaxCrossEntropy, Adam, SingleProcess, ExecutionSpace> serial(serial_options());
  serial.fit(data, epochs(2));
  auto const a = host(resumed.model().parameters());
  auto const b = host(serial.model().parameters());
  double diff = 0, scale = 0;
  for (std::size_t k = 0; k < a.size(); ++k) {
    diff = std::max(diff, std::abs(double(a[k]) - double(b[k])));
    scale = std::max(scale, std::abs(double(b[k])));
  }
  EXPECT_LE(diff / scale, 1e-5) << "on " << env.size() << " ranks";
  EXPECT_EQ(resumed.state().step, serial.state().step);
}

} // namespace
