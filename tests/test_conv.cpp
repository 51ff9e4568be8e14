#include "doctest_main.hpp"

#include <deblur/layers/conv.hpp>
#include <deblur/layers/layer.hpp>
#include <deblur/testing/gradcheck.hpp>

#include <deblur/core/openmp.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <span>
#include <stdexcept>
#include <vector>

using deblur::Conv;
using deblur::Exec;
using deblur::Tensor;

static_assert(deblur::FeatureLayer<Conv<4, 3>>);
static_assert(deblur::FeatureLayer<Conv<4, 3, Exec<double>>>);
static_assert(Conv<8, 3>::output_channels(2) == 8);
static_assert(Conv<8, 3>::output_channels(0) == -1);
static_assert(std::is_same_v<deblur::rebind_t<Conv<8, 3>, Exec<double>>, Conv<8, 3, Exec<double>>>);

namespace {

template <class T>
Tensor<T> random_tensor(std::size_t c, std::size_t h, std::size_t w, unsigned seed) {
    auto t = deblur::make_tensor<T>(c, h, w);
    std::mt19937 rng(seed);
    std::normal_distribution<double> d;
    for (auto& v : t) v = static_cast<T>(d(rng));
    return t;
}

// The definition, in double, with the weight layout N x C x F x F then N biases.
template <class T>
Tensor<double> naive_conv(const Tensor<T>& in, std::span<const T> p, std::size_t n_filters, std::size_t f) {
    const std::size_t c = in.shape(0), h = in.shape(1), w = in.shape(2);
    const std::size_t ho = h - f + 1, wo = w - f + 1;
    auto out = deblur::make_tensor<double>(n_filters, ho, wo);
    for (std::size_t n = 0; n < n_filters; ++n)
        for (std::size_t r = 0; r < ho; ++r)
            for (std::size_t col = 0; col < wo; ++col) {
                double s = p[n_filters * c * f * f + n];
                for (std::size_t ch = 0; ch < c; ++ch)
                    for (std::size_t i = 0; i < f; ++i)
                        for (std::size_t j = 0; j < f; ++j)
                            s += double(p[((n * c + ch) * f + i) * f + j]) * double(in(ch, r + i, col + j));
                out(n, r, col) = s;
            }
    return out;
}

template <class T>
double max_relative_difference(const Tensor<T>& a, const Tensor<double>& b) {
    double worst = 0;
    for (std::size_t i = 0; i < b.size(); ++i)
        worst = std::max(worst, std::abs(double(a.data()[i]) - b.data()[i]) / (1 + std::abs(b.data()[i])));
    return worst;
}

template <class T>
double tolerance() {
    return std::is_same_v<T, float> ? 1e-5 : 1e-12;
}

// `budget`: the layer's scratch budget in bytes (0: the default); a tiny one
// forces the smallest row bands.
template <int N, int F, class T>
void check_forward(std::size_t c, std::size_t h, std::size_t w, unsigned seed, std::size_t budget = 0) {
    Conv<N, F, Exec<T>> conv;
    if (budget) conv.set_scratch_budget(budget);
    std::mt19937_64 rng(seed);
    conv.setup(c, rng);
    // Non-zero biases so that their handling is tested too.
    auto p = conv.params();
    for (std::size_t i = p.size() - N; i < p.size(); ++i) p[i] = T(0.1) * T(i % 7) - T(0.3);
    const auto in = random_tensor<T>(c, h, w, seed + 1);
    Tensor<T> out = deblur::make_tensor<T>(1, 1, 1, std::numeric_limits<T>::quiet_NaN());
    conv.forward(in, out);
    const auto expected = naive_conv<T>(in, conv.params(), N, F);
    REQUIRE(out.shape() == expected.shape());
    CAPTURE(c);
    CAPTURE(h);
    CAPTURE(w);
    CAPTURE(F);
    CHECK(max_relative_difference(out, expected) < tolerance<T>());
}

// backward (adding onto a non-zero grad_in) against the plain-loop adjoint.
template <int N, int F>
void check_backward(std::size_t c, std::size_t h, std::size_t w, unsigned seed, std::size_t budget = 0) {
    Conv<N, F, Exec<double>> conv;
    if (budget) conv.set_scratch_budget(budget);
    std::mt19937_64 rng(seed);
    conv.setup(c, rng);
    const auto in = random_tensor<double>(c, h, w, seed + 1);
    Tensor<double> out;
    conv.forward(in, out);
    const auto g = random_tensor<double>(N, out.shape(1), out.shape(2), seed + 2);
    auto grad_in = random_tensor<double>(c, h, w, seed + 3);
    auto expected_grad_in = grad_in;
    conv.zero_grads();
    conv.backward(in, out, g, grad_in);

    const auto p = conv.params();
    const std::size_t ho = out.shape(1), wo = out.shape(2), k = c * F * F;
    std::vector<double> dparams(p.size(), 0.0);
    for (std::size_t m = 0; m < N; ++m)
        for (std::size_t r = 0; r < ho; ++r)
            for (std::size_t col = 0; col < wo; ++col) {
                const double gv = g(m, r, col);
                dparams[N * k + m] += gv;
                for (std::size_t ch = 0; ch < c; ++ch)
                    for (std::size_t i = 0; i < F; ++i)
                        for (std::size_t j = 0; j < F; ++j) {
                            const std::size_t widx = ((m * c + ch) * F + i) * F + j;
                            dparams[widx] += gv * in(ch, r + i, col + j);
                            expected_grad_in(ch, r + i, col + j) += gv * p[widx];
                        }
            }
    const std::vector<double> got_params(conv.param_grads().begin(), conv.param_grads().end());
    const std::vector<double> got_in(grad_in.begin(), grad_in.end());
    const std::vector<double> want_in(expected_grad_in.begin(), expected_grad_in.end());
    CAPTURE(c);
    CAPTURE(h);
    CAPTURE(w);
    CAPTURE(F);
    CHECK(deblur::testing::relative_error(got_params, dparams) < 1e-12);
    CHECK(deblur::testing::relative_error(got_in, want_in) < 1e-12);
}

}  // namespace

TEST_CASE_TEMPLATE("Conv forward matches the naive cross-correlation", T, float, double) {
    check_forward<4, 3, T>(1, 7, 9, 1);
    check_forward<3, 3, T>(2, 8, 5, 2);
    check_forward<5, 5, T>(2, 6, 11, 3);
    check_forward<2, 5, T>(1, 5, 5, 4);  // a 1 x 1 output
    check_forward<3, 1, T>(3, 4, 7, 5);
    check_forward<1, 5, T>(2, 13, 6, 6);
}

// Shapes with several row bands per thread (a tiny scratch budget gives bands
// of F-1 rows) and enough work for two or three threads (three gives uneven
// chunks), compared with plain loops.
TEST_CASE_TEMPLATE("Conv forward is right across several row bands and threads", T, float, double) {
    for (int threads : {1, 3}) {
        omp_set_num_threads(threads);
        CAPTURE(threads);
        check_forward<16, 5, T>(3, 64, 90, 7, 1);
        check_forward<8, 15, T>(2, 64, 40, 8, 1);
        check_forward<8, 1, T>(2, 50, 30, 9, 1);
        check_forward<8, 15, T>(2, 24, 200, 10);  // the default budget
    }
    omp_set_num_threads(omp_get_num_procs());
}

TEST_CASE("Conv backward matches the naive adjoint across several row bands and threads") {
    for (int threads : {1, 3}) {
        omp_set_num_threads(threads);
        CAPTURE(threads);
        check_backward<16, 5>(3, 64, 90, 11, 1);
        check_backward<8, 15>(2, 64, 40, 12, 1);
        check_backward<8, 1>(2, 50, 30, 13, 1);
        check_backward<8, 15>(2, 24, 200, 14);
        check_backward<3, 3>(1, 9, 7, 15);
    }
    omp_set_num_threads(omp_get_num_procs());
}

TEST_CASE("Conv backward matches finite differences") {
    auto run = [](auto conv, std::size_t c, std::size_t h, std::size_t w, unsigned seed) {
        std::mt19937_64 rng(seed);
        conv.setup(c, rng);
        auto p = conv.params();
        for (std::size_t i = p.size() - decltype(conv)::filters; i < p.size(); ++i) p[i] = 0.05 * double(i % 5);
        const auto r = deblur::testing::check_layer(conv, random_tensor<double>(c, h, w, seed + 1), seed);
        CHECK(r.output_written);
        CHECK(r.input_error < 1e-6);
        CHECK(r.param_error < 1e-6);
        MESSAGE("Conv<" << decltype(conv)::filters << ", " << decltype(conv)::filter_size << "> on " << c << " x " << h
                        << " x " << w << ": input gradient error " << r.input_error << ", parameter gradient error "
                        << r.param_error);
    };
    run(Conv<3, 3, Exec<double>>{}, 2, 6, 7, 1);
    run(Conv<4, 5, Exec<double>>{}, 1, 9, 8, 2);
    run(Conv<2, 1, Exec<double>>{}, 3, 4, 5, 3);
    run(Conv<2, 4, Exec<double>>{}, 2, 4, 9, 4);
}

TEST_CASE("Conv backward adds into the gradients") {
    Conv<3, 3, Exec<double>> conv;
    std::mt19937_64 rng(5);
    conv.setup(2, rng);
    const auto in = random_tensor<double>(2, 7, 6, 6);
    Tensor<double> out;
    conv.forward(in, out);
    const auto g = random_tensor<double>(3, out.shape(1), out.shape(2), 7);

    conv.zero_grads();
    auto grad_in = deblur::make_tensor<double>(2, 7, 6);
    conv.backward(in, out, g, grad_in);
    const std::vector<double> once(conv.param_grads().begin(), conv.param_grads().end());
    const Tensor<double> grad_in_once = grad_in;
    conv.backward(in, out, g, grad_in);
    const auto twice = conv.param_grads();
    REQUIRE(twice.size() == once.size());
    for (std::size_t i = 0; i < once.size(); ++i) CHECK(twice[i] == doctest::Approx(2 * once[i]));
    for (std::size_t i = 0; i < grad_in.size(); ++i)
        CHECK(grad_in.data()[i] == doctest::Approx(2 * grad_in_once.data()[i]));

    conv.zero_grads();
    CHECK(std::all_of(conv.param_grads().begin(), conv.param_grads().end(), [](double v) { return v == 0; }));
}

TEST_CASE("Conv setup sizes and initialises the parameters") {
    Conv<6, 5> conv;
    std::mt19937_64 rng(8);
    conv.setup(2, rng);
    const auto p = conv.params();
    const std::size_t k = 2 * 5 * 5;
    REQUIRE(p.size() == 6 * k + 6);
    CHECK(conv.param_grads().size() == p.size());
    CHECK(std::all_of(p.end() - 6, p.end(), [](float b) { return b == 0; }));
    double sum_sq = 0;
    for (std::size_t i = 0; i < 6 * k; ++i) sum_sq += double(p[i]) * p[i];
    // Weights have variance 1/k: the mean square is 1/k up to sampling noise.
    CHECK(sum_sq / (6 * k) == doctest::Approx(1.0 / k).epsilon(0.25));
}

TEST_CASE("Conv rejects bad input") {
    Conv<2, 3> conv;
    Tensor<float> out;
    auto in = deblur::make_tensor<float>(2, 5, 5);
    CHECK_THROWS_AS(conv.forward(in, out), std::invalid_argument);  // no setup
    std::mt19937_64 rng(9);
    CHECK_THROWS_AS(conv.setup(0, rng), std::invalid_argument);
    conv.setup(2, rng);
    conv.forward(in, out);
    CHECK_THROWS_AS(conv.forward(deblur::make_tensor<float>(1, 5, 5), out), std::invalid_argument);
    CHECK_THROWS_AS(conv.forward(deblur::make_tensor<float>(3, 5, 5), out), std::invalid_argument);
    CHECK_THROWS_AS(conv.forward(deblur::make_tensor<float>(2, 2, 5), out), std::invalid_argument);
    CHECK_THROWS_AS(conv.forward(deblur::make_tensor<float>(2, 5, 2), out), std::invalid_argument);
    auto grad_in = deblur::make_tensor<float>(2, 5, 5);
    CHECK_THROWS_AS(conv.backward(in, out, deblur::make_tensor<float>(2, 4, 3), grad_in), std::invalid_argument);
    auto wrong_grad_in = deblur::make_tensor<float>(2, 5, 4);
    CHECK_THROWS_AS(conv.backward(in, out, out, wrong_grad_in), std::invalid_argument);
    CHECK_NOTHROW(conv.backward(in, out, out, grad_in));
}

TEST_CASE("Conv objects run concurrently on different threads") {
    constexpr int copies = 4;
    std::vector<Conv<4, 5>> convs(copies);
    std::vector<Tensor<float>> inputs, serial(copies), parallel(copies);
    for (int i = 0; i < copies; ++i) {
        std::mt19937_64 rng(20 + i);
        convs[i].setup(2, rng);
        inputs.push_back(random_tensor<float>(2, 40 + i, 33, 30 + i));
        convs[i].forward(inputs[i], serial[i]);
    }
#pragma omp parallel for num_threads(copies)
    for (int i = 0; i < copies; ++i)
        for (int repeat = 0; repeat < 3; ++repeat) convs[i].forward(inputs[i], parallel[i]);
    for (int i = 0; i < copies; ++i) {
        REQUIRE(parallel[i].shape() == serial[i].shape());
        double worst = 0;
        for (std::size_t j = 0; j < serial[i].size(); ++j)
            worst = std::max(worst, double(std::abs(parallel[i].data()[j] - serial[i].data()[j])));
        CHECK(worst < 1e-6);
    }
}
