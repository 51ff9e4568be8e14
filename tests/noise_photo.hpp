#pragma once
// Stand-ins for training photos in the trainer and data-generator tests:
// uniform noise in [0, 1], rich enough in gradients to pass the generator's
// edge test on any crop, and reproducible from a seed.
#include <cstddef>
#include <random>
#include <xtensor/xtensor.hpp>

namespace deblur::test {

inline xt::xtensor<float, 2> noise_photo(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(0, 1);
    xt::xtensor<float, 2> im = xt::xtensor<float, 2>::from_shape({n, n});
    for (auto& v : im) v = u(rng);
    return im;
}

}  // namespace deblur::test
