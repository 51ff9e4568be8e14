#pragma once
// Noise level of an image from its finest Haar wavelet band: for white
// Gaussian noise the diagonal detail (a - b - c + d) / 2 of 2 x 2 blocks has
// the noise's standard deviation, and its median absolute value / 0.6745 is
// robust to the (sparse) image edges (Donoho & Johnstone's estimator).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <xtensor/xtensor.hpp>

#include "../fft/buffer.hpp"

namespace deblur {

template <class T>
double estimate_noise_level(const xt::xtensor<T, 2>& image) {
    const std::size_t h = image.shape(0) / 2 * 2, w = image.shape(1) / 2 * 2;
    if (h < 4 || w < 4) throw std::invalid_argument("deblur::estimate_noise_level: the image is too small");
    // An fft::Buffer: huge pages for a large photo (8 MB at 2048^2), whose
    // 4 kB page faults measured ~3 ms per MB on the 2-core machine.
    fft::Buffer<double> detail;
    detail.resize(h * w / 4);
    double* out = detail.data();
    for (std::size_t r = 0; r < h; r += 2)
        for (std::size_t c = 0; c < w; c += 2) {
            const double d = (double(image(r, c)) - image(r, c + 1) - image(r + 1, c) + image(r + 1, c + 1)) / 2;
            *out++ = std::abs(d);
        }
    auto mid = detail.begin() + static_cast<std::ptrdiff_t>(detail.size() / 2);
    std::nth_element(detail.begin(), mid, detail.end());
    return *mid / 0.6745;
}

}  // namespace deblur
