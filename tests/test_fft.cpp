#include "doctest_main.hpp"
#include "temp_dir.hpp"

#include <deblur/fft/fast_size.hpp>
#include <deblur/fft/fftw.hpp>
#include <deblur/fft/reference_dft.hpp>
#include <deblur/fft/shipped_wisdom.hpp>
#include <deblur/blur/real_fft_size.hpp>

#include <cmath>
#include <complex>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <random>
#include <thread>
#include <vector>

using deblur::fft::Fftw;
using deblur::fft::ReferenceDft;

template <class T>
static std::vector<T> random_image(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<T> d;
    std::vector<T> v(n);
    for (auto& x : v) x = d(rng);
    return v;
}

template <class T>
static T tolerance() { return std::is_same_v<T, float> ? T(2e-4) : T(1e-11); }

TEST_CASE_TEMPLATE("Fftw forward matches the reference DFT", T, float, double) {
    for (auto [h, w] : {std::pair<std::size_t, std::size_t>{1, 1}, {4, 6}, {7, 5}, {9, 16}, {13, 11}}) {
        auto x = random_image<T>(h * w, 3);
        const std::size_t nc = h * (w / 2 + 1);
        std::vector<std::complex<T>> fast(nc), ref(nc);
        Fftw::forward<T>(h, w, x.data(), fast.data());
        ReferenceDft::forward<T>(h, w, x.data(), ref.data());
        T scale = 0, err = 0;
        for (std::size_t i = 0; i < nc; ++i) {
            scale = std::max(scale, std::abs(ref[i]));
            err = std::max(err, std::abs(fast[i] - ref[i]));
        }
        CHECK(err <= tolerance<T>() * scale);
    }
}

TEST_CASE_TEMPLATE("Fftw inverse matches the reference and keeps its input", T, float, double) {
    for (auto [h, w] : {std::pair<std::size_t, std::size_t>{4, 6}, {7, 5}, {10, 9}}) {
        auto x = random_image<T>(h * w, 5);
        const std::size_t nc = h * (w / 2 + 1);
        std::vector<std::complex<T>> spec(nc);
        ReferenceDft::forward<T>(h, w, x.data(), spec.data());
        const auto spec_copy = spec;
        std::vector<T> fast(h * w), ref(h * w);
        Fftw::inverse<T>(h, w, spec.data(), fast.data());
        ReferenceDft::inverse<T>(h, w, spec.data(), ref.data());
        CHECK(spec == spec_copy);
        for (std::size_t i = 0; i < h * w; ++i) {
            CHECK(fast[i] == doctest::Approx(ref[i]).epsilon(tolerance<T>() * 10).scale(T(h * w)));
            // Unnormalised round trip: n * x.
            CHECK(fast[i] == doctest::Approx(T(h * w) * x[i]).epsilon(tolerance<T>() * 10).scale(T(h * w)));
        }
    }
}

TEST_CASE("Fftw works on unaligned arrays and reuses its plans") {
    const std::size_t h = 8, w = 12, nc = h * (w / 2 + 1);
    auto x = random_image<double>(h * w + 1, 7);
    std::vector<std::complex<double>> a(nc), b(nc + 1);
    Fftw::forward<double>(h, w, x.data(), a.data());
    Fftw::forward<double>(h, w, x.data() + 1, b.data() + 1);  // offset by one element: unaligned
    std::vector<std::complex<double>> ref(nc);
    ReferenceDft::forward<double>(h, w, x.data() + 1, ref.data());
    for (std::size_t i = 0; i < nc; ++i) CHECK(std::abs(b[i + 1] - ref[i]) < 1e-10);
    const auto plans = Fftw::cached_plans<double>();
    for (int i = 0; i < 5; ++i) Fftw::forward<double>(h, w, x.data(), a.data());
    CHECK(Fftw::cached_plans<double>() == plans);
}

TEST_CASE("Fftw transforms from many threads at once") {
    const std::size_t h = 32, w = 30, nc = h * (w / 2 + 1);
    auto x = random_image<float>(h * w, 11);
    std::vector<std::complex<float>> expected(nc);
    Fftw::forward<float>(h, w, x.data(), expected.data());
    std::vector<int> ok(8, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&, t] {
            std::vector<std::complex<float>> spec(nc);
            std::vector<float> back(h * w);
            bool good = true;
            for (int rep = 0; rep < 20; ++rep) {
                Fftw::forward<float>(h, w, x.data(), spec.data());
                Fftw::inverse<float>(h, w, spec.data(), back.data());
                for (std::size_t i = 0; i < nc; ++i) good = good && spec[i] == expected[i];
                for (std::size_t i = 0; i < h * w; ++i) good = good && std::abs(back[i] / (h * w) - x[i]) < 1e-4f;
            }
            ok[t] = good;
        });
    for (auto& th : threads) th.join();
    for (int v : ok) CHECK(v == 1);
}

TEST_CASE_TEMPLATE("Fftw's measured plans transform as the estimated ones, and their wisdom is kept in a file", T, float, double) {
    const std::size_t h = 20, w = 18, nc = h * (w / 2 + 1);
    const auto x = random_image<T>(h * w, 5);
    std::vector<std::complex<T>> estimated(nc), measured(nc), ref(nc);
    std::vector<T> back(h * w);
    Fftw::forward<T>(h, w, x.data(), estimated.data());
    const auto plans = Fftw::cached_plans<T>();
    Fftw::set_measure(true);
    Fftw::forward<T>(h, w, x.data(), measured.data());
    Fftw::inverse<T>(h, w, measured.data(), back.data());
    Fftw::set_measure(false);
    CHECK(Fftw::cached_plans<T>() == plans + 2);  // new plans, not the estimated ones
    ReferenceDft::forward<T>(h, w, x.data(), ref.data());
    for (std::size_t i = 0; i < nc; ++i) CHECK(std::abs(measured[i] - ref[i]) < tolerance<T>() * 10);
    for (std::size_t i = 0; i < h * w; ++i) CHECK(std::abs(back[i] / T(h * w) - x[i]) < tolerance<T>());

    deblur::test::TempDir dir;
    const auto file = dir.path / "wisdom.txt";
    CHECK_FALSE(Fftw::load_wisdom<T>(file));  // no file yet: nothing loaded
    Fftw::save_wisdom<T>(file);
    std::ifstream in(file);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(text.find(std::is_same_v<T, float> ? "fftwf_wisdom" : "fftw_wisdom") != std::string::npos);
    CHECK(Fftw::load_wisdom<T>(file));
    // Not wisdom, or wisdom of the other precision: a clear error.
    std::ofstream(dir.path / "bad.txt") << "(not wisdom)";
    CHECK_THROWS_AS(Fftw::load_wisdom<T>(dir.path / "bad.txt"), std::runtime_error);
    using Other = std::conditional_t<std::is_same_v<T, float>, double, float>;
    Fftw::save_wisdom<Other>(dir.path / "other.txt");
    CHECK_THROWS_AS(Fftw::load_wisdom<T>(dir.path / "other.txt"), std::runtime_error);
}

TEST_CASE("the shipped FFT plans: FFTW takes them, and they cover the refinement of a 255^2 image") {
    REQUIRE(deblur::fft::import_shipped_wisdom());
    CHECK(deblur::fft::import_shipped_wisdom());  // once per process, the same answer
    // The finest canvas of the first support (35 px) of a 255^2 image.
    const std::size_t n = deblur::real_fft_size(255 + 35);
    // The wisdom names algorithms measured on the AVX-512 machine kind; FFTW
    // plans afresh where they cannot run.
    if (__builtin_cpu_supports("avx512f")) {
        CHECK(Fftw::has_wisdom<float>(n, n, true));
        CHECK(Fftw::has_wisdom<float>(n, n, false));
    }
    CHECK_FALSE(Fftw::has_wisdom<float>(997, 991, true));  // a size the pipeline never uses
    CHECK_FALSE(Fftw::import_wisdom<float>("(not wisdom)"));
    Fftw::forget_wisdom<float>();
    CHECK_FALSE(Fftw::has_wisdom<float>(n, n, true));
}

TEST_CASE("fast_size picks even sizes with small odd parts") {
    CHECK(deblur::fft::fast_size(1) == 1);
    CHECK(deblur::fft::fast_size(11) == 12);
    CHECK(deblur::fft::fast_size(13) == 16);
    CHECK(deblur::fft::fast_size(255) == 256);
    CHECK(deblur::fft::fast_size(97) == 120);
    CHECK(deblur::fft::fast_size(147) == 160);
    CHECK(deblur::fft::fast_size(315) == 320);
    CHECK(deblur::fft::fast_size(1024) == 1024);
    for (std::size_t n = 1; n < 3000; ++n) {
        const auto m = deblur::fft::fast_size(n);
        CHECK(m >= n);
        CHECK(m < 2 * n + 2);
    }
}
