#pragma once
// The three roles of a network's layers, as concepts (the dlib convention):
//
// FeatureLayer: one tensor in, one out (Conv, Tanh, Recombine, Chain).
//   void setup(std::size_t in_channels, std::mt19937_64& rng);  // shapes, initial parameters
//   void forward(const Tensor<T>& in, Tensor<T>& out);           // resizes `out`
//   void backward(const Tensor<T>& in, const Tensor<T>& out,
//                 const Tensor<T>& grad_out, Tensor<T>& grad_in); // ADDS into grad_in
//                                                                // and the parameter gradients
//   std::span<T> params(); std::span<T> param_grads();
//   static constexpr int output_channels(int in_channels);       // -1: invalid input
//
// KernelModule: feature maps in, kernels out (Quotient, EFFQuotient).
//   static constexpr int kernel_size;                            // K: kernels are K x K
//   static constexpr bool accepts_channels(int feature_channels);
//   std::size_t kernel_count() const;                            // kernels per output (1, or one per patch)
//   setup, forward(features, kernels), backward(features, kernels, grad_kernels,
//   grad_features), params, param_grads as a feature layer.
//
// ImageModule: a kernel and the blurry image in, a latent image out (ImageQuotient, EFFImageQuotient).
//   void forward(const Tensor<T>& kernel, const Tensor<T>& blurry, Tensor<T>& latent);
//   void backward(kernel, blurry, latent, grad_latent, grad_kernel, grad_blurry);  // ADDS
//   params, param_grads.
//
// Every layer also has `scalar`, `exec` (its policy), `template <class E>
// using rebind` (the same layer with another policy) and
// `static std::string architecture_name()`: its name in model files
// (architecture_of), e.g. "Conv<32,9>"; a composite joins its parts' names.
//
// `backward` adds rather than assigns so that branches can share an input and
// gradients accumulate over a minibatch; callers zero them. A composite (a
// Chain) has no contiguous parameter span: the layer_*params functions below
// reach any layer's parameters, leaf or composite.
//
// Tensor<T> above is the layer's `tensor` type where it declares one (the
// CUDA layers: cuda::DeviceTensor<T>, see deblur/cuda/cuda_exec.cuh), host
// tensors otherwise.
#include <algorithm>
#include <concepts>
#include <cstddef>
#include <random>
#include <span>
#include <string>
#include <type_traits>

#include "../core/tensor.hpp"

namespace deblur {

namespace detail {
template <class L>
struct layer_tensor {
    using type = Tensor<typename L::scalar>;
};
template <class L>
    requires requires { typename L::tensor; }
struct layer_tensor<L> {
    using type = typename L::tensor;
};
}  // namespace detail

// The tensors a layer takes.
template <class L>
using layer_tensor_t = typename detail::layer_tensor<L>::type;

// Whether a layer's params()/param_grads() are host memory (false for the
// CUDA layers, whose spans are device memory).
template <class L>
inline constexpr bool host_params_v = std::is_same_v<layer_tensor_t<L>, Tensor<typename L::scalar>>;

// What every role has: a policy, parameters, a name in model files.
template <class L>
concept Layer = requires(L layer) {
    typename L::scalar;
    typename L::exec;
    { layer.params() } -> std::same_as<std::span<typename L::scalar>>;
    { layer.param_grads() } -> std::same_as<std::span<typename L::scalar>>;
    { L::architecture_name() } -> std::same_as<std::string>;
};

template <class L>
concept FeatureLayer =
    Layer<L> && requires(L layer, const layer_tensor_t<L>& in, layer_tensor_t<L>& out, std::mt19937_64& rng) {
        layer.setup(std::size_t{1}, rng);
        layer.forward(in, out);
        layer.backward(in, in, in, out);
        { L::output_channels(1) } -> std::same_as<int>;
    };

template <class M>
concept KernelModule =
    Layer<M> && requires(M part, const M& cpart, const layer_tensor_t<M>& in, layer_tensor_t<M>& out,
                         std::mt19937_64& rng) {
        { M::kernel_size } -> std::convertible_to<int>;
        { M::accepts_channels(2) } -> std::same_as<bool>;
        { cpart.kernel_count() } -> std::same_as<std::size_t>;
        part.setup(std::size_t{2}, rng);
        part.forward(in, out);
        part.backward(in, in, in, out);
    };

template <class M>
concept ImageModule = Layer<M> && requires(M part, const layer_tensor_t<M>& in, layer_tensor_t<M>& out) {
    part.forward(in, in, out);
    part.backward(in, in, in, in, out, out);
};

// A layer type's name in model files.
template <class L>
std::string architecture_of() {
    return L::architecture_name();
}

// "A,B,C": the names of a composite's parts.
template <class... Ls>
std::string join_architectures() {
    std::string s;
    ((s += (s.empty() ? "" : ",") + architecture_of<Ls>()), ...);
    return s;
}

// Parameter access for any layer: one params() span (a leaf), or
// num_params / get_params / set_params / ... (a composite such as Chain).
template <class L>
std::size_t layer_param_count(L& layer) {
    if constexpr (requires { layer.num_params(); })
        return layer.num_params();
    else
        return layer.params().size();
}

template <class L, class T>
void layer_get_params(L& layer, std::span<T> dst) {
    if constexpr (requires { layer.get_params(dst); }) {
        layer.get_params(dst);
    } else {
        auto p = layer.params();
        std::copy(p.begin(), p.end(), dst.begin());
    }
}

template <class L, class T>
void layer_set_params(L& layer, std::span<const T> src) {
    if constexpr (requires { layer.set_params(src); }) {
        layer.set_params(src);
    } else {
        auto p = layer.params();
        if (!p.empty()) std::copy(src.begin(), src.end(), p.begin());  // an empty span may be null
    }
}

template <class L, class T>
void layer_get_param_grads(L& layer, std::span<T> dst) {
    if constexpr (requires { layer.get_param_grads(dst); }) {
        layer.get_param_grads(dst);
    } else {
        auto g = layer.param_grads();
        std::copy(g.begin(), g.end(), dst.begin());
    }
}

template <class L, class T>
void layer_set_param_grads(L& layer, std::span<const T> src) {
    if constexpr (requires { layer.set_param_grads(src); }) {
        layer.set_param_grads(src);
    } else {
        auto g = layer.param_grads();
        if (!g.empty()) std::copy(src.begin(), src.end(), g.begin());  // an empty span may be null
    }
}

template <class L>
void layer_zero_grads(L& layer) {
    if constexpr (requires { layer.zero_grads(); }) {
        layer.zero_grads();
    } else {
        auto g = layer.param_grads();
        std::fill(g.begin(), g.end(), typename L::scalar(0));
    }
}

}  // namespace deblur
