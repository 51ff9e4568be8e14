#pragma once
// The per-element formulas of the kernel quotient (Eq. 3-4, Appendix A), one
// definition for the CPU core (patch_quotient.hpp) and the CUDA kernels
// (cuda/quotient.cuh). Spectra: X_i, Y_i of the weighted sharp-like and
// blurry-like maps, N = sum_i conj(X_i) Y_i, D = sum_i |X_i|^2 + beta_k,
// G = F of the kernel's gradient on the grid.
#include <cstddef>

#include "../core/complex_parts.hpp"

namespace deblur::detail {

// Grid position of tap (a, b) of a k x k kernel on an hp x wp grid: the
// origin (centre) goes to (0, 0). (ImageQuotient places its kernel so too.)
DEBLUR_HOST_DEVICE inline std::size_t wrap_index(std::size_t a, std::size_t b, std::size_t k, std::size_t hp,
                                                 std::size_t wp) {
    return ((a + hp - k / 2) % hp) * wp + (b + wp - k / 2) % wp;
}

// One pair's share of N and D at a frequency.
template <class T>
DEBLUR_HOST_DEVICE inline void quotient_accumulate(Complex<T>& num, T& den, Complex<T> x, Complex<T> y) {
    num = num + conj(x) * y;
    den += norm(x);
}

// N / D.
template <class T>
DEBLUR_HOST_DEVICE inline Complex<T> quotient_value(Complex<T> num, T den) {
    return {num.re / den, num.im / den};
}

// Tap of the normalised kernel: the positive part of the crop over its sum,
// or the delta (1 at the centre) when the sum is not positive.
template <class T>
DEBLUR_HOST_DEVICE inline T normalised_tap(T cropped, T sum, bool centre) {
    if (!(sum > T(0))) return centre ? T(1) : T(0);
    return cropped > T(0) ? cropped / sum : T(0);
}

// Through the normalisation n = c+ / S and the clipping: the gradient at a
// tap whose crop was positive, dot = <grad_out, n>.
template <class T>
DEBLUR_HOST_DEVICE inline T normalisation_gradient(T grad_out, T dot, T sum) {
    return (grad_out - dot) / sum;
}

// Backward terms at a frequency: a = conj(G) / D, b = 2 Re(conj(G) N) / D^2.
template <class T>
DEBLUR_HOST_DEVICE inline void quotient_backward_terms(Complex<T> g, Complex<T> num, T den, Complex<T>& a, T& b) {
    const Complex<T> cg = conj(g);
    const T inv_d = T(1) / den;
    a = cg * inv_d;
    b = T(2) * (cg * num).re * inv_d * inv_d;
}

// The spectra of the input gradients: grad x~_j = a Y_j - b X_j, grad y~_j = conj(a) X_j.
template <class T>
DEBLUR_HOST_DEVICE inline Complex<T> sharp_map_gradient(Complex<T> a, T b, Complex<T> x, Complex<T> y) {
    return a * y - x * b;
}
template <class T>
DEBLUR_HOST_DEVICE inline Complex<T> blurry_map_gradient(Complex<T> a, Complex<T> x) {
    return conj(a) * x;
}

}  // namespace deblur::detail
