#pragma once
#include <cstddef>
#include <initializer_list>

namespace deblur::fft {

// Smallest n' >= n of the form 2^a * q with a >= 1 and q in {1, 3, 5, 9, 15}:
// the sizes FFTW (with its quick planner) transforms fastest here. Odd sizes
// and factors of 7 measured 2-4x slower than a slightly larger such size
// (e.g. 147 vs 160, 315 vs 320). Layers pad their transforms to these sizes.
inline std::size_t fast_size(std::size_t n) {
    if (n <= 2) return n < 1 ? 1 : n;
    std::size_t best = 0;
    for (std::size_t q : {1u, 3u, 5u, 9u, 15u}) {
        std::size_t m = 2 * q;
        while (m < n) m *= 2;
        if (best == 0 || m < best) best = m;
    }
    return best;
}

}  // namespace deblur::fft
