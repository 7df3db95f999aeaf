#pragma once

// The stage of an activation that stands alone (one that does not follow a Dense).

#include <loom/core/random.hpp>
#include <loom/core/shape.hpp>
#include <loom/core/tensor.hpp>
#include <loom/kernels/elementwise.hpp>
#include <loom/layers/concepts.hpp>

namespace loom::detail {

template <class In, class Scalar, class ExecutionSpace, class Activation>
class ActivationStage {
public:
  using input_shape = In;
  using output_shape = In;
  using memory_space = typename ExecutionSpace::memory_space;

  template <class XView, class YView>
  void forward(ExecutionSpace const& space, PassContext<Scalar> const&, XView const& x,
               YView const& y) const {
    kernels::activation_forward<Activation>(space, x, y);
  }

  template <class XView, class YView, class DyView, class DxView>
  void backward(ExecutionSpace const& space, PassContext<Scalar> const&, XView const& x,
                YView const& y, DyView const& dy, DxView const& dx,
                VectorSlice<Scalar, memory_space>) const {
    if (dx.extent(0) == 0) {
      return;
    }
    if constexpr (Activation::derivative_from == DerivativeFrom::output) {
      kernels::activation_backward<Activation>(space, y, dy, dx);
    } else {
      kernels::activation_backward<Activation>(space, x, dy, dx);
    }
  }
};

} // namespace loom::detail
