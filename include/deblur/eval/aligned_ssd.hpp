#pragma once
// Sum of squared differences between an estimate and the ground truth after
// the best integer shift (blind deconvolution recovers the image only up to a
// translation), measured on the truth's interior, `border` pixels from each
// side, with shifts up to `max_shift` in each direction (Levin et al. 2009).
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

namespace deblur {

template <class T>
double aligned_ssd(const xt::xtensor<T, 2>& estimate, const xt::xtensor<T, 2>& truth, int max_shift = 5,
                   int border = 15) {
    if (estimate.shape() != truth.shape()) throw std::invalid_argument("deblur::aligned_ssd: sizes differ");
    const int h = static_cast<int>(truth.shape(0)), w = static_cast<int>(truth.shape(1));
    if (border < max_shift || h <= 2 * border || w <= 2 * border)
        throw std::invalid_argument("deblur::aligned_ssd: the border must exceed the shift and fit the image");
    double best = std::numeric_limits<double>::infinity();
    for (int dr = -max_shift; dr <= max_shift; ++dr)
        for (int dc = -max_shift; dc <= max_shift; ++dc) {
            double ssd = 0;
            for (int r = border; r < h - border; ++r)
                for (int c = border; c < w - border; ++c) {
                    const double d = double(estimate(r + dr, c + dc)) - double(truth(r, c));
                    ssd += d * d;
                }
            best = std::min(best, ssd);
        }
    return best;
}

}  // namespace deblur
