#include <loom/layers/activations.hpp>
#include <loom/layers/batch_norm.hpp>
#include <loom/layers/conv2d.hpp>
#include <loom/layers/dense.hpp>
#include <loom/layers/dropout.hpp>
#include <loom/layers/flatten.hpp>
#include <loom/model/model.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "loom_test.hpp"

namespace {

using namespace loom;
using ExecutionSpace = test::ExecutionSpace;
using Memory = test::MemorySpace;
using Net = Sequential<Input<6>, Dense<5>, ReLU, Dropout<0.2>, Dense<4, NoBias>, Tanh, Dense<3>>;
using M = Model<Net, ExecutionSpace, double>;

std::vector<double> host(Kokkos::View<double*, Kokkos::LayoutRight, Memory> const& v) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
  return {h.data(), h.data() + h.extent(0)};
}

Kokkos::View<double**, Kokkos::LayoutRight, Memory> batch(std::size_t rows, double shift = 0) {
  Kokkos::View<double**, Kokkos::LayoutRight, Memory> x("x", rows, 6);
  auto h = Kokkos::create_mirror_view(x);
  for (std::size_t k = 0; k < h.size(); ++k) {
    h.data()[k] = std::sin(double(k) + shift);
  }
  Kokkos::deep_copy(x, h);
  return x;
}

TEST(model, initialisation_is_a_function_of_the_seed) {
  M a(42), b(42), c(43);
  EXPECT_EQ(host(a.parameters()), host(b.parameters()));
  EXPECT_NE(host(a.parameters()), host(c.parameters()));
  c.initialize(42);
  EXPECT_EQ(host(a.parameters()), host(c.parameters()));
}

TEST(model, flat_layout_and_stage_offsets) {
  static_assert(M::num_parameters == 6 * 5 + 5 + 5 * 4 + 4 * 3 + 3);
  EXPECT_EQ(M::parameter_offsets[0], 0u);
  EXPECT_EQ(M::parameter_offsets[1], 35u); // Dropout
  EXPECT_EQ(M::parameter_offsets[2], 35u); // Dense<4, NoBias> + Tanh
  EXPECT_EQ(M::parameter_offsets[3], 55u);
}

TEST(model, backward_reports_each_stage_last_first) {
  M model(1);
  model.forward(batch(4));
  Kokkos::deep_copy(model.output_gradient(), 1.0);
  std::vector<std::pair<std::size_t, std::size_t>> ready;
  model.backward(0.0,
                 [&](std::size_t offset, std::size_t count) { ready.emplace_back(offset, count); });
  std::vector<std::pair<std::size_t, std::size_t>> const expected{{55, 15}, {35, 20}, {0, 35}};
  EXPECT_EQ(ready, expected);
}

TEST(model, accumulating_two_halves_equals_the_whole_batch) {
  M model(3);
  model.eval(); // no dropout: the halves see the same function
  auto x = batch(6);
  model.forward(x);
  Kokkos::deep_copy(model.output_gradient(), 0.5);
  model.backward();
  auto whole = host(model.gradients());

  auto first = Kokkos::subview(x, std::make_pair(0, 3), Kokkos::ALL);
  auto second = Kokkos::subview(x, std::make_pair(3, 6), Kokkos::ALL);
  Kokkos::View<double**, Kokkos::LayoutRight, Memory> x1("x1", 3, 6), x2("x2", 3, 6);
  Kokkos::deep_copy(x1, first);
  Kokkos::deep_copy(x2, second);
  model.forward(x1);
  Kokkos::deep_copy(model.output_gradient(), 0.5);
  model.backward(0.0);
  model.forward(x2);
  Kokkos::deep_copy(model.output_gradient(), 0.5);
  model.backward(1.0);
  auto sum = host(model.gradients());
  ASSERT_EQ(whole.size(), sum.size());
  for (std::size_t k = 0; k < whole.size(); ++k) {
    EXPECT_NEAR(whole[k], sum[k], 1e-12) << k;
  }
}

// Batches in flight, as a pipeline keeps its micro-batches: each slot keeps its batch's
// activations and batch norm's statistics, so the backward passes may come later and in any
// order and give what a forward and backward of each batch alone gives.
TEST(model, activation_slots_keep_several_batches_in_flight) {
  using Cnn = Sequential<Input<2, 4, 4>, Conv2D<3, 3, 1, 1>, BatchNorm2D<>, ReLU, Dropout<0.3>,
                         Flatten, Dense<3>>;
  using C = Model<Cnn, ExecutionSpace, double>;
  auto const images = [](std::size_t rows, double shift) {
    Kokkos::View<double**, Kokkos::LayoutRight, Memory> x("x", rows, 32);
    auto h = Kokkos::create_mirror_view(x);
    for (std::size_t k = 0; k < h.size(); ++k) {
      h.data()[k] = std::sin(0.7 * double(k) + shift);
    }
    Kokkos::deep_copy(x, h);
    return x;
  };
  auto const a = images(3, 0.0), b = images(5, 1.0);
  auto const pass = [](C& model, auto const& x, std::uint64_t offset, double beta) {
    model.set_step(4);
    model.set_sample_offset(offset);
    model.forward(x);
    Kokkos::deep_copy(model.output_gradient(), 0.25);
    model.backward(beta);
  };
  C alone(5);
  alone.enable_input_gradient();
  pass(alone, a, 0, 0.0);
  auto const input_gradient_a = test::host_copy(alone.input_gradient());
  pass(alone, b, 3, 1.0);
  auto const input_gradient_b = test::host_copy(alone.input_gradient());

  C slots(5);
  slots.enable_input_gradient();
  slots.set_activation_slots(2);
  slots.set_step(4);
  slots.select_slot(0);
  slots.set_sample_offset(0);
  slots.forward(a);
  slots.select_slot(1);
  slots.set_sample_offset(3);
  slots.forward(b);
  // b's backward first, then a's, adding to it.
  slots.set_step(4);
  slots.select_slot(1);
  Kokkos::deep_copy(slots.output_gradient(), 0.25);
  slots.backward(0.0);
  auto const slot_gradient_b = test::host_copy(slots.input_gradient());
  slots.set_step(4);
  slots.select_slot(0);
  slots.set_sample_offset(0);
  Kokkos::deep_copy(slots.output_gradient(), 0.25);
  slots.backward(1.0);
  auto const slot_gradient_a = test::host_copy(slots.input_gradient());

  auto const near = [](auto const& x, auto const& y, char const* what) {
    ASSERT_EQ(x.size(), y.size()) << what;
    for (std::size_t k = 0; k < x.size(); ++k) {
      EXPECT_NEAR(x.data()[k], y.data()[k], 1e-12) << what << " " << k;
    }
  };
  near(host(slots.gradients()), host(alone.gradients()), "parameter gradients");
  near(slot_gradient_a, input_gradient_a, "input gradient of the first batch");
  near(slot_gradient_b, input_gradient_b, "input gradient of the second batch");
  EXPECT_THROW(slots.select_slot(2), loom::Error);
}

TEST(model, backward_into_the_parameters_applies_an_sgd_step) {
  // θ ← (1 - lr·λ)·θ - lr·∇ written by backward itself equals a separate step.
  double const lr = 0.1, decay = 0.01;
  M separate(9), fused(9);
  separate.eval();
  fused.eval();
  auto x = batch(5);
  for (M* m : {&separate, &fused}) {
    m->forward(x);
    Kokkos::deep_copy(m->output_gradient(), 0.3);
  }
  separate.backward();
  auto p = host(separate.parameters());
  auto const g = host(separate.gradients());
  for (std::size_t k = 0; k < p.size(); ++k) {
    p[k] = (1 - lr * decay) * p[k] - lr * g[k];
  }
  fused.backward_into(fused.parameters(), -lr, 1 - lr * decay);
  auto const q = host(fused.parameters());
  for (std::size_t k = 0; k < p.size(); ++k) {
    EXPECT_NEAR(q[k], p[k], 1e-14) << k;
  }
  EXPECT_THROW(
      fused.backward_into(Kokkos::View<double*, Kokkos::LayoutRight, Memory>("t", 3), 1.0, 0.0),
      loom::Error);
}

TEST(model, batch_size_may_grow_and_shrink) {
  M model(5);
  model.eval();
  auto small = batch(2);
  auto y_small = test::host_copy(model.forward(small));
  auto big = batch(50);
  auto y_big = test::host_copy(model.forward(big));
  EXPECT_EQ(y_big.extent(0), 50u);
  auto y_again = test::host_copy(model.forward(small));
  for (std::size_t k = 0; k < y_small.size(); ++k) {
    EXPECT_EQ(y_small.data()[k], y_again.data()[k]);
    EXPECT_EQ(y_small.data()[k], y_big.data()[k]); // rows are independent
  }
}

TEST(model, step_counts_backward_passes) {
  M model(1);
  EXPECT_EQ(model.step(), 0u);
  model.forward(batch(2));
  Kokkos::deep_copy(model.output_gradient(), 1.0);
  model.backward();
  model.backward();
  EXPECT_EQ(model.step(), 2u);
}

TEST(model, wrong_input_width_names_the_input_shape) {
  M model(1);
  Kokkos::View<double**, Kokkos::LayoutRight, Memory> x("x", 2, 7);
  try {
    model.forward(x);
    FAIL();
  } catch (loom::Error const& e) {
    EXPECT_STREQ(e.what(), "loom::Model::forward: the batch has 7 values per sample but the "
                           "network's Input<6> takes 6");
  }
  Kokkos::View<double**, Kokkos::LayoutRight, Memory> empty("x", 0, 6);
  EXPECT_THROW(model.forward(empty), loom::Error);
  M fresh(1);
  EXPECT_THROW(fresh.backward(), loom::Error);
  EXPECT_THROW(fresh.input_gradient(), loom::Error);
}

TEST(model, parameter_layout_names_each_layer_and_its_slice) {
  // Net: Dense<5> (0), ReLU (1), Dropout (2), Dense<4, NoBias> (3), Tanh (4), Dense<3> (5).
  auto const layout = M::parameter_layout();
  ASSERT_EQ(layout.size(), 3u);
  EXPECT_EQ(layout[0].layer, 0u);
  EXPECT_EQ(layout[0].name, "Dense<5>");
  EXPECT_EQ(layout[0].offset, 0u);
  EXPECT_EQ(layout[0].count, 35u);
  EXPECT_EQ(layout[1].layer, 3u);
  EXPECT_EQ(layout[1].name, "Dense<4, NoBias>");
  EXPECT_EQ(layout[1].offset, 35u);
  EXPECT_EQ(layout[1].count, 20u);
  EXPECT_EQ(layout[2].layer, 5u);
  EXPECT_EQ(layout[2].offset, 55u);
  EXPECT_EQ(layout[2].count, 15u);
  EXPECT_EQ(M::identity(), Net::name() + " (double)");
  EXPECT_EQ(M::parameter_block("Dense<4, NoBias>").offset, 35u);
  EXPECT_EQ(M::parameter_block("Dense<3>").layer, 5u);
  try {
    (void)M::parameter_block("Dense<5>", 1);
    FAIL();
  } catch (loom::Error const& e) {
    EXPECT_STREQ(e.what(), ("loom::Model::parameter_block: " + Net::name() +
                            " has 1 layer with parameters named Dense<5>, not 2; its layers "
                            "with parameters: Dense<5>, Dense<4, NoBias>, Dense<3>")
                               .c_str());
  }

  M model(3);
  auto const all = model.get_parameters();
  ASSERT_EQ(all.size(), M::num_parameters);
  auto const last = test::host_copy(model.layer_parameters(5));
  ASSERT_EQ(last.extent(0), 15u);
  for (std::size_t k = 0; k < 15; ++k) {
    EXPECT_EQ(last(k), all[55 + k]);
  }
  EXPECT_EQ(model.layer_parameters(1).extent(0), 0u) << "ReLU has no parameters";
  EXPECT_EQ(model.layer_gradients(3).data(), model.gradients().data() + 35);
  try {
    (void)model.layer_parameters(6);
    FAIL();
  } catch (loom::Error const& e) {
    EXPECT_STREQ(e.what(), ("loom::Model::layer_parameters: there is no layer 6; " + Net::name() +
                            " has 6 layers after Input, at positions 0 to 5")
                               .c_str());
  }
}

TEST(model, parameters_from_and_to_the_host) {
  M model(3);
  std::vector<double> values(M::num_parameters);
  for (std::size_t k = 0; k < values.size(); ++k) {
    values[k] = 0.01 * double(k) - 0.3;
  }
  model.set_parameters(values);
  EXPECT_EQ(host(model.parameters()), values);
  EXPECT_EQ(model.get_parameters(), values);
  try {
    model.set_parameters(std::vector<double>(3));
    FAIL();
  } catch (loom::Error const& e) {
    EXPECT_STREQ(e.what(), ("loom::Model::set_parameters: given 3 values; " + Net::name() +
                            " has 70 parameters")
                               .c_str());
  }
  EXPECT_TRUE(model.get_states().empty());
  EXPECT_THROW(model.set_states(std::vector<double>(1)), loom::Error);
}

TEST(model, predict_runs_in_evaluation_mode_in_batches) {
  M model(5);
  auto const x = batch(10);
  auto const hx = test::host_copy(x);
  std::vector<double> const inputs(hx.data(), hx.data() + hx.size());
  model.eval();
  auto const expected = test::host_copy(model.forward(x)); // dropout off
  model.train();
  for (std::size_t size : {1, 3, 10, 256}) {
    auto const outputs = model.predict(inputs, size);
    ASSERT_EQ(outputs.size(), 10u * 3);
    for (std::size_t k = 0; k < outputs.size(); ++k) {
      EXPECT_NEAR(outputs[k], expected.data()[k], 1e-12) << "batch " << size << ", value " << k;
    }
  }
  EXPECT_TRUE(model.training());
  auto const classes = M::classes_of(model.predict(inputs));
  ASSERT_EQ(classes.size(), 10u);
  for (std::size_t i = 0; i < 10; ++i) {
    auto const* row = expected.data() + 3 * i;
    EXPECT_EQ(classes[i], std::max_element(row, row + 3) - row);
  }
  EXPECT_TRUE(model.predict(std::vector<double>{}).empty());
  try {
    model.predict(std::vector<double>(7));
    FAIL();
  } catch (loom::Error const& e) {
    EXPECT_STREQ(e.what(), "loom::Model::predict: 7 input values are not a whole number of "
                           "samples of 6 values (Input<6>)");
  }
  EXPECT_THROW(model.predict(inputs, 0), loom::Error);
}

} // namespace
