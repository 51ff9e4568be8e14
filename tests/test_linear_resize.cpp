#include "doctest_main.hpp"

#include <deblur/net/linear_resize.hpp>

#include <random>

using deblur::LinearResize;
using deblur::Tensor;

static Tensor<double> random_tensor(std::size_t c, std::size_t h, std::size_t w, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<double> d;
    auto t = deblur::make_tensor<double>(c, h, w);
    for (auto& v : t) v = d(rng);
    return t;
}

TEST_CASE("LinearResize keeps constants and is the identity at equal size") {
    LinearResize<double> down(20, 30, 11, 13), same(9, 8, 9, 8);
    auto ones = deblur::make_tensor<double>(2, 20, 30, 1.0);
    Tensor<double> out;
    down.apply(ones, out);
    for (double v : out) CHECK(v == doctest::Approx(1.0));
    auto x = random_tensor(1, 9, 8, 1);
    same.apply(x, out);
    for (std::size_t i = 0; i < x.size(); ++i) CHECK(out.data()[i] == doctest::Approx(x.data()[i]));
}

TEST_CASE("LinearResize adjoint: <A x, y> == <x, A^T y>") {
    for (auto [ih, iw, oh, ow] : {std::array<std::size_t, 4>{20, 17, 11, 9}, {9, 8, 15, 13}, {7, 7, 7, 12}}) {
        LinearResize<double> r(ih, iw, oh, ow);
        auto x = random_tensor(2, ih, iw, 2);
        auto y = random_tensor(2, oh, ow, 3);
        Tensor<double> ax;
        r.apply(x, ax);
        auto aty = deblur::make_tensor<double>(2, ih, iw);
        r.adjoint_add(y, aty);
        double lhs = 0, rhs = 0;
        for (std::size_t i = 0; i < ax.size(); ++i) lhs += ax.data()[i] * y.data()[i];
        for (std::size_t i = 0; i < x.size(); ++i) rhs += x.data()[i] * aty.data()[i];
        CHECK(lhs == doctest::Approx(rhs).epsilon(1e-12));
    }
}

TEST_CASE("LinearResize rejects wrong sizes") {
    LinearResize<double> r(10, 10, 5, 5);
    Tensor<double> out;
    CHECK_THROWS_AS(r.apply(random_tensor(1, 9, 10, 4), out), std::invalid_argument);
    CHECK_THROWS_AS(LinearResize<double>(0, 3, 2, 2), std::invalid_argument);
}
