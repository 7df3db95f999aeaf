// The main of MPI tests (Cabana, Kokkos): every rank runs the tests, only rank 0 prints, and
// the result is reduced over ranks so that a failure on any rank fails the test everywhere.

#include <Kokkos_Core.hpp>

#include <mpi.h>

#include <gtest/gtest.h>

#include <cstdio>

namespace {
// On ranks other than 0: failures only, each with its rank, so that a failure on one rank is
// seen even though rank 0 alone prints the progress.
class RankFailurePrinter : public ::testing::EmptyTestEventListener {
public:
  explicit RankFailurePrinter(int rank)
      : rank_(rank) {}
  void OnTestPartResult(::testing::TestPartResult const& result) override {
    if (result.failed()) {
      std::fprintf(stderr, "[rank %d] %s:%d: failure\n%s\n", rank_,
                   result.file_name() ? result.file_name() : "?", result.line_number(),
                   result.message());
    }
  }

private:
  int rank_;
};
} // namespace

int main(int argc, char* argv[]) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  Kokkos::initialize(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new RankFailurePrinter(rank));
  }
  int const local = RUN_ALL_TESTS();
  int failed = 0;
  MPI_Allreduce(&local, &failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  Kokkos::finalize();
  MPI_Finalize();
  return failed;
}
