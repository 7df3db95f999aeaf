#pragma once

// The Trainer's calls of its callbacks' hooks: each callback defines those it wants
// (Trainer::fit says when each is called).

#include <loom/train/info.hpp>

namespace loom::detail {

template <class C, class T>
void on_fit_begin(C& c, T& trainer, FitInfo const& info) {
  if constexpr (requires { c.on_fit_begin(trainer, info); }) {
    c.on_fit_begin(trainer, info);
  }
}
template <class C, class T>
void on_batch_end(C& c, T& trainer, BatchInfo const& info) {
  if constexpr (requires { c.on_batch_end(trainer, info); }) {
    c.on_batch_end(trainer, info);
  }
}
template <class C, class T>
void on_epoch_evaluate(C& c, T& trainer, EpochInfo& info) {
  if constexpr (requires { c.on_epoch_evaluate(trainer, info); }) {
    c.on_epoch_evaluate(trainer, info);
  }
}
template <class C, class T>
void on_epoch_end(C& c, T& trainer, EpochInfo const& info) {
  if constexpr (requires { c.on_epoch_end(trainer, info); }) {
    c.on_epoch_end(trainer, info);
  }
}
template <class C, class T>
void on_epoch_save(C& c, T& trainer, EpochInfo const& info) {
  if constexpr (requires { c.on_epoch_save(trainer, info); }) {
    c.on_epoch_save(trainer, info);
  }
}
template <class C, class T>
void on_fit_end(C& c, T& trainer) {
  if constexpr (requires { c.on_fit_end(trainer); }) {
    c.on_fit_end(trainer);
  }
}

} // namespace loom::detail
