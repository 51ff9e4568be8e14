#pragma once
// Where to estimate the kernel of a large photo: the square window of the
// given size with the most gradient energy (sum of |dx| + |dy|), found with an
// integral image. Kernel estimation needs edges; flat sky only adds noise.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <initializer_list>
#include <vector>
#include <xtensor/xtensor.hpp>

namespace deblur {

struct EstimationWindow {
    std::size_t row = 0, col = 0, rows = 0, cols = 0;
};

template <class T>
EstimationWindow choose_estimation_window(const xt::xtensor<T, 2>& gray, std::size_t size) {
    const std::size_t h = gray.shape(0), w = gray.shape(1);
    EstimationWindow best{0, 0, std::min(size, h), std::min(size, w)};
    if (h <= size && w <= size) return best;
    // integral(r, c) = sum of gradient magnitudes above and left of (r, c),
    // accumulated row by row in `acc` (row r of the integral image after r
    // rows); only the rows the search below reads (window tops and bottoms,
    // every stride-th row) are kept: at 2048^2 some 130 rows instead of a
    // 32 MB image, whose fresh pages cost more than the sums.
    const std::size_t rows = best.rows, cols = best.cols;
    const std::size_t stride = std::max<std::size_t>(1, std::min(rows, cols) / 16);
    std::vector<std::size_t> slot(h + 1, 0);  // 1 + index into `kept` of a row that is read; 0: not kept
    std::size_t nkept = 0;
    for (std::size_t r = 0; r + rows <= h; r += stride)
        for (std::size_t row : {r, r + rows})
            if (slot[row] == 0) slot[row] = ++nkept;
    std::vector<double> acc(w + 1, 0.0), kept(nkept * (w + 1));
    const auto keep = [&](std::size_t r) {
        if (slot[r]) std::copy(acc.begin(), acc.end(), kept.begin() + (slot[r] - 1) * (w + 1));
    };
    keep(0);
    const T* g = gray.data();
    for (std::size_t r = 0; r < h; ++r) {
        const T* row = g + r * w;
        const T* below = r + 1 < h ? row + w : nullptr;
        double run = 0;
        for (std::size_t c = 0; c < w; ++c) {
            const double dx = c + 1 < w ? std::abs(double(row[c + 1]) - row[c]) : 0.0;
            const double dy = below ? std::abs(double(below[c]) - row[c]) : 0.0;
            run += dx + dy;
            acc[c + 1] += run;
        }
        keep(r + 1);
    }
    const auto integral = [&](std::size_t r, std::size_t c) { return kept[(slot[r] - 1) * (w + 1) + c]; };
    double best_energy = -1;
    for (std::size_t r = 0; r + rows <= h; r += stride)
        for (std::size_t c = 0; c + cols <= w; c += stride) {
            const double e = integral(r + rows, c + cols) - integral(r, c + cols) - integral(r + rows, c) + integral(r, c);
            if (e > best_energy) {
                best_energy = e;
                best.row = r;
                best.col = c;
            }
        }
    return best;
}

}  // namespace deblur
