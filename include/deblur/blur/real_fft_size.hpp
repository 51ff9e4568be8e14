#pragma once
#include <cstddef>

#include "../fft/fast_size.hpp"

namespace deblur {

// Smallest EVEN n' >= n with no prime factor above 7. FFTW's real-to-complex
// transforms of odd lengths are several times slower than those of nearby
// even lengths (measured with FFTW_ESTIMATE plans: 315^2 takes ~2.6x as long
// as 320^2, 525^2 ~8x as long as 540^2), so padded real transforms use these.
inline std::size_t real_fft_size(std::size_t n) {
    std::size_t m = fft::fast_size(n < 2 ? 2 : n);
    while (m % 2 != 0) m = fft::fast_size(m + 1);
    return m;
}

}  // namespace deblur
