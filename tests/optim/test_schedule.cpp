#include <loom/optim/schedule.hpp>

#include <gtest/gtest.h>

#include <cmath>

namespace {

using loom::LrSchedule;

TEST(schedule, constant) {
  auto s = LrSchedule::constant();
  EXPECT_EQ(s.factor(0), 1.0);
  EXPECT_EQ(s.factor(123456), 1.0);
  EXPECT_EQ(s.describe(), "constant");
}

TEST(schedule, step_decay) {
  auto s = LrSchedule::step(10, 0.5);
  EXPECT_EQ(s.factor(0), 1.0);
  EXPECT_EQ(s.factor(9), 1.0);
  EXPECT_EQ(s.factor(10), 0.5);
  EXPECT_EQ(s.factor(25), 0.25);
  EXPECT_THROW(LrSchedule::step(0, 0.5), loom::Error);
}

TEST(schedule, cosine) {
  auto s = LrSchedule::cosine(100, 0.1);
  EXPECT_DOUBLE_EQ(s.factor(0), 1.0);
  EXPECT_NEAR(s.factor(50), 0.1 + 0.9 * 0.5, 1e-12);
  EXPECT_NEAR(s.factor(25), 0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI / 4)), 1e-12);
  EXPECT_DOUBLE_EQ(s.factor(100), 0.1);
  EXPECT_DOUBLE_EQ(s.factor(1000), 0.1);
}

TEST(schedule, linear_warmup_then_cosine) {
  auto s = LrSchedule::cosine(0).with_warmup(4).with_default_length(104);
  EXPECT_DOUBLE_EQ(s.factor(0), 0.25);
  EXPECT_DOUBLE_EQ(s.factor(3), 1.0);
  EXPECT_DOUBLE_EQ(s.factor(4), 1.0);
  EXPECT_NEAR(s.factor(54), 0.5, 1e-12);
  EXPECT_EQ(s.describe(), "cosine(total 100, min 0) after 4 warm-up steps");
}

TEST(schedule, warmup_with_step_decay) {
  auto s = LrSchedule::step(2, 0.1).with_warmup(2);
  EXPECT_DOUBLE_EQ(s.factor(0), 0.5);
  EXPECT_DOUBLE_EQ(s.factor(1), 1.0);
  EXPECT_DOUBLE_EQ(s.factor(2), 1.0);
  EXPECT_NEAR(s.factor(4), 0.1, 1e-15);
}

} // namespace
