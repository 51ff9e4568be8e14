#pragma once
// Where to estimate the kernel of a large photo: the square window of the
// given size with the most gradient energy (sum of |dx| + |dy|), found with an
// integral image. Kernel estimation needs edges; flat sky only adds noise.
#include <algorithm>
#include <cmath>
#include <cstddef>
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
    // integral[r][c] = sum of gradient magnitudes above and left of (r, c).
    std::vector<double> integral((h + 1) * (w + 1), 0.0);
    for (std::size_t r = 0; r < h; ++r)
        for (std::size_t c = 0; c < w; ++c) {
            const double dx = c + 1 < w ? std::abs(double(gray(r, c + 1)) - gray(r, c)) : 0.0;
            const double dy = r + 1 < h ? std::abs(double(gray(r + 1, c)) - gray(r, c)) : 0.0;
            integral[(r + 1) * (w + 1) + c + 1] =
                dx + dy + integral[r * (w + 1) + c + 1] + integral[(r + 1) * (w + 1) + c] - integral[r * (w + 1) + c];
        }
    const std::size_t rows = best.rows, cols = best.cols;
    const std::size_t stride = std::max<std::size_t>(1, std::min(rows, cols) / 16);
    double best_energy = -1;
    for (std::size_t r = 0; r + rows <= h; r += stride)
        for (std::size_t c = 0; c + cols <= w; c += stride) {
            const double e = integral[(r + rows) * (w + 1) + c + cols] - integral[r * (w + 1) + c + cols] -
                             integral[(r + rows) * (w + 1) + c] + integral[r * (w + 1) + c];
            if (e > best_energy) {
                best_energy = e;
                best.row = r;
                best.col = c;
            }
        }
    return best;
}

}  // namespace deblur
