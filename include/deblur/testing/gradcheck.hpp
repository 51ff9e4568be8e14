#pragma once
// Finite-difference gradient checks for layers, in the style of dlib's
// test_layer: a random projection r turns the layer output into the scalar
// loss L = <r, f(x)>; the analytic gradients from `backward` are compared with
// central differences of L. Use double precision.
//
//   auto r = deblur::testing::check_layer(layer, input, seed);
//   CHECK(r.input_error < 1e-6); CHECK(r.param_error < 1e-6);
//
// The check also catches layers that leave outputs unwritten (the output is
// prefilled with a NaN sentinel) and layers that assign instead of adding into
// gradient buffers (the buffers are prefilled with an offset that is subtracted
// afterwards, so an overwrite shows as a large error).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <limits>
#include <random>
#include <span>
#include <stdexcept>
#include <vector>

#include "../core/tensor.hpp"
#include "../layers/layer.hpp"

namespace deblur::testing {

struct GradcheckResult {
    double input_error = 0;  // relative error of the input gradient
    double param_error = 0;  // relative error of the parameter gradient (0 without parameters)
    bool output_written = true;  // every output value was written by forward
};

// || a - b || / max(||a||, ||b||, tiny)
inline double relative_error(std::span<const double> a, std::span<const double> b) {
    double diff = 0, na = 0, nb = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        diff += (a[i] - b[i]) * (a[i] - b[i]);
        na += a[i] * a[i];
        nb += b[i] * b[i];
    }
    const double scale = std::max({std::sqrt(na), std::sqrt(nb), 1e-300});
    return std::sqrt(diff) / scale;
}

// Central differences of `loss` with respect to the entries of `x` (which
// `loss` reads), compared with `analytic`. At most `max_coords` entries are
// probed, chosen at random, so large inputs stay cheap.
inline double check_gradient(std::span<double> x, std::span<const double> analytic,
                             const std::function<double()>& loss, std::uint64_t seed = 1,
                             std::size_t max_coords = 400, double eps = 1e-6) {
    if (x.size() != analytic.size()) throw std::invalid_argument("check_gradient: size mismatch");
    std::vector<std::size_t> coords(x.size());
    for (std::size_t i = 0; i < coords.size(); ++i) coords[i] = i;
    if (coords.size() > max_coords) {
        std::mt19937_64 rng(seed);
        std::shuffle(coords.begin(), coords.end(), rng);
        coords.resize(max_coords);
    }
    std::vector<double> numeric, exact;
    for (std::size_t i : coords) {
        const double saved = x[i];
        x[i] = saved + eps;
        const double up = loss();
        x[i] = saved - eps;
        const double down = loss();
        x[i] = saved;
        numeric.push_back((up - down) / (2 * eps));
        exact.push_back(analytic[i]);
    }
    return relative_error(exact, numeric);
}

// Checks `layer.backward` against finite differences of `layer.forward` at
// `input`: the input gradient and every parameter's, for a leaf layer and a
// composite (a Chain) alike (layer_get_params and friends, layers/layer.hpp).
template <class Layer>
GradcheckResult check_layer(Layer& layer, Tensor<double> input, std::uint64_t seed = 1, std::size_t max_coords = 400) {
    GradcheckResult result;
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal;

    Tensor<double> out;
    layer.forward(input, out);
    out.fill(std::numeric_limits<double>::quiet_NaN());
    layer.forward(input, out);
    result.output_written = std::all_of(out.begin(), out.end(), [](double v) { return std::isfinite(v); });

    Tensor<double> r = Tensor<double>::from_shape(out.shape());
    for (auto& v : r) v = normal(rng);
    std::vector<double> params(layer_param_count(layer));
    layer_get_params(layer, std::span<double>(params));
    auto loss = [&] {
        layer_set_params(layer, std::span<const double>(params));
        Tensor<double> o;
        layer.forward(input, o);
        double s = 0;
        for (std::size_t i = 0; i < o.size(); ++i) s += r.data()[i] * o.data()[i];
        return s;
    };

    // Prefill the gradient buffers with an offset: backward must add to it.
    constexpr double offset = 0.25;
    Tensor<double> grad_in = Tensor<double>::from_shape(input.shape());
    grad_in.fill(offset);
    const std::vector<double> offsets(params.size(), offset);
    layer_set_param_grads(layer, std::span<const double>(offsets));
    layer.forward(input, out);
    layer.backward(input, out, r, grad_in);

    std::vector<double> gin(grad_in.begin(), grad_in.end());
    std::vector<double> gparam(params.size());
    layer_get_param_grads(layer, std::span<double>(gparam));
    for (auto& g : gin) g -= offset;
    for (auto& g : gparam) g -= offset;

    result.input_error = check_gradient({input.data(), input.size()}, gin, loss, seed, max_coords);
    if (!params.empty()) result.param_error = check_gradient(params, gparam, loss, seed + 1, max_coords);
    return result;
}

}  // namespace deblur::testing
