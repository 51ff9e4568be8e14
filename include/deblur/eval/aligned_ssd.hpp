#pragma once
// Sum of squared differences between an estimate and the ground truth after
// the best shift (blind deconvolution recovers the image only up to a
// translation), measured on the truth's interior, `border` pixels from each
// side, with shifts up to `max_shift` in each direction in steps of `step`
// pixels; fractional shifts sample the estimate bilinearly. Levin et al.'s
// comp_upto_shift.m uses max_shift 5, border 15, step 0.25.
#include <cmath>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <xtensor/xtensor.hpp>

namespace deblur {

template <class T>
double aligned_ssd(const xt::xtensor<T, 2>& estimate, const xt::xtensor<T, 2>& truth, int max_shift = 5,
                   int border = 15, double step = 1) {
    if (estimate.shape() != truth.shape()) throw std::invalid_argument("deblur::aligned_ssd: sizes differ");
    const int h = static_cast<int>(truth.shape(0)), w = static_cast<int>(truth.shape(1));
    if (border <= max_shift || h <= 2 * border || w <= 2 * border)
        throw std::invalid_argument("deblur::aligned_ssd: the border must exceed the shift and fit the image");
    if (!(step > 0) || step > max_shift + 1)
        throw std::invalid_argument("deblur::aligned_ssd: the step must be positive and at most the shift range");
    const int steps = static_cast<int>(std::floor(max_shift / step + 1e-9));
    double best = std::numeric_limits<double>::infinity();
    for (int i = -steps; i <= steps; ++i)
        for (int j = -steps; j <= steps; ++j) {
            // estimate(r + dr, c + dc) = bilinear between whole-pixel offsets (r0, c0) and (r0 + 1, c0 + 1).
            const double dr = i * step, dc = j * step;
            const int r0 = static_cast<int>(std::floor(dr)), c0 = static_cast<int>(std::floor(dc));
            const double fr = dr - r0, fc = dc - c0;
            const double w00 = (1 - fr) * (1 - fc), w01 = (1 - fr) * fc, w10 = fr * (1 - fc), w11 = fr * fc;
            double ssd = 0;
            for (int r = border; r < h - border; ++r)
                for (int c = border; c < w - border; ++c) {
                    const int rr = r + r0, cc = c + c0;
                    const double v = w00 * estimate(rr, cc) + w01 * estimate(rr, cc + 1) + w10 * estimate(rr + 1, cc) +
                                     w11 * estimate(rr + 1, cc + 1);
                    const double d = v - double(truth(r, c));
                    ssd += d * d;
                }
            best = std::min(best, ssd);
        }
    return best;
}

}  // namespace deblur
