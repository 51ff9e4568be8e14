#include "doctest_main.hpp"

#include <deblur/blur/center_kernel.hpp>
#include <deblur/blur/motion_kernel_sampler.hpp>

#include <cmath>
#include <cstddef>
#include <random>
#include <stdexcept>
#include <vector>

using deblur::MotionKernelOptions;
using deblur::MotionKernelSampler;

template <class T>
static std::size_t pixels_above(const xt::xtensor<T, 2>& k, double fraction_of_max) {
    double mx = 0;
    for (T v : k) mx = std::max(mx, double(v));
    std::size_t n = 0;
    for (T v : k) n += double(v) > fraction_of_max * mx;
    return n;
}

TEST_CASE_TEMPLATE("sampled kernels are normalised, non-negative, centred and one pixel inside the support", T, float, double) {
    MotionKernelSampler sampler;
    std::mt19937_64 rng(1);
    for (int K : {17, 25, 33, 16}) {
        double worst_centroid = 0, worst_sum = 0;
        std::size_t fewest = 1000;
        bool non_negative = true, border_empty = true;
        for (int draw = 0; draw < 100; ++draw) {
            const auto k = sampler.sample<T>(K, rng);
            REQUIRE(k.shape(0) == std::size_t(K));
            REQUIRE(k.shape(1) == std::size_t(K));
            double sum = 0;
            for (T v : k) {
                sum += v;
                non_negative = non_negative && v >= T(0);
            }
            worst_sum = std::max(worst_sum, std::abs(sum - 1));
            for (int i = 0; i < K; ++i)
                border_empty = border_empty && k(0, i) == T(0) && k(K - 1, i) == T(0) && k(i, 0) == T(0) && k(i, K - 1) == T(0);
            const auto [cr, cc] = deblur::kernel_centroid(k);
            worst_centroid = std::max({worst_centroid, std::abs(cr - K / 2), std::abs(cc - K / 2)});
            fewest = std::min(fewest, pixels_above(k, 0.01));
        }
        MESSAGE("K=" << K << ": centroid error <= " << worst_centroid << " px, |sum-1| <= " << worst_sum
                     << ", fewest pixels above 1% of the peak: " << fewest);
        CHECK(non_negative);
        CHECK(border_empty);
        CHECK(worst_sum < (std::is_same_v<T, float> ? 1e-5 : 1e-12));
        CHECK(worst_centroid < 1e-3);  // exact up to rounding by construction; the brief asks < 0.1 px
        CHECK(fewest >= std::size_t(K / 2));  // a trajectory, never a delta
    }
}

TEST_CASE("kernel sizes follow the support size") {
    MotionKernelSampler sampler;
    std::vector<double> mean_pixels;
    for (int K : {17, 25, 33}) {
        std::mt19937_64 rng(3);  // the same trajectories at every size
        double total = 0;
        for (int draw = 0; draw < 100; ++draw) total += double(pixels_above(sampler.sample<double>(K, rng), 0.01));
        mean_pixels.push_back(total / 100);
    }
    MESSAGE("mean pixels above 1% of the peak for K = 17, 25, 33: " << mean_pixels[0] << ", " << mean_pixels[1] << ", " << mean_pixels[2]);
    CHECK(mean_pixels[1] > 1.2 * mean_pixels[0]);
    CHECK(mean_pixels[2] > 1.2 * mean_pixels[1]);
}

TEST_CASE("the same seed gives the same kernel; different seeds differ") {
    MotionKernelSampler sampler;
    std::mt19937_64 a(42), b(42), c(43);
    const auto ka = sampler.sample<float>(25, a);
    const auto kb = sampler.sample<float>(25, b);
    const auto kc = sampler.sample<float>(25, c);
    CHECK(ka == kb);
    CHECK(ka != kc);
    // A second sampler (its own Cholesky factor) reproduces the first.
    MotionKernelSampler other;
    std::mt19937_64 d(42);
    CHECK(other.sample<float>(25, d) == ka);
}

TEST_CASE("the trajectory prior is the Matern nu=3/2 Gaussian process") {
    MotionKernelSampler sampler;
    const auto& o = sampler.options();
    CHECK(o.length_scale == 0.3);
    CHECK(o.sigma_f == 0.25);
    const int n = o.samples;
    // The covariance matrix is the formula, and L L^T reproduces it.
    const auto& cov = sampler.covariance();
    double worst = 0;
    for (int i = 0; i < n; i += 7)
        for (int j = 0; j < n; j += 5) {
            const double d = std::abs(sampler.time(i) - sampler.time(j));
            const double a = std::sqrt(3.0) * d / 0.3;
            worst = std::max(worst, std::abs(cov(i, j) - 0.0625 * (1 + a) * std::exp(-a)));
        }
    CHECK(worst < 1e-15);
    const auto& L = sampler.cholesky_factor();
    double llt_error = 0;
    for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j) {
            double s = 0;
            for (int k = 0; k < n; ++k) s += L(i, k) * L(j, k);
            llt_error = std::max(llt_error, std::abs(s - cov(i, j)));
            if (j > i && L(i, j) != 0.0) llt_error = 1;  // lower triangular
        }
    CHECK(llt_error < 1e-8);

    // Draws have the covariance: variance sigma_f^2 everywhere and the Matern
    // correlation at lag 0.3 (rho = (1 + sqrt 3) exp(-sqrt 3) = 0.483).
    const int draws = 2000;
    std::mt19937_64 rng(7);
    const std::vector<int> at = {0, n / 4, n / 2, n - 1};
    std::vector<double> sum(at.size(), 0), sum2(at.size(), 0);
    const int i0 = static_cast<int>(std::lround(0.2 * (n - 1))), i1 = static_cast<int>(std::lround(0.5 * (n - 1)));
    double sxy = 0, sx = 0, sy = 0, sxx = 0, syy = 0;
    for (int d = 0; d < draws; ++d) {
        const auto tr = sampler.sample_trajectory(rng);
        for (std::size_t k = 0; k < at.size(); ++k)
            for (int dim = 0; dim < 2; ++dim) {
                sum[k] += tr(at[k], dim);
                sum2[k] += tr(at[k], dim) * tr(at[k], dim);
            }
        const double x = tr(i0, 0), y = tr(i1, 0);
        sx += x; sy += y; sxy += x * y; sxx += x * x; syy += y * y;
    }
    for (std::size_t k = 0; k < at.size(); ++k) {
        const double m = sum[k] / (2 * draws), var = sum2[k] / (2 * draws) - m * m;
        MESSAGE("var x(t=" << sampler.time(at[k]) << ") = " << var << " (sigma_f^2 = 0.0625)");
        CHECK(var == doctest::Approx(0.0625).epsilon(0.15).scale(0));
    }
    const double dt = sampler.time(i1) - sampler.time(i0);
    const double expected_rho = sampler.matern32(dt) / 0.0625;
    const double rho = (sxy / draws - sx * sy / draws / draws) /
                       std::sqrt((sxx / draws - sx * sx / draws / draws) * (syy / draws - sy * sy / draws / draws));
    MESSAGE("corr(x(" << sampler.time(i0) << "), x(" << sampler.time(i1) << ")) = " << rho << ", Matern: " << expected_rho);
    CHECK(std::abs(rho - expected_rho) < 0.08);
}

TEST_CASE("rasterising a straight, uniform trajectory gives a centred line") {
    MotionKernelSampler sampler;
    const int K = 21, n = 64;
    Eigen::MatrixX2d tr(n, 2);
    for (int i = 0; i < n; ++i) {
        tr(i, 0) = -0.5 + double(i) / (n - 1);  // x: constant speed, one GP unit long
        tr(i, 1) = 0.1;                          // y: constant
    }
    const auto k = sampler.rasterise<double>(tr, K);
    // One GP unit is K-1 = 20 px, more than fits: shrunk to reach 1 px from the border.
    for (int r = 0; r < K; ++r)
        for (int c = 0; c < K; ++c) {
            if (r != K / 2 || c == 0 || c == K - 1) CHECK(k(r, c) == doctest::Approx(0).epsilon(1e-12));
        }
    // Uniform speed: uniform mass along the interior of the line (the ends carry half a pixel).
    for (int c = 2; c <= K - 3; ++c) CHECK(k(K / 2, c) == doctest::Approx(1.0 / (K - 3)).epsilon(1e-6));
    CHECK(k(K / 2, 1) == doctest::Approx(0.5 / (K - 3)).epsilon(1e-6));
}

TEST_CASE("fill_support scales every trajectory to the largest size that fits") {
    MotionKernelOptions opts;
    opts.fill_support = true;
    MotionKernelSampler sampler(opts);
    std::mt19937_64 rng(9);
    const int K = 25;
    for (int draw = 0; draw < 20; ++draw) {
        const auto k = sampler.sample<double>(K, rng);
        // Some pixel of row/column 1 or K-2 (the outermost allowed) carries mass.
        bool touches = false;
        for (int i = 0; i < K; ++i) touches = touches || k(1, i) > 0 || k(K - 2, i) > 0 || k(i, 1) > 0 || k(i, K - 2) > 0;
        CHECK(touches);
    }
}

TEST_CASE("bad sampler settings are rejected") {
    MotionKernelOptions o;
    o.length_scale = 0;
    CHECK_THROWS_AS(MotionKernelSampler{o}, std::invalid_argument);
    o = {};
    o.samples = 1;
    CHECK_THROWS_AS(MotionKernelSampler{o}, std::invalid_argument);
    MotionKernelSampler s;
    std::mt19937_64 rng(1);
    CHECK_THROWS_AS(s.sample<float>(2, rng), std::invalid_argument);
}

TEST_CASE_TEMPLATE("center_kernel moves the centre of mass onto the origin", T, float, double) {
    MotionKernelSampler sampler;
    std::mt19937_64 rng(5);
    const int K = 25;
    const auto k = sampler.sample<T>(K, rng);
    // Move it by an integer offset inside the support: centring restores it exactly.
    xt::xtensor<T, 2> moved = xt::zeros<T>({std::size_t(K), std::size_t(K)});
    const int dr = 1, dc = -1;
    for (int r = 0; r < K; ++r)
        for (int c = 0; c < K; ++c)
            if (r + dr >= 0 && r + dr < K && c + dc >= 0 && c + dc < K) moved(r + dr, c + dc) = k(r, c);
    const auto back = deblur::center_kernel(moved);
    double err = 0;
    for (std::size_t i = 0; i < k.size(); ++i) err = std::max(err, std::abs(double(back.data()[i]) - double(k.data()[i])));
    CHECK(err < 1e-6);

    // An off-centre blob at a fractional position: centroid within 0.01 px, sum kept.
    xt::xtensor<T, 2> blob = xt::zeros<T>({15, 15});
    blob(3, 4) = T(0.5);
    blob(3, 5) = T(0.3);
    blob(4, 5) = T(0.4);
    const auto centred = deblur::center_kernel(blob);
    const auto [cr, cc] = deblur::kernel_centroid(centred);
    CHECK(std::abs(cr - 7) < 0.01);
    CHECK(std::abs(cc - 7) < 0.01);
    double sum = 0;
    for (T v : centred) {
        sum += v;
        CHECK(v >= T(0));
    }
    CHECK(sum == doctest::Approx(1.2).epsilon(1e-5));

    // Mass pushed past the border is dropped and the rest rescaled; still centred.
    xt::xtensor<T, 2> edge = xt::zeros<T>({9, 9});
    edge(0, 0) = T(1);
    edge(8, 0) = T(1);
    edge(8, 8) = T(2);
    const auto ce = deblur::center_kernel(edge);
    const auto [er, ec] = deblur::kernel_centroid(ce);
    CHECK(std::abs(er - 4) < 0.01);
    CHECK(std::abs(ec - 4) < 0.01);

    xt::xtensor<T, 2> zero = xt::zeros<T>({5, 5});
    CHECK_THROWS_AS(deblur::center_kernel(zero), std::invalid_argument);
}
