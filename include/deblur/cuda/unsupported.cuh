#pragma once
// The layers that have no CUDA implementation yet: naming them with
// CudaExec<T> is a compile error with this message, rather than the CPU code
// running on device pointers. Remove a specialisation here when its CUDA
// version is written (see the coverage list in deblur/cuda/cuda_exec.cuh).
#include "cuda_exec.cuh"

namespace deblur {

template <int K, class E>
class Quotient;  // deblur/layers/quotient.hpp
template <class E>
class ImageQuotient;  // deblur/layers/image_quotient.hpp

namespace cuda::detail {
template <class T>
inline constexpr bool not_yet = false;
}  // namespace cuda::detail

template <int K, class T>
class Quotient<K, Exec<T, fft::CuFft>> {
    static_assert(cuda::detail::not_yet<T>,
                  "deblur::Quotient has no CUDA implementation yet (CudaExec covers Tanh, Conv, Recombine and CuFft)");
};

template <class T>
class ImageQuotient<Exec<T, fft::CuFft>> {
    static_assert(cuda::detail::not_yet<T>,
                  "deblur::ImageQuotient has no CUDA implementation yet (CudaExec covers Tanh, Conv, Recombine and "
                  "CuFft)");
};

}  // namespace deblur
