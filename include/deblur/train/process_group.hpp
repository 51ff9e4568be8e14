#pragma once
// The processes that train one network together (data parallelism): each
// process computes its share of a step's examples and the processes exchange
// what they computed. This class is the group of one process (nothing to
// exchange); MpiProcessGroup (mpi_process_group.hpp, built with MPI) spans
// the processes of an MPI communicator. The trainers only gather, never
// reduce: they add the gathered values in one fixed order themselves, so
// that the result does not depend on how many processes there are.
#include <algorithm>
#include <cstddef>
#include <span>
#include <stdexcept>
#include <utility>
#include <vector>

namespace deblur::train {

class ProcessGroup {
public:
    virtual ~ProcessGroup() = default;
    virtual int rank() const { return 0; }
    virtual int size() const { return 1; }

    // Every process passes its `mine` (bytes_of[r] bytes from process r) and
    // receives all of them in `all`, in rank order. Collective: every process
    // of the group calls it, with the same bytes_of.
    virtual void all_gather_bytes(std::span<const std::byte> mine, std::span<std::byte> all,
                                  std::span<const std::size_t> bytes_of) const {
        if (bytes_of.size() != 1 || mine.size() != bytes_of[0] || all.size() != bytes_of[0])
            throw std::invalid_argument("deblur::train::ProcessGroup: wrong sizes to gather");
        std::copy(mine.begin(), mine.end(), all.begin());
    }
    // True on every process if `flag` is true on any (e.g. a stop request). Collective.
    virtual bool any(bool flag) const { return flag; }

    // The items [begin, end) of `count` that process `rank` computes:
    // contiguous shares in rank order, sizes differing by at most one.
    std::pair<std::size_t, std::size_t> share(std::size_t count) const { return share_of(rank(), count); }
    std::pair<std::size_t, std::size_t> share_of(int r, std::size_t count) const {
        const auto n = static_cast<std::size_t>(size()), i = static_cast<std::size_t>(r);
        return {i * count / n, (i + 1) * count / n};
    }

    // `values[begin, end)` of this process's share are its own; afterwards
    // `values` holds every process's share. `per_item` values per item.
    template <class T>
    void all_gather_shares(std::span<T> values, std::size_t count, std::size_t per_item) const {
        if (values.size() != count * per_item)
            throw std::invalid_argument("deblur::train::ProcessGroup: wrong number of values to gather");
        if (size() == 1) return;
        std::vector<std::size_t> bytes_of(static_cast<std::size_t>(size()));
        for (int r = 0; r < size(); ++r) {
            const auto [b, e] = share_of(r, count);
            bytes_of[static_cast<std::size_t>(r)] = (e - b) * per_item * sizeof(T);
        }
        const auto [b, e] = share(count);
        std::vector<T> mine(values.begin() + static_cast<std::ptrdiff_t>(b * per_item),
                            values.begin() + static_cast<std::ptrdiff_t>(e * per_item));
        all_gather_bytes(std::as_bytes(std::span<const T>(mine)), std::as_writable_bytes(values), bytes_of);
    }
};

// The group of this process alone: what a trainer uses unless told otherwise.
inline const ProcessGroup& single_process() {
    static const ProcessGroup group;
    return group;
}

}  // namespace deblur::train
