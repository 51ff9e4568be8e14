#pragma once
// Cleaning a kernel estimate: small values and small or faint detached pieces
// are noise of the estimate, not blur.
#include <algorithm>
#include <cstddef>
#include <vector>
#include <xtensor/xtensor.hpp>

namespace deblur {

// Zeroes the values below `cut`, then every 8-connected piece of the
// remaining positive values that holds less than `min_mass` of their total or
// has no value of at least `strong`. With cut < strong this is hysteresis
// thresholding: faint values survive where they are connected to a strong one
// (the faint tail of a long blur), detached faint ones do not (noise). Values
// are expected to be >= 0.
template <class T>
void prune_kernel(xt::xtensor<T, 2>& k, double cut, double strong, double min_mass) {
    for (T& v : k)
        if (v < cut) v = T(0);
    const std::size_t rows = k.shape(0), cols = k.shape(1);
    T total = 0;
    for (T v : k) total += v;
    std::vector<bool> seen(rows * cols, false);
    std::vector<std::size_t> stack, members;
    for (std::size_t start = 0; start < rows * cols; ++start) {
        if (k.data()[start] <= 0 || seen[start]) continue;
        members.clear();
        stack.assign(1, start);
        seen[start] = true;
        T mass = 0, largest = 0;
        while (!stack.empty()) {
            const std::size_t p = stack.back();
            stack.pop_back();
            members.push_back(p);
            mass += k.data()[p];
            largest = std::max(largest, k.data()[p]);
            const std::ptrdiff_t r = p / cols, c = p % cols;
            for (std::ptrdiff_t dr = -1; dr <= 1; ++dr)
                for (std::ptrdiff_t dc = -1; dc <= 1; ++dc) {
                    const std::ptrdiff_t rr = r + dr, cc = c + dc;
                    if (rr < 0 || cc < 0 || rr >= std::ptrdiff_t(rows) || cc >= std::ptrdiff_t(cols)) continue;
                    const std::size_t q = rr * cols + cc;
                    if (k.data()[q] > 0 && !seen[q]) {
                        seen[q] = true;
                        stack.push_back(q);
                    }
                }
        }
        if (mass < min_mass * total || largest < strong)
            for (std::size_t p : members) k.data()[p] = T(0);
    }
}

}  // namespace deblur
