// Conv2D forward, and forward + backward (one loom::Model per layer, ReLU fused), with each
// algorithm (im2col + GEMM, the direct kernel, Winograd; see loom::conv), at the two convolutions
// of examples/04's CNN: 1×28×28 → 32 channels and 32×14×14 → 64 channels, and at two more
// layers that locate where the direct kernel stops paying: an RGB first layer 3×32×32 → 32
// (C·KH·KW = 27) and 8×28×28 → 16 (C·KH·KW = 72). All 3×3 with stride 1 and padding 1, at
// batch 64. Beside them, the BLAS library's sgemm_ on the same GEMM shapes alone, so that
// what loom adds around the GEMMs (im2col, col2im and the epilogues) shows as the gap
// between the two rates.
//
// items/s = samples/s; FLOP/s counts the GEMM-equivalents only: 2·B·OH·OW·Out·C·KH·KW each,
// i.e. m = B·OH·OW, n = Out, k = C·KH·KW. Forward is 1 GEMM; backward adds the weight
// gradient and the input gradient (a first layer needs no input gradient). Winograd does
// 2.25 times less arithmetic than these counts, so its rate may pass sgemm_'s. Names read
//   conv2d_fwd/<layer>/<algorithm>/batch:<b>, conv2d_fwd_bwd/<layer>/<algorithm>/batch:<b>
//   sgemm/<layer>_<gemm>/batch:<b>                                  sgemm_ alone
// where <algorithm> is im2col, direct or winograd, and <gemm> is fwd, dW or dx, or fwd_bwd for all
// of a layer's GEMMs in a row. At batch 64 the GEMMs of examples/04 are m×n×k = 50176×32×9 (conv1)
// and 12544×64×288 (conv2); dW is n×k×m, dx m×k×n.

#include <loom/loom.hpp>

#include <Kokkos_Core.hpp>

#include <benchmark/benchmark.h>

#include <cstddef>
#include <string>
#include <vector>

#include "blas.hpp"
#include "fill.hpp"

namespace {

using ExecutionSpace = Kokkos::DefaultExecutionSpace;
using MemorySpace = ExecutionSpace::memory_space;

template <class Algorithm>
using Conv1 =
    loom::Sequential<loom::Input<1, 28, 28>, loom::Conv2D<32, 3, 1, 1, Algorithm>, loom::ReLU>;
template <class Algorithm>
using Conv2 =
    loom::Sequential<loom::Input<32, 14, 14>, loom::Conv2D<64, 3, 1, 1, Algorithm>, loom::ReLU>;
template <class Algorithm>
using Rgb =
    loom::Sequential<loom::Input<3, 32, 32>, loom::Conv2D<32, 3, 1, 1, Algorithm>, loom::ReLU>;
template <class Algorithm>
using Mid =
    loom::Sequential<loom::Input<8, 28, 28>, loom::Conv2D<16, 3, 1, 1, Algorithm>, loom::ReLU>;

// The GEMM of a convolution layer: m = B·OH·OW output pixels, n = Out, k = C·KH·KW.
struct ConvShape {
  char const* name;
  std::size_t pixels; // OH·OW
  std::size_t outs;
  std::size_t patch;   // C·KH·KW
  bool input_gradient; // whether backward computes dx (not for a first layer)
  double flops(std::size_t batch) const { return 2.0 * double(batch * pixels * outs * patch); }
};

constexpr ConvShape conv1_shape{"conv1_1x28x28_to_32", 28 * 28, 32, 1 * 3 * 3, false};
constexpr ConvShape conv2_shape{"conv2_32x14x14_to_64", 14 * 14, 64, 32 * 3 * 3, true};
constexpr ConvShape rgb_shape{"rgb_3x32x32_to_32", 32 * 32, 32, 3 * 3 * 3, false};
constexpr ConvShape mid_shape{"mid_8x28x28_to_16", 28 * 28, 16, 8 * 3 * 3, true};

template <class Net>
void conv_forward(benchmark::State& state, ConvShape shape) {
  using Model = loom::Model<Net, ExecutionSpace, float>;
  auto const batch = static_cast<std::size_t>(state.range(0));
  Model model(1);
  loom::Matrix<float, MemorySpace> x("x", batch, Model::input_shape::size);
  loom::bench::fill_uniform(x, 0, 1);
  for (auto _ : state) {
    model.forward(x);
    Kokkos::fence();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch));
  state.counters["FLOP/s"] = benchmark::Counter(shape.flops(batch) * double(state.iterations()),
                                                benchmark::Counter::kIsRate);
}

template <class Net>
void conv_forward_backward(benchmark::State& state, ConvShape shape) {
  using Model = loom::Model<Net, ExecutionSpace, float>;
  auto const batch = static_cast<std::size_t>(state.range(0));
  Model model(1);
  model.enable_input_gradient(shape.input_gradient);
  loom::Matrix<float, MemorySpace> x("x", batch, Model::input_shape::size);
  loom::bench::fill_uniform(x, 0, 1);
  model.forward(x);
  loom::bench::fill_uniform(model.output_gradient(), -0.01, 0.01);
  for (auto _ : state) {
    model.forward(x);
    model.backward();
  }
  Kokkos::fence();
  double const gemms = shape.input_gradient ? 3 : 2;
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch));
  state.counters["FLOP/s"] = benchmark::Counter(
      gemms * shape.flops(batch) * double(state.iterations()), benchmark::Counter::kIsRate);
}

enum class Gemm { forward, weight_gradient, input_gradient, all };

// The layer's GEMMs as loom issues them, row-major through sgemm_ with beta = 0:
// forward pre (m×n) = cols (m×k)·Wᵀ; weight gradient dW (n×k) = dpreᵀ·cols; input gradient
// dcols (m×k) = dpre·W.
void sgemm(benchmark::State& state, ConvShape shape, Gemm which) {
  if constexpr (!loom::is_host_accessible<MemorySpace>) {
    state.SkipWithError("sgemm_ needs host memory");
    return;
  }
  auto const batch = static_cast<std::size_t>(state.range(0));
  std::size_t const m = batch * shape.pixels, n = shape.outs, k = shape.patch;
  loom::Matrix<float, MemorySpace> cols("cols", m, k), pre("pre", m, n), w("w", n, k),
      dw("dw", n, k), dcols("dcols", m, k);
  loom::bench::fill_uniform(cols, -0.5, 0.5, 1);
  loom::bench::fill_uniform(pre, -0.5, 0.5, 2);
  loom::bench::fill_uniform(w, -0.5, 0.5, 3);
  using loom::bench::sgemm_row_major;
  auto forward = [&] {
    sgemm_row_major(false, true, m, n, k, 1, cols.data(), w.data(), 0, pre.data());
  };
  auto weight = [&] {
    sgemm_row_major(true, false, n, k, m, 1, pre.data(), cols.data(), 0, dw.data());
  };
  auto input = [&] {
    sgemm_row_major(false, false, m, k, n, 1, pre.data(), w.data(), 0, dcols.data());
  };
  for (auto _ : state) {
    switch (which) {
    case Gemm::forward:
      forward();
      break;
    case Gemm::weight_gradient:
      weight();
      break;
    case Gemm::input_gradient:
      input();
      break;
    case Gemm::all:
      forward();
      if (shape.input_gradient) {
        input();
      }
      weight();
      break;
    }
    benchmark::ClobberMemory();
  }
  double const gemms = which != Gemm::all ? 1 : shape.input_gradient ? 3 : 2;
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch));
  state.counters["FLOP/s"] = benchmark::Counter(
      gemms * shape.flops(batch) * double(state.iterations()), benchmark::Counter::kIsRate);
}

bool register_conv2d() {
  std::vector<std::int64_t> const batches = {64};
  auto add = [&](std::string const& name, auto&& f) {
    auto* b = benchmark::RegisterBenchmark(name.c_str(), f);
    b->ArgName("batch")->Unit(benchmark::kMicrosecond);
    for (auto batch : batches) {
      b->Arg(batch);
    }
  };
  // conv2 is too large for the direct kernel's work-item buffers (288 taps).
  auto layer = [&]<template <class> class Net, bool WithDirect = true>(ConvShape const& shape) {
    auto both = [&]<class Algorithm>(char const* algorithm) {
      std::string const suffix = std::string("_relu/") + algorithm;
      add(std::string("conv2d_fwd/") + shape.name + suffix,
          [shape](benchmark::State& s) { conv_forward<Net<Algorithm>>(s, shape); });
      add(std::string("conv2d_fwd_bwd/") + shape.name + suffix,
          [shape](benchmark::State& s) { conv_forward_backward<Net<Algorithm>>(s, shape); });
    };
    both.template operator()<loom::conv::Im2col>("im2col");
    if constexpr (WithDirect) {
      both.template operator()<loom::conv::Direct>("direct");
    }
    both.template operator()<loom::conv::Winograd>("winograd");
  };
  layer.template operator()<Conv1>(conv1_shape);
  layer.template operator()<Conv2, false>(conv2_shape);
  layer.template operator()<Rgb>(rgb_shape);
  layer.template operator()<Mid>(mid_shape);
  for (auto const* shape : {&conv1_shape, &conv2_shape}) {
    for (auto [which, gemm_name] :
         {std::pair{Gemm::forward, "fwd"}, std::pair{Gemm::weight_gradient, "dW"},
          std::pair{Gemm::input_gradient, "dx"}, std::pair{Gemm::all, "fwd_bwd"}}) {
      if (which == Gemm::input_gradient && !shape->input_gradient) {
        continue;
      }
      std::string const name = std::string("sgemm/") + shape->name + "_" + gemm_name;
      ConvShape const s = *shape;
      add(name, [s, which](benchmark::State& state) { sgemm(state, s, which); });
    }
  }
  return true;
}

[[maybe_unused]] bool const registered = register_conv2d();

} // namespace
