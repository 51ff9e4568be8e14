#pragma once
// What every feature layer provides (the dlib convention):
//
//   void setup(std::size_t in_channels, std::mt19937_64& rng);  // shapes, initial parameters
//   void forward(const Tensor<T>& in, Tensor<T>& out);           // resizes `out`
//   void backward(const Tensor<T>& in, const Tensor<T>& out,
//                 const Tensor<T>& grad_out, Tensor<T>& grad_in); // ADDS into grad_in
//                                                                // and the parameter gradients
//   std::span<T> params(); std::span<T> param_grads();
//   static constexpr int output_channels(int in_channels);       // -1: invalid input
//   template <class E> using rebind = ...;                        // same layer, other policy
//
// `backward` adds rather than assigns so that branches can share an input and
// gradients accumulate over a minibatch; callers zero them.
//
// Tensor<T> above is the layer's `tensor` type where it declares one (the
// CUDA layers: cuda::DeviceTensor<T>, see deblur/cuda/cuda_exec.cuh), host
// tensors otherwise.
#include <concepts>
#include <cstddef>
#include <random>
#include <span>
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

template <class L>
concept FeatureLayer = requires(L layer, const layer_tensor_t<L>& in, layer_tensor_t<L>& out, std::mt19937_64& rng) {
    typename L::scalar;
    typename L::exec;
    layer.setup(std::size_t{1}, rng);
    layer.forward(in, out);
    layer.backward(in, in, in, out);
    { layer.params() } -> std::same_as<std::span<typename L::scalar>>;
    { layer.param_grads() } -> std::same_as<std::span<typename L::scalar>>;
    { L::output_channels(1) } -> std::same_as<int>;
};

}  // namespace deblur
