#pragma once
// The processes of an MPI communicator (MPI_COMM_WORLD unless given) as a
// ProcessGroup: `mpirun -np N deblur-train ...` trains with N processes.
// Needs MPI (the target deblur::mpi, built when CMake finds MPI) and
// MPI_Init before construction. Gathers go through host memory.
#include <mpi.h>

#include <climits>
#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "process_group.hpp"

namespace deblur::train {

class MpiProcessGroup final : public ProcessGroup {
public:
    explicit MpiProcessGroup(MPI_Comm communicator = MPI_COMM_WORLD) : communicator_(communicator) {
        int ready = 0;
        MPI_Initialized(&ready);
        if (!ready) throw std::logic_error("deblur::train::MpiProcessGroup: MPI_Init has not been called");
        check(MPI_Comm_rank(communicator_, &rank_), "MPI_Comm_rank");
        check(MPI_Comm_size(communicator_, &size_), "MPI_Comm_size");
    }

    int rank() const override { return rank_; }
    int size() const override { return size_; }

    void all_gather_bytes(std::span<const std::byte> mine, std::span<std::byte> all,
                          std::span<const std::size_t> bytes_of) const override {
        if (bytes_of.size() != static_cast<std::size_t>(size_) || mine.size() != bytes_of[static_cast<std::size_t>(rank_)])
            throw std::invalid_argument("deblur::train::MpiProcessGroup: wrong sizes to gather");
        std::vector<int> counts(bytes_of.size()), offsets(bytes_of.size());
        std::size_t total = 0;
        for (std::size_t r = 0; r < bytes_of.size(); ++r) {
            // MPI counts are int: a larger gather would need derived datatypes.
            if (bytes_of[r] > static_cast<std::size_t>(INT_MAX) || total > static_cast<std::size_t>(INT_MAX))
                throw std::length_error("deblur::train::MpiProcessGroup: more than 2 GB to gather");
            counts[r] = static_cast<int>(bytes_of[r]);
            offsets[r] = static_cast<int>(total);
            total += bytes_of[r];
        }
        if (all.size() != total) throw std::invalid_argument("deblur::train::MpiProcessGroup: wrong sizes to gather");
        check(MPI_Allgatherv(mine.data(), counts[static_cast<std::size_t>(rank_)], MPI_BYTE, all.data(), counts.data(),
                             offsets.data(), MPI_BYTE, communicator_),
              "MPI_Allgatherv");
    }

    bool any(bool flag) const override {
        int mine = flag ? 1 : 0, result = 0;
        check(MPI_Allreduce(&mine, &result, 1, MPI_INT, MPI_MAX, communicator_), "MPI_Allreduce");
        return result != 0;
    }

private:
    static void check(int code, const char* what) {
        if (code == MPI_SUCCESS) return;
        char text[MPI_MAX_ERROR_STRING];
        int length = 0;
        MPI_Error_string(code, text, &length);
        throw std::runtime_error(std::string("deblur::train::MpiProcessGroup: ") + what + ": " + std::string(text, length));
    }

    MPI_Comm communicator_;
    int rank_ = 0, size_ = 1;
};

}  // namespace deblur::train
