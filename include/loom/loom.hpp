#pragma once

// loom: networks as types, trained in parallel with Kokkos kernels. The one header examples
// and applications need.

#include <loom/config.hpp>

#include <loom/comm/compression.hpp>
#include <loom/comm/concepts.hpp>
#include <loom/comm/mpi.hpp>
#include <loom/comm/recursive_halving.hpp>
#include <loom/comm/ring.hpp>
#include <loom/comm/self.hpp>
#include <loom/core/environment.hpp>
#include <loom/core/error.hpp>
#include <loom/core/random.hpp>
#include <loom/core/shape.hpp>
#include <loom/core/tensor.hpp>
#include <loom/data/concepts.hpp>
#include <loom/data/csv.hpp>
#include <loom/data/fashion_mnist.hpp>
#include <loom/data/feature_transform.hpp>
#include <loom/data/idx.hpp>
#include <loom/data/in_memory.hpp>
#include <loom/data/normalize.hpp>
#include <loom/data/resize.hpp>
#include <loom/data/sampler.hpp>
#include <loom/io/state.hpp>
#include <loom/io/training.hpp>
#include <loom/kernels/gemm.hpp>
#include <loom/layers/activations.hpp>
#include <loom/layers/batch_norm.hpp>
#include <loom/layers/conv2d.hpp>
#include <loom/layers/dense.hpp>
#include <loom/layers/dropout.hpp>
#include <loom/layers/flatten.hpp>
#include <loom/layers/initializers.hpp>
#include <loom/layers/input.hpp>
#include <loom/layers/pooling.hpp>
#include <loom/layers/residual.hpp>
#include <loom/layers/softmax.hpp>
#include <loom/layers/window.hpp>
#include <loom/loss/mse.hpp>
#include <loom/loss/softmax_cross_entropy.hpp>
#include <loom/model/model.hpp>
#include <loom/model/sequential.hpp>
#include <loom/optim/adam.hpp>
#include <loom/optim/clip.hpp>
#include <loom/optim/rmsprop.hpp>
#include <loom/optim/schedule.hpp>
#include <loom/optim/sgd.hpp>
#include <loom/parallel/data_parallel.hpp>
#include <loom/parallel/single_process.hpp>
#include <loom/parallel/spatial_parallel.hpp>
#include <loom/parallel/tensor_parallel.hpp>
#include <loom/train/callbacks.hpp>
#include <loom/train/metrics.hpp>
#include <loom/train/trainer.hpp>
