// The layer protocol of layers/concepts.hpp as two archetypes: a layer with only the required
// members, and one with every optional member of its stage. Both compose into networks, train
// and pass the finite-difference check, so the protocol as written is what the library needs.

#include <loom/loom.hpp>

#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <vector>

#include "gradient_check.hpp"
#include "loom_test.hpp"

namespace archetype {

using loom::MatrixSlice;
using loom::PassContext;
using loom::VectorSlice;

// y = 2x: the required members only.
template <class In, class Scalar, class ExecutionSpace>
struct DoubleStage {
  using input_shape = In;
  using output_shape = In;
  template <class X, class Y>
  void forward(ExecutionSpace const& space, PassContext<Scalar> const& ctx, X const& x,
               Y const& y) const {
    Scalar const* from = x.data();
    Scalar* to = y.data();
    Kokkos::parallel_for(
        "archetype::Double::forward",
        Kokkos::RangePolicy<ExecutionSpace>(space, 0, ctx.batch * In::size),
        KOKKOS_LAMBDA(std::size_t k) { to[k] = 2 * from[k]; });
  }
  template <class X, class Y, class Dy, class Dx, class G>
  void backward(ExecutionSpace const& space, PassContext<Scalar> const& ctx, X const&, Y const&,
                Dy const& dy, Dx const& dx, G const&) const {
    if (dx.extent(0) == 0) {
      return;
    }
    Scalar const* from = dy.data();
    Scalar* to = dx.data();
    Kokkos::parallel_for(
        "archetype::Double::backward",
        Kokkos::RangePolicy<ExecutionSpace>(space, 0, ctx.batch * In::size),
        KOKKOS_LAMBDA(std::size_t k) { to[k] = 2 * from[k]; });
  }
};

struct Double {
  using layer_type = Double;
  static std::string name() { return "Double"; }
  template <class In>
  using output_shape = In;
  template <class In>
  static constexpr std::size_t parameter_count = 0;
  template <std::size_t Index, class In>
  static constexpr bool check() {
    return true;
  }
  template <class In, class Scalar, class ExecutionSpace>
  using stage = DoubleStage<In, Scalar, ExecutionSpace>;
};

// y = a ⊙ x with a trained scale per feature, every optional member: its parameters, a
// workspace (x kept for backward), scratch (the products before the batch sum) and a state
// (training passes seen).
template <class In, class Scalar, class ExecutionSpace>
struct ScaleStage {
  using input_shape = In;
  using output_shape = In;
  using memory_space = typename ExecutionSpace::memory_space;
  static constexpr std::size_t n = In::size;
  static constexpr std::size_t parameter_count = n;
  static constexpr std::size_t workspace_per_sample = n;
  static constexpr std::size_t scratch_per_sample = n;
  static constexpr std::size_t state_count = 1;

  void bind(VectorSlice<Scalar, memory_space> params) { scale_ = params; }
  void bind_workspace(VectorSlice<Scalar, memory_space> workspace, std::size_t) {
    kept_ = workspace;
  }
  void bind_scratch(VectorSlice<Scalar, memory_space> scratch, std::size_t) { scratch_ = scratch; }
  void bind_state(VectorSlice<Scalar, memory_space> state) { passes_ = state; }
  void initialize(ExecutionSpace const& space, loom::CounterRng const& rng) {
    Scalar* a = scale_.data();
    Kokkos::parallel_for(
        "archetype::Scale::initialize", Kokkos::RangePolicy<ExecutionSpace>(space, 0, n),
        KOKKOS_LAMBDA(std::size_t k) { a[k] = 1 + rng.template uniform<Scalar>(k); });
    Kokkos::deep_copy(space, passes_, Scalar(0));
  }

  template <class X, class Y>
  void forward(ExecutionSpace const& space, PassContext<Scalar> const& ctx, X const& x,
               Y const& y) const {
    Scalar const* from = x.data();
    Scalar const* a = scale_.data();
    Scalar* kept = kept_.data();
    Scalar* to = y.data();
    Kokkos::parallel_for(
        "archetype::Scale::forward", Kokkos::RangePolicy<ExecutionSpace>(space, 0, ctx.batch * n),
        KOKKOS_LAMBDA(std::size_t k) {
          kept[k] = from[k];
          to[k] = a[k % n] * from[k];
        });
    if (ctx.training) {
      Scalar* passes = passes_.data();
      Kokkos::parallel_for(
          "archetype::Scale::count", Kokkos::RangePolicy<ExecutionSpace>(space, 0, 1),
          KOKKOS_LAMBDA(std::size_t) { passes[0] += 1; });
    }
  }
  template <class X, class Y, class Dy, class Dx>
  void backward(ExecutionSpace const& space, PassContext<Scalar> const& ctx, X const&, Y const&,
                Dy const& dy, Dx const& dx, VectorSlice<Scalar, memory_space> g) const {
    Scalar const* grad = dy.data();
    Scalar const* kept = kept_.data();
    Scalar const* a = scale_.data();
    Scalar* product = scratch_.data();
    Scalar* to = dx.extent(0) > 0 ? dx.data() : nullptr;
    std::size_t const batch = ctx.batch;
    Kokkos::parallel_for(
        "archetype::Scale::backward (input)",
        Kokkos::RangePolicy<ExecutionSpace>(space, 0, batch * n), KOKKOS_LAMBDA(std::size_t k) {
          product[k] = grad[k] * kept[k];
          if (to) {
            to[k] = a[k % n] * grad[k];
          }
        });
    Scalar* target = g.data();
    Scalar const alpha = ctx.gradient_alpha, beta = ctx.gradient_beta;
    Kokkos::parallel_for(
        "archetype::Scale::backward (scale)", Kokkos::RangePolicy<ExecutionSpace>(space, 0, n),
        KOKKOS_LAMBDA(std::size_t j) {
          Scalar sum = 0;
          for (std::size_t b = 0; b < batch; ++b) {
            sum += product[b * n + j];
          }
          target[j] = alpha * sum + (beta == 0 ? Scalar(0) : beta * target[j]);
        });
  }

  VectorSlice<Scalar, memory_space> scale_, kept_, scratch_, passes_;
};

struct Scale {
  using layer_type = Scale;
  static std::string name() { return "Scale"; }
  template <class In>
  using output_shape = In;
  template <class In>
  static constexpr std::size_t parameter_count = In::size;
  template <std::size_t Index, class In>
  static constexpr bool check() {
    return true;
  }
  template <class In, class Scalar, class ExecutionSpace>
  using stage = ScaleStage<In, Scalar, ExecutionSpace>;
};

} // namespace archetype

namespace {

using ExecutionSpace = loom::test::ExecutionSpace;
static_assert(loom::Layer<archetype::Double> && loom::Layer<archetype::Scale>);

TEST(layer_archetype, required_members_suffice) {
  using Net = loom::Sequential<loom::Input<5>, loom::Dense<4>, archetype::Double, loom::Tanh,
                               loom::Dense<3>>;
  loom::test::check_gradients<Net, ExecutionSpace>();
}

TEST(layer_archetype, every_optional_member_is_used) {
  using Net = loom::Sequential<loom::Input<2, 3, 3>, archetype::Scale, loom::Conv2D<2, 3, 1, 1>,
                               loom::ReLU, loom::Flatten, archetype::Scale, loom::Dense<3>>;
  loom::test::check_gradients<Net, ExecutionSpace>();
  using Model = loom::Model<Net, ExecutionSpace, double>;
  static_assert(Model::num_states == 2);
  auto const layout = Model::parameter_layout();
  ASSERT_EQ(layout.size(), 4u);
  EXPECT_EQ(layout[0].name, "Scale");
  EXPECT_EQ(layout[0].count, 18u);
  // The state counts training passes; evaluation passes leave it.
  Model model(3);
  loom::Vector<double, ExecutionSpace::memory_space> x("x", 4 * 18);
  loom::MatrixSlice<double, ExecutionSpace::memory_space> const batch(x.data(), 4, 18);
  model.train();
  model.forward(batch);
  model.forward(batch);
  model.eval();
  model.forward(batch);
  EXPECT_EQ(model.get_states(), (std::vector<double>{2, 2}));
}

} // namespace
