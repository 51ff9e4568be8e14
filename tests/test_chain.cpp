#include "doctest_main.hpp"

#include <deblur/layers/chain.hpp>
#include <deblur/layers/conv.hpp>
#include <deblur/layers/layer.hpp>
#include <deblur/layers/recombine.hpp>
#include <deblur/layers/tanh.hpp>
#include <deblur/testing/gradcheck.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <type_traits>
#include <vector>

using deblur::Chain;
using deblur::Conv;
using deblur::Exec;
using deblur::Recombine;
using deblur::Tanh;
using deblur::Tensor;

template <class E>
using Small = Chain<Conv<4, 3, E>, Tanh<E>, Recombine<4, E>, Tanh<E>, Recombine<2, E>>;
using SmallF = Small<Exec<float>>;
using SmallD = Small<Exec<double>>;

// Compile-time properties: the protocol, channel arithmetic, nesting, rebinding.
static_assert(deblur::FeatureLayer<SmallF>);
static_assert(SmallF::layer_count == 5);
static_assert(SmallF::output_channels(1) == 2);
static_assert(SmallF::output_channels(7) == 2);
static_assert(SmallF::output_channels(0) == -1);
static_assert(Chain<Tanh<>>::output_channels(3) == 3);
static_assert(Chain<Tanh<>, Tanh<>>::output_channels(-1) == -1);
static_assert(Chain<Conv<32, 9>, Tanh<>, Recombine<32>, Tanh<>, Recombine<4>>::output_channels(2) == 4);
static_assert(std::is_same_v<deblur::rebind_t<SmallF, Exec<double>>, SmallD>);
static_assert(std::is_same_v<SmallD::scalar, double>);
using Nested = Chain<Chain<Conv<3, 3>, Tanh<>>, Recombine<2>>;
static_assert(deblur::FeatureLayer<Nested>);
static_assert(Nested::output_channels(2) == 2);

namespace {

template <class T>
Tensor<T> random_tensor(std::size_t c, std::size_t h, std::size_t w, unsigned seed) {
    auto t = deblur::make_tensor<T>(c, h, w);
    std::mt19937 rng(seed);
    std::normal_distribution<double> d;
    for (auto& v : t) v = static_cast<T>(d(rng));
    return t;
}

// Largest |a - b| over two equally long ranges. The same arithmetic on
// differently aligned buffers may round differently (Eigen peels reductions by
// alignment), so equal computations are compared to a tight tolerance.
template <class A, class B>
double max_difference(const A& a, const B& b) {
    REQUIRE(a.size() == b.size());
    double worst = 0;
    auto ib = b.begin();
    for (auto ia = a.begin(); ia != a.end(); ++ia, ++ib) worst = std::max(worst, std::abs(double(*ia) - double(*ib)));
    return worst;
}

// Biases start at zero; make them non-zero so their gradients are exercised.
template <class ChainT>
void perturb_biases(ChainT& chain, unsigned seed) {
    std::vector<typename ChainT::scalar> p(chain.num_params());
    chain.get_params(p);
    std::mt19937 rng(seed);
    std::normal_distribution<double> d(0, 0.1);
    for (auto& v : p) v += static_cast<typename ChainT::scalar>(d(rng));
    chain.set_params(p);
}

}  // namespace

TEST_CASE_TEMPLATE("Chain forward equals the layers composed by hand", T, float, double) {
    using E = Exec<T>;
    Small<E> chain;
    std::mt19937_64 rng(1);
    chain.setup(2, rng);
    perturb_biases(chain, 2);

    const auto in = random_tensor<T>(2, 9, 11, 3);
    Tensor<T> out;
    chain.forward(in, out);

    // The same layers (copied parameters) applied one after the other.
    Conv<4, 3, E> conv = chain.template layer<0>();
    Recombine<4, E> mix1 = chain.template layer<2>();
    Recombine<2, E> mix2 = chain.template layer<4>();
    Tanh<E> tanh;
    Tensor<T> a, b, c, d, e;
    conv.forward(in, a);
    tanh.forward(a, b);
    mix1.forward(b, c);
    tanh.forward(c, d);
    mix2.forward(d, e);
    REQUIRE(out.shape() == e.shape());
    CHECK(out.shape(0) == 2);
    CHECK(out.shape(1) == 7);
    CHECK(out.shape(2) == 9);
    CHECK(max_difference(out, e) < (std::is_same_v<T, float> ? 1e-6 : 1e-14));

    // Repeated calls reuse the intermediates and give the same result.
    Tensor<T> again;
    chain.forward(in, again);
    CHECK(max_difference(again, out) < (std::is_same_v<T, float> ? 1e-6 : 1e-14));
}

TEST_CASE("Chain backward matches finite differences for the input and every parameter") {
    SmallD chain;
    std::mt19937_64 rng(4);
    chain.setup(2, rng);
    perturb_biases(chain, 5);
    const auto in = random_tensor<double>(2, 7, 8, 6);

    // The generic layer check, as for a leaf layer: the input and every parameter of every layer.
    const auto r = deblur::testing::check_layer(chain, in, 7, 1000);
    CHECK(r.output_written);
    CHECK(r.input_error < 1e-6);
    CHECK(r.param_error < 1e-6);
    CHECK(chain.num_params() > 0);
    MESSAGE("Chain<Conv<4,3>, Tanh, Recombine<4>, Tanh, Recombine<2>> on 2 x 7 x 8: input gradient error "
            << r.input_error << ", parameter gradient error (" << chain.num_params() << " parameters) " << r.param_error);
}

TEST_CASE("Nested chains match the flat chain") {
    using E = Exec<double>;
    using Flat = Chain<Conv<3, 3, E>, Tanh<E>, Recombine<2, E>>;
    using Inner = Chain<Chain<Conv<3, 3, E>, Tanh<E>>, Recombine<2, E>>;
    Flat flat;
    Inner nested;
    std::mt19937_64 rng1(10), rng2(10);
    flat.setup(2, rng1);
    nested.setup(2, rng2);
    REQUIRE(flat.num_params() == nested.num_params());
    std::vector<double> p(flat.num_params());
    flat.get_params(p);
    nested.set_params(p);
    const auto in = random_tensor<double>(2, 6, 5, 11);
    Tensor<double> a, b;
    flat.forward(in, a);
    nested.forward(in, b);
    CHECK(max_difference(a, b) < 1e-14);

    const auto g = random_tensor<double>(2, 4, 3, 12);
    auto gi_flat = deblur::make_tensor<double>(2, 6, 5), gi_nested = deblur::make_tensor<double>(2, 6, 5);
    flat.zero_grads();
    nested.zero_grads();
    flat.backward(in, a, g, gi_flat);
    nested.backward(in, b, g, gi_nested);
    CHECK(max_difference(gi_flat, gi_nested) < 1e-13);
    std::vector<double> gf(p.size()), gn(p.size());
    flat.get_param_grads(gf);
    nested.get_param_grads(gn);
    CHECK(max_difference(gf, gn) < 1e-13);
}

TEST_CASE("Chain backward adds, zero_grads clears, for_each_layer visits in order") {
    SmallD chain;
    std::mt19937_64 rng(13);
    chain.setup(1, rng);
    const auto in = random_tensor<double>(1, 6, 6, 14);
    Tensor<double> out;
    chain.forward(in, out);
    const auto g = random_tensor<double>(2, 4, 4, 15);
    auto grad_in = deblur::make_tensor<double>(1, 6, 6);
    chain.zero_grads();
    chain.backward(in, out, g, grad_in);
    std::vector<double> once(chain.num_params()), twice(chain.num_params());
    chain.get_param_grads(once);
    const Tensor<double> grad_in_once = grad_in;
    chain.backward(in, out, g, grad_in);
    chain.get_param_grads(twice);
    for (std::size_t i = 0; i < once.size(); ++i) CHECK(twice[i] == doctest::Approx(2 * once[i]));
    for (std::size_t i = 0; i < grad_in.size(); ++i) CHECK(grad_in.data()[i] == doctest::Approx(2 * grad_in_once.data()[i]));
    chain.zero_grads();
    chain.get_param_grads(once);
    CHECK(std::all_of(once.begin(), once.end(), [](double v) { return v == 0; }));

    std::vector<std::size_t> sizes;
    chain.for_each_layer([&](auto& layer) { sizes.push_back(layer.params().size()); });
    CHECK(sizes == std::vector<std::size_t>{4 * 9 + 4, 0, 4 * 4 + 4, 0, 2 * 4 + 2});
    CHECK(chain.num_params() == 40 + 20 + 10);
}

TEST_CASE("Chain rebound to double computes the same function as the float chain") {
    SmallF chain_f;
    std::mt19937_64 rng(16);
    chain_f.setup(2, rng);
    perturb_biases(chain_f, 17);
    deblur::rebind_t<SmallF, Exec<double>> chain_d;
    chain_d.setup(2, rng);
    std::vector<float> pf(chain_f.num_params());
    chain_f.get_params(pf);
    chain_d.set_params(std::vector<double>(pf.begin(), pf.end()));

    const auto in_f = random_tensor<float>(2, 12, 10, 18);
    Tensor<double> in_d = deblur::make_tensor<double>(2, 12, 10);
    std::copy(in_f.begin(), in_f.end(), in_d.begin());
    Tensor<float> out_f;
    Tensor<double> out_d;
    chain_f.forward(in_f, out_f);
    chain_d.forward(in_d, out_d);
    REQUIRE(out_f.shape() == out_d.shape());
    const double worst = max_difference(out_f, out_d);
    CHECK(worst < 1e-5);
    MESSAGE("float vs double chain, largest difference: " << worst);
}

TEST_CASE("Chain rejects misuse") {
    SmallF chain;
    Tensor<float> out;
    const auto in = random_tensor<float>(1, 6, 6, 19);
    CHECK_THROWS_AS(chain.forward(in, out), std::invalid_argument);  // no setup
    std::mt19937_64 rng(20);
    CHECK_THROWS_AS(chain.setup(0, rng), std::invalid_argument);
    chain.setup(1, rng);
    auto grad_in = deblur::make_tensor<float>(1, 6, 6);
    const auto g = deblur::make_tensor<float>(2, 4, 4);
    CHECK_THROWS_AS(chain.backward(in, g, g, grad_in), std::invalid_argument);  // no forward
    CHECK_THROWS_AS(chain.forward(random_tensor<float>(2, 6, 6, 21), out), std::invalid_argument);
    chain.forward(in, out);
    std::vector<float> wrong(chain.num_params() + 1);
    CHECK_THROWS_AS(chain.get_params(wrong), std::invalid_argument);
    CHECK_THROWS_AS(chain.set_params(wrong), std::invalid_argument);
    CHECK_THROWS_AS(chain.get_param_grads(wrong), std::invalid_argument);
    auto wrong_grad_in = deblur::make_tensor<float>(1, 5, 6);
    CHECK_THROWS_AS(chain.backward(in, out, g, wrong_grad_in), std::invalid_argument);
    CHECK_NOTHROW(chain.backward(in, out, g, grad_in));
}
