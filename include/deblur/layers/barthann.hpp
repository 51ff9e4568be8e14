#pragma once
// The Barthann (Bartlett-Hann) window, symmetric form as in
// scipy.signal.windows.barthann:
//
//   w(n) = 0.62 - 0.48 |f| + 0.38 cos(2 pi f),   f = n / (N - 1) - 1/2,
//
// which is 1 in the middle and exactly 0 at both ends. The quotient layers
// weight their input maps with the separable 2-D window w(r) w(c) so that the
// maps fade to zero at the borders: this hides the wrap-around that the
// Fourier-domain (circular) solution would otherwise see there.
#include <cmath>
#include <cstddef>
#include <numbers>
#include <span>
#include <vector>

namespace deblur {

// Entry n of the length-`length` window (a single sample is 1).
inline double barthann(std::size_t length, std::size_t n) {
    if (length <= 1) return 1.0;
    const double f = static_cast<double>(n) / static_cast<double>(length - 1) - 0.5;
    const double w = 0.62 - 0.48 * std::abs(f) + 0.38 * std::cos(2.0 * std::numbers::pi * f);
    return w > 0.0 ? w : 0.0;  // the end points evaluate to -1e-17, not 0
}

// One axis of a quotient layer's separable patch weight, in T: the window of
// length n (Quotient: the whole map), or `window` times the window of its
// length (EFFQuotient: an EFF window tapered over the patch's extent).
template <class T>
std::vector<T> barthann_weights(std::span<const double> window) {
    const std::size_t n = window.size();
    std::vector<T> w(n);
    for (std::size_t i = 0; i < n; ++i) w[i] = static_cast<T>(window[i] * barthann(n, i));
    return w;
}
template <class T>
std::vector<T> barthann_weights(std::size_t n) {
    return barthann_weights<T>(std::vector<double>(n, 1.0));  // 1 x w is w, exactly
}

}  // namespace deblur
