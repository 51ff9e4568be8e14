#pragma once
// Element-wise hyperbolic tangent.
#include <Eigen/Core>
#include <cmath>
#include <cstddef>
#include <random>
#include <span>
#include <string>

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
    static std::string architecture_name() { return "Tanh"; }

    static constexpr int output_channels(int in_channels) { return in_channels; }

    void setup(std::size_t, std::mt19937_64&) {}

    void forward(const Tensor<scalar>& in, Tensor<scalar>& out) const {
        resize(out, in.shape(0), in.shape(1), in.shape(2));
        // Eigen's tanh is vectorised (a rational approximation for float, a few
        // ulp from std::tanh); libm's scalar tanhf made this layer the
        // network's hot spot.
        const auto n = static_cast<Eigen::Index>(in.size());
        Eigen::Map<Eigen::Array<scalar, Eigen::Dynamic, 1>>(out.data(), n) =
            Eigen::Map<const Eigen::Array<scalar, Eigen::Dynamic, 1>>(in.data(), n).tanh();
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
