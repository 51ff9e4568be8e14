#pragma once
// Element-wise hyperbolic tangent.
#include <cmath>
#include <cstddef>
#include <random>
#include <span>

#include "../core/exec.hpp"
#include "../core/tensor.hpp"

namespace deblur {

template <class E = DefaultExec>
class Tanh {
public:
    using exec = E;
    using scalar = typename E::scalar;
    template <class E2>
    using rebind = Tanh<E2>;

    static constexpr int output_channels(int in_channels) { return in_channels; }

    void setup(std::size_t, std::mt19937_64&) {}

    void forward(const Tensor<scalar>& in, Tensor<scalar>& out) const {
        resize(out, in.shape(0), in.shape(1), in.shape(2));
        const scalar* x = in.data();
        scalar* y = out.data();
        const std::size_t n = in.size();
        for (std::size_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
    }

    // d tanh(x) / dx = 1 - tanh(x)^2, from the stored output.
    void backward(const Tensor<scalar>&, const Tensor<scalar>& out, const Tensor<scalar>& grad_out,
                  Tensor<scalar>& grad_in) const {
        const scalar* y = out.data();
        const scalar* g = grad_out.data();
        scalar* gi = grad_in.data();
        const std::size_t n = out.size();
        for (std::size_t i = 0; i < n; ++i) gi[i] += g[i] * (scalar(1) - y[i] * y[i]);
    }

    std::span<scalar> params() { return {}; }
    std::span<scalar> param_grads() { return {}; }
};

}  // namespace deblur
