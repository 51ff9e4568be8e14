#include "doctest_main.hpp"

#include <deblur/layers/tanh.hpp>
#include <deblur/testing/gradcheck.hpp>

#include <cmath>
#include <random>

TEST_CASE_TEMPLATE("Tanh forward is the element-wise tanh", T, float, double) {
    deblur::Tanh<deblur::Exec<T>> layer;
    auto in = deblur::make_tensor<T>(2, 3, 4);
    std::mt19937 rng(1);
    std::normal_distribution<T> d(0, 2);
    for (auto& v : in) v = d(rng);
    deblur::Tensor<T> out;
    layer.forward(in, out);
    REQUIRE(out.shape() == in.shape());
    for (std::size_t i = 0; i < in.size(); ++i) CHECK(out.data()[i] == doctest::Approx(std::tanh(in.data()[i])));
}

TEST_CASE("Tanh backward matches finite differences") {
    deblur::Tanh<deblur::Exec<double>> layer;
    auto in = deblur::make_tensor<double>(3, 5, 4);
    std::mt19937 rng(2);
    std::normal_distribution<double> d;
    for (auto& v : in) v = d(rng);
    const auto r = deblur::testing::check_layer(layer, in);
    CHECK(r.output_written);
    CHECK(r.input_error < 1e-7);
    MESSAGE("Tanh input gradient relative error: " << r.input_error);
}
