#include "doctest_main.hpp"

#include <deblur/blur/blur.hpp>
#include <deblur/blur/noise.hpp>
#include <deblur/fft/reference_dft.hpp>

#include <xtensor/xview.hpp>

#include <cmath>
#include <cstddef>
#include <random>
#include <stdexcept>
#include <vector>

using deblur::BlurMethod;
using deblur::BlurMode;

template <class T>
static xt::xtensor<T, 2> random_matrix(std::size_t h, std::size_t w, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> d(-1, 1);
    xt::xtensor<T, 2> m = xt::xtensor<T, 2>::from_shape({h, w});
    for (auto& v : m) v = static_cast<T>(d(rng));
    return m;
}

// The convention written out literally, one output at a time, in long double:
//   same/circular: y[r][c] = sum k[i][j] x[r - i + Kh/2][c - j + Kw/2]
//   valid:         y[r][c] = sum k[i][j] x[r + Kh-1 - i][c + Kw-1 - j]
template <class T>
static xt::xtensor<T, 2> naive_blur(const xt::xtensor<T, 2>& x, const xt::xtensor<T, 2>& k, BlurMode mode) {
    const long H = static_cast<long>(x.shape(0)), W = static_cast<long>(x.shape(1));
    const long Kh = static_cast<long>(k.shape(0)), Kw = static_cast<long>(k.shape(1));
    const long oh = mode == BlurMode::valid ? H - Kh + 1 : H, ow = mode == BlurMode::valid ? W - Kw + 1 : W;
    xt::xtensor<T, 2> y = xt::xtensor<T, 2>::from_shape({static_cast<std::size_t>(oh), static_cast<std::size_t>(ow)});
    for (long r = 0; r < oh; ++r)
        for (long c = 0; c < ow; ++c) {
            long double s = 0;
            for (long i = 0; i < Kh; ++i)
                for (long j = 0; j < Kw; ++j) {
                    long sr = mode == BlurMode::valid ? r + Kh - 1 - i : r - i + Kh / 2;
                    long sc = mode == BlurMode::valid ? c + Kw - 1 - j : c - j + Kw / 2;
                    if (mode == BlurMode::circular) {
                        sr = ((sr % H) + H) % H;
                        sc = ((sc % W) + W) % W;
                    } else if (sr < 0 || sr >= H || sc < 0 || sc >= W) {
                        continue;  // zero outside the image
                    }
                    s += static_cast<long double>(k(i, j)) * x(sr, sc);
                }
            y(r, c) = static_cast<T>(s);
        }
    return y;
}

template <class T>
static double max_abs_diff(const xt::xtensor<T, 2>& a, const xt::xtensor<T, 2>& b) {
    REQUIRE(a.shape(0) == b.shape(0));
    REQUIRE(a.shape(1) == b.shape(1));
    double m = 0;
    for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(double(a.data()[i]) - double(b.data()[i])));
    return m;
}

template <class T>
static double tolerance() { return std::is_same_v<T, float> ? 2e-5 : 1e-12; }

TEST_CASE_TEMPLATE("blur matches the naive convolution loop in every mode and method", T, float, double) {
    struct Case { std::size_t h, w, kh, kw; };
    // Odd and even kernels, non-square shapes, a 1x1 kernel, kernels as large as
    // the image, and (for same/circular) a kernel larger than the image.
    const std::vector<Case> cases = {{13, 17, 5, 3}, {16, 12, 4, 6}, {9, 9, 1, 1}, {20, 24, 9, 9},
                                     {11, 10, 11, 10}, {7, 6, 9, 9}, {31, 29, 17, 17}};
    for (const auto& cs : cases)
        for (auto mode : {BlurMode::valid, BlurMode::same, BlurMode::circular}) {
            if (mode == BlurMode::valid && (cs.kh > cs.h || cs.kw > cs.w)) continue;
            const auto x = random_matrix<T>(cs.h, cs.w, 1);
            const auto k = random_matrix<T>(cs.kh, cs.kw, 2);
            const auto expected = naive_blur(x, k, mode);
            for (auto method : {BlurMethod::direct, BlurMethod::fft, BlurMethod::automatic}) {
                CAPTURE(cs.h); CAPTURE(cs.w); CAPTURE(cs.kh); CAPTURE(cs.kw);
                CAPTURE(static_cast<int>(mode)); CAPTURE(static_cast<int>(method));
                const auto y = deblur::blur(x, k, mode, method);
                CHECK(max_abs_diff(y, expected) <= tolerance<T>() * static_cast<double>(cs.kh * cs.kw));
            }
        }
}

TEST_CASE("blur works with the reference DFT as FFT policy") {
    const auto x = random_matrix<double>(7, 9, 3);
    const auto k = random_matrix<double>(3, 5, 4);
    for (auto mode : {BlurMode::valid, BlurMode::same, BlurMode::circular})
        CHECK(max_abs_diff(deblur::blur<deblur::fft::ReferenceDft>(x, k, mode, BlurMethod::fft), naive_blur(x, k, mode)) < 1e-12);
}

TEST_CASE_TEMPLATE("a valid blur of a larger image is the centre of its same blur", T, float, double) {
    for (std::size_t K : {5u, 6u, 15u}) {  // even K: the origin is K/2, not the geometric middle
        const auto x = random_matrix<T>(40, 36, 5);
        const auto k = random_matrix<T>(K, K, 6);
        const auto valid = deblur::blur(x, k, BlurMode::valid);
        const auto same = deblur::blur(x, k, BlurMode::same);
        REQUIRE(valid.shape(0) == 40 - K + 1);
        REQUIRE(valid.shape(1) == 36 - K + 1);
        const std::size_t off = K - 1 - K / 2;
        double err = 0;
        for (std::size_t r = 0; r < valid.shape(0); ++r)
            for (std::size_t c = 0; c < valid.shape(1); ++c)
                err = std::max(err, std::abs(double(valid(r, c)) - double(same(r + off, c + off))));
        CHECK(err <= tolerance<T>() * double(K * K));
    }
}

TEST_CASE_TEMPLATE("convention: a delta convolved with k reproduces k unflipped, centred on the delta", T, float, double) {
    // An asymmetric kernel so that k and k rotated by 180 degrees differ.
    xt::xtensor<T, 2> k = xt::zeros<T>({5, 5});
    k(0, 1) = T(0.5);  // up-left of the origin (2, 2)
    k(2, 2) = T(0.3);
    k(4, 4) = T(0.2);
    const std::size_t H = 12, W = 10, r0 = 3, c0 = 8;  // near the right edge: the circular wrap shows too
    xt::xtensor<T, 2> delta = xt::zeros<T>({H, W});
    delta(r0, c0) = T(1);
    for (auto method : {BlurMethod::direct, BlurMethod::fft}) {
        const auto y = deblur::blur(delta, k, BlurMode::circular, method);
        for (long d = -2; d <= 2; ++d)
            for (long e = -2; e <= 2; ++e) {
                const std::size_t r = static_cast<std::size_t>((long(r0) + d + long(H)) % long(H));
                const std::size_t c = static_cast<std::size_t>((long(c0) + e + long(W)) % long(W));
                CHECK(double(y(r, c)) == doctest::Approx(double(k(2 + d, 2 + e))).epsilon(1e-5));
            }
        // Mass of k(0, 1) lands up-left of the delta, not down-right (where correlation would put it).
        CHECK(double(y(r0 - 2, c0 - 1)) == doctest::Approx(0.5).epsilon(1e-5));
        CHECK(std::abs(double(y(r0 + 2, c0 + 1))) < 1e-5);
    }
}

TEST_CASE("blur of a C x H x W tensor blurs every channel alike") {
    deblur::Tensor<float> x = deblur::Tensor<float>::from_shape({3, 20, 22});
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> d(0, 1);
    for (auto& v : x) v = d(rng);
    const auto k = random_matrix<float>(7, 7, 8);
    for (auto mode : {BlurMode::valid, BlurMode::same, BlurMode::circular}) {
        const auto y = deblur::blur(x, k, mode);
        for (std::size_t c = 0; c < 3; ++c) {
            xt::xtensor<float, 2> channel = xt::view(x, c, xt::all(), xt::all());
            xt::xtensor<float, 2> yc = xt::view(y, c, xt::all(), xt::all());
            CHECK(max_abs_diff(yc, deblur::blur(channel, k, mode)) == 0.0);
        }
    }
}

TEST_CASE("blur into an existing output reuses it and rejects bad input") {
    const auto x = random_matrix<double>(30, 30, 9);
    const auto k = random_matrix<double>(21, 21, 10);
    xt::xtensor<double, 2> out = xt::zeros<double>({10, 10});
    deblur::blur(x, k, BlurMode::valid, out);
    CHECK(out.shape(0) == 10);
    CHECK(max_abs_diff(out, naive_blur(x, k, BlurMode::valid)) < 1e-10);
    xt::xtensor<double, 2> big = xt::zeros<double>({31, 31});
    CHECK_THROWS_AS(deblur::blur(x, big, BlurMode::valid), std::invalid_argument);
    xt::xtensor<double, 2> empty = xt::xtensor<double, 2>::from_shape({0, 3});
    CHECK_THROWS_AS(deblur::blur(x, empty, BlurMode::same), std::invalid_argument);
}

TEST_CASE("add_gaussian_noise has the requested spread and is reproducible") {
    const double sigma = 0.05;
    xt::xtensor<double, 2> a = xt::zeros<double>({200, 200});
    std::mt19937_64 rng(11);
    deblur::add_gaussian_noise(a, sigma, rng);
    double mean = 0, var = 0;
    for (double v : a) mean += v;
    mean /= static_cast<double>(a.size());
    for (double v : a) var += (v - mean) * (v - mean);
    const double sd = std::sqrt(var / static_cast<double>(a.size() - 1));
    MESSAGE("noise: mean " << mean << ", std " << sd << " for sigma " << sigma);
    // 40000 samples: the standard error of sd is sigma/sqrt(2n) = 0.35 %; allow 2 %.
    CHECK(sd == doctest::Approx(sigma).epsilon(0.02).scale(0));
    CHECK(std::abs(mean) < 5 * sigma / 200);
    xt::xtensor<float, 2> b = xt::ones<float>({16, 16}), c = xt::ones<float>({16, 16});
    std::mt19937_64 r1(5), r2(5);
    deblur::add_gaussian_noise(b, 0.1, r1);
    deblur::add_gaussian_noise(c, 0.1, r2);
    CHECK(b == c);
    xt::xtensor<float, 2> d = xt::ones<float>({4, 4});
    deblur::add_gaussian_noise(d, 0.0, r1);
    CHECK(d == xt::ones<float>({4, 4}));
    CHECK_THROWS_AS(deblur::add_gaussian_noise(d, -1.0, r1), std::invalid_argument);
    CHECK_THROWS_AS(deblur::add_gaussian_noise(d, std::nan(""), r1), std::invalid_argument);
}
