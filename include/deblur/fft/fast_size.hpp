#pragma once
#include <cstddef>

namespace deblur::fft {

// Smallest n' >= n whose only prime factors are 2, 3, 5 and 7: the sizes FFTW
// transforms fastest. Layers pad their transforms to such sizes.
inline std::size_t fast_size(std::size_t n) {
    if (n <= 1) return 1;
    for (std::size_t m = n;; ++m) {
        std::size_t r = m;
        for (std::size_t p : {2u, 3u, 5u, 7u})
            while (r % p == 0) r /= p;
        if (r == 1) return m;
    }
}

}  // namespace deblur::fft
