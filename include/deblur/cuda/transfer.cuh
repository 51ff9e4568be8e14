#pragma once
// Copies between host tensors (deblur::Tensor, xtensor) and DeviceTensor.
// These are the explicit host round trips; the CUDA layers never make them.
#include "../core/tensor.hpp"
#include "device_tensor.cuh"

namespace deblur::cuda {

template <class T>
void copy_to_device(const Tensor<T>& host, DeviceTensor<T>& device) {
    device.resize(host.shape(0), host.shape(1), host.shape(2));
    device.buffer().upload(host.data(), host.size());
}

// Waits for the current stream.
template <class T>
void copy_to_host(const DeviceTensor<T>& device, Tensor<T>& host) {
    deblur::resize(host, device.shape(0), device.shape(1), device.shape(2));
    device.buffer().download(host.data());
}

template <class T>
DeviceTensor<T> to_device(const Tensor<T>& host) {
    DeviceTensor<T> device;
    copy_to_device(host, device);
    return device;
}

template <class T>
Tensor<T> to_host(const DeviceTensor<T>& device) {
    Tensor<T> host;
    copy_to_host(device, host);
    return host;
}

}  // namespace deblur::cuda
