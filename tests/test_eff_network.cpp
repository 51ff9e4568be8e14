// EFFNetwork (net/eff_network.hpp): the default network with EFF quotient
// layers, loading the uniform model's parameters (net/load_model_parameters.hpp),
// and end-to-end gradients of a spatially-varying network.
#include "doctest_main.hpp"

#include <deblur/net/architecture.hpp>
#include <deblur/net/default_network.hpp>
#include <deblur/net/eff_network.hpp>
#include <deblur/net/load_model_parameters.hpp>
#include <deblur/net/parameters.hpp>
#include <deblur/testing/gradcheck.hpp>

#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace deblur;

template <class E>
using SmallFeatures = Chain<Conv<3, 3, E>, Tanh<E>, Recombine<4, E>>;
template <int K, class E>
using SmallEFFStage = Stage<SmallFeatures<E>, EFFQuotient<K, E>, EFFImageQuotient<E>>;
template <class E = Exec<double>>
using SmallEFFNet = MultiScale<Scale<5, SmallEFFStage<5, E>, SmallEFFStage<5, E>>, Scale<7, SmallEFFStage<7, E>>>;

template <class T>
Tensor<T> smooth_image(std::size_t h, std::size_t w, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> u(0.1, 0.9);
    auto t = make_tensor<T>(1, h, w);
    for (std::size_t r = 0; r < h; ++r)
        for (std::size_t c = 0; c < w; ++c)
            t(0, r, c) = static_cast<T>(0.5 + 0.3 * std::sin(0.3 * double(r) + 0.2 * double(c)) * ((r / 8 + c / 6) % 2 ? 1 : -1) +
                                        0.05 * u(rng));
    return t;
}

const std::filesystem::path default_model = std::filesystem::path(DEBLUR_SOURCE_DIR) / "models" / "default.dbm";

}  // namespace

TEST_CASE("EFFNetwork is the paper's network with EFF quotient layers, one type") {
    const std::string arch = architecture_of<EFFNetwork>();
    CHECK(arch.starts_with(
        "MultiScale<Scale<17,Stage<Chain<Conv<32,9>,Tanh,Recombine<32>,Tanh,Recombine<4>>,EFFQuotient<17>,EFFImageQuotient>"));
    CHECK(arch.find("EFFQuotient<33>") != std::string::npos);
    CHECK(arch.find("Recombine<8>") != std::string::npos);
    static_assert(EFFNetwork::kernel_sizes[0] == 17 && EFFNetwork::kernel_sizes[2] == 33);
    static_assert(std::is_same_v<rebind_t<EFFNetwork, Exec<double>>, PaperEFFNetwork<Exec<double>>>);
}

TEST_CASE("the uniform model loads into EFFNetwork; with a 1x1 grid it estimates the uniform network's kernel") {
    auto uniform = std::make_unique<DefaultNetwork>();
    auto eff = std::make_unique<EFFNetwork>();
    uniform->setup(0);
    eff->setup(1);
    load_model(*uniform, default_model);
    const auto metadata = load_model_parameters<DefaultNetwork>(*eff, default_model);
    CHECK(metadata.count("trained_scales") == 1);
    std::vector<float> a, b;
    get_parameters(*uniform, a);
    get_parameters(*eff, b);
    CHECK(a == b);

    const auto blurry = smooth_image<float>(72, 80, 1);
    uniform->forward(blurry, 0);
    set_grid(*eff, 1, 1);
    eff->forward(blurry, 0);
    REQUIRE(eff->kernel().shape() == uniform->kernel().shape());
    double diff = 0;
    for (std::size_t i = 0; i < eff->kernel().size(); ++i)
        diff = std::max(diff, std::abs(double(eff->kernel().data()[i]) - uniform->kernel().data()[i]));
    CHECK(diff < 1e-6);

    set_grid(*eff, 2, 3);
    eff->forward(blurry, 0);
    REQUIRE(eff->kernel().shape() == std::array<std::size_t, 3>{6, 17, 17});
    for (std::size_t p = 0; p < 6; ++p) {
        double sum = 0;
        for (std::size_t i = 0; i < 17 * 17; ++i) {
            const float v = eff->kernel().data()[p * 17 * 17 + i];
            CHECK(v >= 0);
            sum += v;
        }
        CHECK(sum == doctest::Approx(1.0).epsilon(1e-4));
    }
}

TEST_CASE("load_model_parameters refuses a file whose parameter blocks differ, leaving the network as it was") {
    SmallEFFNet<Exec<float>> small(3);
    std::vector<float> before, after;
    get_parameters(small, before);
    CHECK_THROWS_AS(load_model_parameters<DefaultNetwork>(small, default_model), ModelError);
    get_parameters(small, after);
    CHECK(before == after);
    EFFNetwork eff_like;  // its own architecture is not the file's: load_model's error names both
    CHECK_THROWS_AS(load_model_parameters<EFFNetwork>(eff_like, default_model), ModelError);
}

TEST_CASE("end-to-end gradient of a spatially-varying network (2x2 grid, all scales and stages) matches finite differences") {
    SmallEFFNet<> net(3);
    set_grid(net, 2, 2);
    const auto blurry = smooth_image<double>(30, 28, 4);
    std::mt19937 rng(5);
    std::normal_distribution<double> normal;
    auto r = make_tensor<double>(4, 7, 7);
    for (auto& v : r) v = normal(rng);
    auto loss = [&] {
        net.forward(blurry);
        double s = 0;
        for (std::size_t i = 0; i < r.size(); ++i) s += r.data()[i] * net.kernel().data()[i];
        return s;
    };
    loss();
    REQUIRE(net.kernel().shape() == r.shape());
    zero_gradients(net);
    net.backward(blurry, r);
    std::vector<double> params, grads;
    get_parameters(net, params);
    get_gradients(net, grads);
    auto apply = [&] {
        set_parameters<SmallEFFNet<>, double>(net, params);
        return loss();
    };
    const double err = testing::check_gradient(params, grads, apply, 11, 300);
    MESSAGE("end-to-end parameter gradient relative error: " << err);
    CHECK(err < 1e-5);
}
