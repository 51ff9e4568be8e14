#pragma once
// Device helpers of the CUDA quotient layers: complex arithmetic on
// std::complex<T> storage (same layout as cufftComplex, written out so that
// device code never calls std::complex), a one-block sum that ends on the
// device (no host round trip), and the grid position of a kernel tap.
#include <complex>
#include <cstddef>

#include "error.cuh"
#include "stream_scope.cuh"

namespace deblur::cuda::detail {

template <class T>
struct Complex {
    T re, im;
};

template <class T>
__device__ inline Complex<T> load(const std::complex<T>* p, std::size_t i) {
    const T* v = reinterpret_cast<const T*>(p) + 2 * i;
    return {v[0], v[1]};
}
template <class T>
__device__ inline void store(std::complex<T>* p, std::size_t i, Complex<T> z) {
    T* v = reinterpret_cast<T*>(p) + 2 * i;
    v[0] = z.re;
    v[1] = z.im;
}
template <class T>
__device__ inline Complex<T> operator*(Complex<T> a, Complex<T> b) {
    return {a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re};
}
template <class T>
__device__ inline Complex<T> operator*(Complex<T> a, T s) {
    return {a.re * s, a.im * s};
}
template <class T>
__device__ inline Complex<T> operator+(Complex<T> a, Complex<T> b) {
    return {a.re + b.re, a.im + b.im};
}
template <class T>
__device__ inline Complex<T> operator-(Complex<T> a, Complex<T> b) {
    return {a.re - b.re, a.im - b.im};
}
template <class T>
__device__ inline Complex<T> conj(Complex<T> a) {
    return {a.re, -a.im};
}
template <class T>
__device__ inline T norm(Complex<T> a) {
    return a.re * a.re + a.im * a.im;
}

// Grid position of kernel tap (a, b) of a k x k kernel on an hp x wp grid: the
// origin (centre) goes to (0, 0).
__host__ __device__ inline std::size_t wrap_index(std::size_t a, std::size_t b, std::size_t k, std::size_t hp,
                                                  std::size_t wp) {
    return ((a + hp - k / 2) % hp) * wp + (b + wp - k / 2) % wp;
}

inline constexpr int sum_threads = 256;

// finish(s) with s = sum of term(i) for i in [0, n), in one block (a fixed
// order: deterministic). For the small sums of the layers (K x K taps, one
// sum per pass), not for throughput.
template <class T, class Term, class Finish>
__global__ void block_sum_kernel(std::size_t n, Term term, Finish finish) {
    __shared__ T partial[sum_threads];
    T s = T(0);
    for (std::size_t i = threadIdx.x; i < n; i += sum_threads) s += term(i);
    partial[threadIdx.x] = s;
    __syncthreads();
    for (int step = sum_threads / 2; step > 0; step /= 2) {
        if (static_cast<int>(threadIdx.x) < step) partial[threadIdx.x] += partial[threadIdx.x + step];
        __syncthreads();
    }
    if (threadIdx.x == 0) finish(partial[0]);
}

template <class T, class Term, class Finish>
void block_sum(std::size_t n, const Term& term, const Finish& finish) {
    block_sum_kernel<T><<<1, sum_threads, 0, current_stream()>>>(n, term, finish);
    check(cudaGetLastError(), "block_sum launch");
}

}  // namespace deblur::cuda::detail
