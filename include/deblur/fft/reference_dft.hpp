#pragma once
// A plain O(N^2) discrete Fourier transform with the same interface and
// conventions as `Fftw` (see fftw.hpp). It is the test oracle for every FFT
// policy, and it can itself be the policy of a layer in a test.
#include <cmath>
#include <complex>
#include <cstddef>
#include <numbers>
#include <vector>

namespace deblur::fft {

class ReferenceDft {
public:
    template <class U>
    using vector = std::vector<U>;

    static void set_threads(int) {}
    static int threads() { return 1; }

    // X[u][v] = sum_{r,c} x[r][c] exp(-2 pi i (u r / h + v c / w)), v < w/2+1.
    template <class T>
    static void forward(std::size_t h, std::size_t w, const T* in, std::complex<T>* out) {
        const std::size_t wc = w / 2 + 1;
        for (std::size_t u = 0; u < h; ++u)
            for (std::size_t v = 0; v < wc; ++v) {
                std::complex<long double> s = 0;
                for (std::size_t r = 0; r < h; ++r)
                    for (std::size_t c = 0; c < w; ++c)
                        s += static_cast<long double>(in[r * w + c]) * twiddle(-1, u * r, h, v * c, w);
                out[u * wc + v] = std::complex<T>(static_cast<T>(s.real()), static_cast<T>(s.imag()));
            }
    }

    // x[r][c] = sum over the full (Hermitian-completed) spectrum, unnormalised.
    template <class T>
    static void inverse(std::size_t h, std::size_t w, const std::complex<T>* in, T* out) {
        const std::size_t wc = w / 2 + 1;
        for (std::size_t r = 0; r < h; ++r)
            for (std::size_t c = 0; c < w; ++c) {
                long double s = 0;
                for (std::size_t u = 0; u < h; ++u)
                    for (std::size_t v = 0; v < w; ++v) {
                        // Columns past w/2 are the conjugates of their mirror images.
                        std::complex<long double> X;
                        if (v < wc) X = {in[u * wc + v].real(), in[u * wc + v].imag()};
                        else {
                            const auto m = in[((h - u) % h) * wc + (w - v)];
                            X = {m.real(), -m.imag()};
                        }
                        s += (X * twiddle(+1, u * r, h, v * c, w)).real();
                    }
                out[r * w + c] = static_cast<T>(s);
            }
    }

private:
    static std::complex<long double> twiddle(int sign, std::size_t ur, std::size_t h, std::size_t vc, std::size_t w) {
        const long double phase = sign * 2.0L * std::numbers::pi_v<long double> *
                                  (static_cast<long double>(ur % h) / h + static_cast<long double>(vc % w) / w);
        return {std::cos(phase), std::sin(phase)};
    }
};

}  // namespace deblur::fft
