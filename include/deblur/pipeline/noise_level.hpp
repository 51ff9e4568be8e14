#pragma once
// Noise level of an image from its finest Haar wavelet band: for white
// Gaussian noise the diagonal detail (a - b - c + d) / 2 of 2 x 2 blocks has
// the noise's standard deviation, and its median absolute value / 0.6745 is
// robust to the (sparse) image edges (Donoho & Johnstone's estimator); on
// quantised (e.g. 8-bit) data the median is interpolated between the steps.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

#include "../core/tensor.hpp"
#include "../fft/buffer.hpp"

namespace deblur {

namespace detail {

// The median of n values (`median`: the plain one) of quantised data: 8-bit
// photos give |detail| on a grid of 1/510, so many values tie at the median
// and the plain median jumps by whole steps (0.0029 / 0.6745 in noise: a
// sigma of 0.0075 read 0.0087, 0.004 read 0.0058). When over 2 % of the
// values tie at the median (within 1e-6), it is interpolated within their bin
// (the step to the next larger value, centred on the median; from 0 for a
// median of 0), as the median of the continuous values they were rounded from.
inline double quantised_median(const double* values, std::size_t n, double median) {
    // Ties within 1e-6 (float rounding of k / 255; a 16-bit step is 7.6e-6).
    constexpr double tolerance = 1e-6;
    std::size_t below = 0, tied = 0;
    double next = std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < n; ++i) {
        below += values[i] < median - tolerance;
        tied += std::abs(values[i] - median) <= tolerance;
        if (values[i] > median + tolerance) next = std::min(next, values[i]);
    }
    if (tied * 50 < n || !std::isfinite(next)) return median;
    const double step = next - median;
    const double low = median > 0 ? median - step / 2 : 0.0, width = median > 0 ? step : step / 2;
    return low + width * (0.5 * double(n) - double(below)) / double(tied);
}

}  // namespace detail

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
    return deblur::detail::quantised_median(detail.data(), detail.size(), *mid) / 0.6745;
}

// The noise of a C x H x W image's channels: the mean of their estimates.
// Independent noise of sigma per channel is only about 0.67 sigma in the
// luminance (0.299 R + 0.587 G + 0.114 B), so a colour photo's channels, which
// the deconvolution works on, need their own estimate (on the 640 px photos
// of bench/large_blur, sigma 0.01: the luminance read 0.0066-0.0069).
template <class T>
double estimate_channel_noise_level(const Tensor<T>& image) {
    double sum = 0;
    for (std::size_t c = 0; c < image.shape(0); ++c)
        sum += estimate_noise_level(xt::xtensor<T, 2>(xt::view(image, c, xt::all(), xt::all())));
    return image.shape(0) ? sum / double(image.shape(0)) : 0.0;
}

}  // namespace deblur
