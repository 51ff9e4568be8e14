#include "doctest_main.hpp"

#include <deblur/net/linear_resize.hpp>

#include <array>
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

// Known answers worked out by hand from the definition (pixel centres
// aligned, a triangle filter widened by the factor when shrinking, weights
// past the border given to the edge pixel):
//   4 -> 2: out0 = 0.5 x0 + 0.375 x1 + 0.125 x2 (taps at -1 and 0 both land on x0),
//           out1 = 0.125 x1 + 0.375 x2 + 0.5 x3;
//   2 -> 4: x0, 0.75 x0 + 0.25 x1, 0.25 x0 + 0.75 x1, x1.
// Rows are enlarged 2 -> 4 while columns shrink 4 -> 2, so both paths and
// the order (columns, then rows) are checked.
TEST_CASE("LinearResize gives the hand-computed values") {
    auto in = deblur::make_tensor<double>(1, 2, 4);
    const double rows[2][4] = {{1, 2, 4, 8}, {3, 3, 3, 3}};
    for (std::size_t r = 0; r < 2; ++r)
        for (std::size_t c = 0; c < 4; ++c) in(0, r, c) = rows[r][c];
    Tensor<double> out;
    LinearResize<double>(2, 4, 4, 2).apply(in, out);
    REQUIRE(out.shape() == std::array<std::size_t, 3>{1, 4, 2});
    // Columns: row 0 -> (1.75, 5.75), row 1 -> (3, 3); then rows 2 -> 4.
    const double expected[4][2] = {{1.75, 5.75}, {2.0625, 5.0625}, {2.6875, 3.6875}, {3, 3}};
    for (std::size_t r = 0; r < 4; ++r)
        for (std::size_t c = 0; c < 2; ++c) {
            CAPTURE(r);
            CAPTURE(c);
            CHECK(out(0, r, c) == doctest::Approx(expected[r][c]).epsilon(1e-15));
        }
}
