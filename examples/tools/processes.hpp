#pragma once
// deblur-train's processes: built with MPI (DEBLUR_TOOLS_MPI) and started by
// `mpirun -np N`, the N processes of MPI_COMM_WORLD, which train one network
// together (train::MpiProcessGroup); otherwise, or started alone, this one.
#include <iostream>
#include <memory>
#include <string>

#include <deblur/train/process_group.hpp>
#if DEBLUR_TOOLS_MPI
#include <mpi.h>

#include <deblur/train/mpi_process_group.hpp>
#endif

namespace deblur::tools {

class Processes {
public:
    Processes([[maybe_unused]] int& argc, [[maybe_unused]] char**& argv) {
#if DEBLUR_TOOLS_MPI
        MPI_Init(&argc, &argv);
        group_ = std::make_unique<train::MpiProcessGroup>();
#endif
    }
    ~Processes() {
#if DEBLUR_TOOLS_MPI
        group_.reset();
        MPI_Finalize();
#endif
    }
    Processes(const Processes&) = delete;
    Processes& operator=(const Processes&) = delete;

    const train::ProcessGroup& group() const { return group_ ? *group_ : train::single_process(); }
    // The process that prints progress and writes the run's files.
    bool first() const { return group().rank() == 0; }
    // Waits until every process has come here (e.g. after the first wrote a file the others read).
    void wait_for_all() const { group().any(false); }

    // A failure: "deblur-train: ..." (naming the process when there are
    // several); with several processes, all of them are ended at once, so
    // that none waits forever in an exchange with the one that failed.
    int fail(const std::string& message) const {
        const int n = group().size();
        std::cerr << "deblur-train"
                  << (n > 1 ? " (process " + std::to_string(group().rank()) + " of " + std::to_string(n) + ")" : "")
                  << ": " << message << std::endl;
#if DEBLUR_TOOLS_MPI
        if (n > 1) MPI_Abort(MPI_COMM_WORLD, 1);
#endif
        return 1;
    }

private:
    std::unique_ptr<train::ProcessGroup> group_;
};

}  // namespace deblur::tools
