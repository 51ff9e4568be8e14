#pragma once
// Blind deconvolution fixes a kernel only up to a translation (the image moves
// the other way). Kernels are therefore compared and used after moving their
// centre of mass onto the kernel origin, the pixel (Kh/2, Kw/2) that `blur`
// treats as the origin (the middle pixel for odd sizes).
#include <array>
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <xtensor/xtensor.hpp>

namespace deblur {

// Centre of mass (row, column) in pixel indices. Throws when the values do not
// have a positive, finite sum.
template <class T>
std::array<double, 2> kernel_centroid(const xt::xtensor<T, 2>& kernel) {
    double sum = 0, sr = 0, sc = 0;
    for (std::size_t r = 0; r < kernel.shape(0); ++r)
        for (std::size_t c = 0; c < kernel.shape(1); ++c) {
            const double v = kernel(r, c);
            sum += v;
            sr += v * static_cast<double>(r);
            sc += v * static_cast<double>(c);
        }
    if (!(sum > 0) || !std::isfinite(sum) || !std::isfinite(sr) || !std::isfinite(sc))
        throw std::invalid_argument("deblur::kernel_centroid: the kernel needs a positive, finite sum");
    return {sr / sum, sc / sum};
}

namespace detail {

// out(r, c) = in(r - dr, c - dc), bilinear, zero outside: moves the mass by (dr, dc).
// Linear interpolation moves the centre of mass by exactly (dr, dc) as long as no
// mass leaves the support.
inline void shift_bilinear(const xt::xtensor<double, 2>& in, double dr, double dc, xt::xtensor<double, 2>& out) {
    const auto h = static_cast<std::ptrdiff_t>(in.shape(0)), w = static_cast<std::ptrdiff_t>(in.shape(1));
    const double fr0 = std::floor(dr), fc0 = std::floor(dc);
    const auto ir = static_cast<std::ptrdiff_t>(fr0), ic = static_cast<std::ptrdiff_t>(fc0);
    const double fr = dr - fr0, fc = dc - fc0;
    auto at = [&](std::ptrdiff_t r, std::ptrdiff_t c) { return r >= 0 && r < h && c >= 0 && c < w ? in(r, c) : 0.0; };
    out = xt::xtensor<double, 2>::from_shape(in.shape());
    for (std::ptrdiff_t r = 0; r < h; ++r)
        for (std::ptrdiff_t c = 0; c < w; ++c) {
            // Source position (r - dr, c - dc) = (r - ir - fr, c - ic - fc).
            const std::ptrdiff_t r0 = r - ir - 1, c0 = c - ic - 1;
            out(r, c) = fr * fc * at(r0, c0) + fr * (1 - fc) * at(r0, c0 + 1) + (1 - fr) * fc * at(r0 + 1, c0) +
                        (1 - fr) * (1 - fc) * at(r0 + 1, c0 + 1);
        }
}

}  // namespace detail

// The kernel moved (bilinear resampling) so that its centre of mass sits on the
// origin (Kh/2, Kw/2); same size, same sum. Mass pushed out of the support is
// dropped (and the rest rescaled to the original sum), which can move the
// centroid again, so the shift is repeated a few times; the result is within
// 0.01 px of the origin unless the kernel is too large for its support.
// Bilinear resampling smooths a fractional shift slightly; integer shifts are exact.
template <class T>
xt::xtensor<T, 2> center_kernel(const xt::xtensor<T, 2>& kernel) {
    if (kernel.size() == 0) throw std::invalid_argument("deblur::center_kernel: empty kernel");
    const double target_r = static_cast<double>(kernel.shape(0) / 2);
    const double target_c = static_cast<double>(kernel.shape(1) / 2);
    xt::xtensor<double, 2> k = xt::xtensor<double, 2>::from_shape(kernel.shape());
    double sum = 0;
    for (std::size_t i = 0; i < kernel.size(); ++i) sum += (k.data()[i] = static_cast<double>(kernel.data()[i]));
    xt::xtensor<double, 2> shifted;
    for (int pass = 0; pass < 4; ++pass) {
        const auto [cr, cc] = kernel_centroid(k);
        const double dr = target_r - cr, dc = target_c - cc;
        if (std::abs(dr) < 1e-3 && std::abs(dc) < 1e-3) break;
        detail::shift_bilinear(k, dr, dc, shifted);
        double kept = 0;
        for (double v : shifted) kept += v;
        if (!(kept > 0)) throw std::invalid_argument("deblur::center_kernel: the kernel has no mass inside its support");
        k = shifted * (sum / kept);
    }
    xt::xtensor<T, 2> out = xt::xtensor<T, 2>::from_shape(kernel.shape());
    for (std::size_t i = 0; i < k.size(); ++i) out.data()[i] = static_cast<T>(k.data()[i]);
    return out;
}

}  // namespace deblur
