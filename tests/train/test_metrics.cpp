#include <loom/core/error.hpp>
#include <loom/data/fashion_mnist.hpp>
#include <loom/loss/mse.hpp>
#include <loom/loss/softmax_cross_entropy.hpp>
#include <loom/train/metrics.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "loom_test.hpp"

namespace {

using namespace loom;
using ExecutionSpace = test::ExecutionSpace;
using Memory = test::MemorySpace;

template <class Scalar>
using Matrix = Kokkos::View<Scalar**, Kokkos::LayoutRight, Memory>;
using Labels = Kokkos::View<std::int32_t*, Memory>;

/// rows × cols on the device from row-major values.
template <class Scalar>
Matrix<Scalar> matrix(std::vector<Scalar> const& values, std::size_t cols) {
  Matrix<Scalar> m("m", values.size() / cols, cols);
  auto h = Kokkos::create_mirror_view(m);
  std::copy(values.begin(), values.end(), h.data());
  Kokkos::deep_copy(m, h);
  return m;
}

Labels labels(std::vector<std::int32_t> const& values) {
  Labels l("labels", values.size());
  auto h = Kokkos::create_mirror_view(l);
  std::copy(values.begin(), values.end(), h.data());
  Kokkos::deep_copy(l, h);
  return l;
}

/// Rows [begin, end) of a batch, as the views a loader would give for a smaller batch.
template <class View>
auto rows(View const& v, std::size_t begin, std::size_t end) {
  if constexpr (View::rank == 1) {
    return Kokkos::subview(v, std::make_pair(begin, end));
  } else {
    return Kokkos::subview(v, std::make_pair(begin, end), Kokkos::ALL);
  }
}

/// Runs f and returns the message of the loom::Error it throws ("" if none).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (loom::Error const& e) {
    return e.what();
  }
  return "";
}

template <class M>
std::vector<double> state(M const& m) {
  return {m.sums().begin(), m.sums().end()};
}

/// The element-wise sum of the states of a and b, written into a (what an all-reduce does).
template <class M>
void add_sums(M& a, M const& b) {
  ASSERT_EQ(a.sums().size(), b.sums().size());
  for (std::size_t e = 0; e < a.sums().size(); ++e) {
    a.sums()[e] += b.sums()[e];
  }
}

// ---- TopK -----------------------------------------------------------------------------------

// 4 classes. Per row: the label, and how many outputs are strictly larger than the label's.
//   row 0: label 1, 0.9 > 0.5                        1 larger
//   row 1: label 2, tied with 0 and 1 for the top    0 larger
//   row 2: label 2, tied with 1 below 3              1 larger
//   row 3: label 0, the two 5s above it              2 larger
//   row 4: label 4, outside [0, 4)                   invalid
//   row 5: label -1                                  invalid
//   row 6: label 3, the smallest                     3 larger
std::vector<double> const topk_outputs = {0.1, 0.5, 0.2, 0.9, //
                                          1,   1,   1,   0,   //
                                          3,   2,   2,   1,   //
                                          0,   0,   5,   5,   //
                                          9,   0,   0,   0,   //
                                          9,   0,   0,   0,   //
                                          4,   3,   2,   1};
std::vector<std::int32_t> const topk_labels = {1, 2, 2, 0, 4, -1, 3};

TEST(metrics_top_k, by_hand_with_ties_and_invalid_labels) {
  auto const y = matrix(topk_outputs, 4);
  auto const t = labels(topk_labels);
  std::size_t const expected_correct[] = {1, 3, 4, 5}; // k = 1: row 1; k = 2: + rows 0, 2; …
  for (int k = 1; k <= 4; ++k) {
    metrics::TopK top(k);
    top.update(ExecutionSpace(), y, t);
    EXPECT_EQ(top.k(), k);
    EXPECT_EQ(top.count(), 5u);
    EXPECT_EQ(top.invalid(), 2u);
    EXPECT_EQ(top.correct(), expected_correct[k - 1]) << "k = " << k;
    EXPECT_DOUBLE_EQ(top.accuracy(), double(expected_correct[k - 1]) / 5) << "k = " << k;
  }
}

TEST(metrics_top_k, const_float_views_and_nan_outputs) {
  // A NaN at the label never counts, even though nothing is larger than it.
  float const nan = std::numeric_limits<float>::quiet_NaN();
  Matrix<float> y = matrix<float>({nan, 0, 1, 0, 2, 1}, 3);
  Kokkos::View<float const**, Kokkos::LayoutRight, Memory> const cy = y;
  Kokkos::View<std::int32_t const*, Memory> const ct = labels({0, 2});
  metrics::TopK top(2);
  top.update(ExecutionSpace(), cy, ct);
  EXPECT_EQ(top.count(), 2u);
  EXPECT_EQ(top.correct(), 1u);
}

TEST(metrics_top_k, empty_is_zero) {
  metrics::TopK top(3);
  EXPECT_EQ(top.count(), 0u);
  EXPECT_EQ(top.accuracy(), 0.0);
  top.update(ExecutionSpace(), Matrix<float>("y", 0, 4), Labels("t", 0));
  EXPECT_EQ(top.count(), 0u);
  EXPECT_EQ(top.accuracy(), 0.0);
}

TEST(metrics_top_k, top_1_equals_softmax_cross_entropy_without_ties) {
  std::mt19937 gen(7);
  std::normal_distribution<double> normal;
  std::uniform_int_distribution<std::int32_t> label(0, 9);
  std::size_t const n = 500;
  std::vector<double> values(n * 10);
  std::vector<std::int32_t> lab(n);
  for (auto& v : values) {
    v = normal(gen);
  }
  for (auto& l : lab) {
    l = label(gen);
  }
  for (std::size_t i = 0; i < n; i += 2) {
    values[i * 10 + std::size_t(lab[i])] += 1.5; // make some predictions right
  }
  auto const y = matrix(values, 10);
  auto const t = labels(lab);
  Matrix<double> grad("grad", n, 10);
  auto const loss = SoftmaxCrossEntropy::compute(ExecutionSpace(), y, t, grad, 1.0);
  metrics::TopK top(1);
  top.update(ExecutionSpace(), y, t);
  EXPECT_GT(loss.correct, n / 4);
  EXPECT_EQ(top.correct(), loss.correct);
  EXPECT_EQ(top.count(), loss.count);
  EXPECT_DOUBLE_EQ(top.accuracy(), loss.accuracy());
  metrics::ConfusionMatrix confusion(10);
  confusion.update(ExecutionSpace(), y, t);
  EXPECT_DOUBLE_EQ(confusion.accuracy(), loss.accuracy());
}

TEST(metrics_top_k, errors) {
  EXPECT_EQ(error_of([] { metrics::TopK top(0); }),
            "loom::metrics::TopK: k = 0 but k must be at least 1 (k = 1 is plain accuracy, k = 5 "
            "top-5)");
  EXPECT_NE(error_of([] { metrics::TopK top(-3); }).find("k = -3 but k must be at least 1"),
            std::string::npos);
  auto const y = matrix(topk_outputs, 4);
  auto const t = labels(topk_labels);
  metrics::TopK top(5);
  EXPECT_EQ(error_of([&] { top.update(ExecutionSpace(), y, t); }),
            "loom::metrics::TopK: k = 5 but the network has 4 outputs; k must be at most the "
            "number of classes");
  metrics::TopK top1(1);
  EXPECT_EQ(error_of([&] { top1.update(ExecutionSpace(), y, rows(t, 0, 3)); }),
            "loom::metrics::TopK::update: output holds 7 samples but targets holds 3; give the "
            "targets of the same batch");
  EXPECT_EQ(top.count() + top1.count(), 0u); // a refused batch adds nothing
}

// ---- ConfusionMatrix -------------------------------------------------------------------------

// 3 classes; (label, predicted) counts:
//            predicted 0  1  2   support
//   label 0            2  1  0   3
//   label 1            1  3  1   5   (one of the 1 → 0 rows ties 0 and 1: the first wins)
//   label 2            1  0  2   3
//   predicted          4  4  3
// plus two invalid labels (3 and -1).
struct ThreeClasses {
  std::vector<float> outputs;
  std::vector<std::int32_t> labels;
  ThreeClasses() {
    auto const add = [&](std::int32_t label, int predicted) {
      float row[3] = {0.25f * float(label), -1, 0.5f};
      row[predicted] = 3;
      outputs.insert(outputs.end(), row, row + 3);
      labels.push_back(label);
    };
    add(0, 0), add(1, 1), add(2, 2), add(0, 1), add(1, 2), add(2, 0);
    outputs.insert(outputs.end(), {2, 2, 0}); // label 1, predicted 0 on a tie
    labels.push_back(1);
    add(3, 1), add(1, 1), add(0, 0), add(-1, 2), add(2, 2), add(1, 1);
  }
};

TEST(metrics_confusion_matrix, three_classes_by_hand) {
  ThreeClasses const data;
  metrics::ConfusionMatrix m(3);
  m.update(ExecutionSpace(), matrix(data.outputs, 3), labels(data.labels));
  std::size_t const expected[3][3] = {{2, 1, 0}, {1, 3, 1}, {1, 0, 2}};
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      EXPECT_EQ(m.at(i, j), expected[i][j]) << "label " << i << ", predicted " << j;
    }
  }
  EXPECT_EQ(m.classes(), 3);
  EXPECT_EQ(m.count(), 11u);
  EXPECT_EQ(m.invalid(), 2u);
  EXPECT_EQ(m.support(0), 3u);
  EXPECT_EQ(m.support(1), 5u);
  EXPECT_EQ(m.support(2), 3u);
  EXPECT_EQ(m.predictions(0), 4u);
  EXPECT_EQ(m.predictions(1), 4u);
  EXPECT_EQ(m.predictions(2), 3u);
  EXPECT_DOUBLE_EQ(m.precision(0), 2.0 / 4);
  EXPECT_DOUBLE_EQ(m.precision(1), 3.0 / 4);
  EXPECT_DOUBLE_EQ(m.precision(2), 2.0 / 3);
  EXPECT_DOUBLE_EQ(m.recall(0), 2.0 / 3);
  EXPECT_DOUBLE_EQ(m.recall(1), 3.0 / 5);
  EXPECT_DOUBLE_EQ(m.recall(2), 2.0 / 3);
  // F1 = 2 P R / (P + R): class 0: 2 · 1/2 · 2/3 / (7/6) = 4/7
  EXPECT_DOUBLE_EQ(m.f1(0), 4.0 / 7);
  EXPECT_DOUBLE_EQ(m.f1(1), 2 * 0.75 * 0.6 / (0.75 + 0.6));
  EXPECT_DOUBLE_EQ(m.f1(2), 2.0 / 3);
  EXPECT_DOUBLE_EQ(m.macro_f1(), (4.0 / 7 + 2.0 / 3 + 2.0 / 3) / 3);
  EXPECT_DOUBLE_EQ(m.accuracy(), 7.0 / 11);
}

TEST(metrics_confusion_matrix, absent_classes_and_empty) {
  metrics::ConfusionMatrix m(3);
  EXPECT_EQ(m.count(), 0u);
  EXPECT_EQ(m.accuracy(), 0.0);
  EXPECT_EQ(m.macro_f1(), 0.0);
  EXPECT_EQ(m.precision(0), 0.0);
  EXPECT_EQ(m.recall(0), 0.0);
  EXPECT_EQ(m.f1(0), 0.0);
  // Class 2 is neither a label nor a prediction: it is left out of the macro average.
  // Class 1 is never predicted: precision 0 (nothing predicted), recall 0, F1 0.
  m.update(ExecutionSpace(), matrix<double>({5, 1, 0, 5, 1, 0, 4, 2, 0}, 3), labels({0, 1, 1}));
  EXPECT_EQ(m.at(0, 0), 1u);
  EXPECT_EQ(m.at(1, 0), 2u);
  EXPECT_DOUBLE_EQ(m.f1(0), 2.0 / 4);
  EXPECT_EQ(m.precision(1), 0.0);
  EXPECT_EQ(m.f1(1), 0.0);
  EXPECT_EQ(m.f1(2), 0.0);
  EXPECT_DOUBLE_EQ(m.macro_f1(), (0.5 + 0) / 2);
  EXPECT_DOUBLE_EQ(m.accuracy(), 1.0 / 3);
}

TEST(metrics_confusion_matrix, to_string_with_and_without_names) {
  ThreeClasses const data;
  metrics::ConfusionMatrix m(3);
  m.update(ExecutionSpace(), matrix(data.outputs, 3), labels(data.labels));
  std::array<std::string_view, 3> const names = {"cat", "dog", "hummingbird"};
  EXPECT_EQ(m.to_string(names), "confusion matrix (rows: label, columns: predicted)\n"
                                "label        cat  dog  hummingbird\n"
                                "cat            2    1            0\n"
                                "dog            1    3            1\n"
                                "hummingbird    1    0            2\n"
                                "\n"
                                "class        precision  recall     f1  support\n"
                                "cat              0.500   0.667  0.571        3\n"
                                "dog              0.750   0.600  0.667        5\n"
                                "hummingbird      0.667   0.667  0.667        3\n"
                                "\n"
                                "accuracy 0.6364, macro F1 0.6349 over 11 samples; 2 invalid "
                                "labels skipped\n");
  EXPECT_EQ(m.to_string(), "confusion matrix (rows: label, columns: predicted)\n"
                           "label  0  1  2\n"
                           "0      2  1  0\n"
                           "1      1  3  1\n"
                           "2      1  0  2\n"
                           "\n"
                           "class  precision  recall     f1  support\n"
                           "0          0.500   0.667  0.571        3\n"
                           "1          0.750   0.600  0.667        5\n"
                           "2          0.667   0.667  0.667        3\n"
                           "\n"
                           "accuracy 0.6364, macro F1 0.6349 over 11 samples; 2 invalid "
                           "labels skipped\n");
}

TEST(metrics_confusion_matrix, to_string_takes_fashion_mnist_names) {
  // 10 classes, 1000 samples of class 0 all predicted 0: the widest count has 4 digits.
  std::vector<float> outputs(1000 * 10, 0.0f);
  for (std::size_t i = 0; i < 1000; ++i) {
    outputs[i * 10] = 1;
  }
  metrics::ConfusionMatrix m(10);
  m.update(ExecutionSpace(), matrix(outputs, 10), labels(std::vector<std::int32_t>(1000, 0)));
  std::string const text = m.to_string(data::fashion_mnist_class_names());
  std::vector<std::string> lines;
  for (std::size_t begin = 0, end; (end = text.find('\n', begin)) != std::string::npos;
       begin = end + 1) {
    lines.push_back(text.substr(begin, end - begin));
  }
  ASSERT_GE(lines.size(), 12u);
  EXPECT_EQ(lines[1].rfind("label        T-shirt/top  Trouser  Pullover", 0), 0u) << lines[1];
  EXPECT_EQ(lines[2].rfind("T-shirt/top         1000        0", 0), 0u) << lines[2];
  for (std::size_t i = 2; i < 12; ++i) { // every matrix row as wide as the header
    EXPECT_EQ(lines[i].size(), lines[1].size()) << lines[i];
  }
  EXPECT_NE(text.find("\nAnkle boot "), std::string::npos);
}

TEST(metrics_confusion_matrix, errors) {
  EXPECT_EQ(error_of([] { metrics::ConfusionMatrix m(1); }),
            "loom::metrics::ConfusionMatrix: classes = 1 but a classifier has at least 2 "
            "classes; give the network's number of outputs");
  metrics::ConfusionMatrix m(3);
  EXPECT_EQ(
      error_of([&] { m.update(ExecutionSpace(), matrix(topk_outputs, 4), labels(topk_labels)); }),
      "loom::metrics::ConfusionMatrix: the network has 4 outputs but the matrix was "
      "constructed for 3 classes; construct it with the network's number of outputs");
  EXPECT_EQ(error_of([&] {
              m.update(ExecutionSpace(), matrix<float>({1, 2, 3}, 3), labels({0, 1}));
            }),
            "loom::metrics::ConfusionMatrix::update: output holds 1 samples but targets holds 2; "
            "give the targets of the same batch");
  EXPECT_EQ(m.count() + m.invalid(), 0u);
  EXPECT_EQ(error_of([&] { (void)m.at(3, 0); }),
            "loom::metrics::ConfusionMatrix::at(label, predicted): label = 3 is not a class; "
            "classes are 0 to 2");
  EXPECT_EQ(error_of([&] { (void)m.at(0, -1); }),
            "loom::metrics::ConfusionMatrix::at(label, predicted): predicted = -1 is not a "
            "class; classes are 0 to 2");
  EXPECT_EQ(error_of([&] { (void)m.precision(-1); }),
            "loom::metrics::ConfusionMatrix::precision(c): c = -1 is not a class; classes are "
            "0 to 2");
  EXPECT_NE(error_of([&] { (void)m.recall(3); }).find("recall(c): c = 3 is not a class"),
            std::string::npos);
  EXPECT_NE(error_of([&] { (void)m.f1(3); }).find("f1(c): c = 3 is not a class"),
            std::string::npos);
  EXPECT_NE(error_of([&] { (void)m.support(3); }).find("support(c): c = 3"), std::string::npos);
  EXPECT_NE(error_of([&] { (void)m.predictions(3); }).find("predictions(c): c = 3"),
            std::string::npos);
  std::array<std::string_view, 2> const two = {"a", "b"};
  EXPECT_EQ(error_of([&] { (void)m.to_string(two); }),
            "loom::metrics::ConfusionMatrix::to_string: 2 class names given for 3 classes; give "
            "one name per class, or none");
}

// ---- Regression ------------------------------------------------------------------------------

TEST(metrics_regression, by_hand) {
  // d = y - t = {1, 0, -2, 0}; t = {0, 2, 5, 4}, mean 11/4,
  // SS_tot = (11/4)² + (3/4)² + (9/4)² + (5/4)² = 236/16 = 14.75, SS_res = 5.
  metrics::Regression r;
  r.update(ExecutionSpace(), matrix<double>({1, 2, 3, 4}, 2), matrix<double>({0, 2, 5, 4}, 2));
  EXPECT_EQ(r.count(), 2u);
  EXPECT_EQ(r.num_values(), 4u);
  EXPECT_DOUBLE_EQ(r.mse(), 5.0 / 4);
  EXPECT_DOUBLE_EQ(r.rmse(), std::sqrt(5.0 / 4));
  EXPECT_DOUBLE_EQ(r.mae(), 3.0 / 4);
  EXPECT_DOUBLE_EQ(r.r2(), 1 - 5 / 14.75);
}

TEST(metrics_regression, perfect_constant_and_empty) {
  metrics::Regression r;
  EXPECT_EQ(r.mse(), 0.0);
  EXPECT_EQ(r.mae(), 0.0);
  EXPECT_TRUE(std::isnan(r.r2()));
  auto const t = matrix<float>({0.1f, -3, 7, 2.5f}, 1);
  r.update(ExecutionSpace(), t, t);
  EXPECT_EQ(r.mse(), 0.0);
  EXPECT_EQ(r.r2(), 1.0);
  // A model that predicts the mean explains nothing: R² = 0 (mean 3 is exact in binary).
  metrics::Regression mean;
  mean.update(ExecutionSpace(), matrix<float>({3, 3, 3, 3}, 2), matrix<float>({1, 5, 2, 4}, 2));
  EXPECT_DOUBLE_EQ(mean.r2(), 0.0);
  // Constant targets: R² is undefined, even for perfect predictions of 0.1 (not exact in
  // binary, so the sums round).
  metrics::Regression constant;
  auto const c = matrix<float>(std::vector<float>(999, 0.1f), 3);
  constant.update(ExecutionSpace(), c, c);
  constant.update(ExecutionSpace(), matrix<float>({1, 1, 1}, 3),
                  matrix<float>({0.1f, 0.1f, 0.1f}, 3));
  EXPECT_GT(constant.mse(), 0.0);
  EXPECT_TRUE(std::isnan(constant.r2()));
}

TEST(metrics_regression, mse_equals_the_mse_loss) {
  std::mt19937 gen(3);
  std::normal_distribution<float> normal;
  std::vector<float> y(257 * 5), t(257 * 5);
  for (std::size_t e = 0; e < y.size(); ++e) {
    y[e] = normal(gen);
    t[e] = normal(gen) + 0.5f * y[e];
  }
  auto const dy = matrix(y, 5);
  auto const dt = matrix(t, 5);
  Matrix<float> grad("grad", 257, 5);
  auto const loss = MSE::compute(ExecutionSpace(), dy, dt, grad, 1.0);
  metrics::Regression r;
  r.update(ExecutionSpace(), dy, dt);
  EXPECT_EQ(r.count(), loss.count);
  EXPECT_NEAR(r.mse(), loss.mean(), 1e-13 * loss.mean());
}

TEST(metrics_regression, r2_far_from_zero_against_two_passes) {
  // Targets 10⁴ standard deviations from 0 cancel 8 of double's 16 digits in SS_tot.
  std::mt19937 gen(11);
  std::normal_distribution<double> normal;
  std::size_t const n = 4000;
  std::vector<double> y(n), t(n);
  for (std::size_t i = 0; i < n; ++i) {
    t[i] = 1e4 + normal(gen);
    y[i] = t[i] + 0.3 * normal(gen);
  }
  double mean = 0;
  for (double v : t) {
    mean += v / double(n);
  }
  double res = 0;
  double tot = 0;
  for (std::size_t i = 0; i < n; ++i) {
    res += (y[i] - t[i]) * (y[i] - t[i]);
    tot += (t[i] - mean) * (t[i] - mean);
  }
  metrics::Regression r;
  r.update(ExecutionSpace(), matrix(y, 1), matrix(t, 1));
  EXPECT_NEAR(r.r2(), 1 - res / tot, 1e-6);
  EXPECT_NEAR(r.r2(), 0.91, 0.02);
}

TEST(metrics_regression, errors) {
  metrics::Regression r;
  EXPECT_EQ(
      error_of([&] {
        r.update(ExecutionSpace(), matrix<float>({1, 2, 3, 4}, 2), matrix<float>({1, 2, 3, 4}, 4));
      }),
      "loom::metrics::Regression::update: output is 2 × 2 but targets is 1 × 4; give one "
      "target per output of each sample");
  EXPECT_EQ(error_of([&] {
              r.update(ExecutionSpace(), matrix<float>({1, 2, 3, 4}, 2),
                       matrix<float>({1, 2, 3, 4, 5, 6}, 2));
            }),
            "loom::metrics::Regression::update: output is 2 × 2 but targets is 3 × 2; give one "
            "target per output of each sample");
  EXPECT_EQ(r.num_values(), 0u);
}

// ---- The accumulator laws, and a larger case against a host reference ----------------------

/// Random logits drawn from a few small integers (so ties are frequent), labels in [-1, classes]
/// (so some are invalid), and regression targets.
struct RandomBatch {
  static constexpr std::size_t classes = 7;
  std::size_t n;
  std::vector<float> logits;
  std::vector<std::int32_t> labels;
  std::vector<double> outputs, targets;
  explicit RandomBatch(std::size_t samples, unsigned seed)
      : n(samples)
      , logits(samples * classes)
      , labels(samples)
      , outputs(samples * 3)
      , targets(samples * 3) {
    std::mt19937 gen(seed);
    std::uniform_int_distribution<int> small(0, 4);
    std::uniform_int_distribution<std::int32_t> label(-1, std::int32_t(classes));
    std::normal_distribution<double> normal;
    for (auto& v : logits) {
      v = float(small(gen));
    }
    for (auto& l : labels) {
      l = label(gen);
    }
    for (std::size_t e = 0; e < outputs.size(); ++e) {
      targets[e] = 2 + normal(gen);
      outputs[e] = 0.8 * targets[e] + 0.5 * normal(gen);
    }
  }
};

TEST(metrics, against_a_host_reference) {
  RandomBatch const b(1500, 5);
  std::size_t const c = RandomBatch::classes;
  auto const logits = matrix(b.logits, c);
  auto const lab = labels(b.labels);
  // Host reference: top-k by counting strictly larger logits; confusion by the first arg-max.
  std::vector<std::size_t> correct(c + 1, 0);
  std::vector<std::size_t> confusion(c * c, 0);
  std::size_t valid = 0;
  std::size_t ties = 0;
  for (std::size_t i = 0; i < b.n; ++i) {
    auto const label = b.labels[i];
    if (label < 0 || label >= std::int32_t(c)) {
      continue;
    }
    ++valid;
    float const* row = &b.logits[i * c];
    std::size_t larger = 0;
    for (std::size_t j = 0; j < c; ++j) {
      larger += row[j] > row[label] ? 1 : 0;
    }
    for (std::size_t k = larger + 1; k <= c; ++k) {
      ++correct[k];
    }
    auto const arg = std::size_t(std::max_element(row, row + c) - row);
    ++confusion[std::size_t(label) * c + arg];
    ties += std::count(row, row + c, row[arg]) > 1 ? 1 : 0;
  }
  ASSERT_GT(ties, valid / 2); // the case exercises the tie rules
  ASSERT_LT(valid, b.n);
  for (int k = 1; k <= int(c); ++k) {
    metrics::TopK top(k);
    top.update(ExecutionSpace(), logits, lab);
    EXPECT_EQ(top.count(), valid);
    EXPECT_EQ(top.invalid(), b.n - valid);
    EXPECT_EQ(top.correct(), correct[std::size_t(k)]) << "k = " << k;
  }
  metrics::ConfusionMatrix m(static_cast<int>(c));
  m.update(ExecutionSpace(), logits, lab);
  for (std::size_t i = 0; i < c; ++i) {
    for (std::size_t j = 0; j < c; ++j) {
      EXPECT_EQ(m.at(int(i), int(j)), confusion[i * c + j]);
    }
  }
  EXPECT_EQ(m.invalid(), b.n - valid);

  double sq = 0, ab = 0, mean = 0;
  for (std::size_t e = 0; e < b.targets.size(); ++e) {
    mean += b.targets[e] / double(b.targets.size());
  }
  double tot = 0;
  for (std::size_t e = 0; e < b.targets.size(); ++e) {
    double const d = b.outputs[e] - b.targets[e];
    sq += d * d;
    ab += std::abs(d);
    tot += (b.targets[e] - mean) * (b.targets[e] - mean);
  }
  double const values = double(b.targets.size());
  metrics::Regression r;
  r.update(ExecutionSpace(), matrix(b.outputs, 3), matrix(b.targets, 3));
  EXPECT_EQ(r.count(), b.n);
  EXPECT_NEAR(r.mse(), sq / values, 1e-12);
  EXPECT_NEAR(r.rmse(), std::sqrt(sq / values), 1e-12);
  EXPECT_NEAR(r.mae(), ab / values, 1e-12);
  EXPECT_NEAR(r.r2(), 1 - sq / tot, 1e-12);
}

/// update(a); update(b) equals update(a ∪ b); the sums of accumulators over a and over b equal
/// the accumulator over both; reset() gives a new accumulator's state.
template <class M, class Output, class Targets>
void check_accumulates(M const& fresh, Output const& y, Targets const& t, std::size_t split,
                       double tolerance) {
  std::size_t const n = y.extent(0);
  M whole = fresh;
  whole.update(ExecutionSpace(), y, t);
  M batches = fresh;
  batches.update(ExecutionSpace(), rows(y, 0, split), rows(t, 0, split));
  batches.update(ExecutionSpace(), rows(y, split, n), rows(t, split, n));
  M rank0 = fresh;
  M rank1 = fresh;
  rank0.update(ExecutionSpace(), rows(y, 0, split), rows(t, 0, split));
  rank1.update(ExecutionSpace(), rows(y, split, n), rows(t, split, n));
  add_sums(rank0, rank1);
  auto const expected = state(whole);
  ASSERT_EQ(state(batches).size(), expected.size());
  bool some_nonzero = false;
  for (std::size_t e = 0; e < expected.size(); ++e) {
    some_nonzero = some_nonzero || expected[e] != 0;
    EXPECT_NEAR(state(batches)[e], expected[e], tolerance * std::abs(expected[e])) << "sum " << e;
    EXPECT_NEAR(state(rank0)[e], expected[e], tolerance * std::abs(expected[e])) << "sum " << e;
  }
  EXPECT_TRUE(some_nonzero);
  whole.reset();
  EXPECT_EQ(state(whole), state(fresh));
}

TEST(metrics, two_batches_and_two_ranks_equal_one) {
  RandomBatch const b(601, 9);
  auto const logits = matrix(b.logits, RandomBatch::classes);
  auto const lab = labels(b.labels);
  check_accumulates(metrics::TopK(3), logits, lab, 250, 0.0);
  check_accumulates(metrics::ConfusionMatrix(int(RandomBatch::classes)), logits, lab, 250, 0.0);
  check_accumulates(metrics::Regression(), matrix(b.outputs, 3), matrix(b.targets, 3), 250, 1e-13);
  // The results follow from the sums: the two-rank accumulator reports what one would.
  metrics::TopK one(2), rank0(2), rank1(2);
  one.update(ExecutionSpace(), logits, lab);
  rank0.update(ExecutionSpace(), rows(logits, 0, 100), rows(lab, 0, 100));
  rank1.update(ExecutionSpace(), rows(logits, 100, b.n), rows(lab, 100, b.n));
  add_sums(rank0, rank1);
  EXPECT_EQ(rank0.correct(), one.correct());
  EXPECT_DOUBLE_EQ(rank0.accuracy(), one.accuracy());
}

} // namespace
