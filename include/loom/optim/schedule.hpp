#pragma once

#include <loom/core/detail/format.hpp>
#include <loom/core/error.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

namespace loom {

/// \brief A learning-rate schedule: the factor the base learning rate is multiplied by at
///        each optimizer step (counted from 0). A plain value; compose with with_warmup().
/// \code
/// auto s = loom::LrSchedule::cosine(/*total_steps=*/0).with_warmup(500);  // 0: the whole fit
/// \endcode
class LrSchedule {
public:
  enum class Kind { constant, step, cosine };

  /// Factor 1 throughout.
  static LrSchedule constant() { return LrSchedule(Kind::constant); }

  /// Multiplies by `gamma` every `every` steps: gamma^⌊step / every⌋.
  static LrSchedule step(std::uint64_t every, double gamma) {
    if (every == 0 || gamma <= 0) {
      detail::fail("loom::LrSchedule::step: needs every > 0 and gamma > 0; got every ", every,
                   ", gamma ", gamma);
    }
    LrSchedule s(Kind::step);
    s.every_ = every;
    s.gamma_ = gamma;
    return s;
  }

  /// Cosine decay from 1 to `min_factor` over `total_steps` (after warm-up), then flat.
  /// total_steps = 0 lets loom::Trainer set it to the length of the fit.
  static LrSchedule cosine(std::uint64_t total_steps = 0, double min_factor = 0.0) {
    if (min_factor < 0 || min_factor > 1) {
      detail::fail("loom::LrSchedule::cosine: min_factor must lie in [0, 1]; got ", min_factor);
    }
    LrSchedule s(Kind::cosine);
    s.total_ = total_steps;
    s.min_factor_ = min_factor;
    return s;
  }

  /// Adds a linear warm-up: the factor rises from 1/steps to 1 over the first `steps` steps,
  /// then the schedule runs (its step count starting after the warm-up).
  LrSchedule with_warmup(std::uint64_t steps) const {
    LrSchedule s = *this;
    s.warmup_ = steps;
    return s;
  }

  /// Sets the cosine length where it was left to the caller (total_steps = 0).
  LrSchedule with_default_length(std::uint64_t total_steps) const {
    LrSchedule s = *this;
    if (s.kind_ == Kind::cosine && s.total_ == 0) {
      s.total_ = total_steps > s.warmup_ ? total_steps - s.warmup_ : 1;
    }
    return s;
  }

  /// The factor at optimizer step `step` (0-based).
  double factor(std::uint64_t step) const {
    if (step < warmup_) {
      return double(step + 1) / double(warmup_);
    }
    std::uint64_t const t = step - warmup_;
    switch (kind_) {
    case Kind::step:
      return std::pow(gamma_, double(t / every_));
    case Kind::cosine: {
      if (total_ == 0 || t >= total_) {
        return total_ == 0 ? 1.0 : min_factor_;
      }
      double const progress = double(t) / double(total_);
      return min_factor_ +
             (1.0 - min_factor_) * 0.5 * (1.0 + std::cos(3.14159265358979323846 * progress));
    }
    default:
      return 1.0;
    }
  }

  Kind kind() const { return kind_; }

  /// Whether the schedule's length is left to loom::Trainer (cosine with total_steps = 0):
  /// the length of the fit that starts the training.
  bool has_default_length() const { return kind_ == Kind::cosine && total_ == 0; }

  /// The schedule's values, for checkpoints; from_parameters() rebuilds it.
  struct Parameters {
    Kind kind = Kind::constant;
    std::uint64_t every = 1;
    double gamma = 1.0;
    std::uint64_t total = 0;
    double min_factor = 0.0;
    std::uint64_t warmup = 0;
  };
  Parameters parameters() const { return {kind_, every_, gamma_, total_, min_factor_, warmup_}; }
  static LrSchedule from_parameters(Parameters const& p) {
    LrSchedule s(p.kind);
    s.every_ = p.every;
    s.gamma_ = p.gamma;
    s.total_ = p.total;
    s.min_factor_ = p.min_factor;
    s.warmup_ = p.warmup;
    return s;
  }
  friend bool operator==(LrSchedule const&, LrSchedule const&) = default;

  /// "cosine(total 18750, min 0) after 500 warm-up steps"; "cosine(over the training, min 0)"
  /// where loom::Trainer sets the length
  std::string describe() const {
    std::string out;
    switch (kind_) {
    case Kind::step:
      out =
          "step(every " + std::to_string(every_) + ", gamma " + detail::format_number(gamma_) + ")";
      break;
    case Kind::cosine:
      out = "cosine(" +
            (total_ == 0 ? std::string("over the training") : "total " + std::to_string(total_)) +
            ", min " + detail::format_number(min_factor_) + ")";
      break;
    default:
      out = "constant";
    }
    if (warmup_ > 0) {
      out += " after " + std::to_string(warmup_) + " warm-up steps";
    }
    return out;
  }

private:
  explicit LrSchedule(Kind kind)
      : kind_(kind) {}

  Kind kind_;
  std::uint64_t every_ = 1;
  double gamma_ = 1.0;
  std::uint64_t total_ = 0;
  double min_factor_ = 0.0;
  std::uint64_t warmup_ = 0;
};

} // namespace loom
