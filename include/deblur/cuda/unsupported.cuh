#pragma once
// The layers that have no CUDA implementation yet: naming them with
// CudaExec<T> is a compile error with this message, rather than the CPU code
// running on device pointers. Remove a specialisation here when its CUDA
// version is written (see the coverage list in deblur/cuda/cuda_exec.cuh).
#include "cuda_exec.cuh"

namespace deblur {

template <int K, class E>
class EFFQuotient;  // deblur/layers/eff_quotient.hpp
template <class E>
class EFFImageQuotient;  // deblur/layers/eff_image_quotient.hpp

namespace cuda::detail {
template <class T>
inline constexpr bool not_yet = false;
}  // namespace cuda::detail

template <int K, class T, class Fft>
class EFFQuotient<K, Exec<T, Cuda, Fft>> {
    static_assert(cuda::detail::not_yet<T>,
                  "deblur::EFFQuotient has no CUDA implementation yet (spatially-varying blur runs on the CPU)");
};

template <class T, class Fft>
class EFFImageQuotient<Exec<T, Cuda, Fft>> {
    static_assert(cuda::detail::not_yet<T>,
                  "deblur::EFFImageQuotient has no CUDA implementation yet (spatially-varying blur runs on the CPU)");
};

}  // namespace deblur
