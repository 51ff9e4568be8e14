#include "doctest_main.hpp"

#include <deblur/layers/layer.hpp>
#include <deblur/layers/recombine.hpp>
#include <deblur/testing/gradcheck.hpp>

#include <deblur/core/openmp.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <span>
#include <stdexcept>
#include <vector>

using deblur::Exec;
using deblur::Recombine;
using deblur::Tensor;

static_assert(deblur::FeatureLayer<Recombine<4>>);
static_assert(deblur::FeatureLayer<Recombine<4, Exec<double>>>);
static_assert(Recombine<4>::output_channels(32) == 4);
static_assert(Recombine<4>::output_channels(0) == -1);
static_assert(std::is_same_v<deblur::rebind_t<Recombine<3>, Exec<double>>, Recombine<3, Exec<double>>>);

namespace {

template <class T>
Tensor<T> random_tensor(std::size_t c, std::size_t h, std::size_t w, unsigned seed) {
    auto t = deblur::make_tensor<T>(c, h, w);
    std::mt19937 rng(seed);
    std::normal_distribution<double> d;
    for (auto& v : t) v = static_cast<T>(d(rng));
    return t;
}

// The definition, in double: parameters are A (M x C, row-major) then b (M).
template <class T>
Tensor<double> naive_recombine(const Tensor<T>& in, std::span<const T> p, std::size_t m_out) {
    const std::size_t c = in.shape(0), h = in.shape(1), w = in.shape(2);
    auto out = deblur::make_tensor<double>(m_out, h, w);
    for (std::size_t m = 0; m < m_out; ++m)
        for (std::size_t r = 0; r < h; ++r)
            for (std::size_t col = 0; col < w; ++col) {
                double s = p[m_out * c + m];
                for (std::size_t ch = 0; ch < c; ++ch) s += double(p[m * c + ch]) * double(in(ch, r, col));
                out(m, r, col) = s;
            }
    return out;
}

template <int M, class T>
void check_forward(std::size_t c, std::size_t h, std::size_t w, unsigned seed) {
    Recombine<M, Exec<T>> layer;
    std::mt19937_64 rng(seed);
    layer.setup(c, rng);
    auto p = layer.params();
    for (std::size_t i = p.size() - M; i < p.size(); ++i) p[i] = T(0.2) * T(i % 5) - T(0.4);
    const auto in = random_tensor<T>(c, h, w, seed + 1);
    Tensor<T> out = deblur::make_tensor<T>(1, 1, 1, std::numeric_limits<T>::quiet_NaN());
    layer.forward(in, out);
    const auto expected = naive_recombine<T>(in, layer.params(), M);
    REQUIRE(out.shape() == expected.shape());
    double worst = 0;
    for (std::size_t i = 0; i < expected.size(); ++i)
        worst = std::max(worst, std::abs(double(out.data()[i]) - expected.data()[i]) / (1 + std::abs(expected.data()[i])));
    CAPTURE(c);
    CAPTURE(h);
    CAPTURE(w);
    CHECK(worst < (std::is_same_v<T, float> ? 1e-5 : 1e-13));
}

}  // namespace

TEST_CASE_TEMPLATE("Recombine forward matches the naive channel mix", T, float, double) {
    check_forward<4, T>(1, 5, 7, 1);
    check_forward<4, T>(2, 6, 3, 2);
    check_forward<1, T>(5, 4, 4, 3);
    check_forward<32, T>(32, 9, 13, 4);
    check_forward<3, T>(7, 1, 1, 5);
}

// 32 x 32 channels on 70 x 90 pixels is enough work for three threads (uneven
// chunks); forward and backward are compared with plain loops.
TEST_CASE("Recombine splits large images across threads correctly") {
    constexpr int m_out = 32;
    const std::size_t c = 32, h = 70, w = 90;
    for (int threads : {1, 3}) {
        omp_set_num_threads(threads);
        CAPTURE(threads);
        check_forward<m_out, float>(c, h, w, 10);
        Recombine<m_out, Exec<double>> layer;
        std::mt19937_64 rng(11);
        layer.setup(c, rng);
        const auto in = random_tensor<double>(c, h, w, 12);
        Tensor<double> out;
        layer.forward(in, out);
        const auto g = random_tensor<double>(m_out, h, w, 13);
        auto grad_in = random_tensor<double>(c, h, w, 14);  // backward adds to what is there
        auto expected_grad_in = grad_in;
        layer.zero_grads();
        layer.backward(in, out, g, grad_in);
        const auto p = layer.params();
        std::vector<double> dparams(p.size(), 0.0);
        for (std::size_t m = 0; m < m_out; ++m)
            for (std::size_t r = 0; r < h; ++r)
                for (std::size_t col = 0; col < w; ++col) {
                    dparams[m_out * c + m] += g(m, r, col);
                    for (std::size_t ch = 0; ch < c; ++ch) {
                        dparams[m * c + ch] += g(m, r, col) * in(ch, r, col);
                        expected_grad_in(ch, r, col) += g(m, r, col) * p[m * c + ch];
                    }
                }
        const std::vector<double> got_params(layer.param_grads().begin(), layer.param_grads().end());
        const std::vector<double> got_in(grad_in.begin(), grad_in.end());
        const std::vector<double> want_in(expected_grad_in.begin(), expected_grad_in.end());
        CHECK(deblur::testing::relative_error(got_params, dparams) < 1e-12);
        CHECK(deblur::testing::relative_error(got_in, want_in) < 1e-12);
    }
    omp_set_num_threads(omp_get_num_procs());
}

TEST_CASE("Recombine backward matches finite differences") {
    auto run = [](auto layer, std::size_t c, std::size_t h, std::size_t w, unsigned seed) {
        std::mt19937_64 rng(seed);
        layer.setup(c, rng);
        auto p = layer.params();
        for (std::size_t i = p.size() - decltype(layer)::outputs; i < p.size(); ++i) p[i] = 0.1 * double(i % 3);
        const auto r = deblur::testing::check_layer(layer, random_tensor<double>(c, h, w, seed + 1), seed);
        CHECK(r.output_written);
        CHECK(r.input_error < 1e-6);
        CHECK(r.param_error < 1e-6);
        MESSAGE("Recombine<" << decltype(layer)::outputs << "> on " << c << " x " << h << " x " << w
                             << ": input gradient error " << r.input_error << ", parameter gradient error "
                             << r.param_error);
    };
    run(Recombine<4, Exec<double>>{}, 3, 5, 6, 1);
    run(Recombine<2, Exec<double>>{}, 1, 4, 7, 2);
    run(Recombine<5, Exec<double>>{}, 8, 3, 3, 3);
}

TEST_CASE("Recombine backward adds into the gradients") {
    Recombine<3, Exec<double>> layer;
    std::mt19937_64 rng(4);
    layer.setup(2, rng);
    const auto in = random_tensor<double>(2, 4, 5, 5);
    Tensor<double> out;
    layer.forward(in, out);
    const auto g = random_tensor<double>(3, 4, 5, 6);

    layer.zero_grads();
    auto grad_in = deblur::make_tensor<double>(2, 4, 5);
    layer.backward(in, out, g, grad_in);
    const std::vector<double> once(layer.param_grads().begin(), layer.param_grads().end());
    const Tensor<double> grad_in_once = grad_in;
    layer.backward(in, out, g, grad_in);
    const auto twice = layer.param_grads();
    for (std::size_t i = 0; i < once.size(); ++i) CHECK(twice[i] == doctest::Approx(2 * once[i]));
    for (std::size_t i = 0; i < grad_in.size(); ++i)
        CHECK(grad_in.data()[i] == doctest::Approx(2 * grad_in_once.data()[i]));

    layer.zero_grads();
    CHECK(std::all_of(layer.param_grads().begin(), layer.param_grads().end(), [](double v) { return v == 0; }));
}

TEST_CASE("Recombine setup sizes the parameters") {
    Recombine<4> layer;
    std::mt19937_64 rng(7);
    layer.setup(32, rng);
    const auto p = layer.params();
    REQUIRE(p.size() == 4 * 32 + 4);
    CHECK(layer.param_grads().size() == p.size());
    CHECK(std::all_of(p.end() - 4, p.end(), [](float b) { return b == 0; }));
    CHECK(std::any_of(p.begin(), p.end() - 4, [](float a) { return a != 0; }));
}

TEST_CASE("Recombine rejects bad input") {
    Recombine<2> layer;
    Tensor<float> out;
    auto in = deblur::make_tensor<float>(3, 4, 4);
    CHECK_THROWS_AS(layer.forward(in, out), std::invalid_argument);  // no setup
    std::mt19937_64 rng(8);
    CHECK_THROWS_AS(layer.setup(0, rng), std::invalid_argument);
    layer.setup(3, rng);
    CHECK_THROWS_AS(layer.forward(deblur::make_tensor<float>(2, 4, 4), out), std::invalid_argument);
    layer.forward(in, out);
    auto grad_in = deblur::make_tensor<float>(3, 4, 4);
    CHECK_THROWS_AS(layer.backward(in, out, deblur::make_tensor<float>(3, 4, 4), grad_in), std::invalid_argument);
    auto wrong_grad_in = deblur::make_tensor<float>(3, 4, 5);
    CHECK_THROWS_AS(layer.backward(in, out, out, wrong_grad_in), std::invalid_argument);
    CHECK_NOTHROW(layer.backward(in, out, out, grad_in));
}
