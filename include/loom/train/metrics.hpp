#pragma once

// Evaluation metrics beyond the loss and its arg-max accuracy: top-k accuracy, a confusion
// matrix with per-class precision, recall and F1, and the regression errors (MSE, RMSE, MAE,
// R²). Each is an accumulator that an evaluation loop feeds batch by batch, on one rank or on
// many.
//
// Metric (a type M)
//   Requirements
//     M::metric_type                 M itself
//     M::target_type                 std::int32_t (class labels, one per sample) or float
//                                    (targets, one per output), as Loss::target_type
//     m.update(space, output, targets)
//                                    one Kokkos kernel on the execution space instance
//                                    `space` that adds a batch to the sums: output is a
//                                    rank-2 view, batch × outputs, of float or double (the
//                                    logits, for classification); targets a rank-1 view of
//                                    integer labels, or a rank-2 view batch × outputs of
//                                    float or double, as target_type says; both in memory
//                                    that `space` can access. Labels outside [0, outputs)
//                                    are skipped and counted as invalid.
//     m.sums() -> std::span<double>  the whole state: a fixed number of additive sums
//     cm.sums() -> std::span<double const>
//     m.reset()                      sets every sum to 0
//     results (accuracy(), mse(), …) computed on the host from the sums alone
//   Semantics
//     The state is additive: update(a) followed by update(b) gives the sums that one update
//     over the rows of a and b together gives (exactly for counts, to rounding for sums of
//     doubles), and the element-wise sum of the sums() of two accumulators with the same
//     construction arguments is the state of one accumulator over both inputs. update()
//     communicates with no other rank: ranks combine their metrics by all-reducing sums() in
//     place (MPI_SUM over doubles) before reading results, and micro-batches by updating one
//     accumulator. sums().size() is fixed at construction; reset() gives the state of a newly
//     constructed accumulator. Counts are held as doubles, exact up to 2^53.
//   Models
//     loom::metrics::TopK, loom::metrics::ConfusionMatrix, loom::metrics::Regression

#include <loom/core/error.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace loom::metrics {

namespace detail {

template <class ExecutionSpace>
struct loom_error_metric_space_not_an_execution_space;
template <class OutputView>
struct loom_error_metric_output_not_a_batch_view;
template <class LabelView>
struct loom_error_metric_labels_not_integer_view;
template <class TargetView>
struct loom_error_metric_targets_not_a_batch_view;

/// \brief Compile-time checks on `space` and `output` of update(space, output, targets).
template <class ExecutionSpace, class OutputView>
constexpr bool check_valid_output() {
  if constexpr (!Kokkos::is_execution_space<ExecutionSpace>::value) {
    using show [[maybe_unused]] =
        decltype(sizeof(loom_error_metric_space_not_an_execution_space<ExecutionSpace>));
    static_assert(Kokkos::is_execution_space<ExecutionSpace>::value,
                  "loom::metrics: update(space, output, targets) takes a Kokkos execution space "
                  "instance first (the one the network ran on, e.g. model.space())");
    return false;
  } else if constexpr (!Kokkos::is_view<OutputView>::value) {
    using show [[maybe_unused]] =
        decltype(sizeof(loom_error_metric_output_not_a_batch_view<OutputView>));
    static_assert(Kokkos::is_view<OutputView>::value,
                  "loom::metrics: in update(space, output, targets), 'output' must be a "
                  "Kokkos::View, batch × outputs; search the compiler output for "
                  "'loom_error_metric_output_not_a_batch_view' to see the type given");
    return false;
  } else if constexpr (OutputView::rank != 2) {
    using show [[maybe_unused]] =
        decltype(sizeof(loom_error_metric_output_not_a_batch_view<OutputView>));
    static_assert(OutputView::rank == 2,
                  "loom::metrics: in update(space, output, targets), 'output' must be a rank-2 "
                  "view, batch × outputs (the network's output, e.g. model.forward(x))");
    return false;
  } else if constexpr (!std::is_floating_point<typename OutputView::non_const_value_type>::value) {
    using show [[maybe_unused]] =
        decltype(sizeof(loom_error_metric_output_not_a_batch_view<OutputView>));
    static_assert(std::is_floating_point<typename OutputView::non_const_value_type>::value,
                  "loom::metrics: in update(space, output, targets), 'output' must hold float or "
                  "double");
    return false;
  } else if constexpr (!Kokkos::SpaceAccessibility<ExecutionSpace,
                                                   typename OutputView::memory_space>::accessible) {
    static_assert(
        Kokkos::SpaceAccessibility<ExecutionSpace, typename OutputView::memory_space>::accessible,
        "loom::metrics: in update(space, output, targets), 'output' must live in memory "
        "that 'space' can access; deep_copy it there first");
    return false;
  } else {
    return true;
  }
}

/// \brief Compile-time checks on the class labels of a classification metric's update().
template <class ExecutionSpace, class LabelView>
constexpr bool check_valid_labels() {
  if constexpr (!Kokkos::is_view<LabelView>::value) {
    using show [[maybe_unused]] =
        decltype(sizeof(loom_error_metric_labels_not_integer_view<LabelView>));
    static_assert(Kokkos::is_view<LabelView>::value,
                  "loom::metrics: a classification metric's update(space, output, targets) takes "
                  "'targets' as a rank-1 Kokkos::View of std::int32_t class labels; search the "
                  "compiler output for 'loom_error_metric_labels_not_integer_view' to see the "
                  "type given");
    return false;
  } else if constexpr (LabelView::rank != 1 ||
                       !std::is_integral<typename LabelView::non_const_value_type>::value) {
    using show [[maybe_unused]] =
        decltype(sizeof(loom_error_metric_labels_not_integer_view<LabelView>));
    static_assert(LabelView::rank == 1 &&
                      std::is_integral<typename LabelView::non_const_value_type>::value,
                  "loom::metrics: a classification metric's update(space, output, targets) takes "
                  "'targets' as a rank-1 view of std::int32_t class labels, one per sample; for "
                  "regression targets (batch × outputs of float) use loom::metrics::Regression");
    return false;
  } else if constexpr (!Kokkos::SpaceAccessibility<ExecutionSpace,
                                                   typename LabelView::memory_space>::accessible) {
    static_assert(
        Kokkos::SpaceAccessibility<ExecutionSpace, typename LabelView::memory_space>::accessible,
        "loom::metrics: in update(space, output, targets), 'targets' must live in memory that "
        "'space' can access; deep_copy it there first");
    return false;
  } else {
    return true;
  }
}

/// \brief Compile-time checks on the targets of loom::metrics::Regression::update().
template <class ExecutionSpace, class TargetView>
constexpr bool check_valid_regression_targets() {
  if constexpr (!Kokkos::is_view<TargetView>::value) {
    using show [[maybe_unused]] =
        decltype(sizeof(loom_error_metric_targets_not_a_batch_view<TargetView>));
    static_assert(Kokkos::is_view<TargetView>::value,
                  "loom::metrics::Regression: update(space, output, targets) takes 'targets' as "
                  "a rank-2 Kokkos::View, batch × outputs; search the compiler output for "
                  "'loom_error_metric_targets_not_a_batch_view' to see the type given");
    return false;
  } else if constexpr (TargetView::rank != 2 ||
                       !std::is_floating_point<typename TargetView::non_const_value_type>::value) {
    using show [[maybe_unused]] =
        decltype(sizeof(loom_error_metric_targets_not_a_batch_view<TargetView>));
    static_assert(TargetView::rank == 2 &&
                      std::is_floating_point<typename TargetView::non_const_value_type>::value,
                  "loom::metrics::Regression: update(space, output, targets) takes 'targets' as "
                  "a rank-2 view of float or double, one value per output; for class labels use "
                  "loom::metrics::TopK or loom::metrics::ConfusionMatrix");
    return false;
  } else if constexpr (!Kokkos::SpaceAccessibility<ExecutionSpace,
                                                   typename TargetView::memory_space>::accessible) {
    static_assert(
        Kokkos::SpaceAccessibility<ExecutionSpace, typename TargetView::memory_space>::accessible,
        "loom::metrics::Regression: in update(space, output, targets), 'targets' must live in "
        "memory that 'space' can access; deep_copy it there first");
    return false;
  } else {
    return true;
  }
}

/// \brief Throws unless output and targets hold the same number of samples.
inline void check_same_batch(char const* caller, std::size_t outputs, std::size_t targets) {
  if (outputs != targets) {
    loom::detail::fail(caller, ": output holds ", outputs, " samples but targets holds ", targets,
                       "; give the targets of the same batch");
  }
}

/// \brief num / den, or 0 when den is 0.
inline double ratio(double num, double den) {
  return den != 0 ? num / den : 0.0;
}

/// \brief text padded with spaces to width, on the left (right-aligned) or on the right.
inline std::string pad(std::string_view text, std::size_t width, bool right_align) {
  std::string const fill(text.size() < width ? width - text.size() : 0, ' ');
  return right_align ? fill + std::string(text) : std::string(text) + fill;
}

/// \brief value printed with printf's format.
inline std::string format(char const* spec, double value) {
  char buffer[64];
  int const n = std::snprintf(buffer, sizeof buffer, spec, value);
  return std::string(buffer, n > 0 ? static_cast<std::size_t>(n) : 0);
}

/// \brief The archetype of a metric's targets in the Metric concept.
template <class Target>
struct targets_archetype {};
template <>
struct targets_archetype<std::int32_t> {
  using type = Kokkos::View<std::int32_t const*, Kokkos::HostSpace>;
};
template <>
struct targets_archetype<float> {
  using type = Kokkos::View<float const**, Kokkos::HostSpace>;
};

} // namespace detail

/// \brief The accumulator interface every metric models (see the outline at the top of
///        loom/train/metrics.hpp): update() per batch, additive sums(), reset().
template <class M>
concept Metric = requires {
  typename M::metric_type;
  typename M::target_type;
}
&&std::is_same_v<typename M::metric_type, M>&& requires(
    M& m, M const& cm, Kokkos::DefaultHostExecutionSpace const& space,
    Kokkos::View<float const**, Kokkos::HostSpace> const& output,
    typename detail::targets_archetype<typename M::target_type>::type const& targets) {
  m.update(space, output, targets);
  { m.sums() } -> std::same_as<std::span<double>>;
  { cm.sums() } -> std::same_as<std::span<double const>>;
  m.reset();
};

/// \brief Top-k accuracy: the fraction of samples whose label is among the k largest outputs.
///
/// Ties: a sample counts as correct when fewer than k outputs are strictly larger than the
/// output at its label. A label tied with others at the k-th place is therefore inside the top
/// k, and with k = 1 a label tied for the maximum counts, where arg-max accuracy
/// (SoftmaxCrossEntropy's `correct`) takes the first maximum only; on data without ties the two
/// agree. A NaN output at the label never counts. Labels outside [0, outputs) are skipped and
/// counted in invalid(); count() is the number of valid samples.
class TopK {
public:
  using metric_type = TopK;         ///< \brief TopK models metrics::Metric.
  using target_type = std::int32_t; ///< \brief Class labels, one per sample.

  /// \brief An empty accumulator of top-k accuracy.
  /// \param k how many of the largest outputs a label may be among (≥ 1; k = 1 is accuracy)
  /// \throws loom::Error when k < 1
  explicit TopK(int k)
      : k_(k) {
    if (k < 1) {
      loom::detail::fail("loom::metrics::TopK: k = ", k,
                         " but k must be at least 1 (k = 1 is plain accuracy, k = 5 top-5)");
    }
  }

  /// \brief Adds a batch: one kernel on `space` counting, per sample, the outputs strictly
  ///        larger than the output at its label.
  /// \param output batch × outputs logits (or any scores ordered as the classes' likelihood)
  /// \param labels batch class labels
  /// \throws loom::Error when the batch sizes differ or k exceeds the number of outputs
  template <class ExecutionSpace, class OutputView, class LabelView>
  void update(ExecutionSpace const& space, OutputView const& output, LabelView const& labels) {
    if constexpr (detail::check_valid_output<ExecutionSpace, OutputView>() &&
                  detail::check_valid_labels<ExecutionSpace, LabelView>()) {
      detail::check_same_batch("loom::metrics::TopK::update", output.extent(0), labels.extent(0));
      int const rows = static_cast<int>(output.extent(0));
      int const classes = static_cast<int>(output.extent(1));
      if (k_ > classes) {
        loom::detail::fail("loom::metrics::TopK: k = ", k_, " but the network has ", classes,
                           " outputs; k must be at most the number of classes");
      }
      int const top_k = k_;
      long correct = 0;
      long invalid = 0;
      Kokkos::parallel_reduce(
          "loom::metrics::TopK::update", Kokkos::RangePolicy<ExecutionSpace>(space, 0, rows),
          KOKKOS_LAMBDA(int i, long& correct_sum, long& invalid_sum) {
            int const label = static_cast<int>(labels(i));
            if (label < 0 || label >= classes) {
              invalid_sum += 1;
              return;
            }
            auto const at_label = output(i, label);
            if (!(at_label == at_label)) { // NaN
              return;
            }
            int larger = 0;
            for (int j = 0; j < classes; ++j) {
              larger += output(i, j) > at_label ? 1 : 0;
            }
            correct_sum += larger < top_k ? 1 : 0;
          },
          correct, invalid);
      sums_[0] += static_cast<double>(correct);
      sums_[1] += static_cast<double>(rows - invalid);
      sums_[2] += static_cast<double>(invalid);
    }
  }

  /// \brief The state: {correct, count, invalid}.
  std::span<double> sums() { return sums_; }
  /// \brief The state: {correct, count, invalid}.
  std::span<double const> sums() const { return sums_; }
  /// \brief Forgets every batch.
  void reset() { sums_.fill(0.0); }

  /// \brief The k of top-k.
  int k() const { return k_; }
  /// \brief Samples with a valid label.
  std::size_t count() const { return static_cast<std::size_t>(sums_[1]); }
  /// \brief Samples whose label is among the k largest outputs.
  std::size_t correct() const { return static_cast<std::size_t>(sums_[0]); }
  /// \brief Samples skipped for a label outside [0, outputs).
  std::size_t invalid() const { return static_cast<std::size_t>(sums_[2]); }
  /// \brief correct() / count(), 0 when no valid sample was seen.
  double accuracy() const { return detail::ratio(sums_[0], sums_[1]); }

private:
  int k_;
  std::array<double, 3> sums_{};
};

/// \brief A confusion matrix over a fixed number of classes: at(label, predicted) counts the
///        samples of class `label` whose prediction is `predicted`, the arg-max output (the
///        first maximum on ties, as SoftmaxCrossEntropy counts `correct`), with per-class
///        precision, recall and F1 computed from it.
///
/// Labels outside [0, classes) are skipped and counted in invalid(). Per class c, with
/// tp = at(c, c), precision = tp / (samples predicted c), recall = tp / (samples labelled c),
/// F1 = 2 tp / (samples predicted c + samples labelled c), the harmonic mean of the two; each
/// is 0 where its denominator is 0 (scikit-learn's zero_division=0).
class ConfusionMatrix {
public:
  using metric_type = ConfusionMatrix; ///< \brief ConfusionMatrix models metrics::Metric.
  using target_type = std::int32_t;    ///< \brief Class labels, one per sample.

  /// \brief An empty matrix.
  /// \param classes the network's number of outputs (≥ 2)
  /// \throws loom::Error when classes < 2
  explicit ConfusionMatrix(int classes)
      : classes_(classes) {
    if (classes < 2) {
      loom::detail::fail("loom::metrics::ConfusionMatrix: classes = ", classes,
                         " but a classifier has at least 2 classes; give the network's number "
                         "of outputs");
    }
    sums_.assign(static_cast<std::size_t>(classes) * static_cast<std::size_t>(classes) + 1, 0.0);
  }

  /// \brief Adds a batch: one kernel on `space` finding each sample's arg-max and counting it
  ///        in a small matrix in the execution space's memory, then added to the sums here.
  /// \param output batch × classes logits
  /// \param labels batch class labels
  /// \throws loom::Error when the batch sizes differ or output does not have classes() columns
  template <class ExecutionSpace, class OutputView, class LabelView>
  void update(ExecutionSpace const& space, OutputView const& output, LabelView const& labels) {
    if constexpr (detail::check_valid_output<ExecutionSpace, OutputView>() &&
                  detail::check_valid_labels<ExecutionSpace, LabelView>()) {
      detail::check_same_batch("loom::metrics::ConfusionMatrix::update", output.extent(0),
                               labels.extent(0));
      if (output.extent(1) != static_cast<std::size_t>(classes_)) {
        loom::detail::fail("loom::metrics::ConfusionMatrix: the network has ", output.extent(1),
                           " outputs but the matrix was constructed for ", classes_,
                           " classes; construct it with the network's number of outputs");
      }
      using MemorySpace = typename ExecutionSpace::memory_space;
      int const rows = static_cast<int>(output.extent(0));
      int const classes = classes_;
      std::size_t const entries = static_cast<std::size_t>(classes) * classes;
      Kokkos::View<int*, MemorySpace> counts("loom::metrics::ConfusionMatrix::counts", entries);
      long invalid = 0;
      Kokkos::parallel_reduce(
          "loom::metrics::ConfusionMatrix::update",
          Kokkos::RangePolicy<ExecutionSpace>(space, 0, rows),
          KOKKOS_LAMBDA(int i, long& invalid_sum) {
            int const label = static_cast<int>(labels(i));
            if (label < 0 || label >= classes) {
              invalid_sum += 1;
              return;
            }
            auto top = output(i, 0);
            int arg = 0;
            for (int j = 1; j < classes; ++j) {
              if (output(i, j) > top) {
                top = output(i, j);
                arg = j;
              }
            }
            Kokkos::atomic_add(&counts(static_cast<std::size_t>(label) * classes + arg), 1);
          },
          invalid);
      auto const host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), counts);
      for (std::size_t e = 0; e < host.extent(0); ++e) {
        sums_[e] += static_cast<double>(host(e));
      }
      sums_.back() += static_cast<double>(invalid);
    }
  }

  /// \brief The state: the classes × classes counts row by row (row = label), then invalid().
  std::span<double> sums() { return sums_; }
  /// \brief The state: the classes × classes counts row by row (row = label), then invalid().
  std::span<double const> sums() const { return sums_; }
  /// \brief Forgets every batch.
  void reset() { std::fill(sums_.begin(), sums_.end(), 0.0); }

  /// \brief The number of classes.
  int classes() const { return classes_; }
  /// \brief Samples of class `label` predicted as `predicted`.
  /// \throws loom::Error when either is outside [0, classes())
  std::size_t at(int label, int predicted) const {
    check_class("at(label, predicted)", "label", label);
    check_class("at(label, predicted)", "predicted", predicted);
    return static_cast<std::size_t>(entry(label, predicted));
  }
  /// \brief Samples with a valid label (the sum of the matrix).
  std::size_t count() const { return static_cast<std::size_t>(total()); }
  /// \brief Samples skipped for a label outside [0, classes()).
  std::size_t invalid() const { return static_cast<std::size_t>(sums_.back()); }
  /// \brief Samples labelled c (the row sum).
  std::size_t support(int c) const {
    check_class("support(c)", "c", c);
    return static_cast<std::size_t>(row_sum(c));
  }
  /// \brief Samples predicted as c (the column sum).
  std::size_t predictions(int c) const {
    check_class("predictions(c)", "c", c);
    return static_cast<std::size_t>(column_sum(c));
  }
  /// \brief Of the samples predicted c, the fraction labelled c; 0 when none is predicted c.
  double precision(int c) const {
    check_class("precision(c)", "c", c);
    return detail::ratio(entry(c, c), column_sum(c));
  }
  /// \brief Of the samples labelled c, the fraction predicted c; 0 when none is labelled c.
  double recall(int c) const {
    check_class("recall(c)", "c", c);
    return detail::ratio(entry(c, c), row_sum(c));
  }
  /// \brief The harmonic mean of precision(c) and recall(c), 2 tp / (predicted c + labelled
  ///        c); 0 when neither occurs.
  double f1(int c) const {
    check_class("f1(c)", "c", c);
    return detail::ratio(2 * entry(c, c), column_sum(c) + row_sum(c));
  }
  /// \brief The mean of f1(c) over the classes that occur as a label or a prediction
  ///        (scikit-learn's f1_score(average='macro') without `labels`); 0 for an empty
  ///        matrix.
  double macro_f1() const {
    double sum = 0;
    int present = 0;
    for (int c = 0; c < classes_; ++c) {
      double const both = column_sum(c) + row_sum(c);
      if (both > 0) {
        sum += 2 * entry(c, c) / both;
        ++present;
      }
    }
    return detail::ratio(sum, present);
  }
  /// \brief The trace over count(): arg-max accuracy, 0 for an empty matrix.
  double accuracy() const {
    double trace = 0;
    for (int c = 0; c < classes_; ++c) {
      trace += entry(c, c);
    }
    return detail::ratio(trace, total());
  }

  /// \brief The matrix as an aligned table (rows: label, columns: predicted), then precision,
  ///        recall, F1 and support per class, then accuracy and macro F1.
  /// \param names one name per class (e.g. data::fashion_mnist_class_names()), or none for
  ///              the class numbers
  /// \throws loom::Error when names are given but not one per class
  std::string to_string(std::span<std::string_view const> names = {}) const {
    if (!names.empty() && names.size() != static_cast<std::size_t>(classes_)) {
      loom::detail::fail("loom::metrics::ConfusionMatrix::to_string: ", names.size(),
                         " class names given for ", classes_,
                         " classes; give one name per class, or none");
    }
    std::size_t const n = static_cast<std::size_t>(classes_);
    std::vector<std::string> label(n);
    for (std::size_t c = 0; c < n; ++c) {
      label[c] = names.empty() ? std::to_string(c) : std::string(names[c]);
    }
    std::string_view const corner = "label";
    std::size_t name_width = corner.size();
    for (auto const& l : label) {
      name_width = std::max(name_width, l.size());
    }
    std::string out = "confusion matrix (rows: label, columns: predicted)\n";
    std::vector<std::size_t> width(n);
    for (std::size_t j = 0; j < n; ++j) {
      width[j] = label[j].size();
      for (std::size_t i = 0; i < n; ++i) {
        width[j] = std::max(width[j], std::to_string(at(int(i), int(j))).size());
      }
    }
    out += detail::pad(corner, name_width, false);
    for (std::size_t j = 0; j < n; ++j) {
      out += "  " + detail::pad(label[j], width[j], true);
    }
    out += '\n';
    for (std::size_t i = 0; i < n; ++i) {
      out += detail::pad(label[i], name_width, false);
      for (std::size_t j = 0; j < n; ++j) {
        out += "  " + detail::pad(std::to_string(at(int(i), int(j))), width[j], true);
      }
      out += '\n';
    }
    std::string_view const columns[] = {"precision", "recall", "f1", "support"};
    std::size_t support_width = columns[3].size();
    for (std::size_t c = 0; c < n; ++c) {
      support_width = std::max(support_width, std::to_string(support(int(c))).size());
    }
    out += '\n' + detail::pad("class", name_width, false);
    for (std::size_t k = 0; k < 3; ++k) {
      out += "  " + detail::pad(columns[k], std::max<std::size_t>(columns[k].size(), 5), true);
    }
    out += "  " + detail::pad(columns[3], support_width, true) + '\n';
    for (std::size_t c = 0; c < n; ++c) {
      int const ci = static_cast<int>(c);
      double const values[] = {precision(ci), recall(ci), f1(ci)};
      out += detail::pad(label[c], name_width, false);
      for (std::size_t k = 0; k < 3; ++k) {
        out += "  " + detail::pad(detail::format("%.3f", values[k]),
                                  std::max<std::size_t>(columns[k].size(), 5), true);
      }
      out += "  " + detail::pad(std::to_string(support(ci)), support_width, true) + '\n';
    }
    out += "\naccuracy " + detail::format("%.4f", accuracy()) + ", macro F1 " +
           detail::format("%.4f", macro_f1()) + " over " + std::to_string(count()) + " samples; " +
           std::to_string(invalid()) + " invalid labels skipped\n";
    return out;
  }

private:
  double entry(int label, int predicted) const {
    return sums_[static_cast<std::size_t>(label) * static_cast<std::size_t>(classes_) +
                 static_cast<std::size_t>(predicted)];
  }
  double row_sum(int c) const {
    double sum = 0;
    for (int j = 0; j < classes_; ++j) {
      sum += entry(c, j);
    }
    return sum;
  }
  double column_sum(int c) const {
    double sum = 0;
    for (int i = 0; i < classes_; ++i) {
      sum += entry(i, c);
    }
    return sum;
  }
  double total() const {
    double sum = 0;
    for (std::size_t e = 0; e + 1 < sums_.size(); ++e) {
      sum += sums_[e];
    }
    return sum;
  }
  void check_class(char const* call, char const* argument, int c) const {
    if (c < 0 || c >= classes_) {
      loom::detail::fail("loom::metrics::ConfusionMatrix::", call, ": ", argument, " = ", c,
                         " is not a class; classes are 0 to ", classes_ - 1);
    }
  }

  int classes_;
  std::vector<double> sums_;
};

/// \brief Regression errors over every target value: mean squared error, its root, mean
///        absolute error and the coefficient of determination R².
///
/// Over the N = count() · outputs target values t with outputs y, and d = y - t computed in
/// the output's scalar type as loom::MSE computes it:
///   mse  = Σ d² / N         (loom::MSE's mean reduction, PyTorch's MSELoss(reduction='mean'))
///   rmse = √mse
///   mae  = Σ |d| / N
///   r2   = 1 - SS_res / SS_tot, SS_res = Σ d², SS_tot = Σ (t - t̄)² = Σ t² - (Σ t)² / N with
///          t̄ the mean of all target values (scikit-learn's r2_score on the flattened values)
/// The sums are accumulated in double. SS_tot = Σ t² - (Σ t)² / N cancels: it keeps about
/// 16 - log10(t̄² / variance) of double's 16 digits (8 for targets 10⁴ standard deviations from
/// 0), enough unless the targets' mean is millions of standard deviations from 0; standardise
/// such targets (data::standardize). When SS_tot is not above 4 N ε Σ t² (ε = 2⁻⁵², a bound on
/// the rounding of the sums) the targets are constant as far as the sums can tell: R² is then
/// undefined and r2() returns NaN, as it does before any value is seen. mse(), rmse() and mae()
/// return 0 before any value is seen.
class Regression {
public:
  using metric_type = Regression; ///< \brief Regression models metrics::Metric.
  using target_type = float;      ///< \brief Target values, one per output (float or double).

  /// \brief An empty accumulator.
  Regression() = default;

  /// \brief Adds a batch: one kernel on `space` reducing Σ d², Σ |d|, Σ t and Σ t².
  /// \param output  batch × outputs
  /// \param targets batch × outputs
  /// \throws loom::Error when the shapes of output and targets differ
  template <class ExecutionSpace, class OutputView, class TargetView>
  void update(ExecutionSpace const& space, OutputView const& output, TargetView const& targets) {
    if constexpr (detail::check_valid_output<ExecutionSpace, OutputView>() &&
                  detail::check_valid_regression_targets<ExecutionSpace, TargetView>()) {
      if (output.extent(0) != targets.extent(0) || output.extent(1) != targets.extent(1)) {
        loom::detail::fail("loom::metrics::Regression::update: output is ", output.extent(0), " × ",
                           output.extent(1), " but targets is ", targets.extent(0), " × ",
                           targets.extent(1), "; give one target per output of each sample");
      }
      using Scalar = typename OutputView::non_const_value_type;
      int const rows = static_cast<int>(output.extent(0));
      int const cols = static_cast<int>(output.extent(1));
      double squared = 0;
      double absolute = 0;
      double target_sum = 0;
      double target_squares = 0;
      Kokkos::parallel_reduce(
          "loom::metrics::Regression::update", Kokkos::RangePolicy<ExecutionSpace>(space, 0, rows),
          KOKKOS_LAMBDA(int i, double& sq, double& ab, double& ts, double& ts2) {
            for (int j = 0; j < cols; ++j) {
              Scalar const diff = output(i, j) - static_cast<Scalar>(targets(i, j));
              double const d = static_cast<double>(diff);
              double const t = static_cast<double>(targets(i, j));
              sq += d * d;
              ab += d < 0 ? -d : d;
              ts += t;
              ts2 += t * t;
            }
          },
          squared, absolute, target_sum, target_squares);
      sums_[0] += static_cast<double>(rows);
      sums_[1] += static_cast<double>(rows) * static_cast<double>(cols);
      sums_[2] += squared;
      sums_[3] += absolute;
      sums_[4] += target_sum;
      sums_[5] += target_squares;
    }
  }

  /// \brief The state: {samples, values, Σ d², Σ |d|, Σ t, Σ t²}.
  std::span<double> sums() { return sums_; }
  /// \brief The state: {samples, values, Σ d², Σ |d|, Σ t, Σ t²}.
  std::span<double const> sums() const { return sums_; }
  /// \brief Forgets every batch.
  void reset() { sums_.fill(0.0); }

  /// \brief Samples seen.
  std::size_t count() const { return static_cast<std::size_t>(sums_[0]); }
  /// \brief Target values seen: samples × outputs, the N that the means divide by.
  std::size_t num_values() const { return static_cast<std::size_t>(sums_[1]); }
  /// \brief Σ d² / N: the mean squared error, as loom::MSE's mean; 0 before any value.
  double mse() const { return detail::ratio(sums_[2], sums_[1]); }
  /// \brief √mse().
  double rmse() const { return std::sqrt(mse()); }
  /// \brief Σ |d| / N: the mean absolute error; 0 before any value.
  double mae() const { return detail::ratio(sums_[3], sums_[1]); }
  /// \brief 1 - SS_res / SS_tot over all target values (see the class); NaN when the targets
  ///        are constant or none was seen.
  double r2() const {
    double const n = sums_[1];
    double const total = sums_[5] - sums_[4] * (n > 0 ? sums_[4] / n : 0.0);
    if (!(total > 4 * n * std::numeric_limits<double>::epsilon() * sums_[5])) {
      return std::numeric_limits<double>::quiet_NaN();
    }
    return 1.0 - sums_[2] / total;
  }

private:
  std::array<double, 6> sums_{};
};

static_assert(Metric<TopK>);
static_assert(Metric<ConfusionMatrix>);
static_assert(Metric<Regression>);

} // namespace loom::metrics
