#pragma once
// A sequence of feature layers as one feature layer, so the architecture reads
// as a type and chains nest:
//
//   using Features = Chain<Conv<32, 9>, Tanh<>, Recombine<32>, Tanh<>, Recombine<4>>;
//
// forward keeps every intermediate output as a member (reused between calls);
// backward runs the layers in reverse on those intermediates, so it must
// follow the forward call on the same input. infer computes the same output
// through two caller-owned buffers used in turn, keeping nothing for
// backward: inference needs two intermediates' memory, not one per layer.
//
// Parameters: each layer owns its own storage, so a Chain has no contiguous
// parameter span. params()/param_grads() exist only to satisfy FeatureLayer
// and return EMPTY spans; reach the parameters through num_params(),
// get_params(), set_params(), get_param_grads() (layer order, each layer's
// own params() layout), set_param_grads() and zero_grads(), or visit layers
// with for_each_layer.
//
// The layers' tensor type is the chain's (layer_tensor_t): a chain of CUDA
// layers runs on device tensors, its intermediates stay on the device.
#include <algorithm>
#include <array>
#include <cstddef>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "../core/exec.hpp"
#include "../core/tensor.hpp"
#include "layer.hpp"

namespace deblur {

namespace detail {

// The policy and tensor type of the first layer (DefaultExec for an empty
// pack, so that only Chain's own static_assert reports that mistake).
template <class... Ls>
struct chain_exec {
    using type = DefaultExec;
    using tensor = Tensor<float>;
};
template <class L, class... Ls>
struct chain_exec<L, Ls...> {
    using type = typename L::exec;
    using tensor = layer_tensor_t<L>;
};

}  // namespace detail

template <FeatureLayer... Ls>
class Chain {
    static_assert(sizeof...(Ls) > 0, "deblur::Chain needs at least one layer");

public:
    using exec = typename detail::chain_exec<Ls...>::type;
    using scalar = typename exec::scalar;
    using tensor = typename detail::chain_exec<Ls...>::tensor;
    static_assert((std::is_same_v<typename Ls::scalar, scalar> && ...),
                  "deblur::Chain: all layers must use the same scalar type (rebind them to one policy)");
    static_assert((std::is_same_v<layer_tensor_t<Ls>, tensor> && ...),
                  "deblur::Chain: all layers must take the same tensors, host or device (rebind them to one policy)");
    template <class E2>
    using rebind = Chain<rebind_t<Ls, E2>...>;
    static std::string architecture_name() { return "Chain<" + join_architectures<Ls...>() + ">"; }

    static constexpr int layer_count = static_cast<int>(sizeof...(Ls));

    // The layers' output_channels composed; -1 (invalid) propagates.
    static constexpr int output_channels(int in_channels) {
        int channels = in_channels;
        ((channels = channels < 1 ? -1 : Ls::output_channels(channels)), ...);
        return channels;
    }

    void setup(std::size_t in_channels, std::mt19937_64& rng) {
        if (output_channels(static_cast<int>(in_channels)) < 1)
            throw std::invalid_argument("deblur::Chain::setup: the layers do not accept " +
                                        std::to_string(in_channels) + " input channels");
        std::size_t channels = in_channels;
        for_each_layer([&]<class L>(L& layer) {
            layer.setup(channels, rng);
            channels = static_cast<std::size_t>(L::output_channels(static_cast<int>(channels)));
        });
        ready_ = true;
    }

    void forward(const tensor& in, tensor& out) {
        if (!ready_) throw std::invalid_argument("deblur::Chain::forward: call setup() first");
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (std::get<I>(layers_).forward(input_of<I>(in), output_of<I>(out)), ...);
        }(std::make_index_sequence<sizeof...(Ls)>{});
        forwarded_ = true;
    }

    // The output of forward(in, out), bit for bit, with the intermediates in
    // `buffers` (layer i writes buffers[i % 2]; resized as needed, reused
    // between calls and shareable between chains). A nested chain keeps its
    // own intermediates. Afterwards backward throws until the next forward.
    void infer(const tensor& in, tensor& out, std::array<tensor, 2>& buffers) {
        if (!ready_) throw std::invalid_argument("deblur::Chain::infer: call setup() first");
        forwarded_ = false;
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (std::get<I>(layers_).forward(I == 0 ? in : buffers[(I + 1) % 2], I == last_index ? out : buffers[I % 2]), ...);
        }(std::make_index_sequence<sizeof...(Ls)>{});
    }

    // Adds into grad_in and every layer's parameter gradients. Uses the
    // intermediates of the latest forward(in, out).
    void backward(const tensor& in, const tensor& out, const tensor& grad_out, tensor& grad_in) {
        if (!forwarded_) throw std::invalid_argument("deblur::Chain::backward: call forward() first");
        if (grad_out.shape() != out.shape())
            throw std::invalid_argument("deblur::Chain::backward: grad_out must have the shape of the output");
        if (grad_in.shape() != in.shape())
            throw std::invalid_argument("deblur::Chain::backward: grad_in must have the shape of the input");
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (backward_layer<last_index - I>(in, out, grad_out, grad_in), ...);
        }(std::make_index_sequence<sizeof...(Ls)>{});
    }

    // Empty: see the comment at the top of this file.
    std::span<scalar> params() { return {}; }
    std::span<scalar> param_grads() { return {}; }

    std::size_t num_params() {
        std::size_t n = 0;
        for_each_layer([&](auto& layer) { n += layer_param_count(layer); });
        return n;
    }

    // All parameters, layer after layer, into `dst` (size num_params()).
    void get_params(std::span<scalar> dst) {
        check_size(dst.size(), "get_params");
        std::size_t offset = 0;
        for_each_layer([&](auto& layer) {
            const std::size_t n = layer_param_count(layer);
            layer_get_params(layer, dst.subspan(offset, n));
            offset += n;
        });
    }

    void set_params(std::span<const scalar> src) {
        check_size(src.size(), "set_params");
        std::size_t offset = 0;
        for_each_layer([&](auto& layer) {
            const std::size_t n = layer_param_count(layer);
            layer_set_params(layer, src.subspan(offset, n));
            offset += n;
        });
    }

    void get_param_grads(std::span<scalar> dst) {
        check_size(dst.size(), "get_param_grads");
        std::size_t offset = 0;
        for_each_layer([&](auto& layer) {
            const std::size_t n = layer_param_count(layer);
            layer_get_param_grads(layer, dst.subspan(offset, n));
            offset += n;
        });
    }

    void set_param_grads(std::span<const scalar> src) {
        check_size(src.size(), "set_param_grads");
        std::size_t offset = 0;
        for_each_layer([&](auto& layer) {
            const std::size_t n = layer_param_count(layer);
            layer_set_param_grads(layer, src.subspan(offset, n));
            offset += n;
        });
    }

    void zero_grads() {
        for_each_layer([](auto& layer) { layer_zero_grads(layer); });
    }

    // Calls f(layer) for every layer, first to last.
    template <class Fn>
    void for_each_layer(Fn&& f) {
        std::apply([&](auto&... layer) { (f(layer), ...); }, layers_);
    }

    template <std::size_t I>
    auto& layer() {
        return std::get<I>(layers_);
    }
    template <std::size_t I>
    const auto& layer() const {
        return std::get<I>(layers_);
    }

private:
    static constexpr std::size_t last_index = sizeof...(Ls) > 0 ? sizeof...(Ls) - 1 : 0;

    template <std::size_t I>
    const tensor& input_of(const tensor& in) const {
        if constexpr (I == 0)
            return in;
        else
            return activations_[I - 1];
    }

    template <std::size_t I>
    tensor& output_of(tensor& out) {
        if constexpr (I == last_index)
            return out;
        else
            return activations_[I];
    }

    template <std::size_t I>
    const tensor& output_of(const tensor& out) const {
        if constexpr (I == last_index)
            return out;
        else
            return activations_[I];
    }

    template <std::size_t I>
    void backward_layer(const tensor& in, const tensor& out, const tensor& grad_out, tensor& grad_in) {
        const tensor& dy = [&]() -> const tensor& {
            if constexpr (I == last_index)
                return grad_out;
            else
                return gradients_[I];
        }();
        if constexpr (I == 0) {
            std::get<I>(layers_).backward(in, output_of<I>(out), dy, grad_in);
        } else {
            // Layers add into their input gradient: start it from zero.
            tensor& dx = gradients_[I - 1];
            const tensor& x = activations_[I - 1];
            resize(dx, x.shape(0), x.shape(1), x.shape(2));
            zero_fill(dx);
            std::get<I>(layers_).backward(x, output_of<I>(out), dy, dx);
        }
    }

    void check_size(std::size_t size, const char* where) {
        const std::size_t expected = num_params();
        if (size != expected)
            throw std::invalid_argument(std::string("deblur::Chain::") + where + ": expected " +
                                        std::to_string(expected) + " values, got " + std::to_string(size));
    }

    std::tuple<Ls...> layers_;
    // activations_[i]: output of layer i; gradients_[i]: dL/d activations_[i].
    std::array<tensor, last_index> activations_;
    std::array<tensor, last_index> gradients_;
    bool ready_ = false;
    bool forwarded_ = false;
};

}  // namespace deblur
