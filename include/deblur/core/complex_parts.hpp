#pragma once
// Complex arithmetic written out on (re, im) pairs, for formulas that the CPU
// code and the CUDA kernels share (device code never calls std::complex): the
// pair is loaded from and stored to std::complex<T> storage (the layout of
// cufftComplex as well). The products are the textbook ones, without the
// NaN recovery of std::complex's (Annex G), which the layers do not need.
#include <complex>
#include <cstddef>

#if defined(__CUDACC__)
#define DEBLUR_HOST_DEVICE __host__ __device__
#else
#define DEBLUR_HOST_DEVICE
#endif

namespace deblur::detail {

template <class T>
struct Complex {
    T re, im;
};

template <class T>
DEBLUR_HOST_DEVICE inline Complex<T> load(const std::complex<T>* p, std::size_t i) {
    const T* v = reinterpret_cast<const T*>(p) + 2 * i;
    return {v[0], v[1]};
}
template <class T>
DEBLUR_HOST_DEVICE inline void store(std::complex<T>* p, std::size_t i, Complex<T> z) {
    T* v = reinterpret_cast<T*>(p) + 2 * i;
    v[0] = z.re;
    v[1] = z.im;
}
template <class T>
DEBLUR_HOST_DEVICE inline Complex<T> operator*(Complex<T> a, Complex<T> b) {
    return {a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re};
}
template <class T>
DEBLUR_HOST_DEVICE inline Complex<T> operator*(Complex<T> a, T s) {
    return {a.re * s, a.im * s};
}
template <class T>
DEBLUR_HOST_DEVICE inline Complex<T> operator+(Complex<T> a, Complex<T> b) {
    return {a.re + b.re, a.im + b.im};
}
template <class T>
DEBLUR_HOST_DEVICE inline Complex<T> operator-(Complex<T> a, Complex<T> b) {
    return {a.re - b.re, a.im - b.im};
}
template <class T>
DEBLUR_HOST_DEVICE inline Complex<T> conj(Complex<T> a) {
    return {a.re, -a.im};
}
template <class T>
DEBLUR_HOST_DEVICE inline T norm(Complex<T> a) {
    return a.re * a.re + a.im * a.im;
}

}  // namespace deblur::detail
