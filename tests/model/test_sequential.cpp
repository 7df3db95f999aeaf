#include <loom/layers/activations.hpp>
#include <loom/layers/dense.hpp>
#include <loom/layers/dropout.hpp>
#include <loom/layers/flatten.hpp>
#include <loom/layers/softmax.hpp>
#include <loom/model/model.hpp>

#include <gtest/gtest.h>

#include "loom_test.hpp"

namespace {

using namespace loom;

using Mlp = Sequential<Input<784>, Dense<512>, ReLU, Dense<512>, ReLU, Dense<10>>;

static_assert(Mlp::num_parameters == 784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10);
static_assert(Mlp::num_parameters == 669706);
static_assert(std::is_same_v<Mlp::input_shape, Shape<784>>);
static_assert(std::is_same_v<Mlp::output_shape, Shape<10>>);
static_assert(Network<Mlp>);
static_assert(Layer<Dense<3>> && Layer<ReLU> && Layer<Flatten> && Layer<Dropout<>> &&
              Layer<Softmax>);
static_assert(!Layer<int> && !Layer<Input<3>>);

// Shapes flow through reshapes and shape-preserving layers.
using Image = Sequential<Input<3, 4, 5>, Tanh, Flatten, Dropout<0.1>, Dense<7>, Softmax>;
static_assert(std::is_same_v<Image::output_shape, Shape<7>>);
static_assert(Image::num_parameters == 60 * 7 + 7);

// Fusion: Dense absorbs the activation right after it; Flatten compiles to no stage.
static_assert(Model<Mlp, test::ExecutionSpace>::num_stages == 3);
static_assert(Model<Image, test::ExecutionSpace>::num_stages == 4);
static_assert(Model<Sequential<Input<4>, Dense<5>, ReLU, ReLU>, test::ExecutionSpace>::num_stages ==
              2);

TEST(sequential, name_lists_every_layer) {
  EXPECT_EQ(Mlp::name(), "Sequential<Input<784>, Dense<512>, ReLU, Dense<512>, ReLU, Dense<10>>");
  EXPECT_EQ(Image::name(),
            "Sequential<Input<3, 4, 5>, Tanh, Flatten, Dropout<0.1>, Dense<7>, Softmax>");
}

TEST(sequential, summary_like_keras) {
  std::string const text = Model<Mlp, test::ExecutionSpace>::summary();
  EXPECT_NE(text.find("Model: Sequential<Input<784>"), std::string::npos) << text;
  EXPECT_NE(text.find("Dense<512>                        (512)                 401,920"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("Dense<10>                         (10)                  5,130"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("Total params: 669,706 (2.55 MiB)"), std::string::npos) << text;
  EXPECT_NE(text.find("Input<784>                        (784)"), std::string::npos) << text;
  std::string const image = Model<Image, test::ExecutionSpace>::summary();
  EXPECT_NE(image.find("Flatten                           (60)"), std::string::npos) << image;
  EXPECT_NE(image.find("Input<3, 4, 5>                    (3, 4, 5)"), std::string::npos) << image;
}

} // namespace
