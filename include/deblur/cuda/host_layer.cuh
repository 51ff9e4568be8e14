#pragma once
// HostLayer<L>: a CUDA layer (cuda::DeviceLayer: a feature layer or the
// Quotient kernel module) behind the host layer protocol on deblur::Tensor: every call uploads its
// inputs and the host copy of the parameters and gradients, runs the layer on
// the GPU and downloads the results. params()/param_grads() are host spans.
//
// It is for tests (deblur::testing::check_layer runs unchanged on it) and for
// plugging a CUDA layer into host code such as Chain; it makes host round
// trips on every call by design, so it is not the way to run fast.
#include <cstddef>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "../core/tensor.hpp"
#include "cuda_exec.cuh"
#include "device_tensor.cuh"
#include "transfer.cuh"

namespace deblur::cuda {

template <DeviceLayer L>
class HostLayer {
public:
    using exec = typename L::exec;
    using scalar = typename L::scalar;
    using device_layer = L;

    static std::string architecture_name() { return L::architecture_name(); }
    static constexpr int output_channels(int in_channels)
        requires DeviceFeatureLayer<L>
    {
        return L::output_channels(in_channels);
    }

    void setup(std::size_t in_channels, std::mt19937_64& rng) {
        layer_.setup(in_channels, rng);
        params_.resize(layer_.num_params());
        grads_.assign(layer_.num_params(), scalar(0));
        layer_.get_params(params_);
    }

    void forward(const Tensor<scalar>& in, Tensor<scalar>& out) {
        layer_.set_params(params_);
        copy_to_device(in, in_);
        layer_.forward(in_, out_);
        copy_to_host(out_, out);
    }

    // Adds into grad_in and param_grads(), like every layer.
    void backward(const Tensor<scalar>& in, const Tensor<scalar>& out, const Tensor<scalar>& grad_out,
                  Tensor<scalar>& grad_in) {
        layer_.set_params(params_);
        // The host gradients may have been changed (e.g. zeroed or prefilled).
        if constexpr (requires(std::span<const scalar> s) { layer_.set_param_grads(s); })
            layer_.set_param_grads(grads_);
        copy_to_device(in, in_);
        copy_to_device(out, out_);
        copy_to_device(grad_out, grad_out_);
        copy_to_device(grad_in, grad_in_);
        layer_.backward(in_, out_, grad_out_, grad_in_);
        copy_to_host(grad_in_, grad_in);
        layer_.get_param_grads(grads_);
    }

    std::span<scalar> params() { return params_; }
    std::span<scalar> param_grads() { return grads_; }

    L& device() { return layer_; }

private:
    L layer_;
    std::vector<scalar> params_, grads_;
    DeviceTensor<scalar> in_, out_, grad_out_, grad_in_;
};

}  // namespace deblur::cuda
