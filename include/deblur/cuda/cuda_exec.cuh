#pragma once
// CudaExec<T>: the execution policy that runs layers on the GPU.
//
//   deblur::Conv<32, 9, deblur::CudaExec<float>>   // the CUDA Conv
//   deblur::rebind_t<Layer, deblur::CudaExec<float>> // any covered layer, on the GPU
//
// It is deblur::Exec<T, fft::CuFft>: the FFT backend of the policy names the
// device. The CUDA layers are partial specialisations of the CPU layer
// templates for this policy (deblur/cuda/tanh.cuh, conv.cuh, recombine.cuh),
// so switching a layer between CPU and GPU is changing its policy parameter;
// rebind_t goes both ways. Include <deblur/cuda/cuda.cuh> (or the layer's
// .cuh) before naming a layer with this policy.
//
// The CUDA layers keep the layer protocol of deblur/layers/layer.hpp with
// device data:
//   - forward/backward take cuda::DeviceTensor<T> (device memory) instead of
//     deblur::Tensor<T>; backward ADDS into grad_in and the parameter gradients;
//     no host round trip inside either (work is enqueued on
//     cuda::current_stream(), asynchronous);
//   - params()/param_grads() are std::span over DEVICE memory (for device code:
//     thrust, cuBLAS, a device optimiser); never dereference them on the host;
//   - host access goes through num_params(), get_params(dst), set_params(src),
//     get_param_grads(dst) and zero_grads() (the accessors Chain and the
//     parameter helpers already prefer), which copy;
//   - setup(channels, rng) draws the same initial parameters as the CPU layer
//     with the same generator state.
// They model cuda::DeviceFeatureLayer, not deblur::FeatureLayer (whose
// tensors are host tensors); cuda::HostLayer<L> adapts one to FeatureLayer
// with explicit copies (tests, interop).
//
// Coverage (what runs on the GPU so far):
//   - covered: fft::CuFft; Tanh, Conv<N, F>, Recombine<M> forward and backward,
//     float and double.
//   - NOT covered: Chain, Quotient, ImageQuotient, Stage, Scale, MultiScale,
//     the blur model, the deconvolution, training and the pipeline. Chain,
//     Stage and the rest are written against host deblur::Tensor; a CUDA
//     Quotient/ImageQuotient (taper, batched cuFFT, spectral quotients and
//     their backward in thrust) is the next step. Naming Quotient or
//     ImageQuotient with CudaExec stops compilation with a message
//     (deblur/cuda/unsupported.cuh) instead of running host code on device
//     pointers.
#include <concepts>
#include <cstddef>
#include <random>
#include <span>
#include <type_traits>

#include "../core/exec.hpp"
#include "cufft.cuh"
#include "device_tensor.cuh"

namespace deblur {

template <class T>
using CudaExec = Exec<T, fft::CuFft>;

// Whether E runs on the GPU.
template <class E>
inline constexpr bool is_cuda_exec_v = std::is_same_v<typename E::fft, fft::CuFft>;

namespace cuda {

// The layer protocol on device tensors (see the top of this file).
template <class L>
concept DeviceFeatureLayer =
    is_cuda_exec_v<typename L::exec> &&
    requires(L layer, const DeviceTensor<typename L::scalar>& in, DeviceTensor<typename L::scalar>& out,
             std::mt19937_64& rng, std::span<typename L::scalar> host, std::span<const typename L::scalar> chost) {
        typename L::scalar;
        layer.setup(std::size_t{1}, rng);
        layer.forward(in, out);
        layer.backward(in, in, in, out);
        { layer.params() } -> std::same_as<std::span<typename L::scalar>>;
        { layer.param_grads() } -> std::same_as<std::span<typename L::scalar>>;
        { layer.num_params() } -> std::same_as<std::size_t>;
        layer.get_params(host);
        layer.set_params(chost);
        layer.get_param_grads(host);
        layer.zero_grads();
        { L::output_channels(1) } -> std::same_as<int>;
    };

}  // namespace cuda
}  // namespace deblur
