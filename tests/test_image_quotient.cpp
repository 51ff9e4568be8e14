#include "doctest_main.hpp"

#include <deblur/fft/fast_size.hpp>
#include <deblur/fft/reference_dft.hpp>
#include <deblur/layers/image_quotient.hpp>
#include <deblur/testing/gradcheck.hpp>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <new>
#include <complex>
#include <limits>
#include <numbers>
#include <random>
#include <stdexcept>
#include <vector>

using deblur::Tensor;

// Two inputs: an image module, not a feature layer (layers/layer.hpp).
static_assert(deblur::ImageModule<deblur::ImageQuotient<>> && !deblur::FeatureLayer<deblur::ImageQuotient<>>);

// Counts every operator new in this test program, for the no-allocation check.
namespace {
std::atomic<long> allocations{0};
}
void* operator new(std::size_t n) {
    ++allocations;
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
// GCC cannot see that operator new above is malloc, and warns about free.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace {

template <class T>
Tensor<T> random_tensor(std::size_t c, std::size_t h, std::size_t w, unsigned seed, double mean = 0) {
    auto t = deblur::make_tensor<T>(c, h, w);
    std::mt19937 rng(seed);
    std::normal_distribution<double> d(mean, 1.0);
    for (auto& v : t) v = static_cast<T>(d(rng));
    return t;
}

// A positive, asymmetric kernel that sums to 1.
template <class T>
Tensor<T> blur_kernel(std::size_t k) {
    auto t = deblur::make_tensor<T>(1, k, k);
    double sum = 0;
    const double mid = double(k / 2);
    for (std::size_t a = 0; a < k; ++a)
        for (std::size_t b = 0; b < k; ++b) {
            const double v = std::exp(-0.4 * ((a - mid - 0.3) * (a - mid - 0.3) + 2.0 * (b - mid) * (b - mid)));
            t(0, a, b) = static_cast<T>(v);
            sum += v;
        }
    for (auto& v : t) v = static_cast<T>(v / sum);
    return t;
}

template <class T>
Tensor<T> delta_kernel(std::size_t k, std::size_t a, std::size_t b) {
    auto t = deblur::make_tensor<T>(1, k, k);
    t(0, a, b) = 1;
    return t;
}

// The documented extension, as plain loops: rows blend linearly from their
// last value to their first across the padding, then the columns do.
std::vector<double> naive_extend(const std::vector<double>& y, std::size_t h, std::size_t w, std::size_t hp,
                                 std::size_t wp) {
    std::vector<double> e(hp * wp);
    for (std::size_t r = 0; r < h; ++r)
        for (std::size_t c = 0; c < wp; ++c) {
            if (c < w) {
                e[r * wp + c] = y[r * w + c];
            } else {
                const double t = double(c - w + 1) / double(wp - w + 1);
                e[r * wp + c] = (1 - t) * y[r * w + w - 1] + t * y[r * w];
            }
        }
    for (std::size_t r = h; r < hp; ++r) {
        const double s = double(r - h + 1) / double(hp - h + 1);
        for (std::size_t c = 0; c < wp; ++c) e[r * wp + c] = (1 - s) * e[(h - 1) * wp + c] + s * e[c];
    }
    return e;
}

std::vector<std::complex<double>> naive_dft(const std::vector<double>& x, std::size_t h, std::size_t w) {
    std::vector<std::complex<double>> out(h * w);
    for (std::size_t u = 0; u < h; ++u)
        for (std::size_t v = 0; v < w; ++v) {
            std::complex<double> s = 0;
            for (std::size_t r = 0; r < h; ++r)
                for (std::size_t c = 0; c < w; ++c)
                    s += x[r * w + c] * std::polar(1.0, -2 * std::numbers::pi * (double(u * r) / h + double(v * c) / w));
            out[u * w + v] = s;
        }
    return out;
}

// Real part of the normalised inverse DFT by direct sums.
std::vector<double> naive_inverse_dft(const std::vector<std::complex<double>>& x, std::size_t h, std::size_t w) {
    std::vector<double> out(h * w);
    for (std::size_t r = 0; r < h; ++r)
        for (std::size_t c = 0; c < w; ++c) {
            std::complex<double> s = 0;
            for (std::size_t u = 0; u < h; ++u)
                for (std::size_t v = 0; v < w; ++v)
                    s += x[u * w + v] * std::polar(1.0, 2 * std::numbers::pi * (double(u * r) / h + double(v * c) / w));
            out[r * w + c] = s.real() / double(h * w);
        }
    return out;
}

// Eq. 5 by plain loops: extend y, place the kernel's centre at the origin,
// direct DFTs, quotient, inverse restricted to the H x W crop.
template <class T>
std::vector<double> naive_image_quotient(const Tensor<T>& kernel, const Tensor<T>& blurry, double beta) {
    const std::size_t k = kernel.shape(1), h = blurry.shape(1), w = blurry.shape(2);
    const std::size_t hp = deblur::fft::fast_size(h + k), wp = deblur::fft::fast_size(w + k);
    const auto ext = naive_extend(std::vector<double>(blurry.begin(), blurry.end()), h, w, hp, wp);
    std::vector<double> kpad(hp * wp, 0.0);
    for (std::size_t a = 0; a < k; ++a)
        for (std::size_t b = 0; b < k; ++b)
            kpad[((a + hp - k / 2) % hp) * wp + (b + wp - k / 2) % wp] = double(kernel(0, a, b));
    const auto yf = naive_dft(ext, hp, wp), kf = naive_dft(kpad, hp, wp);
    std::vector<std::complex<double>> q(hp * wp);
    for (std::size_t u = 0; u < hp * wp; ++u) q[u] = std::conj(kf[u]) * yf[u] / (std::norm(kf[u]) + beta);
    std::vector<double> x(h * w);
    for (std::size_t r = 0; r < h; ++r)
        for (std::size_t c = 0; c < w; ++c) {
            std::complex<double> s = 0;
            for (std::size_t u = 0; u < hp; ++u)
                for (std::size_t v = 0; v < wp; ++v)
                    s += q[u * wp + v] * std::polar(1.0, 2 * std::numbers::pi * (double(u * r) / hp + double(v * c) / wp));
            x[r * w + c] = s.real() / double(hp * wp);
        }
    return x;
}

double dot(const Tensor<double>& a, const Tensor<double>& b) {
    double s = 0;
    for (std::size_t i = 0; i < a.size(); ++i) s += a.data()[i] * b.data()[i];
    return s;
}

}  // namespace

TEST_CASE_TEMPLATE("ImageQuotient forward matches a naive implementation", T, float, double) {
    struct Case {
        std::size_t k, h, w;
        unsigned seed;
    };
    for (const Case& cs : {Case{3, 9, 8, 1}, Case{5, 7, 12, 2}, Case{3, 3, 5, 3}}) {
        const auto kernel = blur_kernel<T>(cs.k);
        const auto blurry = random_tensor<T>(1, cs.h, cs.w, cs.seed, 0.5);
        deblur::ImageQuotient<deblur::Exec<T>> layer;
        layer.set_beta(0.03);
        Tensor<T> latent;
        layer.forward(kernel, blurry, latent);
        REQUIRE(latent.shape() == blurry.shape());
        const auto expected = naive_image_quotient(kernel, blurry, 0.03);
        double err = 0, scale = 0;
        for (std::size_t i = 0; i < expected.size(); ++i) {
            err = std::max(err, std::abs(double(latent.data()[i]) - expected[i]));
            scale = std::max(scale, std::abs(expected[i]));
        }
        CHECK(err <= (std::is_same_v<T, float> ? 1e-5 : 1e-12) * scale);
    }
}

TEST_CASE_TEMPLATE("ImageQuotient with a delta kernel returns the blurry image, shifted as the kernel says", T, float,
                   double) {
    const auto blurry = random_tensor<T>(1, 10, 9, 5);
    deblur::ImageQuotient<deblur::Exec<T>> layer;
    layer.set_beta(1e-10);
    Tensor<T> latent;
    const double tol = std::is_same_v<T, float> ? 2e-5 : 1e-8;

    layer.forward(delta_kernel<T>(5, 2, 2), blurry, latent);  // centred delta: the identity
    for (std::size_t i = 0; i < blurry.size(); ++i) CHECK(std::abs(double(latent.data()[i] - blurry.data()[i])) < tol);

    // Delta one row below the centre: y(r, c) = x(r - 1, c), so x(r, c) = y(r + 1, c).
    layer.forward(delta_kernel<T>(5, 3, 2), blurry, latent);
    for (std::size_t r = 0; r + 1 < 10; ++r)
        for (std::size_t c = 0; c < 9; ++c) CHECK(std::abs(double(latent(0, r, c) - blurry(0, r + 1, c))) < tol);
    // Delta one column left of the centre: x(r, c) = y(r, c - 1).
    layer.forward(delta_kernel<T>(5, 2, 1), blurry, latent);
    for (std::size_t r = 0; r < 10; ++r)
        for (std::size_t c = 1; c < 9; ++c) CHECK(std::abs(double(latent(0, r, c) - blurry(0, r, c - 1))) < tol);
}

TEST_CASE("ImageQuotient undoes a 'valid' blur, and its extension beats the plain periodic quotient") {
    // A sharp image of soft blobs and a step edge, blurred without wrap-around
    // (as a photo is). Deconvolved with the true kernel, the result must be much
    // closer to the sharp image than the blurry input, and than the same
    // quotient taken on the unextended (periodic) image, which rings.
    const std::size_t h = 40, w = 36, k = 5;
    const double beta = 1e-3;
    auto sharp = deblur::make_tensor<double>(1, h + k - 1, w + k - 1);
    std::mt19937 rng(3);
    std::uniform_real_distribution<double> u(0, 1);
    for (int blob = 0; blob < 40; ++blob) {
        const double r0 = u(rng) * double(h + k), c0 = u(rng) * double(w + k), s = 1.5 + 2 * u(rng), a = u(rng) - 0.5;
        for (std::size_t r = 0; r < sharp.shape(1); ++r)
            for (std::size_t c = 0; c < sharp.shape(2); ++c)
                sharp(0, r, c) += a * std::exp(-((r - r0) * (r - r0) + (c - c0) * (c - c0)) / (2 * s * s));
    }
    for (std::size_t r = 0; r < sharp.shape(1); ++r)
        for (std::size_t c = 0; c < sharp.shape(2); ++c) sharp(0, r, c) += (c + r / 3 > 20) ? 0.5 : 0.0;
    const auto kernel = blur_kernel<double>(k);
    auto blurry = deblur::make_tensor<double>(1, h, w);
    for (std::size_t r = 0; r < h; ++r)
        for (std::size_t c = 0; c < w; ++c)
            for (std::size_t a = 0; a < k; ++a)
                for (std::size_t b = 0; b < k; ++b)  // 'valid' convolution: no wrap-around
                    blurry(0, r, c) += kernel(0, a, b) * sharp(0, r + k - 1 - a, c + k - 1 - b);

    deblur::ImageQuotient<deblur::Exec<double>> layer;
    layer.set_beta(beta);
    Tensor<double> latent;
    layer.forward(kernel, blurry, latent);

    // The same quotient without extension, on the H x W grid itself.
    std::vector<double> kpad(h * w, 0.0);
    for (std::size_t a = 0; a < k; ++a)
        for (std::size_t b = 0; b < k; ++b) kpad[((a + h - k / 2) % h) * w + (b + w - k / 2) % w] = kernel(0, a, b);
    const auto yf = naive_dft(std::vector<double>(blurry.begin(), blurry.end()), h, w), kf = naive_dft(kpad, h, w);
    std::vector<std::complex<double>> q(h * w);
    for (std::size_t i = 0; i < h * w; ++i) q[i] = std::conj(kf[i]) * yf[i] / (std::norm(kf[i]) + beta);
    const auto periodic = naive_inverse_dft(q, h, w);

    // Next to the border the 'valid' blur lost what it saw outside the frame;
    // compare from K/2 + 1 pixels inwards.
    const std::size_t margin = k / 2 + 1;
    double err_latent = 0, err_blurry = 0, err_periodic = 0;
    for (std::size_t r = margin; r < h - margin; ++r)
        for (std::size_t c = margin; c < w - margin; ++c) {
            const double s = sharp(0, r + k / 2, c + k / 2);
            err_latent += (latent(0, r, c) - s) * (latent(0, r, c) - s);
            err_blurry += (blurry(0, r, c) - s) * (blurry(0, r, c) - s);
            err_periodic += (periodic[r * w + c] - s) * (periodic[r * w + c] - s);
        }
    MESSAGE("ImageQuotient SSD to the sharp image: latent " << err_latent << ", unextended periodic quotient "
                                                            << err_periodic << ", blurry " << err_blurry);
    CHECK(err_latent < 0.25 * err_blurry);
    CHECK(err_latent < 0.25 * err_periodic);
}

TEST_CASE("ImageQuotient backward matches finite differences") {
    struct Case {
        std::size_t k, h, w;
        unsigned seed;
    };
    for (const Case& cs : {Case{3, 9, 8, 1}, Case{5, 7, 12, 2}, Case{3, 6, 5, 3}}) {
        deblur::ImageQuotient<deblur::Exec<double>> layer;
        layer.set_beta(0.02);
        auto kernel = blur_kernel<double>(cs.k);
        auto blurry = random_tensor<double>(1, cs.h, cs.w, cs.seed, 0.5);
        const auto r = random_tensor<double>(1, cs.h, cs.w, cs.seed + 50);
        auto loss = [&] {
            Tensor<double> latent;
            layer.forward(kernel, blurry, latent);
            return dot(r, latent);
        };

        // Prefilled gradients: backward must add.
        constexpr double offset = 0.25;
        auto grad_kernel = deblur::make_tensor<double>(1, cs.k, cs.k, offset);
        auto grad_blurry = deblur::make_tensor<double>(1, cs.h, cs.w, offset);
        layer.param_grads()[0] = offset;
        Tensor<double> latent;
        layer.forward(kernel, blurry, latent);
        layer.backward(kernel, blurry, latent, r, grad_kernel, grad_blurry);
        std::vector<double> gk(grad_kernel.begin(), grad_kernel.end()), gy(grad_blurry.begin(), grad_blurry.end());
        for (auto& v : gk) v -= offset;
        for (auto& v : gy) v -= offset;
        const std::vector<double> gb{layer.param_grads()[0] - offset};

        const double ek = deblur::testing::check_gradient({kernel.data(), kernel.size()}, gk, loss, cs.seed);
        const double ey = deblur::testing::check_gradient({blurry.data(), blurry.size()}, gy, loss, cs.seed);
        const double eb = deblur::testing::check_gradient(layer.params(), gb, loss, cs.seed);
        MESSAGE("ImageQuotient K=" << cs.k << " " << cs.h << "x" << cs.w << ": relative gradient error kernel " << ek
                                   << ", blurry " << ey << ", log beta " << eb);
        CHECK(ek < 1e-6);
        CHECK(ey < 1e-6);
        CHECK(eb < 1e-6);
    }
}

TEST_CASE("ImageQuotient backward recomputes when its inputs changed since forward") {
    deblur::ImageQuotient<deblur::Exec<double>> layer;
    const auto kernel = blur_kernel<double>(3);
    const auto blurry = random_tensor<double>(1, 8, 7, 1);
    const auto other = random_tensor<double>(1, 8, 7, 2);
    const auto g = random_tensor<double>(1, 8, 7, 3);
    Tensor<double> latent;
    auto gk_fresh = deblur::make_tensor<double>(1, 3, 3), gy_fresh = deblur::make_tensor<double>(1, 8, 7);
    layer.forward(kernel, blurry, latent);
    layer.backward(kernel, blurry, latent, g, gk_fresh, gy_fresh);
    const double gb_fresh = layer.param_grads()[0];
    layer.zero_grads();
    CHECK(layer.param_grads()[0] == 0);

    auto gk = deblur::make_tensor<double>(1, 3, 3), gy = deblur::make_tensor<double>(1, 8, 7);
    layer.forward(kernel, other, latent);
    layer.backward(kernel, blurry, latent, g, gk, gy);
    for (std::size_t i = 0; i < gk.size(); ++i) CHECK(gk.data()[i] == doctest::Approx(gk_fresh.data()[i]));
    for (std::size_t i = 0; i < gy.size(); ++i) CHECK(gy.data()[i] == doctest::Approx(gy_fresh.data()[i]));
    CHECK(layer.param_grads()[0] == doctest::Approx(gb_fresh));
}

TEST_CASE("ImageQuotient stores beta as its logarithm") {
    deblur::ImageQuotient<deblur::Exec<float>> layer;
    CHECK(layer.beta() == doctest::Approx(1e-2).epsilon(1e-6));
    REQUIRE(layer.params().size() == 1);
    REQUIRE(layer.param_grads().size() == 1);
    CHECK(layer.params()[0] == doctest::Approx(std::log(1e-2)));
    layer.set_beta(0.5);
    CHECK(layer.beta() == doctest::Approx(0.5).epsilon(1e-6));
    layer.params()[0] = -3.0f;
    CHECK(layer.beta() == doctest::Approx(std::exp(-3.0)).epsilon(1e-6));
    static_assert(std::is_same_v<deblur::rebind_t<decltype(layer), deblur::Exec<double>>,
                                 deblur::ImageQuotient<deblur::Exec<double>>>);
}

TEST_CASE("ImageQuotient rejects bad inputs") {
    deblur::ImageQuotient<deblur::Exec<double>> layer;
    Tensor<double> latent;
    const auto blurry = random_tensor<double>(1, 9, 9, 1);
    const auto kernel = blur_kernel<double>(3);
    CHECK_THROWS_AS(layer.forward(deblur::make_tensor<double>(1, 4, 4, 0.1), blurry, latent), std::invalid_argument);
    CHECK_THROWS_AS(layer.forward(deblur::make_tensor<double>(1, 3, 5, 0.1), blurry, latent), std::invalid_argument);
    CHECK_THROWS_AS(layer.forward(deblur::make_tensor<double>(2, 3, 3, 0.1), blurry, latent), std::invalid_argument);
    CHECK_THROWS_AS(layer.forward(kernel, random_tensor<double>(2, 9, 9, 1), latent), std::invalid_argument);
    CHECK_THROWS_AS(layer.forward(kernel, random_tensor<double>(1, 2, 9, 1), latent), std::invalid_argument);
    CHECK_THROWS_AS(layer.forward(blur_kernel<double>(11), blurry, latent), std::invalid_argument);
    auto bad_kernel = kernel;
    bad_kernel(0, 1, 1) = std::numeric_limits<double>::quiet_NaN();
    CHECK_THROWS_AS(layer.forward(bad_kernel, blurry, latent), std::invalid_argument);
    auto bad_blurry = blurry;
    bad_blurry(0, 4, 2) = std::numeric_limits<double>::infinity();
    CHECK_THROWS_AS(layer.forward(kernel, bad_blurry, latent), std::invalid_argument);
    CHECK_THROWS_AS(layer.set_beta(0.0), std::invalid_argument);
    CHECK_THROWS_AS(layer.set_beta(-1.0), std::invalid_argument);
    CHECK_THROWS_AS(layer.set_beta(std::numeric_limits<double>::quiet_NaN()), std::invalid_argument);
    // Wrong gradient shapes in backward.
    layer.forward(kernel, blurry, latent);
    auto gk = deblur::make_tensor<double>(1, 3, 3), gy = deblur::make_tensor<double>(1, 9, 9);
    auto wrong = deblur::make_tensor<double>(1, 5, 5);
    CHECK_THROWS_AS(layer.backward(kernel, blurry, latent, latent, wrong, gy), std::invalid_argument);
    CHECK_THROWS_AS(layer.backward(kernel, blurry, latent, latent, gk, wrong), std::invalid_argument);
    CHECK_THROWS_AS(layer.backward(kernel, blurry, latent, wrong, gk, gy), std::invalid_argument);
}

TEST_CASE("ImageQuotient gives the same numbers with the reference DFT policy") {
    const auto kernel = blur_kernel<double>(3);
    const auto blurry = random_tensor<double>(1, 5, 4, 7, 0.5);
    const auto g = random_tensor<double>(1, 5, 4, 8);
    deblur::ImageQuotient<deblur::Exec<double, deblur::Host, deblur::fft::Fftw>> fast;
    deblur::ImageQuotient<deblur::Exec<double, deblur::Host, deblur::fft::ReferenceDft>> reference;
    Tensor<double> lf, lr;
    fast.forward(kernel, blurry, lf);
    reference.forward(kernel, blurry, lr);
    for (std::size_t i = 0; i < lf.size(); ++i) CHECK(lf.data()[i] == doctest::Approx(lr.data()[i]).epsilon(1e-10));
    auto gkf = deblur::make_tensor<double>(1, 3, 3), gkr = deblur::make_tensor<double>(1, 3, 3);
    auto gyf = deblur::make_tensor<double>(1, 5, 4), gyr = deblur::make_tensor<double>(1, 5, 4);
    fast.backward(kernel, blurry, lf, g, gkf, gyf);
    reference.backward(kernel, blurry, lr, g, gkr, gyr);
    for (std::size_t i = 0; i < gkf.size(); ++i) CHECK(gkf.data()[i] == doctest::Approx(gkr.data()[i]).epsilon(1e-9));
    for (std::size_t i = 0; i < gyf.size(); ++i) CHECK(gyf.data()[i] == doctest::Approx(gyr.data()[i]).epsilon(1e-9));
    CHECK(fast.param_grads()[0] == doctest::Approx(reference.param_grads()[0]).epsilon(1e-9));
}

TEST_CASE("ImageQuotient does not allocate after the first call of a given size") {
    auto check = [](auto layer) {
        const auto kernel = blur_kernel<double>(3);
        auto blurry = random_tensor<double>(1, 5, 4, 41);
        const auto g = random_tensor<double>(1, 5, 4, 42);
        Tensor<double> latent;
        auto gk = deblur::make_tensor<double>(1, 3, 3), gy = deblur::make_tensor<double>(1, 5, 4);
        const long start = allocations.load();
        layer.forward(kernel, blurry, latent);
        layer.backward(kernel, blurry, latent, g, gk, gy);
        CHECK(allocations.load() > start);  // the first call sizes the buffers (and the counter works)
        const long before = allocations.load();
        layer.forward(kernel, blurry, latent);
        layer.backward(kernel, blurry, latent, g, gk, gy);
        blurry(0, 1, 1) += 1;  // a new input of the same size
        layer.forward(kernel, blurry, latent);
        layer.backward(kernel, blurry, latent, g, gk, gy);
        CHECK(allocations.load() == before);
    };
    check(deblur::ImageQuotient<deblur::Exec<double, deblur::Host, deblur::fft::Fftw>>{});
    // With the reference policy every buffer comes from operator new, so all are counted.
    check(deblur::ImageQuotient<deblur::Exec<double, deblur::Host, deblur::fft::ReferenceDft>>{});
}
