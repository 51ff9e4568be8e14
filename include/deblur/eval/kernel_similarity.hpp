#pragma once
// Kernel similarity (Hu & Yang 2012): the largest normalised cross-correlation
// of two kernels over all integer shifts, in [0, 1] for non-negative kernels;
// 1 means equal up to translation and scale. Sizes may differ.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <xtensor/xtensor.hpp>

namespace deblur {

template <class T>
double kernel_similarity(const xt::xtensor<T, 2>& a, const xt::xtensor<T, 2>& b) {
    const auto ha = static_cast<std::ptrdiff_t>(a.shape(0)), wa = static_cast<std::ptrdiff_t>(a.shape(1));
    const auto hb = static_cast<std::ptrdiff_t>(b.shape(0)), wb = static_cast<std::ptrdiff_t>(b.shape(1));
    double aa = 0, bb = 0;
    for (T v : a) aa += double(v) * double(v);
    for (T v : b) bb += double(v) * double(v);
    if (!(aa > 0) || !(bb > 0)) throw std::invalid_argument("deblur::kernel_similarity: a kernel is zero or empty");
    double best = 0;
    // b moved by (dr, dc): sum over r, c of a(r, c) b(r - dr, c - dc).
    for (std::ptrdiff_t dr = -hb + 1; dr < ha; ++dr)
        for (std::ptrdiff_t dc = -wb + 1; dc < wa; ++dc) {
            double s = 0;
            for (std::ptrdiff_t r = std::max<std::ptrdiff_t>(0, dr); r < std::min(ha, dr + hb); ++r)
                for (std::ptrdiff_t c = std::max<std::ptrdiff_t>(0, dc); c < std::min(wa, dc + wb); ++c)
                    s += double(a(r, c)) * double(b(r - dr, c - dc));
            best = std::max(best, s);
        }
    return best / std::sqrt(aa * bb);
}

}  // namespace deblur
