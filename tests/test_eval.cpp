#include "doctest_main.hpp"

#include <deblur/blur/crop_kernel.hpp>
#include <deblur/eval/aligned_ssd.hpp>
#include <deblur/eval/kernel_similarity.hpp>

#include <cmath>
#include <random>
#include <stdexcept>

using Image = xt::xtensor<double, 2>;

namespace {

Image random_image(std::size_t n, unsigned seed) {
    std::mt19937 g(seed);
    std::uniform_real_distribution<double> u(0, 1);
    Image x = Image::from_shape({n, n});
    for (double& v : x) v = u(g);
    return x;
}

// x moved by (dr, dc) whole pixels: out(r, c) = x(r - dr, c - dc), edge values repeated.
Image shifted(const Image& x, int dr, int dc) {
    const int n = int(x.shape(0));
    Image out = Image::from_shape(x.shape());
    for (int r = 0; r < n; ++r)
        for (int c = 0; c < n; ++c) out(r, c) = x(std::clamp(r - dr, 0, n - 1), std::clamp(c - dc, 0, n - 1));
    return out;
}

}  // namespace

TEST_CASE("aligned_ssd finds whole and fractional shifts") {
    const Image truth = random_image(64, 1);
    CHECK(deblur::aligned_ssd(truth, truth) == 0.0);
    CHECK(deblur::aligned_ssd(shifted(truth, 3, -2), truth) == doctest::Approx(0.0));
    CHECK(deblur::aligned_ssd(shifted(truth, 3, -2), truth, 5, 15, 0.25) == doctest::Approx(0.0));
    // Beyond the search range the SSD is large.
    CHECK(deblur::aligned_ssd(shifted(truth, 7, 0), truth) > 10);
    // A half-pixel shift of a ramp (which bilinear sampling reproduces exactly)
    // is found with 0.25 px steps, not with whole pixels.
    Image ramp = Image::from_shape({64, 64}), ramp_moved = Image::from_shape({64, 64});
    for (std::size_t r = 0; r < 64; ++r)
        for (std::size_t c = 0; c < 64; ++c) {
            ramp(r, c) = 0.01 * double(r) + 0.007 * double(c);
            ramp_moved(r, c) = 0.01 * double(r) + 0.007 * (double(c) + 0.5);
        }
    CHECK(deblur::aligned_ssd(ramp_moved, ramp, 5, 15, 0.25) < 1e-20);
    CHECK(deblur::aligned_ssd(ramp_moved, ramp) > 1e-4);
    CHECK_THROWS_AS(deblur::aligned_ssd(truth, random_image(32, 2)), std::invalid_argument);
    CHECK_THROWS_AS(deblur::aligned_ssd(truth, truth, 5, 5), std::invalid_argument);
    CHECK_THROWS_AS(deblur::aligned_ssd(truth, truth, 5, 15, 0.0), std::invalid_argument);
}

TEST_CASE("kernel_similarity is 1 up to translation and scale, lower otherwise") {
    xt::xtensor<float, 2> a = xt::zeros<float>({std::size_t(7), std::size_t(7)});
    a(1, 1) = 1;
    a(2, 2) = 2;
    a(3, 4) = 1;
    xt::xtensor<float, 2> b = xt::zeros<float>({std::size_t(11), std::size_t(11)});
    b(5, 6) = 3;
    b(6, 7) = 6;
    b(7, 9) = 3;
    CHECK(deblur::kernel_similarity(a, b) == doctest::Approx(1.0));
    CHECK(deblur::kernel_similarity(b, a) == doctest::Approx(1.0));
    xt::xtensor<float, 2> delta = xt::zeros<float>({std::size_t(7), std::size_t(7)});
    delta(3, 3) = 1;
    // <a, delta moved onto a's largest tap> / (|a| |delta|) = 2 / sqrt(6).
    CHECK(deblur::kernel_similarity(a, delta) == doctest::Approx(2 / std::sqrt(6.0)));
    CHECK_THROWS_AS(deblur::kernel_similarity(a, xt::xtensor<float, 2>(xt::zeros<float>({std::size_t(3), std::size_t(3)}))),
                    std::invalid_argument);
}

TEST_CASE("crop_kernel_to_support, kernel_outer_mass and kernel_fits_support") {
    xt::xtensor<float, 2> k = xt::zeros<float>({std::size_t(15), std::size_t(15)});
    k(7, 7) = 4;
    k(7, 9) = 2;
    k(2, 7) = 0.01f;  // below 2 % of the peak: ignored by the default crop
    const auto cropped = deblur::crop_kernel_to_support(k);
    CHECK(cropped.shape(0) == 2 * (2 + 2) + 1);  // radius 2 plus the 2 px margin
    CHECK(double(xt::sum(cropped)()) == doctest::Approx(1.0));
    CHECK(deblur::crop_kernel_to_support(k, 0.0, 0).shape(0) == 11);  // radius 5 reaches the faint tap
    CHECK(deblur::kernel_fits_support(k));
    k(0, 0) = 1;  // 1 / 7.01 of the mass in the outer band
    CHECK(deblur::kernel_outer_mass(k) == doctest::Approx(1 / 7.01));
    CHECK_FALSE(deblur::kernel_fits_support(k));
    CHECK(deblur::kernel_fits_support(k, 0.2));
    CHECK_THROWS_AS(deblur::crop_kernel_to_support(xt::xtensor<float, 2>(xt::zeros<float>({std::size_t(4), std::size_t(4)}))),
                    std::invalid_argument);
    CHECK_THROWS_AS(deblur::crop_kernel_to_support(xt::xtensor<float, 2>(xt::zeros<float>({std::size_t(5), std::size_t(5)}))),
                    std::invalid_argument);
}
