#pragma once

// The network of example 06 (examples/06_spatial_parallel_cnn/network.hpp), copied so that this
// folder builds on its own: four convolutions with batch norm on 224×224 images, every height
// even so that two bands split each layer's rows.

#include <loom/loom.hpp>

namespace example07 {
using Net = loom::Sequential<loom::Input<1, 224, 224>,                                  //
                             loom::Conv2D<8, 5, 2, 2>, loom::BatchNorm2D<>, loom::ReLU, // 8×112×112
                             loom::MaxPool2D<2>,                                        // 8×56×56
                             loom::Conv2D<16, 3, 1, 1>, loom::BatchNorm2D<>, loom::ReLU,
                             loom::MaxPool2D<2>, // 16×28×28
                             loom::Conv2D<32, 3, 1, 1>, loom::BatchNorm2D<>, loom::ReLU,
                             loom::MaxPool2D<2>, // 32×14×14
                             loom::Conv2D<32, 3, 1, 1>, loom::BatchNorm2D<>, loom::ReLU,
                             loom::Flatten, loom::Dense<64>, loom::ReLU, loom::Dense<10>>;

} // namespace example07
