#include "doctest_main.hpp"

#include <deblur/net/architecture.hpp>
#include <deblur/net/default_network.hpp>
#include <deblur/net/parameters.hpp>
#include <deblur/testing/gradcheck.hpp>

#include <random>
#include <tuple>
#include <vector>

namespace {

using namespace deblur;

template <class E>
using SmallFeatures = Chain<Conv<3, 3, E>, Tanh<E>, Recombine<4, E>>;
template <int K, class E>
using SmallStage = Stage<SmallFeatures<E>, Quotient<K, E>, ImageQuotient<E>>;
template <class E = Exec<double>>
using SmallNet = MultiScale<Scale<5, SmallStage<5, E>, SmallStage<5, E>>, Scale<7, SmallStage<7, E>>>;

Tensor<double> random_image(std::size_t h, std::size_t w, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> u(0.1, 0.9);
    auto t = make_tensor<double>(1, h, w);
    for (auto& v : t) v = u(rng);
    return t;
}

}  // namespace

TEST_CASE("the paper's network is one type whose architecture reads like the paper") {
    const std::string arch = architecture_of<DefaultNetwork>();
    CHECK(arch.starts_with("MultiScale<Scale<17,Stage<Chain<Conv<32,9>,Tanh,Recombine<32>,Tanh,Recombine<4>>,Quotient<17>,ImageQuotient>"));
    CHECK(arch.find("Scale<33,") != std::string::npos);
    CHECK(arch.find("Recombine<8>") != std::string::npos);
    static_assert(DefaultNetwork::scale_count == 3);
    static_assert(DefaultNetwork::kernel_sizes[2] == 33);
    static_assert(std::is_same_v<rebind_t<DefaultNetwork, Exec<double>>, PaperNetwork<Exec<double>>>);
}

TEST_CASE("a multi-scale network runs and estimates normalised kernels at every scale") {
    SmallNet<Exec<float>> net(7);
    auto img = random_image(24, 20, 1);
    Tensor<float> blurry = xt::cast<float>(img);
    net.forward(blurry);
    REQUIRE(net.kernel().shape() == std::array<std::size_t, 3>{1, 7, 7});
    CHECK(net.latent().shape() == blurry.shape());
    CHECK(net.kernel(0).shape(1) == 5);
    CHECK(net.latent(0).shape(1) == SmallNet<>::scaled_size(24, 0, 1));
    float sum = 0;
    for (float v : net.kernel()) {
        CHECK(v >= 0);
        sum += v;
    }
    CHECK(sum == doctest::Approx(1.0f).epsilon(1e-4));
    net.forward(blurry, 0);  // the coarsest scale alone, at full resolution
    CHECK(net.kernel().shape(1) == 5);
    CHECK_THROWS_AS(net.forward(random_image(6, 6, 2) * 0.0 + 0.5), std::invalid_argument);
}

TEST_CASE("the inference path gives forward's kernels and latents bit for bit and keeps nothing for backward") {
    using Net = SmallNet<Exec<float>>;
    Net trained(11), inferred(11);
    for (auto [h, w, seed] : {std::tuple{24, 20, 3u}, std::tuple{31, 27, 4u}, std::tuple{24, 20, 5u}}) {
        const Tensor<float> blurry = xt::cast<float>(random_image(h, w, seed));
        for (std::size_t last : {std::size_t(1), std::size_t(0)}) {
            trained.forward(blurry, last);
            inferred.infer(blurry, last);
            for (std::size_t j = 0; j <= last; ++j) {
                CHECK(inferred.kernel(j) == trained.kernel(j));
                CHECK(inferred.latent(j) == trained.latent(j));
            }
        }
    }
    // Its buffers are shared: the first stage's chain keeps no activations.
    Tensor<float> grad = xt::zeros<float>(inferred.kernel().shape());
    CHECK_THROWS_AS(inferred.backward(xt::cast<float>(random_image(24, 20, 5)), grad), std::invalid_argument);
}

TEST_CASE("end-to-end gradient through all scales and stages matches finite differences") {
    SmallNet<> net(3);
    const auto blurry = random_image(22, 19, 4);
    std::mt19937 rng(5);
    std::normal_distribution<double> normal;
    auto r = make_tensor<double>(1, 7, 7);
    for (auto& v : r) v = normal(rng);
    auto loss = [&] {
        net.forward(blurry);
        double s = 0;
        for (std::size_t i = 0; i < r.size(); ++i) s += r.data()[i] * net.kernel().data()[i];
        return s;
    };
    loss();
    zero_gradients(net);
    net.backward(blurry, r);
    std::vector<double> params, grads;
    get_parameters(net, params);
    get_gradients(net, grads);
    auto apply = [&] {
        set_parameters<SmallNet<>, double>(net, params);
        return loss();
    };
    const double err = testing::check_gradient(params, grads, apply, 11, 300);
    MESSAGE("end-to-end parameter gradient relative error: " << err);
    CHECK(err < 1e-5);
}

TEST_CASE("training one scale leaves the coarser scales without gradient") {
    SmallNet<> net(3);
    const auto blurry = random_image(22, 19, 6);
    auto r = make_tensor<double>(1, 7, 7);
    std::mt19937 rng(7);
    std::normal_distribution<double> normal;
    for (auto& v : r) v = normal(rng);  // not constant: the kernel sums to 1, so <1, k> has no gradient
    net.forward(blurry);
    zero_gradients(net);
    net.backward(blurry, r, false);
    std::vector<double> g0, g1;
    get_gradients(net, g0, [](std::size_t j, std::size_t) { return j == 0; });
    get_gradients(net, g1, [](std::size_t j, std::size_t) { return j == 1; });
    for (double v : g0) CHECK(v == 0.0);
    double norm = 0;
    for (double v : g1) norm += v * v;
    CHECK(norm > 0);
}

TEST_CASE("stage-wise pre-training runs only the active stages") {
    SmallNet<> net(3);
    const auto blurry = random_image(20, 20, 8);
    net.set_active_stages(0, 1);
    net.forward(blurry, 0);
    const auto k1 = net.kernel();
    net.set_active_stages(0, 2);
    net.forward(blurry, 0);
    CHECK(xt::amax(xt::abs(net.kernel() - k1))() > 0);
    CHECK_THROWS_AS(net.set_active_stages(0, 3), std::invalid_argument);
}
