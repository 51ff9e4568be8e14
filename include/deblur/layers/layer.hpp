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
#include <concepts>
#include <cstddef>
#include <random>
#include <span>

#include "../core/tensor.hpp"

namespace deblur {

template <class L>
concept FeatureLayer = requires(L layer, const Tensor<typename L::scalar>& in, Tensor<typename L::scalar>& out,
                                std::mt19937_64& rng) {
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
