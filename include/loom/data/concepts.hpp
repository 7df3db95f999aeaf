#pragma once

// The Dataset concept: what the trainer, the samplers and the evaluation loops need of a
// source of training samples.
//
// Dataset (a type D)
//   Requirements
//     D::target_type                 std::int32_t (class labels) or float (regression targets)
//     d.size()                       number of samples
//     d.sample_size()                features (floats) per sample
//     d.target_size()                targets per sample (1 for class labels)
//     d.source()                     where the data came from (file names), for messages
//     d.gather(idx, x, y)            copies sample idx[i] into row i of x (row-major,
//                                    sample_size() values; x may be float* or double*) and
//                                    its targets into row i of y (target_size() values)
//   Semantics
//     gather is const and deterministic: the same indices give the same rows. Indices are
//     checked: an index ≥ size() throws loom::Error naming source(). Rows of x and y are
//     written in the order of idx, so gathering the indices of a batch (data/sampler.hpp)
//     gives the batch in its global order.
//   Models
//     loom::data::InMemoryDataset<std::int32_t>, loom::data::InMemoryDataset<float>

#include <concepts>
#include <cstddef>
#include <span>
#include <string>

namespace loom::data {

/// \brief A source of training samples with fixed-size float features and targets (see the
///        requirements above).
/// \tparam D the dataset type
template <class D>
concept Dataset = requires(D const& d, std::span<std::size_t const> idx, float* x,
                           typename D::target_type* y) {
  typename D::target_type; // std::int32_t class labels, or float regression targets
  { d.size() } -> std::convertible_to<std::size_t>;        // samples
  { d.sample_size() } -> std::convertible_to<std::size_t>; // features (floats) per sample
  { d.target_size() } -> std::convertible_to<std::size_t>; // targets per sample
  { d.source() } -> std::convertible_to<std::string>;      // file names, for messages
  d.gather(idx, x, y);                                     // sample idx[i] into row i of x and of y
};

} // namespace loom::data
