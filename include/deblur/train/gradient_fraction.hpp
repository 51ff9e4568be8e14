#pragma once
// The texture test of Section 3.3: a crop is only useful for training when the
// kernel can be estimated from it, i.e. when enough pixels have strong
// gradients in both directions. Measured with forward differences,
//
//   dx(r, c) = x(r, c+1) - x(r, c),   dy(r, c) = x(r+1, c) - x(r, c),
//
// over the (H-1) x (W-1) pixels where both exist; the fraction counts pixels
// with |dx| >= threshold AND |dy| >= threshold. The paper rejects crops where
// this is below 6 % at threshold 0.05 (for images in [0, 1]).
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <xtensor/xtensor.hpp>

namespace deblur::train {

// `image` is h x w, row-major, with row stride `stride` (>= w).
template <class T>
double gradient_fraction(const T* image, std::size_t h, std::size_t w, std::size_t stride, double threshold) {
    if (h < 2 || w < 2) throw std::invalid_argument("deblur::train::gradient_fraction: needs at least 2 x 2 pixels");
    const T t = static_cast<T>(threshold);
    std::size_t strong = 0;
    for (std::size_t r = 0; r + 1 < h; ++r) {
        const T* row = image + r * stride;
        const T* below = row + stride;
        for (std::size_t c = 0; c + 1 < w; ++c) {
            const T dx = row[c + 1] - row[c], dy = below[c] - row[c];
            strong += (std::abs(dx) >= t) & (std::abs(dy) >= t);
        }
    }
    return static_cast<double>(strong) / static_cast<double>((h - 1) * (w - 1));
}

template <class T>
double gradient_fraction(const xt::xtensor<T, 2>& image, double threshold) {
    return gradient_fraction(image.data(), image.shape(0), image.shape(1), image.shape(1), threshold);
}

}  // namespace deblur::train
