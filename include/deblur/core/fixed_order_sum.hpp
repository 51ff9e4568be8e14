#pragma once
// A sum whose rounding does not depend on where the numbers lie in memory.
// Eigen's reductions (e.g. rowwise().sum() over a Map) start their SIMD lanes
// at the first aligned element, so the same numbers in two buffers of other
// alignment can sum to values that differ in the last bit; training then was
// not reproducible (a resumed run drifted from the uninterrupted one). Here
// element i always goes to lane i % 16, which compilers still vectorise.
#include <cstddef>

namespace deblur {

template <class T>
T fixed_order_sum(const T* values, std::size_t n) {
    constexpr std::size_t lanes = 16;
    T lane[lanes] = {};
    std::size_t i = 0;
    for (; i + lanes <= n; i += lanes)
        for (std::size_t l = 0; l < lanes; ++l) lane[l] += values[i + l];
    for (std::size_t l = 0; i + l < n; ++l) lane[l] += values[i + l];
    T sum = 0;
    for (std::size_t l = 0; l < lanes; ++l) sum += lane[l];
    return sum;
}

}  // namespace deblur
