#pragma once
// CudaExec<T>: the execution policy that runs layers on the GPU.
//
//   deblur::Conv<32, 9, deblur::CudaExec<float>>   // the CUDA Conv
//   deblur::rebind_t<Layer, deblur::CudaExec<float>> // any covered layer, on the GPU
//
// It is deblur::Exec<T, Cuda> (core/exec.hpp), whose FFT backend defaults to
// fft::CuFft. The CUDA layers are partial specialisations of the CPU layer
// templates for Device = Cuda, whatever the FFT backend (deblur/cuda/tanh.cuh, conv.cuh, recombine.cuh,
// quotient.cuh, image_quotient.cuh), and the composites (Chain, Stage, Scale,
// MultiScale) are the CPU templates themselves, generic over their layers'
// tensor type (layer_tensor_t), so switching a layer or a whole network
// between CPU and GPU is changing its policy parameter; rebind_t goes both
// ways:
//
//   deblur::PaperNetwork<deblur::CudaExec<float>> net(seed);  // the paper's network on the GPU
//   deblur::load_model(net, "models/default.dbm");            // the CPU's model files
//   net.forward(deblur::cuda::to_device(blurry));             // blurry: 1 x H x W host tensor
//   auto kernel = deblur::cuda::to_host(net.kernel());
//
// Include <deblur/cuda/cuda.cuh> (all of the backend) before naming a layer or
// network with this policy.
//
// The CUDA layers keep the layer protocol of deblur/layers/layer.hpp with
// device data:
//   - forward/backward take cuda::DeviceTensor<T> (device memory; the layers'
//     `tensor` type) instead of deblur::Tensor<T>; backward ADDS into grad_in
//     and the parameter gradients; no host round trip inside either (work is
//     enqueued on cuda::current_stream(), asynchronous; sums such as the
//     quotient's normalisation stay on the device);
//   - params()/param_grads() are std::span over DEVICE memory (for device code:
//     thrust, cuBLAS, cuda::Adadelta); never dereference them on the host;
//   - host access goes through num_params(), get_params(dst), set_params(src),
//     get_param_grads(dst), set_param_grads(src) and zero_grads(), which copy;
//     a network's for_each_param_block hands out such host copies (written
//     back after the call: model files, checkpoints), for_each_param_storage
//     the device spans themselves;
//   - setup(channels, rng) draws the same initial parameters as the CPU layer
//     with the same generator state.
// cuda::HostLayer<L> adapts a CUDA layer to host tensors with explicit copies
// (tests, interop).
//
// Coverage (what runs on the GPU):
//   - covered: fft::CuFft (single and batched transforms); Tanh, Conv<N, F>,
//     Recombine<M>, Quotient<K>, ImageQuotient forward and backward, float and
//     double; Chain, Stage, Scale and MultiScale (with DeviceLinearResize
//     between scales), so whole networks such as PaperNetwork<CudaExec<float>>;
//     ADADELTA (cuda::Adadelta) and training (cuda::Trainer); the network
//     kernel estimate of the pipeline (cuda::network_kernel_estimate,
//     `deblur --device cuda`, `deblur-train --device cuda`).
//   - NOT covered: the EFF layers (EFFQuotient, EFFImageQuotient: naming them
//     with CudaExec stops compilation with a message, deblur/cuda/
//     unsupported.cuh), the blur model, the classical kernel refinement and
//     the deconvolution (the pipeline runs them on the CPU).
//   - The CUDA Quotient and ImageQuotient do not check their input for NaN
//     (that would need a host round trip) and reuse the last forward's spectra
//     in backward for the same input tensors (see their headers).
//   - Built with nvcc 13.0 for sm_90; tests/cuda/ holds the checks against
//     the CPU layers (the README's "The CUDA backend" gives their status).
#include <concepts>
#include <cstddef>
#include <random>
#include <span>
#include <type_traits>

#include "../core/exec.hpp"
#include "cufft.cuh"
#include "device_tensor.cuh"

namespace deblur {

// The GPU's FFT backend unless a policy names another.
template <>
struct default_fft<Cuda> {
    using type = fft::CuFft;
};

template <class T>
using CudaExec = Exec<T, Cuda>;

// Whether E runs on the GPU.
template <class E>
inline constexpr bool is_cuda_exec_v = std::is_same_v<typename E::device, Cuda>;

namespace cuda {

// The layer protocol on device tensors (see the top of this file): what
// every CUDA layer has, and a feature layer's channel rule.
template <class L>
concept DeviceLayer =
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
    };
template <class L>
concept DeviceFeatureLayer = DeviceLayer<L> && requires {
    { L::output_channels(1) } -> std::same_as<int>;
};

}  // namespace cuda
}  // namespace deblur
