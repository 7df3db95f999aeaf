// Learns Y = X·W + b from four samples with a hand-written training loop: the lower level
// that loom::Trainer is built on, for research code that wants every step in view.
//
//   X = [[1, 2], [3, 4], [5, 6], [7, 8]]    Y = [[2, 3], [4, 5], [6, 7], [8, 9]]
//
// Exits 0 once the mean squared error is below 1e-6.

#include <loom/loom.hpp>

#include <cstdio>

using Net = loom::Sequential<loom::Input<2>, loom::Dense<2>>;

int main(int argc, char* argv[]) {
  loom::Environment env(argc, argv);
  using ExecutionSpace = Kokkos::DefaultExecutionSpace;
  using Memory = ExecutionSpace::memory_space;
  return env.run([&] {
    ExecutionSpace space;
    Kokkos::View<float**, Kokkos::LayoutRight, Memory> x("x", 4, 2), y("y", 4, 2);
    auto hx = Kokkos::create_mirror_view(x);
    auto hy = Kokkos::create_mirror_view(y);
    for (int i = 0; i < 4; ++i) {
      hx(i, 0) = float(2 * i + 1);
      hx(i, 1) = float(2 * i + 2);
      hy(i, 0) = float(2 * i + 2);
      hy(i, 1) = float(2 * i + 3);
    }
    Kokkos::deep_copy(x, hx);
    Kokkos::deep_copy(y, hy);

    loom::Model<Net> model(/*seed=*/1);
    loom::Adam::state<float, ExecutionSpace> optimizer(model.num_parameters, {});
    std::puts(model.summary().c_str());

    double loss = 0;
    int step = 0;
    for (; step < 20000; ++step) {
      auto prediction = model.forward(x);             // forward
      loss = loom::MSE::compute(space, prediction, y, // loss and ∂loss/∂prediction
                                model.output_gradient(), 1.0 / 4)
                 .mean();
      if (loss < 1e-6) {
        break;
      }
      model.backward(); // ∂loss/∂parameters
      double const lr = 0.05 * loom::LrSchedule::cosine(20000).factor(step);
      optimizer.step(space, model.parameters(), model.gradients(), lr); // update
      if (step % 1000 == 0) {
        std::printf("step %5d  loss %.3e\n", step, loss);
      }
    }

    auto p = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), model.parameters());
    std::printf("W = [[%.4f, %.4f], [%.4f, %.4f]]  b = [%.4f, %.4f]\n", p(0), p(1), p(2), p(3),
                p(4), p(5));
    std::printf("steps=%d\nfinal_loss=%.3e\n", step, loss);
    return loss < 1e-6 ? 0 : 1;
  });
}
