#pragma once
// for_each_index(n, op): op(i) for i in [0, n) on the GPU, one thread per
// index, with thrust on cuda::current_stream(), without waiting for it
// (thrust::cuda::par_nosync). `op` is a functor with a __device__ call
// operator; the element-wise work of the CUDA layers goes through here.
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/system/cuda/execution_policy.h>

#include <cstddef>

#include "stream_scope.cuh"

namespace deblur::cuda {

template <class Op>
void for_each_index(std::size_t n, const Op& op) {
    if (n == 0) return;
    thrust::for_each_n(thrust::cuda::par_nosync.on(current_stream()), thrust::counting_iterator<std::size_t>(0), n, op);
}

}  // namespace deblur::cuda
