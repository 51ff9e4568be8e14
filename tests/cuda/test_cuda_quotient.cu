// The CUDA Quotient and ImageQuotient against the CPU layers (forward, and
// backward adding onto non-zero gradients, float and double) and against
// central finite differences in double.
#include "cuda_test_main.cuh"

#include <deblur/cuda/cuda.cuh>
#include <deblur/layers/image_quotient.hpp>
#include <deblur/layers/quotient.hpp>
#include <deblur/testing/gradcheck.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <span>
#include <stdexcept>
#include <vector>

using deblur::CudaExec;
using deblur::Exec;
using deblur::ImageQuotient;
using deblur::Quotient;
using deblur::Tensor;
using deblur::cuda::DeviceTensor;
using deblur::cuda::to_device;
using deblur::cuda::to_host;

static_assert(deblur::cuda::DeviceLayer<Quotient<17, CudaExec<float>>> && deblur::KernelModule<Quotient<17, CudaExec<float>>>);
static_assert(deblur::ImageModule<ImageQuotient<CudaExec<float>>>);
static_assert(std::is_same_v<deblur::rebind_t<Quotient<5>, CudaExec<double>>, Quotient<5, CudaExec<double>>>);
static_assert(std::is_same_v<deblur::rebind_t<ImageQuotient<CudaExec<float>>, Exec<float>>, ImageQuotient<>>);

namespace {

template <class T>
Tensor<T> random_tensor(std::size_t c, std::size_t h, std::size_t w, unsigned seed, double offset = 0) {
    auto t = deblur::make_tensor<T>(c, h, w);
    std::mt19937 rng(seed);
    std::normal_distribution<double> d;
    for (auto& v : t) v = static_cast<T>(offset + d(rng));
    return t;
}

// Maps whose blurry half is the sharp half blurred with a small kernel plus
// noise, so the quotient has a clear, non-degenerate answer.
template <class T>
Tensor<T> blurred_pairs(std::size_t pairs, std::size_t h, std::size_t w, unsigned seed) {
    auto t = random_tensor<T>(2 * pairs, h, w, seed);
    std::mt19937 rng(seed + 1000);
    std::normal_distribution<double> noise(0, 0.05);
    const double k[3] = {0.25, 0.5, 0.25};
    for (std::size_t p = 0; p < pairs; ++p)
        for (std::size_t r = 0; r < h; ++r)
            for (std::size_t c = 0; c < w; ++c) {
                double s = 0;
                for (int j = -1; j <= 1; ++j) {
                    const std::size_t cc = (c + w + j) % w;
                    const std::size_t rr = (r + h + j) % h;
                    s += 0.5 * k[j + 1] * (double(t(p, r, cc)) + double(t(p, rr, c)));
                }
                t(pairs + p, r, c) = static_cast<T>(s + noise(rng));
            }
    return t;
}

template <class T>
Tensor<T> blur_kernel(std::size_t k) {
    auto t = deblur::make_tensor<T>(1, k, k);
    double sum = 0;
    for (std::size_t a = 0; a < k; ++a)
        for (std::size_t b = 0; b < k; ++b) {
            const double v = 1.0 + double((a * 3 + b * 5) % 7);
            t(0, a, b) = static_cast<T>(v);
            sum += v;
        }
    for (auto& v : t) v = static_cast<T>(v / sum);
    return t;
}

template <class T>
double max_difference(const Tensor<T>& a, const Tensor<T>& b) {
    REQUIRE(a.shape() == b.shape());
    double worst = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        worst = std::max(worst, std::abs(double(a.data()[i]) - double(b.data()[i])) / (1 + std::abs(double(b.data()[i]))));
    return worst;
}

template <class T>
double norm_error(const Tensor<T>& a, const Tensor<T>& b) {
    REQUIRE(a.shape() == b.shape());
    std::vector<double> x(a.begin(), a.end()), y(b.begin(), b.end());
    return deblur::testing::relative_error(x, y);
}

template <class T>
double tolerance() {
    return std::is_same_v<T, float> ? 2e-4 : 1e-10;
}

template <int K, class T>
void compare_quotient(std::size_t pairs, std::size_t h, std::size_t w, unsigned seed) {
    CAPTURE(K);
    CAPTURE(pairs);
    CAPTURE(h);
    CAPTURE(w);
    Quotient<K, Exec<T>> cpu;
    Quotient<K, CudaExec<T>> gpu;
    const auto in = blurred_pairs<T>(pairs, h, w, seed);
    Tensor<T> expected;
    cpu.forward(in, expected);
    const auto din = to_device(in);
    DeviceTensor<T> dout;
    gpu.forward(din, dout);
    CHECK(max_difference(to_host(dout), expected) < tolerance<T>());
    CHECK(gpu.degenerate() == cpu.degenerate());

    const auto g = random_tensor<T>(1, K, K, seed + 1);
    auto grad_cpu = random_tensor<T>(2 * pairs, h, w, seed + 2);
    auto dgrad = to_device(grad_cpu);
    cpu.backward(in, expected, g, grad_cpu);
    gpu.backward(din, dout, to_device(g), dgrad);
    CHECK(norm_error(to_host(dgrad), grad_cpu) < tolerance<T>());
}

template <class T>
void compare_image_quotient(std::size_t k, std::size_t h, std::size_t w, unsigned seed) {
    CAPTURE(k);
    CAPTURE(h);
    CAPTURE(w);
    ImageQuotient<Exec<T>> cpu;
    ImageQuotient<CudaExec<T>> gpu;
    cpu.set_beta(0.03);
    gpu.set_beta(0.03);
    CHECK(gpu.beta() == doctest::Approx(0.03).epsilon(1e-6));
    const auto kernel = blur_kernel<T>(k);
    const auto blurry = random_tensor<T>(1, h, w, seed, 0.5);
    Tensor<T> expected;
    cpu.forward(kernel, blurry, expected);
    const auto dkernel = to_device(kernel), dblurry = to_device(blurry);
    DeviceTensor<T> dlatent;
    gpu.forward(dkernel, dblurry, dlatent);
    CHECK(max_difference(to_host(dlatent), expected) < tolerance<T>());

    const auto g = random_tensor<T>(1, h, w, seed + 1);
    auto gk = random_tensor<T>(1, k, k, seed + 2), gy = random_tensor<T>(1, h, w, seed + 3);
    auto dgk = to_device(gk), dgy = to_device(gy);
    cpu.param_grads()[0] = T(0.5);
    const T half = T(0.5);
    gpu.set_param_grads(std::span<const T>(&half, 1));
    cpu.backward(kernel, blurry, expected, g, gk, gy);
    gpu.backward(dkernel, dblurry, dlatent, to_device(g), dgk, dgy);
    CHECK(norm_error(to_host(dgk), gk) < tolerance<T>());
    CHECK(norm_error(to_host(dgy), gy) < tolerance<T>());
    T gb = 0;
    gpu.get_param_grads(std::span<T>(&gb, 1));
    CHECK(std::abs(double(gb) - double(cpu.param_grads()[0])) < tolerance<T>() * (1 + std::abs(double(gb))));
}

}  // namespace

TEST_CASE_TEMPLATE("CUDA Quotient matches the CPU layer", T, float, double) {
    compare_quotient<3, T>(1, 12, 10, 1);
    compare_quotient<5, T>(2, 9, 16, 2);
    compare_quotient<17, T>(2, 64, 70, 3);   // the paper's first scale
    compare_quotient<33, T>(4, 96, 120, 4);  // its last stage: P = 4
    compare_quotient<3, T>(1, 3, 7, 5);      // maps as small as the kernel
}

TEST_CASE("CUDA Quotient backward matches finite differences") {
    for (unsigned seed : {1u, 2u}) {
        deblur::cuda::HostLayer<Quotient<3, CudaExec<double>>> q3;
        std::mt19937_64 rng(seed);
        q3.setup(2, rng);
        auto r3 = deblur::testing::check_layer(q3, blurred_pairs<double>(1, 12, 10, seed), seed);
        CHECK(r3.output_written);
        CHECK(r3.input_error < 1e-6);
        CHECK_FALSE(q3.device().degenerate());
        deblur::cuda::HostLayer<Quotient<5, CudaExec<double>>> q5;
        q5.setup(4, rng);
        auto r5 = deblur::testing::check_layer(q5, blurred_pairs<double>(2, 9, 16, seed + 10), seed);
        CHECK(r5.output_written);
        CHECK(r5.input_error < 1e-6);
    }
}

TEST_CASE("CUDA Quotient falls back to a delta kernel when nothing is positive") {
    auto in = random_tensor<double>(2, 8, 8, 9);
    for (std::size_t r = 0; r < 8; ++r)
        for (std::size_t c = 0; c < 8; ++c) in(1, r, c) = 0;  // y~ = 0: the quotient is exactly zero
    Quotient<3, CudaExec<double>> layer;
    const auto din = to_device(in);
    DeviceTensor<double> out;
    layer.forward(din, out);
    CHECK(layer.degenerate());
    const auto k = to_host(out);
    for (std::size_t i = 0; i < 9; ++i) CHECK(k.data()[i] == (i == 4 ? 1.0 : 0.0));
    auto grad = to_device(deblur::make_tensor<double>(2, 8, 8, 0.5));
    layer.backward(din, out, to_device(random_tensor<double>(1, 3, 3, 1)), grad);
    for (double v : to_host(grad)) CHECK(v == 0.5);  // zero gradient added
}

TEST_CASE("CUDA Quotient rejects bad inputs") {
    Quotient<5, CudaExec<float>> q;
    DeviceTensor<float> out;
    CHECK_THROWS_AS(q.forward(DeviceTensor<float>(3, 8, 8), out), std::invalid_argument);
    CHECK_THROWS_AS(q.forward(DeviceTensor<float>(2, 4, 8), out), std::invalid_argument);
    std::mt19937_64 rng(1);
    CHECK_THROWS_AS(q.setup(1, rng), std::invalid_argument);
}

TEST_CASE_TEMPLATE("CUDA ImageQuotient matches the CPU layer", T, float, double) {
    compare_image_quotient<T>(3, 9, 8, 1);
    compare_image_quotient<T>(5, 7, 12, 2);
    compare_image_quotient<T>(1, 1, 6, 3);     // one-row image: 1-D transforms
    compare_image_quotient<T>(17, 64, 70, 4);
    compare_image_quotient<T>(33, 96, 128, 5);
}

TEST_CASE("CUDA ImageQuotient backward matches finite differences") {
    struct Case {
        std::size_t k, h, w;
        unsigned seed;
    };
    for (const Case& cs : {Case{3, 9, 8, 1}, Case{5, 7, 12, 2}, Case{3, 6, 5, 3}}) {
        CAPTURE(cs.k);
        ImageQuotient<CudaExec<double>> layer;
        layer.set_beta(0.02);
        auto kernel = blur_kernel<double>(cs.k);
        auto blurry = random_tensor<double>(1, cs.h, cs.w, cs.seed, 0.5);
        std::vector<double> log_beta(1);
        layer.get_params(log_beta);
        const auto r = random_tensor<double>(1, cs.h, cs.w, cs.seed + 50);
        auto loss = [&] {
            layer.set_params(std::span<const double>(log_beta));
            DeviceTensor<double> latent;
            layer.forward(to_device(kernel), to_device(blurry), latent);
            const auto l = to_host(latent);
            double s = 0;
            for (std::size_t i = 0; i < l.size(); ++i) s += r.data()[i] * l.data()[i];
            return s;
        };

        constexpr double offset = 0.25;  // prefilled gradients: backward must add
        auto dgk = to_device(deblur::make_tensor<double>(1, cs.k, cs.k, offset));
        auto dgy = to_device(deblur::make_tensor<double>(1, cs.h, cs.w, offset));
        layer.set_param_grads(std::span<const double>(&offset, 1));
        const auto dkernel = to_device(kernel), dblurry = to_device(blurry);
        DeviceTensor<double> latent;
        layer.forward(dkernel, dblurry, latent);
        layer.backward(dkernel, dblurry, latent, to_device(r), dgk, dgy);
        const auto hk = to_host(dgk), hy = to_host(dgy);
        std::vector<double> gk(hk.begin(), hk.end()), gy(hy.begin(), hy.end()), gb(1);
        layer.get_param_grads(gb);
        for (auto& v : gk) v -= offset;
        for (auto& v : gy) v -= offset;
        gb[0] -= offset;

        CHECK(deblur::testing::check_gradient({kernel.data(), kernel.size()}, gk, loss, cs.seed) < 1e-6);
        CHECK(deblur::testing::check_gradient({blurry.data(), blurry.size()}, gy, loss, cs.seed) < 1e-6);
        CHECK(deblur::testing::check_gradient(log_beta, gb, loss, cs.seed) < 1e-6);
    }
}

TEST_CASE("CUDA ImageQuotient rejects bad inputs") {
    ImageQuotient<CudaExec<float>> layer;
    DeviceTensor<float> out;
    CHECK_THROWS_AS(layer.forward(DeviceTensor<float>(1, 4, 4), DeviceTensor<float>(1, 8, 8), out),
                    std::invalid_argument);  // even kernel
    CHECK_THROWS_AS(layer.forward(DeviceTensor<float>(1, 5, 5), DeviceTensor<float>(2, 8, 8), out),
                    std::invalid_argument);  // two channels
    CHECK_THROWS_AS(layer.forward(DeviceTensor<float>(1, 9, 9), DeviceTensor<float>(1, 8, 8), out),
                    std::invalid_argument);  // smaller than the kernel
    CHECK_THROWS_AS(layer.set_beta(0), std::invalid_argument);
}
