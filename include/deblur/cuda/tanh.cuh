#pragma once
// Tanh on the GPU: the specialisation of deblur::Tanh for CudaExec<T>
// (see deblur/cuda/cuda_exec.cuh for the protocol). Element-wise with thrust.
#include <cstddef>
#include <random>
#include <span>
#include <stdexcept>
#include <string>

#include "cuda_exec.cuh"
#include "device_tensor.cuh"
#include "for_each_index.cuh"

namespace deblur {

template <class E>
class Tanh;  // the CPU layer, deblur/layers/tanh.hpp

namespace cuda::detail {

template <class T>
struct TanhForward {
    const T* in;
    T* out;
    __device__ void operator()(std::size_t i) const {
        if constexpr (sizeof(T) == sizeof(float))
            out[i] = tanhf(in[i]);
        else
            out[i] = tanh(in[i]);
    }
};

// grad_in += grad_out * (1 - out^2)
template <class T>
struct TanhBackward {
    const T* out;
    const T* grad_out;
    T* grad_in;
    __device__ void operator()(std::size_t i) const { grad_in[i] += grad_out[i] * (T(1) - out[i] * out[i]); }
};

}  // namespace cuda::detail

template <class T, class Fft>
class Tanh<Exec<T, Cuda, Fft>> {
public:
    using exec = Exec<T, Cuda, Fft>;
    using scalar = T;
    using tensor = cuda::DeviceTensor<T>;
    template <class E2>
    using rebind = Tanh<E2>;
    static std::string architecture_name() { return "Tanh"; }  // as the CPU layer's: same model files

    static constexpr int output_channels(int in_channels) { return in_channels; }

    void setup(std::size_t, std::mt19937_64&) {}

    void forward(const tensor& in, tensor& out) const {
        resize(out, in.shape(0), in.shape(1), in.shape(2));
        cuda::for_each_index(in.size(), cuda::detail::TanhForward<T>{in.data(), out.data()});
    }

    // d tanh(x) / dx = 1 - tanh(x)^2, from the stored output; adds into grad_in.
    void backward(const tensor&, const tensor& out, const tensor& grad_out, tensor& grad_in) const {
        if (grad_out.shape() != out.shape() || grad_in.shape() != out.shape())
            throw std::invalid_argument("deblur::Tanh<CudaExec>::backward: the tensors must have the output's shape");
        cuda::for_each_index(out.size(), cuda::detail::TanhBackward<T>{out.data(), grad_out.data(), grad_in.data()});
    }

    std::span<T> params() { return {}; }
    std::span<T> param_grads() { return {}; }
    std::size_t num_params() const { return 0; }
    void get_params(std::span<T>) const {}
    void set_params(std::span<const T>) {}
    void get_param_grads(std::span<T>) const {}
    void set_param_grads(std::span<const T>) {}
    void zero_grads() {}
};

}  // namespace deblur
