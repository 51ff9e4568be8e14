// The CUDA layers (CudaExec) against the CPU layers: forward against the CPU
// result, backward against the CPU backward (adding onto non-zero gradients)
// and against finite differences in double (deblur::testing::check_layer, run
// unchanged through cuda::HostLayer), and the paper's feature chain run
// device-resident end to end.
#include "cuda_test_main.cuh"

#include <deblur/cuda/cuda.cuh>
#include <deblur/layers/chain.hpp>
#include <deblur/layers/conv.hpp>
#include <deblur/layers/layer.hpp>
#include <deblur/layers/recombine.hpp>
#include <deblur/layers/tanh.hpp>
#include <deblur/testing/gradcheck.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <span>
#include <stdexcept>
#include <vector>

using deblur::Chain;
using deblur::Conv;
using deblur::CudaExec;
using deblur::Exec;
using deblur::Recombine;
using deblur::Tanh;
using deblur::Tensor;
using deblur::cuda::DeviceTensor;
using deblur::cuda::HostLayer;

// Switching between CPU and GPU is changing the policy parameter.
static_assert(std::is_same_v<deblur::rebind_t<Conv<32, 9>, CudaExec<float>>, Conv<32, 9, CudaExec<float>>>);
static_assert(std::is_same_v<deblur::rebind_t<Conv<32, 9, CudaExec<float>>, Exec<double>>, Conv<32, 9, Exec<double>>>);
static_assert(deblur::cuda::DeviceFeatureLayer<Conv<4, 3, CudaExec<float>>>);
static_assert(deblur::cuda::DeviceFeatureLayer<Recombine<4, CudaExec<double>>>);
static_assert(deblur::cuda::DeviceFeatureLayer<Tanh<CudaExec<float>>>);
static_assert(!deblur::cuda::DeviceFeatureLayer<Conv<4, 3>>);
static_assert(deblur::FeatureLayer<HostLayer<Conv<4, 3, CudaExec<double>>>>);
static_assert(deblur::FeatureLayer<HostLayer<Tanh<CudaExec<float>>>>);

namespace {

template <class T>
Tensor<T> random_tensor(std::size_t c, std::size_t h, std::size_t w, unsigned seed) {
    auto t = deblur::make_tensor<T>(c, h, w);
    std::mt19937 rng(seed);
    std::normal_distribution<double> d;
    for (auto& v : t) v = static_cast<T>(d(rng));
    return t;
}

template <class T>
double max_relative_difference(const Tensor<T>& a, const Tensor<T>& b) {
    REQUIRE(a.shape() == b.shape());
    double worst = 0;
    for (std::size_t i = 0; i < b.size(); ++i)
        worst = std::max(worst, std::abs(double(a.data()[i]) - double(b.data()[i])) / (1 + std::abs(double(b.data()[i]))));
    return worst;
}

template <class T>
double norm_error(std::span<const T> a, std::span<const T> b) {
    std::vector<double> x(a.begin(), a.end()), y(b.begin(), b.end());
    return deblur::testing::relative_error(x, y);
}

template <class T>
double forward_tolerance() {
    return std::is_same_v<T, float> ? 1e-5 : 1e-12;
}
template <class T>
double gradient_tolerance() {
    return std::is_same_v<T, float> ? 1e-5 : 1e-12;
}

// Sets up the GPU layer and its CPU twin (rebind to Exec<T>) from the same
// seed, checks that they drew the same parameters, gives them the same
// non-zero biases, and compares forward and backward (backward adds onto
// random gradients already there).
template <class GpuLayer>
void compare_with_cpu(std::size_t c, std::size_t h, std::size_t w, unsigned seed, std::size_t budget = 0) {
    using T = typename GpuLayer::scalar;
    using CpuLayer = deblur::rebind_t<GpuLayer, Exec<T>>;
    CAPTURE(c);
    CAPTURE(h);
    CAPTURE(w);
    CAPTURE(budget);
    GpuLayer gpu;
    CpuLayer cpu;
    if constexpr (requires { gpu.set_scratch_budget(budget); })
        if (budget) gpu.set_scratch_budget(budget);
    std::mt19937_64 rng_gpu(seed), rng_cpu(seed);
    gpu.setup(c, rng_gpu);
    cpu.setup(c, rng_cpu);

    auto cp = cpu.params();
    std::vector<T> gp(gpu.num_params());
    REQUIRE(gp.size() == cp.size());
    gpu.get_params(gp);
    CHECK(std::equal(gp.begin(), gp.end(), cp.begin()));
    const std::size_t outputs = static_cast<std::size_t>(CpuLayer::output_channels(static_cast<int>(c)));
    if (!cp.empty())
        for (std::size_t i = cp.size() - outputs; i < cp.size(); ++i) cp[i] = T(0.1) * T(i % 7) - T(0.3);
    gpu.set_params(std::span<const T>(cp.data(), cp.size()));

    const auto in = random_tensor<T>(c, h, w, seed + 1);
    Tensor<T> expected;
    cpu.forward(in, expected);
    const DeviceTensor<T> din = deblur::cuda::to_device(in);
    DeviceTensor<T> dout;
    gpu.forward(din, dout);
    const Tensor<T> out = deblur::cuda::to_host(dout);
    CHECK(max_relative_difference(out, expected) < forward_tolerance<T>());

    const auto g = random_tensor<T>(expected.shape(0), expected.shape(1), expected.shape(2), seed + 2);
    auto grad_in_cpu = random_tensor<T>(c, h, w, seed + 3);
    DeviceTensor<T> dgrad_in = deblur::cuda::to_device(grad_in_cpu);
    std::fill(cpu.param_grads().begin(), cpu.param_grads().end(), T(0.5));
    std::vector<T> half(gp.size(), T(0.5));
    if constexpr (requires { gpu.set_param_grads(std::span<const T>(half)); })
        gpu.set_param_grads(std::span<const T>(half));
    cpu.backward(in, expected, g, grad_in_cpu);
    gpu.backward(din, dout, deblur::cuda::to_device(g), dgrad_in);
    const Tensor<T> grad_in_gpu = deblur::cuda::to_host(dgrad_in);
    CHECK(norm_error<T>({grad_in_gpu.data(), grad_in_gpu.size()}, {grad_in_cpu.data(), grad_in_cpu.size()}) <
          gradient_tolerance<T>());
    if (!gp.empty()) {
        std::vector<T> gg(gp.size());
        gpu.get_param_grads(gg);
        const auto cg = cpu.param_grads();
        CHECK(norm_error<T>(gg, {cg.data(), cg.size()}) < gradient_tolerance<T>());
    }
}

// deblur::testing::check_layer (finite differences, outputs prefilled with
// NaN, gradients prefilled with an offset) on the GPU layer in double.
template <class GpuLayer>
void check_finite_differences(std::size_t c, std::size_t h, std::size_t w, unsigned seed) {
    static_assert(std::is_same_v<typename GpuLayer::scalar, double>);
    HostLayer<GpuLayer> layer;
    std::mt19937_64 rng(seed);
    layer.setup(c, rng);
    auto p = layer.params();
    const std::size_t outputs = static_cast<std::size_t>(GpuLayer::output_channels(static_cast<int>(c)));
    if (!p.empty())
        for (std::size_t i = p.size() - outputs; i < p.size(); ++i) p[i] = 0.05 * double(i % 5);
    const auto r = deblur::testing::check_layer(layer, random_tensor<double>(c, h, w, seed + 1), seed);
    CAPTURE(c);
    CAPTURE(h);
    CAPTURE(w);
    CHECK(r.output_written);
    CHECK(r.input_error < 1e-6);
    CHECK(r.param_error < 1e-6);
}

}  // namespace

TEST_CASE_TEMPLATE("CUDA Tanh matches the CPU layer", T, float, double) {
    compare_with_cpu<Tanh<CudaExec<T>>>(3, 5, 4, 1);
    compare_with_cpu<Tanh<CudaExec<T>>>(32, 61, 70, 2);
}

TEST_CASE_TEMPLATE("CUDA Recombine matches the CPU layer", T, float, double) {
    compare_with_cpu<Recombine<4, CudaExec<T>>>(1, 5, 7, 1);
    compare_with_cpu<Recombine<4, CudaExec<T>>>(2, 6, 3, 2);
    compare_with_cpu<Recombine<1, CudaExec<T>>>(5, 4, 4, 3);
    compare_with_cpu<Recombine<32, CudaExec<T>>>(32, 70, 90, 4);
    compare_with_cpu<Recombine<3, CudaExec<T>>>(7, 1, 1, 5);
}

TEST_CASE_TEMPLATE("CUDA Conv matches the CPU layer", T, float, double) {
    compare_with_cpu<Conv<4, 3, CudaExec<T>>>(1, 7, 9, 1);
    compare_with_cpu<Conv<3, 3, CudaExec<T>>>(2, 8, 5, 2);
    compare_with_cpu<Conv<5, 5, CudaExec<T>>>(2, 6, 11, 3);
    compare_with_cpu<Conv<2, 5, CudaExec<T>>>(1, 5, 5, 4);  // a 1 x 1 output
    compare_with_cpu<Conv<3, 1, CudaExec<T>>>(3, 4, 7, 5);
    // Several bands (a budget of one output row per band, and of a few rows).
    compare_with_cpu<Conv<16, 5, CudaExec<T>>>(3, 64, 90, 7, 1);
    compare_with_cpu<Conv<8, 15, CudaExec<T>>>(2, 64, 40, 8, 200000);  // 4 (float) or 2 (double) rows
    // The paper's first layer on a 2-channel stage input.
    compare_with_cpu<Conv<32, 9, CudaExec<T>>>(2, 72, 80, 9);
}

TEST_CASE("CUDA layers' backward matches finite differences") {
    check_finite_differences<Tanh<CudaExec<double>>>(3, 5, 4, 1);
    check_finite_differences<Recombine<4, CudaExec<double>>>(3, 5, 6, 1);
    check_finite_differences<Recombine<5, CudaExec<double>>>(8, 3, 3, 3);
    check_finite_differences<Conv<3, 3, CudaExec<double>>>(2, 6, 7, 1);
    check_finite_differences<Conv<4, 5, CudaExec<double>>>(1, 9, 8, 2);
    check_finite_differences<Conv<2, 4, CudaExec<double>>>(2, 4, 9, 4);
}

TEST_CASE("CUDA Conv backward adds into the gradients") {
    Conv<3, 3, CudaExec<double>> conv;
    std::mt19937_64 rng(5);
    conv.setup(2, rng);
    const auto in = deblur::cuda::to_device(random_tensor<double>(2, 7, 6, 6));
    DeviceTensor<double> out;
    conv.forward(in, out);
    const auto g = deblur::cuda::to_device(random_tensor<double>(3, out.shape(1), out.shape(2), 7));
    conv.zero_grads();
    DeviceTensor<double> grad_in(2, 7, 6);
    grad_in.zero();
    conv.backward(in, out, g, grad_in);
    std::vector<double> once(conv.num_params()), twice(conv.num_params());
    conv.get_param_grads(once);
    const auto grad_in_once = deblur::cuda::to_host(grad_in);
    conv.backward(in, out, g, grad_in);
    conv.get_param_grads(twice);
    const auto grad_in_twice = deblur::cuda::to_host(grad_in);
    for (std::size_t i = 0; i < once.size(); ++i) CHECK(twice[i] == doctest::Approx(2 * once[i]));
    for (std::size_t i = 0; i < grad_in_once.size(); ++i)
        CHECK(grad_in_twice.data()[i] == doctest::Approx(2 * grad_in_once.data()[i]));
    conv.zero_grads();
    conv.get_param_grads(once);
    CHECK(std::all_of(once.begin(), once.end(), [](double v) { return v == 0; }));
}

TEST_CASE("CUDA layers reject bad input") {
    Conv<2, 3, CudaExec<float>> conv;
    DeviceTensor<float> out;
    DeviceTensor<float> in(2, 5, 5);
    CHECK_THROWS_AS(conv.forward(in, out), std::invalid_argument);  // no setup
    std::mt19937_64 rng(9);
    conv.setup(2, rng);
    CHECK_THROWS_AS(conv.forward(DeviceTensor<float>(1, 5, 5), out), std::invalid_argument);
    CHECK_THROWS_AS(conv.forward(DeviceTensor<float>(2, 2, 5), out), std::invalid_argument);
    std::vector<float> wrong(3);
    CHECK_THROWS_AS(conv.set_params(std::span<const float>(wrong)), std::invalid_argument);
    Recombine<2, CudaExec<float>> mix;
    CHECK_THROWS_AS(mix.forward(in, out), std::invalid_argument);
}

// The paper's feature extractor, Conv<32, 9> -> Tanh -> Recombine<32> -> Tanh
// -> Recombine<4>, run layer by layer on device tensors (no host copies in
// between) against the CPU Chain: output, input gradient, parameter gradients.
TEST_CASE_TEMPLATE("The feature chain runs device-resident and matches the CPU Chain", T, float, double) {
    using CpuChain = Chain<Conv<32, 9, Exec<T>>, Tanh<Exec<T>>, Recombine<32, Exec<T>>, Tanh<Exec<T>>,
                           Recombine<4, Exec<T>>>;
    CpuChain cpu;
    std::mt19937_64 rng_cpu(21), rng_gpu(21);
    cpu.setup(2, rng_cpu);
    Conv<32, 9, CudaExec<T>> conv;
    Tanh<CudaExec<T>> tanh1, tanh2;
    Recombine<32, CudaExec<T>> mix1;
    Recombine<4, CudaExec<T>> mix2;
    conv.setup(2, rng_gpu);
    mix1.setup(32, rng_gpu);
    mix2.setup(32, rng_gpu);

    const auto in = random_tensor<T>(2, 80, 96, 22);
    Tensor<T> expected;
    cpu.forward(in, expected);
    const auto din = deblur::cuda::to_device(in);
    DeviceTensor<T> a1, a2, a3, a4, out;
    conv.forward(din, a1);
    tanh1.forward(a1, a2);
    mix1.forward(a2, a3);
    tanh2.forward(a3, a4);
    mix2.forward(a4, out);
    CHECK(max_relative_difference(deblur::cuda::to_host(out), expected) < 10 * forward_tolerance<T>());

    const auto g = random_tensor<T>(4, expected.shape(1), expected.shape(2), 23);
    auto grad_in_cpu = deblur::make_tensor<T>(2, 80, 96);
    cpu.zero_grads();
    cpu.backward(in, expected, g, grad_in_cpu);
    DeviceTensor<T> g4(32, a4.shape(1), a4.shape(2)), g3(32, a3.shape(1), a3.shape(2)),
        g2(32, a2.shape(1), a2.shape(2)), g1(32, a1.shape(1), a1.shape(2)), g0(2, 80, 96);
    for (auto* t : {&g4, &g3, &g2, &g1, &g0}) t->zero();
    mix2.backward(a4, out, deblur::cuda::to_device(g), g4);
    tanh2.backward(a3, a4, g4, g3);
    mix1.backward(a2, a3, g3, g2);
    tanh1.backward(a1, a2, g2, g1);
    conv.backward(din, a1, g1, g0);
    const auto grad_in_gpu = deblur::cuda::to_host(g0);
    CHECK(norm_error<T>({grad_in_gpu.data(), grad_in_gpu.size()}, {grad_in_cpu.data(), grad_in_cpu.size()}) <
          10 * gradient_tolerance<T>());
    std::vector<T> cpu_grads(cpu.num_params()), gpu_grads;
    cpu.get_param_grads(cpu_grads);
    auto append = [&](auto& layer) {
        std::vector<T> part(layer.num_params());
        layer.get_param_grads(part);
        gpu_grads.insert(gpu_grads.end(), part.begin(), part.end());
    };
    append(conv);
    append(mix1);
    append(mix2);
    CHECK(norm_error<T>(gpu_grads, cpu_grads) < 10 * gradient_tolerance<T>());
}

// Work on a stream of one's own gives the same result.
TEST_CASE("CUDA layers run on the stream of a StreamScope") {
    Conv<8, 5, CudaExec<float>> conv;
    std::mt19937_64 rng(31);
    conv.setup(1, rng);
    const auto in = deblur::cuda::to_device(random_tensor<float>(1, 40, 50, 32));
    DeviceTensor<float> on_default, on_stream;
    conv.forward(in, on_default);
    cudaStream_t stream;
    deblur::cuda::check(cudaStreamCreate(&stream), "cudaStreamCreate");
    {
        deblur::cuda::StreamScope scope(stream);
        conv.forward(in, on_stream);
        CHECK(deblur::cuda::current_stream() == stream);
        CHECK(max_relative_difference(deblur::cuda::to_host(on_stream), deblur::cuda::to_host(on_default)) < 1e-6);
    }
    CHECK(deblur::cuda::current_stream() == nullptr);
    cudaStreamDestroy(stream);
}
