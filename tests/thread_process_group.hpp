#pragma once
// N "processes" of a train::ProcessGroup as N threads of this process, for
// testing data-parallel training without MPI: each thread holds one
// ThreadProcessGroup of the same Team, and the collectives meet at a barrier.
#include <algorithm>
#include <barrier>
#include <cstddef>
#include <span>
#include <stdexcept>
#include <vector>

#include <deblur/train/process_group.hpp>

namespace deblur::test {

class ThreadProcessGroup final : public train::ProcessGroup {
public:
    struct Team {
        explicit Team(int n) : size(n), barrier(n), flags(static_cast<std::size_t>(n)) {}
        int size;
        std::barrier<> barrier;
        std::vector<std::byte> staging;
        std::vector<char> flags;
    };

    ThreadProcessGroup(Team& team, int rank) : team_(&team), rank_(rank) {}
    int rank() const override { return rank_; }
    int size() const override { return team_->size; }

    void all_gather_bytes(std::span<const std::byte> mine, std::span<std::byte> all,
                          std::span<const std::size_t> bytes_of) const override {
        std::size_t offset = 0, total = 0;
        for (int r = 0; r < size(); ++r) {
            if (r == rank_) offset = total;
            total += bytes_of[static_cast<std::size_t>(r)];
        }
        if (mine.size() != bytes_of[static_cast<std::size_t>(rank_)] || all.size() != total)
            throw std::invalid_argument("ThreadProcessGroup: wrong sizes to gather");
        if (rank_ == 0) team_->staging.resize(total);
        team_->barrier.arrive_and_wait();  // staging sized
        std::copy(mine.begin(), mine.end(), team_->staging.begin() + static_cast<std::ptrdiff_t>(offset));
        team_->barrier.arrive_and_wait();  // all written
        std::copy(team_->staging.begin(), team_->staging.end(), all.begin());
        team_->barrier.arrive_and_wait();  // all read: the next gather may resize
    }

    bool any(bool flag) const override {
        team_->flags[static_cast<std::size_t>(rank_)] = flag ? 1 : 0;
        team_->barrier.arrive_and_wait();
        const bool result = std::any_of(team_->flags.begin(), team_->flags.end(), [](char f) { return f != 0; });
        team_->barrier.arrive_and_wait();
        return result;
    }

private:
    Team* team_;
    int rank_;
};

}  // namespace deblur::test
