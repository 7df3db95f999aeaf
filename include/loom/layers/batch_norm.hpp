#pragma once

#include <loom/core/detail/format.hpp>
#include <loom/core/detail/kokkos.hpp>
#include <loom/core/math.hpp>
#include <loom/core/random.hpp>
#include <loom/core/shape.hpp>
#include <loom/core/tensor.hpp>
#include <loom/kernels/copy.hpp>
#include <loom/layers/concepts.hpp>
#include <loom/layers/window.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <string>

namespace loom {

// Named in compiler output by BatchNorm2D's diagnostic (see BatchNorm2D::check).
template <class LayerIndex, class BatchNorm, class InputShape>
struct loom_error_batch_norm_input_must_be_an_image;

namespace detail {
template <class In, class Scalar, class ExecutionSpace, Real Momentum, Real Epsilon,
          std::size_t Ranks = 1>
class BatchNorm2DStage;
} // namespace detail

/// \brief Batch normalization over NCHW images (PyTorch's BatchNorm2d): each channel is
///        normalised to zero mean and unit variance, then scaled by γ and shifted by β,
///        y = γ·(x − μ)/√(σ² + ε) + β.
///
/// In training mode μ and σ² are the statistics of the batch over (N, H, W) per channel (σ²
/// the biased variance), and every forward pass updates the running statistics,
/// r ← (1 − Momentum)·r + Momentum·batch value, with the unbiased variance for the running
/// variance. In evaluation mode (Model::eval(), Trainer::evaluate) the running statistics
/// are used instead. The parameters are γ (C values, initialised to 1) then β (C values,
/// initialised to 0); the running mean (C, initialised to 0) and running variance (C,
/// initialised to 1) are the model's states(), saved in checkpoints with the parameters.
///
/// Under DataParallel each rank normalises with the statistics of its own part of the batch
/// (like PyTorch's BatchNorm2d without SyncBatchNorm), so training does not equal serial
/// training on the same global batch exactly; checkpoints keep rank 0's running statistics.
/// Under SpatialParallel, where each rank holds a band of every image's rows, the sums are
/// added up over the ranks and the statistics are those of the whole images, as in serial
/// training.
/// \code
/// loom::Sequential<loom::Input<3, 32, 32>, loom::Conv2D<16, 3, 1, 1, loom::NoBias>,
///                  loom::BatchNorm2D<>, loom::ReLU, ...>
/// \endcode
/// \tparam Momentum  weight of the batch in the running statistics, in [0, 1] (default 0.1)
/// \tparam Epsilon   added to the variance, > 0 (default 1e-5)
template <Real Momentum = 0.1, Real Epsilon = 1e-5>
struct BatchNorm2D {
  static constexpr double momentum = Momentum.value;
  static constexpr double epsilon = Epsilon.value;
  static_assert(momentum >= 0.0 && momentum <= 1.0,
                "loom::BatchNorm2D<Momentum, Epsilon>: Momentum must lie in [0, 1]");
  static_assert(epsilon > 0.0, "loom::BatchNorm2D<Momentum, Epsilon>: Epsilon must be positive");

  using layer_type = BatchNorm2D;

  static std::string name() {
    if (epsilon != 1e-5) {
      return "BatchNorm2D<" + detail::format_number(momentum) + ", " +
             detail::format_number(epsilon) + ">";
    }
    if (momentum != 0.1) {
      return "BatchNorm2D<" + detail::format_number(momentum) + ">";
    }
    return "BatchNorm2D";
  }

  template <class In>
  using output_shape = In;
  template <class In>
  static constexpr std::size_t parameter_count = 2 * detail::channels_of<In>;

  template <std::size_t Index, class In>
  static constexpr bool check() {
    if constexpr (In::rank != 3) {
      using show [[maybe_unused]] = decltype(sizeof(
          loom_error_batch_norm_input_must_be_an_image<layer_index<Index>, BatchNorm2D, In>));
      static_assert(In::rank == 3,
                    "loom::BatchNorm2D: its input must be an image, shape (channels, height, "
                    "width); put it before Flatten (search the compiler output for "
                    "'loom_error_batch_norm_input_must_be_an_image' for its position and input)");
      return false;
    }
    return true;
  }

  template <class In, class Scalar, class ExecutionSpace>
  using stage = detail::BatchNorm2DStage<In, Scalar, ExecutionSpace, Momentum, Epsilon>;
  /// The stage over a band of each image's rows, one of Ranks: the statistics are those of
  /// the whole images, their sums added up over the ranks of the pass's group.
  template <class In, class Scalar, class ExecutionSpace, std::size_t Ranks>
  using band_stage = detail::BatchNorm2DStage<In, Scalar, ExecutionSpace, Momentum, Epsilon, Ranks>;
};

namespace detail {

/// The stage of BatchNorm2D over In; with Ranks > 1 over a band of rows of each image, one of
/// Ranks equal bands: its sums are added up over the group (PassContext::group), so that the
/// statistics are those of the whole images.
template <class In, class Scalar, class ExecutionSpace, Real Momentum, Real Epsilon,
          std::size_t Ranks>
class BatchNorm2DStage {
  static constexpr int channels = static_cast<int>(In::dims[0]);
  static constexpr int area = static_cast<int>(In::dims[1] * In::dims[2]);

public:
  using input_shape = In;
  using output_shape = In;
  using memory_space = typename ExecutionSpace::memory_space;
  static constexpr std::size_t parameter_count = 2 * std::size_t{channels};
  /// The running mean, then the running variance.
  static constexpr std::size_t state_count = 2 * std::size_t{channels};

private:
  // Per channel: the mean and 1/√(σ² + ε) of the forward pass (batch or running
  // statistics), then, within backward, γ/√(σ² + ε), mean(dy) and mean(dy·x̂).
  static constexpr std::size_t statistics_rows = 5;

public:
  static constexpr std::size_t workspace_per_pass = statistics_rows * std::size_t{channels};

  void bind(VectorSlice<Scalar, memory_space> params) {
    gamma_ = VectorSlice<Scalar, memory_space>(params.data(), channels);
    beta_ = VectorSlice<Scalar, memory_space>(params.data() + channels, channels);
  }

  void bind_state(VectorSlice<Scalar, memory_space> state) {
    running_mean_ = VectorSlice<Scalar, memory_space>(state.data(), channels);
    running_var_ = VectorSlice<Scalar, memory_space>(state.data() + channels, channels);
  }

  // The per-channel statistics kept from forward to backward: a few values per channel,
  // whatever the batch, in the workspace, so that each batch in flight has its own.
  void bind_workspace(VectorSlice<Scalar, memory_space> workspace, std::size_t) {
    statistics_ = workspace;
  }

  void initialize(ExecutionSpace const& space, CounterRng const&) {
    kernels::fill(space, gamma_, Scalar(1));
    kernels::fill(space, beta_, Scalar(0));
    kernels::fill(space, running_mean_, Scalar(0));
    kernels::fill(space, running_var_, Scalar(1));
  }

  template <class XView, class YView>
  void forward(ExecutionSpace const& space, PassContext<Scalar> const& ctx, XView const& x,
               YView const& y) const {
    int const batch = static_cast<int>(ctx.batch);
    auto const* in = x.data();
    Scalar* out = y.data();
    Scalar* stats = statistics_.data();
    Scalar* running_mean = running_mean_.data();
    Scalar* running_var = running_var_.data();
    Scalar const momentum = static_cast<Scalar>(Momentum.value);
    Scalar const epsilon = static_cast<Scalar>(Epsilon.value);
    bool const update = ctx.update_states;
    if (ctx.training) {
      // Per channel, one thread sums its values sample by sample, in a fixed order (the
      // result does not depend on the number of threads): Σx, then Σ(x − μ)², each summed
      // over the group's bands before it is used.
      Scalar const count = static_cast<Scalar>(batch) * Scalar(area) * Scalar(Ranks);
      Kokkos::parallel_for(
          "loom::BatchNorm2D::forward (sums)",
          Kokkos::RangePolicy<ExecutionSpace>(space, 0, channels),
          KOKKOS_LAMBDA(int c) { stats[c] = plane_sums(in, batch, c, Scalar(0), false); });
      sum_over_group(space, ctx, stats, "loom::BatchNorm2D::forward (sums over the group)");
      Kokkos::parallel_for(
          "loom::BatchNorm2D::forward (squares)",
          Kokkos::RangePolicy<ExecutionSpace>(space, 0, channels), KOKKOS_LAMBDA(int c) {
            stats[channels + c] = plane_sums(in, batch, c, stats[c] / count, true);
          });
      sum_over_group(space, ctx, stats + channels,
                     "loom::BatchNorm2D::forward (squares over the group)");
      Kokkos::parallel_for(
          "loom::BatchNorm2D::forward (batch statistics)",
          Kokkos::RangePolicy<ExecutionSpace>(space, 0, channels), KOKKOS_LAMBDA(int c) {
            Scalar const mean = stats[c] / count;
            Scalar const squares = stats[channels + c];
            Scalar const variance = squares / count;
            // With one value per channel (batch 1 of a 1×1 image) the unbiased variance is
            // undefined; the running variance then takes the biased one, 0.
            Scalar const unbiased = count > Scalar(1) ? squares / (count - Scalar(1)) : variance;
            stats[c] = mean;
            stats[channels + c] = Scalar(1) / math::sqrt(variance + epsilon);
            if (update) {
              running_mean[c] = (Scalar(1) - momentum) * running_mean[c] + momentum * mean;
              running_var[c] = (Scalar(1) - momentum) * running_var[c] + momentum * unbiased;
            }
          });
    } else {
      Kokkos::parallel_for(
          "loom::BatchNorm2D::forward (running statistics)",
          Kokkos::RangePolicy<ExecutionSpace>(space, 0, channels), KOKKOS_LAMBDA(int c) {
            stats[c] = running_mean[c];
            stats[channels + c] = Scalar(1) / math::sqrt(running_var[c] + epsilon);
          });
    }
    auto const* gamma = gamma_.data();
    auto const* beta = beta_.data();
    Kokkos::parallel_for(
        "loom::BatchNorm2D::forward",
        Kokkos::RangePolicy<ExecutionSpace>(space, 0, batch * channels * area),
        KOKKOS_LAMBDA(int index) {
          int const c = (index / area) % channels;
          out[index] = gamma[c] * ((in[index] - stats[c]) * stats[channels + c]) + beta[c];
        });
  }

  template <class XView, class YView, class DyView, class DxView>
  void backward(ExecutionSpace const& space, PassContext<Scalar> const& ctx, XView const& x,
                YView const&, DyView const& dy, DxView const& dx,
                VectorSlice<Scalar, memory_space> target) const {
    int const batch = static_cast<int>(ctx.batch);
    bool const training = ctx.training;
    auto const* in = x.data();
    auto const* grad = dy.data();
    auto const* gamma = gamma_.data();
    Scalar* stats = statistics_.data();
    Scalar* dgamma = target.data();
    Scalar* dbeta = target.data() + channels;
    Scalar const alpha = ctx.gradient_alpha;
    Scalar const beta = ctx.gradient_beta;
    Scalar const count = static_cast<Scalar>(batch) * Scalar(area) * Scalar(Ranks);
    // Per channel: Σ dy and Σ dy·x̂ (summed over the group's bands), then what the input
    // gradient needs of them. γ is read into the statistics before the target (which may be
    // γ itself) is written.
    Kokkos::parallel_for(
        "loom::BatchNorm2D::backward (channel sums)",
        Kokkos::RangePolicy<ExecutionSpace>(space, 0, channels), KOKKOS_LAMBDA(int c) {
          Scalar const mean = stats[c];
          Scalar const inv_std = stats[channels + c];
          Scalar sum_dy = 0;
          Scalar sum_dy_xhat = 0;
          for (int n = 0; n < batch; ++n) {
            std::size_t const offset = (static_cast<std::size_t>(n) * channels + c) * area;
            Scalar partial_dy = 0;
            Scalar partial_dy_xhat = 0;
            for (int k = 0; k < area; ++k) {
              Scalar const g = grad[offset + k];
              partial_dy += g;
              partial_dy_xhat += g * ((in[offset + k] - mean) * inv_std);
            }
            sum_dy += partial_dy;
            sum_dy_xhat += partial_dy_xhat;
          }
          stats[3 * channels + c] = sum_dy;
          stats[4 * channels + c] = sum_dy_xhat;
        });
    sum_over_group(space, ctx, stats + 3 * channels,
                   "loom::BatchNorm2D::backward (channel sums over the group)", 2);
    Kokkos::parallel_for(
        "loom::BatchNorm2D::backward (channel factors)",
        Kokkos::RangePolicy<ExecutionSpace>(space, 0, channels), KOKKOS_LAMBDA(int c) {
          Scalar const sum_dy = stats[3 * channels + c];
          Scalar const sum_dy_xhat = stats[4 * channels + c];
          stats[2 * channels + c] = gamma[c] * stats[channels + c];
          // In training, μ and σ² depend on x: dx = γ/σ·(dy − mean(dy) − x̂·mean(dy·x̂)). In
          // evaluation they are constants: dx = γ/σ·dy.
          stats[3 * channels + c] = training ? sum_dy / count : Scalar(0);
          stats[4 * channels + c] = training ? sum_dy_xhat / count : Scalar(0);
          dgamma[c] =
              beta == Scalar(0) ? alpha * sum_dy_xhat : alpha * sum_dy_xhat + beta * dgamma[c];
          dbeta[c] = beta == Scalar(0) ? alpha * sum_dy : alpha * sum_dy + beta * dbeta[c];
        });
    if (dx.extent(0) == 0) {
      return;
    }
    Scalar* out = dx.data();
    Kokkos::parallel_for(
        "loom::BatchNorm2D::backward",
        Kokkos::RangePolicy<ExecutionSpace>(space, 0, batch * channels * area),
        KOKKOS_LAMBDA(int index) {
          int const c = (index / area) % channels;
          Scalar const xhat = (in[index] - stats[c]) * stats[channels + c];
          out[index] = stats[2 * channels + c] *
                       (grad[index] - stats[3 * channels + c] - xhat * stats[4 * channels + c]);
        });
  }

private:
  // Σ x (squares: Σ (x − mean)²) over channel c of every image, plane by plane.
  template <class T>
  KOKKOS_INLINE_FUNCTION static Scalar plane_sums(T const* in, int batch, int c, Scalar mean,
                                                  bool squares) {
    Scalar sum = 0;
    for (int n = 0; n < batch; ++n) {
      auto const* plane = in + (static_cast<std::size_t>(n) * channels + c) * area;
      Scalar partial = 0;
      for (int k = 0; k < area; ++k) {
        Scalar const d = squares ? plane[k] - mean : plane[k];
        partial += squares ? d * d : d;
      }
      sum += partial;
    }
    return sum;
  }

  // `rows` rows of per-channel sums from `values` on, added up over the group's bands.
  static void sum_over_group(ExecutionSpace const& space, PassContext<Scalar> const& ctx,
                             Scalar* values, char const* label, std::size_t rows = 1) {
    if constexpr (Ranks > 1) {
      loom::detail::fence(space, label);
      ctx.group->sum(values, rows * std::size_t{channels});
    } else {
      (void)space, (void)ctx, (void)values, (void)label, (void)rows;
    }
  }

  VectorSlice<Scalar, memory_space> gamma_, beta_, running_mean_, running_var_;
  VectorSlice<Scalar, memory_space> statistics_;
};

} // namespace detail
} // namespace loom
