#pragma once
// Trimming a centred kernel to the part that matters (for display and to keep
// later FFT canvases small), and checking that it fits its support.
#include <algorithm>
#include <cstddef>
#include <stdexcept>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

namespace deblur {

// The smallest centred odd square holding every value above `fraction` of the
// peak, plus `margin` pixels on each side (within the original support), with
// sum 1. The kernel must be odd, square and have a positive peak.
template <class T>
xt::xtensor<T, 2> crop_kernel_to_support(const xt::xtensor<T, 2>& k, double fraction = 0.02, std::size_t margin = 2) {
    const std::size_t n = k.shape(0), c = n / 2;
    if (n == 0 || n % 2 == 0 || k.shape(1) != n)
        throw std::invalid_argument("deblur::crop_kernel_to_support: the kernel must be square with an odd side");
    const T peak = xt::amax(k)();
    if (!(peak > 0)) throw std::invalid_argument("deblur::crop_kernel_to_support: the kernel has no positive value");
    std::size_t radius = 0;
    for (std::size_t r = 0; r < n; ++r)
        for (std::size_t q = 0; q < n; ++q)
            if (k(r, q) > fraction * peak) radius = std::max({radius, r > c ? r - c : c - r, q > c ? q - c : c - q});
    radius = std::min(c, radius + margin);
    xt::xtensor<T, 2> out = xt::view(k, xt::range(c - radius, c + radius + 1), xt::range(c - radius, c + radius + 1));
    out /= xt::sum(out)();
    return out;
}

// The fraction of a kernel's mass in the outer band of its support (a sixth
// of the side, at least 1 px): large when a support smaller than the blur
// cut the kernel off.
template <class T>
double kernel_outer_mass(const xt::xtensor<T, 2>& k) {
    const std::size_t h = k.shape(0), w = k.shape(1);
    const std::size_t band = std::max<std::size_t>(1, std::min(h, w) / 6);
    double outer = 0, total = 0;
    for (std::size_t r = 0; r < h; ++r)
        for (std::size_t c = 0; c < w; ++c) {
            total += k(r, c);
            if (r < band || c < band || r >= h - band || c >= w - band) outer += k(r, c);
        }
    return total > 0 ? outer / total : 0.0;
}

// Whether a kernel lies well inside its support: at most `max_mass` of its
// mass in the outer band. A kernel that does not fit was probably cut off by
// a support smaller than the blur.
template <class T>
bool kernel_fits_support(const xt::xtensor<T, 2>& k, double max_mass = 0.05) {
    return kernel_outer_mass(k) <= max_mass;
}

}  // namespace deblur
