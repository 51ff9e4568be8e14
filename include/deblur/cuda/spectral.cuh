#pragma once
// Device helpers of the CUDA quotient layers: complex arithmetic on
// std::complex<T> storage (core/complex_parts.hpp, shared with the CPU code),
// a one-block sum that ends on the device (no host round trip), and the grid
// position of a kernel tap.
#include <complex>
#include <cstddef>

#include "../core/complex_parts.hpp"
#include "../layers/quotient_terms.hpp"
#include "error.cuh"
#include "stream_scope.cuh"

namespace deblur::cuda::detail {

// Complex arithmetic on std::complex<T> storage: shared with the CPU code.
using deblur::detail::Complex;
using deblur::detail::load;
using deblur::detail::store;

// The grid position of a kernel tap, shared with the CPU layers.
using deblur::detail::wrap_index;

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
