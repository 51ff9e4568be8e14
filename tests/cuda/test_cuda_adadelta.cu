// deblur::cuda::Adadelta against train::Adadelta: the same steps on the same
// gradients give the same parameters and running averages, over one flat
// span, over blocks, and over a CUDA network's own parameter storage.
#include "cuda_test_main.cuh"

#include <deblur/cuda/cuda.cuh>
#include <deblur/net/default_network.hpp>
#include <deblur/net/parameters.hpp>
#include <deblur/train/adadelta.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <span>
#include <stdexcept>
#include <vector>

namespace {

using namespace deblur;
using deblur::cuda::DeviceBuffer;

template <class T>
std::vector<T> random_values(std::size_t n, unsigned seed, double scale = 1) {
    std::mt19937 rng(seed);
    std::normal_distribution<double> d(0, scale);
    std::vector<T> v(n);
    for (auto& x : v) x = static_cast<T>(d(rng));
    return v;
}

template <class T>
std::vector<T> download(const DeviceBuffer<T>& d) {
    std::vector<T> h(d.size());
    d.download(h.data());
    return h;
}

template <class T>
void check_close(const std::vector<T>& a, const std::vector<T>& b) {
    REQUIRE(a.size() == b.size());
    const double tol = std::is_same_v<T, float> ? 1e-6 : 1e-14;
    for (std::size_t i = 0; i < a.size(); ++i) CHECK(std::abs(double(a[i]) - double(b[i])) <= tol * (1 + std::abs(double(b[i]))));
}

template <class E>
using SmallNet = MultiScale<Scale<5, Stage<Chain<Conv<3, 3, E>, Tanh<E>, Recombine<4, E>>, Quotient<5, E>, ImageQuotient<E>>>>;

}  // namespace

TEST_CASE_TEMPLATE("cuda::Adadelta takes the CPU optimiser's steps", T, float, double) {
    const std::size_t n = 1000;
    train::AdadeltaOptions options;
    options.learning_rate = 0.5;
    train::Adadelta<T> cpu(n, options);
    deblur::cuda::Adadelta<T> gpu(n, options);
    auto params = random_values<T>(n, 1);
    DeviceBuffer<T> dparams, dgrads;
    dparams.upload(params.data(), n);
    for (unsigned step = 0; step < 6; ++step) {
        const auto grads = random_values<T>(n, 10 + step, 1e-2 * (step + 1));
        cpu.step(params, grads);
        dgrads.upload(grads.data(), n);
        if (step % 2 == 0) {
            gpu.step(std::span<T>(dparams.data(), n), std::span<const T>(dgrads.data(), n));
        } else {  // the same step as two blocks
            const typename deblur::cuda::Adadelta<T>::Block blocks[2] = {{dparams.data(), dgrads.data(), 300},
                                                                  {dparams.data() + 300, dgrads.data() + 300, n - 300}};
            gpu.step(std::span<const typename deblur::cuda::Adadelta<T>::Block>(blocks, 2));
        }
    }
    check_close(download(dparams), params);
    const auto cs = cpu.state();
    check_close(gpu.state(), std::vector<T>(cs.begin(), cs.end()));
    CHECK(gpu.steps() == cpu.steps());

    // A non-finite gradient throws and changes nothing.
    auto bad = random_values<T>(n, 99);
    bad[17] = std::numeric_limits<T>::quiet_NaN();
    dgrads.upload(bad.data(), n);
    const auto before = download(dparams);
    const auto state_before = gpu.state();
    CHECK_THROWS_AS(gpu.step(std::span<T>(dparams.data(), n), std::span<const T>(dgrads.data(), n)),
                    std::invalid_argument);
    CHECK(download(dparams) == before);
    CHECK(gpu.state() == state_before);

    // State round trip and reset.
    deblur::cuda::Adadelta<T> restored(n, options);
    restored.set_state(gpu.state(), gpu.steps());
    CHECK(restored.state() == gpu.state());
    restored.reset();
    CHECK(restored.steps() == 0);
    for (T v : restored.state()) CHECK(v == 0);
    CHECK_THROWS_AS(restored.set_state(std::vector<T>(3)), std::invalid_argument);
    train::AdadeltaOptions wrong;
    wrong.decay = 1;
    CHECK_THROWS_AS(deblur::cuda::Adadelta<T>(n, wrong), std::invalid_argument);
}

TEST_CASE("cuda::Adadelta on a CUDA network's storage equals the CPU step on its parameter vector") {
    using T = double;
    SmallNet<Exec<T>> cpu(4);
    SmallNet<CudaExec<T>> gpu(4);
    std::mt19937 rng(2);
    std::uniform_real_distribution<double> u(0.1, 0.9);
    auto blurry = make_tensor<T>(1, 20, 18);
    for (auto& v : blurry) v = u(rng);
    auto r = make_tensor<T>(1, 5, 5);
    for (auto& v : r) v = u(rng) - 0.5;
    const auto dblurry = deblur::cuda::to_device(blurry);
    const auto dr = deblur::cuda::to_device(r);

    train::Adadelta<T> cpu_opt(parameter_count(cpu));
    deblur::cuda::Adadelta<T> gpu_opt(parameter_count(gpu));
    for (int step = 0; step < 3; ++step) {
        zero_gradients(cpu);
        cpu.forward(blurry);
        cpu.backward(blurry, r);
        std::vector<T> p, g;
        get_parameters(cpu, p);
        get_gradients(cpu, g);
        cpu_opt.step(p, g);
        set_parameters<decltype(cpu), T>(cpu, p);

        zero_gradients(gpu);
        gpu.forward(dblurry);
        gpu.backward(dblurry, dr);
        gpu_opt.step(deblur::cuda::Adadelta<T>::blocks_of(gpu));
    }
    std::vector<T> pc, pg;
    get_parameters(cpu, pc);
    get_parameters(gpu, pg);
    REQUIRE(pc.size() == pg.size());
    for (std::size_t i = 0; i < pc.size(); ++i) CHECK(pg[i] == doctest::Approx(pc[i]).epsilon(1e-9));
}
