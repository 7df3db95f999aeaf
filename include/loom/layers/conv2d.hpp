#pragma once

#include <loom/core/detail/kokkos.hpp>
#include <loom/core/detail/type_list.hpp>
#include <loom/core/random.hpp>
#include <loom/core/shape.hpp>
#include <loom/core/tensor.hpp>
#include <loom/kernels/convolution.hpp>
#include <loom/kernels/copy.hpp>
#include <loom/kernels/direct_convolution.hpp>
#include <loom/kernels/elementwise.hpp>
#include <loom/kernels/gemm.hpp>
#include <loom/kernels/winograd.hpp>
#include <loom/layers/activations.hpp>
#include <loom/layers/concepts.hpp>
#include <loom/layers/dense.hpp>
#include <loom/layers/initializers.hpp>
#include <loom/layers/window.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <string>
#include <type_traits>

namespace loom {

// Named in compiler output by Conv2D's diagnostics (see Conv2D::check).
template <class LayerIndex, class Conv, class InputShape>
struct loom_error_conv2d_input_must_be_an_image;
template <class LayerIndex, class Conv, class InputShape>
struct loom_error_conv2d_kernel_larger_than_padded_input;

/// \brief How Conv2D computes: its algorithm option. Without one, Conv2D chooses on host
///        execution spaces: the direct kernel when C·KH·KW ≤ conv::direct_max_patch (a 3×3
///        first layer over one channel) and the layer fits its work-item buffers, else
///        Winograd for 3×3 kernels with stride 1 over at least conv::winograd_min_channels
///        channels, else im2col; on other spaces im2col.
namespace conv {
/// im2col and one GEMM per batch (kernels/convolution.hpp).
struct Im2col {
  static constexpr char const* name = "conv::Im2col";
};
/// A direct kernel without GEMM (kernels/direct_convolution.hpp): faster when the GEMM's inner
/// dimension C·KH·KW is small. Each work item holds a zero-padded copy of one image.
struct Direct {
  static constexpr char const* name = "conv::Direct";
};
/// Winograd's F(2×2, 3×3) (kernels/winograd.hpp), for 3×3 kernels with stride 1: 16 GEMMs
/// over transformed tiles that do 2.25 times less arithmetic than im2col's one GEMM.
struct Winograd {
  static constexpr char const* name = "conv::Winograd";
};
/// The largest C·KH·KW for which Conv2D picks conv::Direct by itself: measured faster than
/// im2col at 9 (1×28×28 → 32) and slower at 27 (3×32×32 → 32), with the BLAS library's AVX2
/// GEMM against the direct kernel built without -march (benchmarks/layers/bench_conv2d.cpp).
inline constexpr std::size_t direct_max_patch = 9;
/// The fewest input channels for which Conv2D picks conv::Winograd by itself (3×3, stride 1):
/// forward and backward measured 1.7 times faster than im2col at 8 channels (8×28×28 → 16)
/// and 1.8 at 32 (32×14×14 → 64), but at 3 (3×32×32 → 32) slower with the AVX2 GEMM and
/// faster with the AVX-512 one, so im2col keeps fewer than 4.
inline constexpr std::size_t winograd_min_channels = 4;
} // namespace conv

namespace detail {
template <class In, class Out, class Scalar, class ExecutionSpace, Window Kernel, Window Stride,
          Window Padding, bool HasBias, class Initializer, class Activation, class Algorithm>
class Conv2DStage;

template <class T>
inline constexpr bool is_conv_algorithm =
    std::is_same_v<T, conv::Im2col> || std::is_same_v<T, conv::Direct> ||
    std::is_same_v<T, conv::Winograd>;
template <class T>
struct is_conv_algorithm_t : std::bool_constant<is_conv_algorithm<T>> {};
} // namespace detail

/// \brief A 2-D convolution over NCHW images (cross-correlation, as in PyTorch), with the
///        weights laid out OutChannels × C × KH × KW followed by the bias. It runs as im2col
///        and one GEMM for the whole batch; bias and a following activation run in the
///        epilogue that writes the NCHW output. The column matrix is kept for backward:
///        C·KH·KW·OH·OW values per sample of the model's workspace. Where C·KH·KW is small,
///        a direct kernel runs instead, and for 3×3 kernels with stride 1 Winograd's
///        F(2×2, 3×3), which keeps 16·C·⌈OH/2⌉·⌈OW/2⌉ values per sample (see loom::conv).
/// \code
/// loom::Conv2D<32, 3, 1, 1>                  // 32 channels, 3×3, stride 1, padding 1
/// loom::Conv2D<64, loom::Window{1, 7}, 1, loom::Window{0, 3}, loom::NoBias>
/// loom::Conv2D<32, 5, 1, 2, loom::conv::Im2col>   // the algorithm named, not chosen
/// loom::Conv2D<64, 3, 1, 1, loom::conv::Winograd> // F(2×2, 3×3): 3×3, stride 1 only
/// \endcode
/// \tparam OutChannels  output channels (≥ 1)
/// \tparam Kernel       kernel size; an integer for a square kernel, Window{h, w} otherwise
/// \tparam Stride       step between windows (default 1)
/// \tparam Padding      zeros added on each side (default 0)
/// \tparam Options      loom::NoBias; an initialiser from loom::init (default: He before
///                      ReLU-family activations, Xavier otherwise); loom::conv::Im2col,
///                      loom::conv::Direct or loom::conv::Winograd (default: chosen per
///                      layer, see loom::conv)
template <std::size_t OutChannels, Window Kernel, Window Stride = 1, Window Padding = 0,
          class... Options>
struct Conv2D {
  static_assert(OutChannels > 0, "loom::Conv2D<OutChannels, Kernel, ...>: OutChannels must be "
                                 "at least 1");
  static_assert(Kernel.h > 0 && Kernel.w > 0,
                "loom::Conv2D<OutChannels, Kernel, ...>: the kernel must be at least 1x1");
  static_assert(Stride.h > 0 && Stride.w > 0,
                "loom::Conv2D<OutChannels, Kernel, Stride, ...>: the stride must be at least 1");
  static_assert(((detail::is_dense_option<Options> || detail::is_conv_algorithm<Options>)&&...),
                "loom::Conv2D<OutChannels, Kernel, Stride, Padding, Options...>: each option "
                "must be loom::NoBias, an initialiser such as loom::init::HeNormal, or "
                "loom::conv::Im2col, loom::conv::Direct or loom::conv::Winograd");

  using layer_type = Conv2D;
  static constexpr std::size_t out_channels = OutChannels;
  static constexpr bool has_bias = !detail::contains<NoBias, Options...>;
  using initializer =
      typename detail::find_if<detail::is_initializer, init::Auto, Options...>::type;
  /// conv::Im2col, conv::Direct, conv::Winograd, or void when Conv2D chooses.
  using algorithm = typename detail::find_if<detail::is_conv_algorithm_t, void, Options...>::type;
  static constexpr bool fuses_activation = true;
  /// The input region one output element reads (halo widths for spatial decomposition).
  using footprint = Footprint<Kernel, Stride, Padding>;
  /// The same layer with other padding (a band of rows takes its border from its neighbours).
  template <Window OtherPadding>
  using with_padding = Conv2D<OutChannels, Kernel, Stride, OtherPadding, Options...>;
  /// Padding is zeros.
  static constexpr bool pads_with_lowest = false;

  static std::string name() {
    std::string out = "Conv2D<" + std::to_string(OutChannels) + ", " +
                      detail::window_arguments(Kernel, Stride, Padding, Window{1});
    if constexpr (!has_bias) {
      out += ", NoBias";
    }
    if constexpr (!std::is_same_v<initializer, init::Auto>) {
      out += std::string(", ") + initializer::name;
    }
    if constexpr (!std::is_void_v<algorithm>) {
      out += std::string(", ") + algorithm::name;
    }
    return out + ">";
  }

  template <class In>
  using output_shape = detail::windowed_shape<In, OutChannels, Kernel, Stride, Padding>;

  template <class In>
  static constexpr std::size_t
      parameter_count = OutChannels* detail::channels_of<In>* Kernel.h* Kernel.w +
                        (has_bias ? OutChannels : 0);

  template <std::size_t Index, class In>
  static constexpr bool check() {
    if constexpr (In::rank != 3) {
      using show [[maybe_unused]] = decltype(sizeof(
          loom_error_conv2d_input_must_be_an_image<layer_index<Index>, Conv2D, In>));
      static_assert(In::rank == 3,
                    "loom::Conv2D: its input must be an image, shape (channels, height, width); "
                    "give the network Input<C, H, W> (search the compiler output for "
                    "'loom_error_conv2d_input_must_be_an_image' for its position and input)");
      return false;
    } else if constexpr (In::dims[1] + 2 * Padding.h < Kernel.h ||
                         In::dims[2] + 2 * Padding.w < Kernel.w) {
      using show [[maybe_unused]] = decltype(sizeof(
          loom_error_conv2d_kernel_larger_than_padded_input<layer_index<Index>, Conv2D, In>));
      static_assert(In::dims[1] + 2 * Padding.h >= Kernel.h &&
                        In::dims[2] + 2 * Padding.w >= Kernel.w,
                    "loom::Conv2D: the kernel is larger than its padded input; use a smaller "
                    "kernel, more padding or fewer pooling layers before it (search the "
                    "compiler output for 'loom_error_conv2d_kernel_larger_than_padded_input' "
                    "for its position and input shape)");
      return false;
    }
    return true;
  }

  template <class In, class Scalar, class ExecutionSpace, class Activation = Identity>
  using fused_stage =
      detail::Conv2DStage<In, output_shape<In>, Scalar, ExecutionSpace, Kernel, Stride, Padding,
                          has_bias, initializer, Activation, algorithm>;
  template <class In, class Scalar, class ExecutionSpace>
  using stage = fused_stage<In, Scalar, ExecutionSpace, Identity>;

  /// The algorithm the layer runs for this input, scalar type and execution space:
  /// "direct", "winograd" or "im2col" (Model::summary() shows it).
  template <class In, class Scalar, class ExecutionSpace>
  static std::string stage_note() {
    using S = stage<In, Scalar, ExecutionSpace>;
    return S::direct ? "direct" : S::winograd ? "winograd" : "im2col";
  }
};

namespace detail {

// What every Conv2D stage shares whatever its algorithm: the geometry, the weights
// (outs × C·KH·KW) and bias, their initialisation, and the pre-activation kept for an
// activation whose derivative needs it.
template <class In, class Out, class Scalar, class ExecutionSpace, Window Kernel, Window Stride,
          Window Padding, bool HasBias, class Initializer, class Activation>
class ConvCommon {
  using geometry = ImageGeometry<In, Out>;

public:
  using input_shape = In;
  using output_shape = Out;
  using scalar_type = Scalar;
  using execution_space = ExecutionSpace;
  using memory_space = typename ExecutionSpace::memory_space;
  using activation = Activation;
  using footprint = Footprint<Kernel, Stride, Padding>;
  static constexpr kernels::ConvGeometry geometry_{geometry::channels,
                                                   geometry::height,
                                                   geometry::width,
                                                   static_cast<int>(Kernel.h),
                                                   static_cast<int>(Kernel.w),
                                                   static_cast<int>(Stride.h),
                                                   static_cast<int>(Stride.w),
                                                   static_cast<int>(Padding.h),
                                                   static_cast<int>(Padding.w),
                                                   geometry::out_height,
                                                   geometry::out_width};
  static constexpr int channels = geometry::channels;
  static constexpr int outs = geometry::out_channels;
  static constexpr int patch = channels * static_cast<int>(Kernel.h * Kernel.w);
  static constexpr int pixels = geometry::out_height * geometry::out_width;
  static constexpr bool has_bias = HasBias;
  static constexpr std::size_t parameter_count =
      std::size_t{outs} * patch + (HasBias ? std::size_t{outs} : 0);
  static constexpr bool keeps_preactivation = Activation::derivative_from == DerivativeFrom::input;
  static constexpr std::size_t preactivation_per_sample = keeps_preactivation ? Out::size : 0;
  using direct_kernels = kernels::DirectConv<geometry_, geometry::out_channels>;
  using winograd_tiling = kernels::Winograd<geometry_>;

  void bind(VectorSlice<Scalar, memory_space> params) {
    weight_ = MatrixSlice<Scalar, memory_space>(params.data(), outs, patch);
    if constexpr (HasBias) {
      bias_ = VectorSlice<Scalar, memory_space>(params.data() + outs * patch, outs);
    }
  }

  void initialize(ExecutionSpace const& space, CounterRng const& rng) {
    initialize_weights<Initializer, Activation>(space, rng, weight_, bias_, patch,
                                                outs * static_cast<int>(Kernel.h * Kernel.w));
  }

protected:
  // The pre-activation's place at the start of the workspace; returns what follows it.
  Scalar* bind_preactivation(VectorSlice<Scalar, memory_space> workspace, std::size_t batch) {
    if constexpr (keeps_preactivation) {
      preactivation_ = MatrixSlice<Scalar, memory_space>(workspace.data(), batch, Out::size);
    }
    return workspace.data() + batch * preactivation_per_sample;
  }

  // The weight and bias parts of a gradient target laid out as the parameters.
  static MatrixSlice<Scalar, memory_space> weight_part(VectorSlice<Scalar, memory_space> target) {
    return MatrixSlice<Scalar, memory_space>(target.data(), outs, patch);
  }
  static VectorSlice<Scalar, memory_space> bias_part(VectorSlice<Scalar, memory_space> target) {
    return VectorSlice<Scalar, memory_space>(HasBias ? target.data() + outs * patch : nullptr,
                                             HasBias ? outs : 0);
  }

  // What the activation's derivative reads in backward: the pre-activation or the output.
  template <class YView, class F>
  void with_saved(YView const& y, F&& f) const {
    if constexpr (keeps_preactivation) {
      f(preactivation_);
    } else {
      f(y);
    }
  }

  MatrixSlice<Scalar, memory_space> weight_, preactivation_;
  VectorSlice<Scalar, memory_space> bias_;
};

// One Conv2D algorithm over ConvCommon: workspace and scratch sizes, their binding, forward
// and backward. Specialised for conv::Im2col, conv::Direct and conv::Winograd.
template <class Algorithm, class Common>
class ConvAlgorithm;

// im2col and one GEMM for the whole batch (kernels/convolution.hpp). Kept from forward to
// backward: the column matrix, which the weight gradient reads again.
template <class Common>
class ConvAlgorithm<conv::Im2col, Common> : public Common {
  using Scalar = typename Common::scalar_type;
  using ExecutionSpace = typename Common::execution_space;
  using memory_space = typename Common::memory_space;
  using Activation = typename Common::activation;
  using Common::geometry_, Common::outs, Common::patch, Common::pixels, Common::keeps_preactivation;

public:
  static constexpr std::size_t columns_per_sample = std::size_t{pixels} * patch;
  static constexpr std::size_t workspace_per_sample =
      Common::preactivation_per_sample + columns_per_sample;
  // The GEMM's result (channel-major), then the input gradient's columns.
  static constexpr std::size_t scratch_per_sample = std::size_t{pixels} * outs + columns_per_sample;

  void bind_workspace(VectorSlice<Scalar, memory_space> workspace, std::size_t batch) {
    cols_ = MatrixSlice<Scalar, memory_space>(this->bind_preactivation(workspace, batch), patch,
                                              batch * pixels);
  }

  void bind_scratch(VectorSlice<Scalar, memory_space> scratch, std::size_t batch) {
    pre_ = MatrixSlice<Scalar, memory_space>(scratch.data(), outs, batch * pixels);
    dcols_ = MatrixSlice<Scalar, memory_space>(scratch.data() + batch * pixels * outs, patch,
                                               batch * pixels);
  }

  template <class XView, class YView>
  void forward(ExecutionSpace const& space, PassContext<Scalar> const& ctx, XView const& x,
               YView const& y) const {
    int const batch = static_cast<int>(ctx.batch);
    kernels::im2col<geometry_>(space, batch, x, cols_);
    kernels::gemm(space, kernels::Op::none, kernels::Op::none, Scalar(1), this->weight_, cols_,
                  Scalar(0), pre_);
    kernels::conv_epilogue_forward<Activation, keeps_preactivation>(
        space, batch, pixels, outs, pre_, this->bias_, y, this->preactivation_);
  }

  template <class XView, class YView, class DyView, class DxView>
  void backward(ExecutionSpace const& space, PassContext<Scalar> const& ctx, XView const&,
                YView const& y, DyView const& dy, DxView const& dx,
                VectorSlice<Scalar, memory_space> target) const {
    int const batch = static_cast<int>(ctx.batch);
    // ∂L/∂(pre-activation), channel-major, and the bias gradient in the same pass.
    this->with_saved(y, [&](auto const& saved) {
      kernels::conv_epilogue_backward<Activation>(space, batch, pixels, outs, saved, dy, pre_,
                                                  Common::bias_part(target), ctx.gradient_alpha,
                                                  ctx.gradient_beta);
    });
    // The input gradient reads the weights, so it comes before the target (which may be the
    // weights themselves) is written.
    if (dx.extent(0) > 0) {
      kernels::gemm(space, kernels::Op::transpose, kernels::Op::none, Scalar(1), this->weight_,
                    pre_, Scalar(0), dcols_);
      kernels::col2im<geometry_>(space, batch, dcols_, dx);
    }
    kernels::gemm(space, kernels::Op::none, kernels::Op::transpose, ctx.gradient_alpha, pre_, cols_,
                  ctx.gradient_beta, Common::weight_part(target));
  }

private:
  MatrixSlice<Scalar, memory_space> cols_, pre_, dcols_;
};

// A direct kernel without GEMM (kernels/direct_convolution.hpp); nothing kept but the
// pre-activation.
template <class Common>
class ConvAlgorithm<conv::Direct, Common> : public Common {
  using Scalar = typename Common::scalar_type;
  using ExecutionSpace = typename Common::execution_space;
  using memory_space = typename Common::memory_space;
  using Activation = typename Common::activation;
  using Common::geometry_, Common::outs, Common::pixels, Common::keeps_preactivation;
  static_assert(Common::direct_kernels::fits,
                "loom::Conv2D<..., conv::Direct>: the layer is too large for the direct kernel, "
                "whose work items each hold a padded image (see "
                "loom::kernels::DirectConv::max_local_values); use conv::Im2col");

public:
  static constexpr std::size_t workspace_per_sample = Common::preactivation_per_sample;
  // The pre-activation gradient (NCHW).
  static constexpr std::size_t scratch_per_sample = std::size_t{pixels} * outs;

  void bind_workspace(VectorSlice<Scalar, memory_space> workspace, std::size_t batch) {
    this->bind_preactivation(workspace, batch);
  }

  void bind_scratch(VectorSlice<Scalar, memory_space> scratch, std::size_t batch) {
    pre_ = MatrixSlice<Scalar, memory_space>(scratch.data(), outs, batch * pixels);
  }

  template <class XView, class YView>
  void forward(ExecutionSpace const& space, PassContext<Scalar> const& ctx, XView const& x,
               YView const& y) const {
    kernels::direct_conv_forward<geometry_, outs, Activation, keeps_preactivation>(
        space, static_cast<int>(ctx.batch), x, this->weight_, this->bias_, y, this->preactivation_);
  }

  // The first layer needs no input gradient: then the weight gradient kernel computes
  // Activation'·dy itself. Otherwise that product goes to scratch first, and the input
  // gradient reads the weights before the target (which may be the weights themselves) is
  // written.
  template <class XView, class YView, class DyView, class DxView>
  void backward(ExecutionSpace const& space, PassContext<Scalar> const& ctx, XView const& x,
                YView const& y, DyView const& dy, DxView const& dx,
                VectorSlice<Scalar, memory_space> target) const {
    int const batch = static_cast<int>(ctx.batch);
    auto const weight_target = Common::weight_part(target);
    auto const bias_target = Common::bias_part(target);
    this->with_saved(y, [&](auto const& saved) {
      if (dx.extent(0) == 0) {
        kernels::direct_conv_backward_weights<geometry_, outs, Activation, false>(
            space, batch, x, saved, dy, weight_target, bias_target, ctx.gradient_alpha,
            ctx.gradient_beta);
        return;
      }
      kernels::activation_backward<Activation>(space, saved, dy, pre_);
      kernels::direct_conv_backward_input<geometry_, outs>(space, batch, this->weight_, pre_, dx);
      kernels::direct_conv_backward_weights<geometry_, outs, Activation, true>(
          space, batch, x, pre_, pre_, weight_target, bias_target, ctx.gradient_alpha,
          ctx.gradient_beta);
    });
  }

private:
  MatrixSlice<Scalar, memory_space> pre_;
};

// Winograd's F(2×2, 3×3) (kernels/winograd.hpp), round by round of images. Kept from forward
// to backward: the transformed input tiles, which the weight gradient reads again; the
// transformed weights and their gradient are the stage's own (independent of the batch).
template <class Common>
class ConvAlgorithm<conv::Winograd, Common> : public Common {
  using Scalar = typename Common::scalar_type;
  using ExecutionSpace = typename Common::execution_space;
  using memory_space = typename Common::memory_space;
  using Activation = typename Common::activation;
  using In = typename Common::input_shape;
  using Out = typename Common::output_shape;
  using winograd_tiling = typename Common::winograd_tiling;
  using Common::geometry_, Common::channels, Common::outs, Common::keeps_preactivation;
  static_assert(winograd_tiling::applies,
                "loom::Conv2D<..., conv::Winograd>: F(2x2, 3x3) needs a 3x3 kernel with stride "
                "1; use conv::Im2col");

public:
  /// F(2×2, 3×3)'s tiles per image.
  static constexpr int tiles = winograd_tiling::tiles;
  /// Images per round of the transforms and GEMMs (0: the whole batch). On host spaces a
  /// round covers about 256 tiles, so that its transformed tiles stay in cache from one
  /// kernel to the next, and its GEMMs run at the rate of the whole batch's.
  static constexpr int round_images =
      !is_host_accessible<memory_space> ? 0 : (tiles >= 256 ? 1 : 256 / tiles);
  // The transformed tiles per sample: the input's and the output's.
  static constexpr std::size_t transformed_inputs = winograd_tiling::per_sample(channels);
  static constexpr std::size_t transformed_outputs = winograd_tiling::per_sample(outs);
  static constexpr std::size_t workspace_per_sample =
      Common::preactivation_per_sample + transformed_inputs;
  // The transformed outputs or their gradient, then the transformed input tiles' gradient.
  static constexpr std::size_t scratch_per_sample = transformed_outputs + transformed_inputs;

  void bind(VectorSlice<Scalar, memory_space> params) {
    Common::bind(params);
    if (transformed_weights_.extent(0) == 0) {
      transformed_weights_ = Vector<Scalar, memory_space>(
          Kokkos::view_alloc(Kokkos::WithoutInitializing, "loom::Conv2D::transformed_weights"),
          2 * std::size_t{16} * outs * channels);
    }
  }

  void bind_workspace(VectorSlice<Scalar, memory_space> workspace, std::size_t batch) {
    transformed_x_ = VectorSlice<Scalar, memory_space>(this->bind_preactivation(workspace, batch),
                                                       batch * transformed_inputs);
  }

  void bind_scratch(VectorSlice<Scalar, memory_space> scratch, std::size_t batch) {
    transformed_y_ = VectorSlice<Scalar, memory_space>(scratch.data(), batch * transformed_outputs);
    transformed_dx_ = VectorSlice<Scalar, memory_space>(
        scratch.data() + batch * transformed_outputs, batch * transformed_inputs);
  }

  // Per round of images: V from x, M[ξ] = U[ξ]·V[ξ] (outs × C times C × images·tiles) for
  // each of the 16 positions, y from M.
  template <class XView, class YView>
  void forward(ExecutionSpace const& space, PassContext<Scalar> const& ctx, XView const& x,
               YView const& y) const {
    kernels::winograd_weights<geometry_, outs>(space, this->weight_, transformed_weights_);
    for_each_round(static_cast<int>(ctx.batch), [&](Round const& r) {
      Blocks const v = r.transformed_x(transformed_x_.data());
      Blocks const m = r.transformed(transformed_y_.data(), outs);
      kernels::winograd_input<geometry_>(space, r.images, r.rows(x.data(), In::size), v.all());
      winograd_gemms("loom::Conv2D::forward (Winograd GEMMs)", space, kernels::Op::none,
                     kernels::Op::none, transformed_weights(0), v, m, Scalar(0));
      kernels::winograd_output<geometry_, outs, Activation, keeps_preactivation>(
          space, r.images, m.all(), this->bias_, r.rows(y.data(), Out::size),
          r.rows(this->preactivation_.data(), Common::preactivation_per_sample));
    });
  }

  // Round by round: the transformed output gradient (with Activation' applied) and from it
  // the bias gradient; the input gradient through the transformed weights kept from forward,
  // so that the target (which may be the weights themselves) can be written; the transformed
  // weight gradient, summed over the rounds, from the transformed input tiles kept by
  // forward; at last the weight gradient from it.
  template <class XView, class YView, class DyView, class DxView>
  void backward(ExecutionSpace const& space, PassContext<Scalar> const& ctx, XView const&,
                YView const& y, DyView const& dy, DxView const& dx,
                VectorSlice<Scalar, memory_space> target) const {
    bool const input_gradient = dx.extent(0) > 0;
    auto const bias_target = Common::bias_part(target);
    this->with_saved(y, [&](auto const& saved) {
      for_each_round(static_cast<int>(ctx.batch), [&](Round const& r) {
        Blocks const v = r.transformed_x(transformed_x_.data());
        Blocks const dm = r.transformed(transformed_y_.data(), outs);
        kernels::winograd_output_backward<geometry_, outs, Activation>(
            space, r.images, r.rows(saved.data(), Out::size), r.rows(dy.data(), Out::size),
            dm.all());
        Scalar const beta = r.first ? Scalar(0) : Scalar(1); // sums over the rounds
        if constexpr (Common::has_bias) {
          kernels::winograd_bias_backward<geometry_, outs>(space, r.images, dm.all(), bias_target,
                                                           ctx.gradient_alpha,
                                                           r.first ? ctx.gradient_beta : Scalar(1));
        }
        if (input_gradient) { // dV[ξ] = U[ξ]ᵀ·dM[ξ]
          Blocks const dv = r.transformed(transformed_dx_.data(), channels);
          winograd_gemms("loom::Conv2D::backward (Winograd GEMMs, input gradient)", space,
                         kernels::Op::transpose, kernels::Op::none, transformed_weights(0), dm, dv,
                         Scalar(0));
          kernels::winograd_input_backward<geometry_>(space, r.images, dv.all(),
                                                      r.rows(dx.data(), In::size));
        }
        // dU[ξ] += dM[ξ]·V[ξ]ᵀ
        winograd_gemms("loom::Conv2D::backward (Winograd GEMMs, weight gradient)", space,
                       kernels::Op::none, kernels::Op::transpose, dm, v, transformed_weights(1),
                       beta);
      });
    });
    kernels::winograd_weights_backward<geometry_, outs>(space, transformed_weights(1).all(),
                                                        Common::weight_part(target),
                                                        ctx.gradient_alpha, ctx.gradient_beta);
  }

private:
  // 16 row-major matrices of rows × cols, `stride` values apart.
  struct Blocks {
    Scalar* data;
    int rows, cols;
    std::size_t stride;
    MatrixSlice<Scalar, memory_space> at(int xi) const {
      return MatrixSlice<Scalar, memory_space>(data + xi * stride, rows, cols);
    }
    VectorSlice<Scalar, memory_space> all() const {
      return VectorSlice<Scalar, memory_space>(data, 16 * stride);
    }
  };

  // The transformed weights (which = 0) or their gradient (which = 1).
  Blocks transformed_weights(int which) const {
    return {transformed_weights_.data() + std::size_t(which) * 16 * outs * channels, outs, channels,
            std::size_t{outs} * channels};
  }

  // c[ξ] = op(a[ξ])·op(b[ξ]) + beta·c[ξ] for the 16 positions ξ, in a profiling region.
  static void winograd_gemms(char const* label, ExecutionSpace const& space, kernels::Op op_a,
                             kernels::Op op_b, Blocks const& a, Blocks const& b, Blocks const& c,
                             Scalar beta) {
    loom::detail::ScopedRegion const region(label);
    for (int xi = 0; xi < 16; ++xi) {
      kernels::gemm(space, op_a, op_b, Scalar(1), a.at(xi), b.at(xi), beta, c.at(xi));
    }
  }

  // Images [first, first + images) of a batch, the round's place in the transformed buffers.
  struct Round {
    int first_image, images, full_images;
    bool first;
    // The round's rows of a batch × width buffer (empty where width is 0).
    template <class T>
    VectorSlice<T, memory_space> rows(T* data, std::size_t width) const {
      return VectorSlice<T, memory_space>(width == 0 ? nullptr : data + first_image * width,
                                          images * width);
    }
    // Its blocks of a transformed buffer with `rows` rows per block: in the scratch, from the
    // start.
    Blocks transformed(Scalar* data, int block_rows) const {
      return {data, block_rows, images * tiles, winograd_tiling::block_stride(block_rows, images)};
    }
    // Its blocks of the transformed input kept from forward: after the earlier (full) rounds.
    Blocks transformed_x(Scalar* data) const {
      std::size_t const round = static_cast<std::size_t>(first_image / full_images);
      return transformed(data + round * 16 * winograd_tiling::block_stride(channels, full_images),
                         channels);
    }
  };

  template <class F>
  static void for_each_round(int batch, F&& f) {
    int const full = round_images == 0 || round_images > batch ? batch : round_images;
    for (int first = 0; first < batch; first += full) {
      f(Round{first, batch - first < full ? batch - first : full, full, first == 0});
    }
  }

  // U then dU (the stage's own), V (workspace), M or dM and dV (scratch).
  Vector<Scalar, memory_space> transformed_weights_;
  VectorSlice<Scalar, memory_space> transformed_x_, transformed_y_, transformed_dx_;
};

// The algorithm a Conv2D runs: the one named, or the one chosen (see loom::conv).
template <class Common, class Named>
struct chosen_conv_algorithm {
  using type = Named;
};
template <class Common>
struct chosen_conv_algorithm<Common, void> {
  static constexpr bool host = is_host_accessible<typename Common::memory_space>;
  static constexpr bool direct =
      host && std::size_t{Common::patch} <= conv::direct_max_patch && Common::direct_kernels::fits;
  static constexpr bool winograd = host && !direct && Common::winograd_tiling::applies &&
                                   std::size_t{Common::channels} >= conv::winograd_min_channels;
  using type = std::conditional_t<direct, conv::Direct,
                                  std::conditional_t<winograd, conv::Winograd, conv::Im2col>>;
};

// Conv2D's stage: the chosen algorithm's specialisation of ConvAlgorithm.
template <class In, class Out, class Scalar, class ExecutionSpace, Window Kernel, Window Stride,
          Window Padding, bool HasBias, class Initializer, class Activation, class Named>
class Conv2DStage
    : public ConvAlgorithm<
          typename chosen_conv_algorithm<ConvCommon<In, Out, Scalar, ExecutionSpace, Kernel, Stride,
                                                    Padding, HasBias, Initializer, Activation>,
                                         Named>::type,
          ConvCommon<In, Out, Scalar, ExecutionSpace, Kernel, Stride, Padding, HasBias, Initializer,
                     Activation>> {
  using common = ConvCommon<In, Out, Scalar, ExecutionSpace, Kernel, Stride, Padding, HasBias,
                            Initializer, Activation>;

public:
  /// conv::Im2col, conv::Direct or conv::Winograd.
  using algorithm = typename chosen_conv_algorithm<common, Named>::type;
  /// Whether this layer runs the direct kernel, Winograd's F(2×2, 3×3) or im2col.
  static constexpr bool direct = std::is_same_v<algorithm, conv::Direct>;
  static constexpr bool winograd = std::is_same_v<algorithm, conv::Winograd>;
  static constexpr bool im2col = std::is_same_v<algorithm, conv::Im2col>;
};

} // namespace detail
} // namespace loom
