#pragma once
// Whether an image holds anything a blur kernel can be estimated from.
//
// A blur shows only where the image varies: on a flat or texture-free image
// (a white page, a sky crop, a test card's uniform field, pure noise) every
// kernel explains the data equally well, and the estimate is noise. Such an
// image is recognised by its variance: what is left after the noise's
// variance (sigma^2, Haar estimate or given) is the signal's, and an image
// whose signal standard deviation is below max(2 sigma, 2/255) (two 8-bit
// levels) has no structure that rises above its noise or its quantisation.
// Blur keeps an image's mean and spreads its edges but keeps most of its
// variance, so a heavily blurred photo is not mistaken for a flat one.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <xtensor/xtensor.hpp>

namespace deblur {

// The image's standard deviation without its noise: sqrt(max(0, var - noise^2)).
template <class T>
double signal_deviation(const xt::xtensor<T, 2>& image, double noise) {
    const std::size_t n = image.size();
    if (n == 0) return 0;
    double sum = 0, sum_sq = 0;
    for (T v : image) sum += double(v);
    const double mean = sum / double(n);
    for (T v : image) sum_sq += (double(v) - mean) * (double(v) - mean);
    return std::sqrt(std::max(0.0, sum_sq / double(n) - noise * noise));
}

// True when the image has no structure above max(2 noise, 2/255) (see above).
template <class T>
bool is_texture_free(const xt::xtensor<T, 2>& image, double noise) {
    return signal_deviation(image, noise) < std::max(2 * noise, 2.0 / 255);
}

}  // namespace deblur
