#pragma once
// Pieces shared by the FFT deconvolution solvers, on a ph x pw periodic canvas
// with the FFT policy's half-spectrum layout (ph x (pw/2+1)).
#include <cmath>
#include <complex>
#include <cstddef>
#include <numbers>
#include <stdexcept>
#include <xtensor/xtensor.hpp>

namespace deblur {

// Transfer function of the blur: the kernel wrapped onto the canvas with its
// origin (Kh/2, Kw/2) at pixel (0, 0) (the convention of blur.hpp), transformed.
// `scratch` must hold ph * pw values; `out` ph * (pw/2+1).
template <class Fft, class T>
void kernel_spectrum(const xt::xtensor<T, 2>& kernel, std::size_t ph, std::size_t pw, T* scratch, std::complex<T>* out) {
    const std::size_t kh = kernel.shape(0), kw = kernel.shape(1);
    if (kh > ph || kw > pw) throw std::invalid_argument("deblur::kernel_spectrum: kernel larger than the canvas");
    for (std::size_t i = 0; i < ph * pw; ++i) scratch[i] = T(0);
    for (std::size_t i = 0; i < kh; ++i)
        for (std::size_t j = 0; j < kw; ++j) {
            const std::size_t r = (i + ph - kh / 2) % ph, c = (j + pw - kw / 2) % pw;
            scratch[r * pw + c] = kernel(i, j);
        }
    Fft::template forward<T>(ph, pw, scratch, out);
}

// |F Dx|^2 + |F Dy|^2 for the periodic forward differences
// (Dx x)[r][c] = x[r][c+1] - x[r][c], (Dy x)[r][c] = x[r+1][c] - x[r][c]:
// 4 sin^2(pi u / ph) + 4 sin^2(pi v / pw). `out` holds ph * (pw/2+1) values.
template <class T>
void gradient_power_spectrum(std::size_t ph, std::size_t pw, T* out) {
    const std::size_t wc = pw / 2 + 1;
    for (std::size_t u = 0; u < ph; ++u) {
        const double su = std::sin(std::numbers::pi * static_cast<double>(u) / static_cast<double>(ph));
        for (std::size_t v = 0; v < wc; ++v) {
            const double sv = std::sin(std::numbers::pi * static_cast<double>(v) / static_cast<double>(pw));
            out[u * wc + v] = static_cast<T>(4 * (su * su + sv * sv));
        }
    }
}

// Complex products written out: std::complex's operator* guards against
// NaN/inf (a libgcc call, __mulsc3) and blocks vectorisation in hot loops.
template <class T>
std::complex<T> complex_mul(std::complex<T> a, std::complex<T> b) {
    return {a.real() * b.real() - a.imag() * b.imag(), a.real() * b.imag() + a.imag() * b.real()};
}
template <class T>
std::complex<T> complex_mul_conj(std::complex<T> a, std::complex<T> b) {  // conj(a) * b
    return {a.real() * b.real() + a.imag() * b.imag(), a.real() * b.imag() - a.imag() * b.real()};
}

// out = Dx' gx + Dy' gy on a periodic ph x pw canvas: the adjoint of the
// forward differences above (backward differences, negated), row-major arrays.
template <class T>
void gradient_adjoint(const T* gx, const T* gy, std::size_t ph, std::size_t pw, T* out) {
    for (std::size_t r = 0; r < ph; ++r) {
        const T* hx = gx + r * pw;
        const T* vy = gy + r * pw;
        const T* vu = gy + ((r + ph - 1) % ph) * pw;
        T* d = out + r * pw;
        d[0] = hx[pw - 1] - hx[0] + vu[0] - vy[0];
        for (std::size_t c = 1; c < pw; ++c) d[c] = hx[c - 1] - hx[c] + vu[c] - vy[c];
    }
}

}  // namespace deblur
