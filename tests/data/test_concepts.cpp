#include <loom/data/concepts.hpp>
#include <loom/data/in_memory.hpp>

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace {

// The smallest type that models Dataset: sample i is (i, i, …), its label i % 3.
struct ArchetypeDataset {
  using target_type = std::int32_t;
  std::size_t size() const { return 5; }
  std::size_t sample_size() const { return 2; }
  std::size_t target_size() const { return 1; }
  std::string source() const { return "archetype"; }
  template <class Scalar>
  void gather(std::span<std::size_t const> idx, Scalar* x, target_type* y) const {
    for (std::size_t row = 0; row < idx.size(); ++row) {
      x[2 * row] = x[2 * row + 1] = static_cast<Scalar>(idx[row]);
      y[row] = static_cast<target_type>(idx[row] % 3);
    }
  }
};

struct NoTargetType {
  std::size_t size() const { return 0; }
  std::size_t sample_size() const { return 1; }
  std::size_t target_size() const { return 1; }
  std::string source() const { return ""; }
  void gather(std::span<std::size_t const>, float*, std::int32_t*) const {}
};

struct NoSource {
  using target_type = float;
  std::size_t size() const { return 0; }
  std::size_t sample_size() const { return 1; }
  std::size_t target_size() const { return 1; }
  void gather(std::span<std::size_t const>, float*, float*) const {}
};

struct GatherNotConst {
  using target_type = float;
  std::size_t size() const { return 0; }
  std::size_t sample_size() const { return 1; }
  std::size_t target_size() const { return 1; }
  std::string source() const { return ""; }
  void gather(std::span<std::size_t const>, float*, float*) {}
};

struct GatherWrongTarget {
  using target_type = std::int32_t;
  std::size_t size() const { return 0; }
  std::size_t sample_size() const { return 1; }
  std::size_t target_size() const { return 1; }
  std::string source() const { return ""; }
  void gather(std::span<std::size_t const>, float*, float*) const {}
};

static_assert(loom::data::Dataset<ArchetypeDataset>);
static_assert(loom::data::Dataset<ArchetypeDataset const>);
static_assert(loom::data::Dataset<loom::data::InMemoryDataset<>>);
static_assert(loom::data::Dataset<loom::data::InMemoryDataset<std::int32_t>>);
static_assert(loom::data::Dataset<loom::data::InMemoryDataset<float>>);
static_assert(!loom::data::Dataset<NoTargetType>);
static_assert(!loom::data::Dataset<NoSource>);
static_assert(!loom::data::Dataset<GatherNotConst>);
static_assert(!loom::data::Dataset<GatherWrongTarget>);
static_assert(!loom::data::Dataset<int>);

// What generic code (a trainer's batch loop) writes against the concept.
template <loom::data::Dataset D, class Scalar>
std::vector<Scalar> first_rows(D const& data, std::size_t rows,
                               std::vector<typename D::target_type>& targets) {
  std::vector<std::size_t> idx(rows);
  for (std::size_t i = 0; i < rows; ++i) {
    idx[i] = i;
  }
  std::vector<Scalar> x(rows * data.sample_size());
  targets.resize(rows * data.target_size());
  data.gather(std::span<std::size_t const>(idx), x.data(), targets.data());
  return x;
}

TEST(DataConcepts, GenericCodeGathersFloatAndDouble) {
  ArchetypeDataset const data;
  std::vector<std::int32_t> y;
  auto const xf = first_rows<ArchetypeDataset, float>(data, 4, y);
  EXPECT_EQ(xf, (std::vector<float>{0, 0, 1, 1, 2, 2, 3, 3}));
  EXPECT_EQ(y, (std::vector<std::int32_t>{0, 1, 2, 0}));
  auto const xd = first_rows<ArchetypeDataset, double>(data, 2, y);
  EXPECT_EQ(xd, (std::vector<double>{0, 0, 1, 1}));
}

} // namespace
