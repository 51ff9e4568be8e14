// Whole networks on the GPU: the same Chain / Stage / Scale / MultiScale
// templates instantiated with CudaExec run on device tensors. Forward and
// backward against the CPU network of the same seed, a finite-difference
// check in double, the resampling between scales against LinearResize, and
// the paper's network loading a model file written by the CPU network.
#include "cuda_test_main.cuh"

#include <deblur/cuda/cuda.cuh>
#include <deblur/net/default_network.hpp>
#include <deblur/net/model_file.hpp>
#include <deblur/net/parameters.hpp>
#include <deblur/pipeline/kernel_estimator.hpp>
#include <deblur/testing/gradcheck.hpp>

#include <cmath>
#include <filesystem>
#include <random>
#include <span>
#include <vector>

namespace {

using namespace deblur;
using deblur::cuda::DeviceTensor;
using deblur::cuda::to_device;
using deblur::cuda::to_host;

template <class E>
using SmallFeatures = Chain<Conv<3, 3, E>, Tanh<E>, Recombine<4, E>>;
template <int K, class E>
using SmallStage = Stage<SmallFeatures<E>, Quotient<K, E>, ImageQuotient<E>>;
// One scale, two stages.
template <class E>
using OneScale = MultiScale<Scale<5, SmallStage<5, E>, SmallStage<5, E>>>;
// Two scales: the latent image crosses a resampling.
template <class E>
using TwoScales = MultiScale<Scale<5, SmallStage<5, E>, SmallStage<5, E>>, Scale<7, SmallStage<7, E>>>;

static_assert(std::is_same_v<typename OneScale<CudaExec<float>>::tensor, DeviceTensor<float>>);
static_assert(std::is_same_v<typename PaperNetwork<CudaExec<float>>::tensor, DeviceTensor<float>>);
static_assert(std::is_same_v<rebind_t<PaperNetwork<CudaExec<float>>, Exec<float>>, DefaultNetwork>);
static_assert(FeatureLayer<SmallFeatures<CudaExec<double>>>);
static_assert(requires { SmallFeatures<CudaExec<float>>::layer_count; });  // what Stage's parameter walk tests

template <class T>
Tensor<T> random_image(std::size_t h, std::size_t w, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> u(0.1, 0.9);
    auto t = make_tensor<T>(1, h, w);
    for (auto& v : t) v = static_cast<T>(u(rng));
    return t;
}

template <class T>
double relative(const std::vector<T>& a, const std::vector<T>& b) {
    std::vector<double> x(a.begin(), a.end()), y(b.begin(), b.end());
    return testing::relative_error(x, y);
}

template <class T>
std::vector<T> values(const Tensor<T>& t) {
    return {t.begin(), t.end()};
}

template <class T>
double tolerance() {
    return std::is_same_v<T, float> ? 1e-3 : 1e-9;
}

// The GPU network against the CPU network of the same seed: parameters,
// kernel and latent image of every scale, and all parameter gradients.
template <template <class> class Net, class T>
void compare_with_cpu(std::size_t h, std::size_t w, unsigned seed) {
    Net<Exec<T>> cpu(seed);
    Net<CudaExec<T>> gpu(seed);
    std::vector<T> pc, pg;
    get_parameters(cpu, pc);
    get_parameters(gpu, pg);
    CHECK(pc == pg);  // the same draws

    const auto blurry = random_image<T>(h, w, seed + 1);
    const auto dblurry = to_device(blurry);
    cpu.forward(blurry);
    gpu.forward(dblurry);
    for (std::size_t j = 0; j < Net<Exec<T>>::scale_count; ++j) {
        CAPTURE(j);
        CHECK(relative(values(to_host(gpu.kernel(j))), values(cpu.kernel(j))) < tolerance<T>());
        CHECK(relative(values(to_host(gpu.latent(j))), values(cpu.latent(j))) < tolerance<T>());
    }

    std::mt19937 rng(seed + 2);
    std::normal_distribution<double> normal;
    auto r = make_tensor<T>(cpu.kernel().shape(0), cpu.kernel().shape(1), cpu.kernel().shape(2));
    for (auto& v : r) v = static_cast<T>(normal(rng));
    zero_gradients(cpu);
    zero_gradients(gpu);
    cpu.backward(blurry, r);
    gpu.backward(dblurry, to_device(r));
    std::vector<T> gc, gg;
    get_gradients(cpu, gc);
    get_gradients(gpu, gg);
    CHECK(relative(gg, gc) < 10 * tolerance<T>());
}

}  // namespace

TEST_CASE_TEMPLATE("a CUDA network (one scale, two stages) matches the CPU network", T, float, double) {
    compare_with_cpu<OneScale, T>(24, 20, 3);
}

TEST_CASE_TEMPLATE("a CUDA network of two scales matches the CPU network", T, float, double) {
    compare_with_cpu<TwoScales, T>(26, 23, 5);
}

TEST_CASE("the CUDA network's gradient matches finite differences") {
    TwoScales<CudaExec<double>> net(3);
    const auto blurry = to_device(random_image<double>(22, 19, 4));
    std::mt19937 rng(5);
    std::normal_distribution<double> normal;
    auto r = make_tensor<double>(1, 7, 7);
    for (auto& v : r) v = normal(rng);
    std::vector<double> params, grads;
    get_parameters(net, params);
    auto loss = [&] {
        set_parameters<decltype(net), double>(net, params);
        net.forward(blurry);
        const auto k = to_host(net.kernel());
        double s = 0;
        for (std::size_t i = 0; i < r.size(); ++i) s += r.data()[i] * k.data()[i];
        return s;
    };
    loss();
    zero_gradients(net);
    net.backward(blurry, to_device(r));
    get_gradients(net, grads);
    CHECK(testing::check_gradient(params, grads, loss, 7, 80) < 1e-5);
}

TEST_CASE_TEMPLATE("DeviceLinearResize matches LinearResize and its adjoint", T, float, double) {
    for (auto [ih, iw, oh, ow] : std::vector<std::array<std::size_t, 4>>{{20, 30, 9, 13}, {9, 13, 20, 30}, {7, 7, 7, 7}}) {
        LinearResize<T> cpu(ih, iw, oh, ow);
        deblur::cuda::DeviceLinearResize<T> gpu(ih, iw, oh, ow);
        auto in = random_image<T>(ih, iw, 1);
        Tensor<T> out;
        cpu.apply(in, out);
        DeviceTensor<T> dout;
        gpu.apply(to_device(in), dout);
        CHECK(relative(values(to_host(dout)), values(out)) < tolerance<T>() * 1e-2);
        auto g = random_image<T>(oh, ow, 2);
        auto gi = random_image<T>(ih, iw, 3);
        auto dgi = to_device(gi);
        cpu.adjoint_add(g, gi);
        gpu.adjoint_add(to_device(g), dgi);
        CHECK(relative(values(to_host(dgi)), values(gi)) < tolerance<T>() * 1e-2);
    }
}

// The deployment path: a model written by the CPU network loads into the
// CUDA network (same parameter order), and the kernel estimator gives the
// CPU estimator's kernel.
TEST_CASE("PaperNetwork<CudaExec<float>> loads a CPU model file and estimates the CPU kernel") {
    const auto file = std::filesystem::temp_directory_path() / "deblur-cuda-network-test.dbm";
    {
        DefaultNetwork cpu(11);
        save_model(cpu, file, {{"note", "test"}});
    }
    PaperNetwork<CudaExec<float>> gpu(99);
    const auto meta = load_model(gpu, file);
    CHECK(meta.at("note") == "test");
    DefaultNetwork cpu(11);
    std::vector<float> pc, pg;
    get_parameters(cpu, pc);
    get_parameters(gpu, pg);
    CHECK(pc == pg);

    const auto blurry = random_image<float>(100, 90, 12);
    cpu.forward(blurry);
    gpu.forward(to_device(blurry));
    CHECK(relative(values(to_host(gpu.kernel())), values(cpu.kernel())) < 1e-3);

    xt::xtensor<float, 2> gray = xt::view(random_image<float>(120, 110, 13), 0, xt::all(), xt::all());
    KernelEstimator<DefaultNetwork> on_cpu(file);
    KernelEstimator<PaperNetwork<CudaExec<float>>> on_gpu(file);
    const auto kc = on_cpu.estimate(gray, 33);
    const auto kg = on_gpu.estimate(gray, 33);
    REQUIRE(kc.shape() == kg.shape());
    std::vector<float> a(kg.begin(), kg.end()), b(kc.begin(), kc.end());
    CHECK(relative(a, b) < 1e-3);
    std::filesystem::remove(file);
}
