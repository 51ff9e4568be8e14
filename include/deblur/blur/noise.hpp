#pragma once
// Additive white Gaussian noise, the noise model y = k * x + n of the paper.
#include <cmath>
#include <cstddef>
#include <random>
#include <stdexcept>
#include <xtensor/xtensor.hpp>

namespace deblur {

// Adds independent N(0, sigma^2) noise to every value of `image`, in place.
// The same generator state gives the same noise.
template <class T, std::size_t N, class Rng>
void add_gaussian_noise(xt::xtensor<T, N>& image, double sigma, Rng& rng) {
    if (!(sigma >= 0) || !std::isfinite(sigma))
        throw std::invalid_argument("deblur::add_gaussian_noise: sigma must be finite and non-negative");
    if (sigma == 0) return;
    std::normal_distribution<double> noise(0.0, sigma);
    T* p = image.data();
    const std::size_t n = image.size();
    for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<T>(p[i] + noise(rng));
}

}  // namespace deblur
