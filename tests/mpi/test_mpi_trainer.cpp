// Data-parallel training over MPI (label `mpi`): run as
// `mpiexec -np 2 test_mpi_trainer` (CTest does), every process checks that
// the MPI run equals the run of one process alone, bit for bit.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <mpi.h>

#include <deblur/train/mpi_process_group.hpp>

#include <span>
#include <vector>

#include "../data_parallel_run.hpp"

using namespace deblur;

TEST_CASE("N MPI processes with a global batch give the parameters of one process, bit for bit") {
    const train::MpiProcessGroup group;
    REQUIRE(group.size() >= 2);  // run under mpiexec -np 2 or more
    // An odd batch shares unevenly; a batch of 1 leaves processes without examples.
    for (std::size_t batch : {5u, 1u}) {
        CAPTURE(batch);
        const auto alone = test::data_parallel_run(train::single_process(), batch, 8);
        const auto together = test::data_parallel_run(group, batch, 8);
        CHECK(together.parameters == alone.parameters);
        CHECK(together.losses == alone.losses);
        CHECK(together.validation == alone.validation);
        CHECK(together.skipped == alone.skipped);
        CHECK(alone.parameters != test::data_parallel_run(train::single_process(), batch, 0).parameters);  // it learned
    }
}

TEST_CASE("a flag raised by one process is seen by all; gathers come in rank order") {
    const train::MpiProcessGroup group;
    CHECK(group.any(group.rank() == group.size() - 1));
    CHECK_FALSE(group.any(false));
    std::vector<int> values(7, -1);
    const auto [first, last] = group.share(values.size());
    for (std::size_t i = first; i < last; ++i) values[i] = static_cast<int>(i) * 10;
    group.all_gather_shares(std::span<int>(values), values.size(), 1);
    for (std::size_t i = 0; i < values.size(); ++i) CHECK(values[i] == static_cast<int>(i) * 10);
}

int main(int argc, char** argv) {
    MPI_Init(&argc, &argv);
    doctest::Context context(argc, argv);
    const int status = context.run();
    // Every process reports; the run fails if any failed.
    int worst = 0;
    MPI_Allreduce(&status, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();
    return worst;
}
