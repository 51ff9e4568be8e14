#include "doctest_main.hpp"

#include <deblur/blur/blur.hpp>
#include <deblur/blur/eff.hpp>
#include <deblur/blur/eff_grid.hpp>
#include <deblur/fft/reference_dft.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

using deblur::BlurMethod;
using deblur::BlurMode;
using deblur::EFFBlur;
using deblur::EFFGrid;
using deblur::Tensor;

// ---------------------------------------------------------------- helpers

template <class T>
static xt::xtensor<T, 2> random_matrix(std::size_t h, std::size_t w, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> d(-1, 1);
    xt::xtensor<T, 2> m = xt::xtensor<T, 2>::from_shape({h, w});
    for (auto& v : m) v = static_cast<T>(d(rng));
    return m;
}

// A kernel field whose kernels differ from patch to patch.
template <class T>
static Tensor<T> random_field(std::size_t patches, std::size_t kh, std::size_t kw, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> d(0, 1);
    Tensor<T> k = Tensor<T>::from_shape({patches, kh, kw});
    for (auto& v : k) v = static_cast<T>(d(rng));
    return k;
}

// The model written out literally, one output at a time, in long double,
// with the windows of the whole image (not the patch extents):
//   y[r][c] = sum_p sum_{a,b} k_p[a][b] w_p[s][t] x[s][t],  s = r + off_r - a, t = c + off_c - b,
// off = K-1 ('valid') or K/2 ('same'), x zero outside.
template <class T>
static xt::xtensor<T, 2> naive_eff(const EFFGrid& grid, const Tensor<T>& k, const xt::xtensor<T, 2>& x, BlurMode mode) {
    const long H = static_cast<long>(x.shape(0)), W = static_cast<long>(x.shape(1));
    const long Kh = static_cast<long>(k.shape(1)), Kw = static_cast<long>(k.shape(2));
    const bool valid = mode == BlurMode::valid;
    const long oh = valid ? H - Kh + 1 : H, ow = valid ? W - Kw + 1 : W;
    const long off_r = valid ? Kh - 1 : Kh / 2, off_c = valid ? Kw - 1 : Kw / 2;
    xt::xtensor<T, 2> y = xt::xtensor<T, 2>::from_shape({static_cast<std::size_t>(oh), static_cast<std::size_t>(ow)});
    for (long r = 0; r < oh; ++r)
        for (long c = 0; c < ow; ++c) {
            long double s = 0;
            for (std::size_t p = 0; p < grid.patches(); ++p)
                for (long a = 0; a < Kh; ++a)
                    for (long b = 0; b < Kw; ++b) {
                        const long sr = r + off_r - a, sc = c + off_c - b;
                        if (sr < 0 || sr >= H || sc < 0 || sc >= W) continue;
                        s += static_cast<long double>(k(p, static_cast<std::size_t>(a), static_cast<std::size_t>(b))) *
                             grid.weight(p, static_cast<std::size_t>(sr), static_cast<std::size_t>(sc)) * x(sr, sc);
                    }
            y(r, c) = static_cast<T>(s);
        }
    return y;
}

template <class A, class B>
static double max_abs_diff(const A& a, const B& b) {
    REQUIRE(a.size() == b.size());
    double m = 0;
    for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(double(a.data()[i]) - double(b.data()[i])));
    return m;
}

template <class A>
static double max_abs(const A& a) {
    double m = 0;
    for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(double(a.data()[i])));
    return m;
}

template <class A, class B>
static long double dot(const A& a, const B& b) {
    REQUIRE(a.size() == b.size());
    long double s = 0;
    for (std::size_t i = 0; i < a.size(); ++i) s += static_cast<long double>(a.data()[i]) * b.data()[i];
    return s;
}

template <class F>
static std::string error_of(F&& f) {
    try {
        f();
    } catch (const std::exception& e) {
        return e.what();
    }
    return "";
}

// ---------------------------------------------------------------- the grid

TEST_CASE("EFFGrid windows are a partition of unity and vanish outside their patch") {
    struct Case {
        std::size_t h, w, gr, gc;
    };
    for (auto window : {EFFGrid::Window::hann, EFFGrid::Window::bartlett})
        for (const Case& cs : {Case{64, 64, 4, 4}, Case{61, 47, 3, 5}, Case{30, 20, 1, 1}, Case{9, 7, 9, 7},
                               Case{100, 33, 6, 2}, Case{17, 16, 2, 3}}) {
            CAPTURE(cs.h);
            CAPTURE(cs.w);
            CAPTURE(cs.gr);
            CAPTURE(cs.gc);
            const EFFGrid g(cs.h, cs.w, cs.gr, cs.gc, window);
            REQUIRE(g.patches() == cs.gr * cs.gc);
            double worst = 0;
            for (std::size_t r = 0; r < cs.h; ++r)
                for (std::size_t c = 0; c < cs.w; ++c) {
                    double s = 0;
                    int covering = 0;
                    for (std::size_t p = 0; p < g.patches(); ++p) {
                        const double wp = g.weight(p, r, c);
                        CHECK(wp >= 0);
                        CHECK(wp <= 1 + 1e-15);
                        s += wp;
                        covering += wp > 0;
                        const std::size_t i = g.grid_row(p), j = g.grid_col(p);
                        const bool inside = r >= g.row_begin(i) && r < g.row_end(i) && c >= g.col_begin(j) && c < g.col_end(j);
                        if (!inside) CHECK(wp == 0);
                    }
                    worst = std::max(worst, std::abs(s - 1));
                    CHECK(covering >= 1);
                    CHECK(covering <= 4);  // 50 % overlap: at most two windows per axis
                }
            CHECK(worst < 1e-14);
            // The stored windows are the weights, and the patch extents stay in the image.
            for (std::size_t i = 0; i < g.grid_rows(); ++i) {
                REQUIRE(g.row_window(i).size() == g.row_end(i) - g.row_begin(i));
                CHECK(g.row_end(i) <= cs.h);
                CHECK(g.row_end(i) - g.row_begin(i) <= g.max_patch_rows());
                for (std::size_t r = g.row_begin(i); r < g.row_end(i); ++r)
                    CHECK(g.row_window(i)[r - g.row_begin(i)] == g.row_weight(i, r));
            }
        }
}

TEST_CASE("EFFGrid: patch centres, window shapes and patch sizes") {
    // 60 rows, 4 patches: cells of 15, centres 7, 22, 37, 52.
    const EFFGrid hann(60, 60, 4, 4);
    for (std::size_t i = 0; i < 4; ++i) {
        CHECK(hann.row_centre(i) == doctest::Approx(7.0 + 15.0 * double(i)));
        CHECK(hann.row_weight(i, 7 + 15 * i) == doctest::Approx(1.0));  // a window is 1 at its centre
    }
    // Hann: cos^2(pi/2 d); Bartlett: 1 - d (d = distance / spacing), between centres 22 and 37.
    const EFFGrid bartlett(60, 60, 4, 4, EFFGrid::Window::bartlett);
    for (std::size_t t = 22; t <= 37; ++t) {
        const double d = (double(t) - 22.0) / 15.0;
        CHECK(hann.row_weight(1, t) == doctest::Approx(std::pow(std::cos(std::acos(-1.0) / 2 * d), 2)).epsilon(1e-12));
        CHECK(bartlett.row_weight(1, t) == doctest::Approx(1 - d).epsilon(1e-12));
    }
    // The outer windows are held at 1 out to the border.
    CHECK(hann.row_begin(0) == 0);
    CHECK(hann.row_weight(0, 0) == 1.0);
    CHECK(hann.row_weight(3, 59) == 1.0);
    // Interior patches span two cells (open interval between the neighbours' centres).
    CHECK(hann.row_begin(1) == 8);
    CHECK(hann.row_end(1) == 37);
    CHECK(hann.max_patch_rows() == 29);
    // One patch: the window is 1 everywhere.
    const EFFGrid one(5, 8, 1, 1);
    for (std::size_t r = 0; r < 5; ++r)
        for (std::size_t c = 0; c < 8; ++c) CHECK(one.weight(0, r, c) == 1.0);
}

// ---------------------------------------------------------------- the model

TEST_CASE_TEMPLATE("EFFBlur (FFT and direct) equals the model written out literally", T, float, double) {
    const double tol = std::is_same_v<T, float> ? 2e-5 : 1e-12;
    struct Case {
        std::size_t h, w, gr, gc, kh, kw;
    };
    for (auto mode : {BlurMode::valid, BlurMode::same})
        for (const Case& cs : {Case{40, 44, 3, 3, 7, 7}, Case{37, 29, 2, 4, 6, 5}, Case{24, 24, 1, 1, 9, 9},
                               Case{21, 30, 4, 3, 3, 8}})
            for (auto method : {BlurMethod::fft, BlurMethod::direct}) {
                CAPTURE(cs.h);
                CAPTURE(cs.kh);
                CAPTURE(cs.kw);
                CAPTURE(static_cast<int>(mode));
                CAPTURE(static_cast<int>(method));
                const EFFGrid grid(cs.h, cs.w, cs.gr, cs.gc);
                const auto x = random_matrix<T>(cs.h, cs.w, 1);
                const auto k = random_field<T>(grid.patches(), cs.kh, cs.kw, 2);
                EFFBlur<T> eff(grid, cs.kh, cs.kw, mode, method);
                CHECK(eff.uses_fft() == (method == BlurMethod::fft));
                eff.set_kernels(k);
                const auto y = eff.apply(x);
                const auto ref = naive_eff(grid, k, x, mode);
                REQUIRE(y.shape(0) == eff.out_rows());
                REQUIRE(y.shape(1) == eff.out_cols());
                CHECK(max_abs_diff(y, ref) < tol * max_abs(ref));
            }
}

TEST_CASE("EFFBlur works with the reference DFT as FFT policy") {
    const EFFGrid grid(14, 12, 2, 2);
    const auto x = random_matrix<double>(14, 12, 3);
    const auto k = random_field<double>(4, 3, 4, 4);
    for (auto mode : {BlurMode::valid, BlurMode::same}) {
        EFFBlur<double, deblur::fft::ReferenceDft> eff(grid, 3, 4, mode, BlurMethod::fft);
        eff.set_kernels(k);
        CHECK(max_abs_diff(eff.apply(x), naive_eff(grid, k, x, mode)) < 1e-12);
    }
}

TEST_CASE("EFFBlur adjoint tests in double: <A x, g> = <x, A^T g> and <A(k) x, g> = sum_p <k_p, grad_p>") {
    struct Case {
        std::size_t h, w, gr, gc, kh, kw;
    };
    double worst_x = 0, worst_k = 0;
    for (auto mode : {BlurMode::valid, BlurMode::same})
        for (const Case& cs : {Case{48, 52, 3, 4, 9, 9}, Case{33, 40, 2, 2, 8, 5}, Case{64, 64, 4, 4, 15, 15}})
            for (auto method : {BlurMethod::fft, BlurMethod::direct}) {
                CAPTURE(cs.h);
                CAPTURE(static_cast<int>(mode));
                CAPTURE(static_cast<int>(method));
                const EFFGrid grid(cs.h, cs.w, cs.gr, cs.gc);
                EFFBlur<double> eff(grid, cs.kh, cs.kw, mode, method);
                const auto k = random_field<double>(grid.patches(), cs.kh, cs.kw, 5);
                const auto x = random_matrix<double>(cs.h, cs.w, 6);
                const auto g = random_matrix<double>(eff.out_rows(), eff.out_cols(), 7);
                eff.set_kernels(k);
                const auto ax = eff.apply(x);
                const auto atg = eff.apply_adjoint(g);
                REQUIRE(atg.shape(0) == cs.h);
                REQUIRE(atg.shape(1) == cs.w);
                const long double lhs = dot(ax, g), rhs = dot(x, atg);
                const double rel_x = double(std::abs(lhs - rhs) / std::abs(lhs));
                CHECK(rel_x < 1e-12);
                // A(k) x is linear in k, so <A(k) x, g> = <k, d<A(k) x, g>/dk>.
                const auto grad = eff.kernel_gradient(x, g);
                REQUIRE(grad.shape(0) == grid.patches());
                const double rel_k = double(std::abs(lhs - dot(k, grad)) / std::abs(lhs));
                CHECK(rel_k < 1e-12);
                worst_x = std::max(worst_x, rel_x);
                worst_k = std::max(worst_k, rel_k);
            }
    MESSAGE("largest relative adjoint error: x " << worst_x << ", kernels " << worst_k);
}

TEST_CASE_TEMPLATE("EFFBlur: FFT and direct paths agree for the adjoint and the kernel gradient", T, float, double) {
    const double tol = std::is_same_v<T, float> ? 5e-5 : 1e-12;
    const EFFGrid grid(45, 38, 3, 2, EFFGrid::Window::bartlett);
    for (auto mode : {BlurMode::valid, BlurMode::same}) {
        EFFBlur<T> fft(grid, 7, 6, mode, BlurMethod::fft), direct(grid, 7, 6, mode, BlurMethod::direct);
        const auto k = random_field<T>(grid.patches(), 7, 6, 8);
        const auto x = random_matrix<T>(45, 38, 9);
        const auto g = random_matrix<T>(fft.out_rows(), fft.out_cols(), 10);
        fft.set_kernels(k);
        direct.set_kernels(k);
        const auto a = direct.apply_adjoint(g);
        CHECK(max_abs_diff(fft.apply_adjoint(g), a) < tol * max_abs(a));
        const auto kg = direct.kernel_gradient(x, g);
        CHECK(max_abs_diff(fft.kernel_gradient(x, g), kg) < tol * max_abs(kg));
    }
}

TEST_CASE_TEMPLATE("a constant kernel field is the uniform blur of blur.hpp", T, float, double) {
    // The windows sum to one and live on x, so sum_p k * (w_p . x) = k * x
    // exactly, borders included (not only away from them).
    const double tol = std::is_same_v<T, float> ? 2e-6 : 1e-13;
    const auto x = random_matrix<T>(96, 80, 11);
    const auto k1 = random_field<T>(1, 13, 11, 12);
    xt::xtensor<T, 2> k = xt::xtensor<T, 2>::from_shape({13, 11});
    for (std::size_t i = 0; i < k.size(); ++i) k.data()[i] = k1.data()[i];
    for (auto mode : {BlurMode::valid, BlurMode::same})
        for (auto window : {EFFGrid::Window::hann, EFFGrid::Window::bartlett}) {
            const EFFGrid grid(96, 80, 4, 3, window);
            Tensor<T> field = Tensor<T>::from_shape({grid.patches(), 13, 11});
            for (std::size_t p = 0; p < grid.patches(); ++p)
                for (std::size_t i = 0; i < k.size(); ++i) field.data()[p * k.size() + i] = k.data()[i];
            const auto uniform = deblur::blur(x, k, mode);
            for (auto method : {BlurMethod::fft, BlurMethod::direct}) {
                EFFBlur<T> eff(grid, 13, 11, mode, method);
                eff.set_kernels(field);
                CHECK(max_abs_diff(eff.apply(x), uniform) < tol * max_abs(uniform));
            }
        }
}

TEST_CASE("convention: a delta at a patch centre is blurred by that patch's kernel alone, unflipped") {
    // 60 x 60, 4 x 4 patches: centres at 7, 22, 37, 52, where one window is 1 and the others 0.
    const EFFGrid grid(60, 60, 4, 4);
    const auto k = random_field<double>(16, 5, 7, 13);
    xt::xtensor<double, 2> x = xt::zeros<double>({60, 60});
    x(22, 37) = 1;  // patch (1, 2)
    const std::size_t p = grid.patch(1, 2);
    for (auto method : {BlurMethod::fft, BlurMethod::direct}) {
        EFFBlur<double> eff(grid, 5, 7, BlurMode::same, method);
        eff.set_kernels(k);
        const auto y = eff.apply(x);
        double outside = 0;
        for (std::size_t r = 0; r < 60; ++r)
            for (std::size_t c = 0; c < 60; ++c) {
                const long a = long(r) - 22 + 2, b = long(c) - 37 + 3;  // kernel origin (Kh/2, Kw/2) on the delta
                if (a >= 0 && a < 5 && b >= 0 && b < 7) CHECK(y(r, c) == doctest::Approx(k(p, a, b)).epsilon(1e-12));
                else outside = std::max(outside, std::abs(y(r, c)));
            }
        CHECK(outside < 1e-14);
    }
}

TEST_CASE("EFFBlur reuses its buffers and plans: repeated calls give identical results") {
    const EFFGrid grid(70, 66, 3, 3);
    EFFBlur<float> eff(grid, 11, 11, BlurMode::valid, BlurMethod::fft);
    eff.set_kernels(random_field<float>(9, 11, 11, 14));
    const auto x = random_matrix<float>(70, 66, 15);
    const auto g = random_matrix<float>(eff.out_rows(), eff.out_cols(), 16);
    xt::xtensor<float, 2> y, xt_;
    Tensor<float> grad;
    eff.apply(x, y);
    eff.apply_adjoint(g, xt_);
    eff.kernel_gradient(x, g, grad);
    const auto y0 = y;
    const auto x0 = xt_;
    const auto g0 = grad;
    const float* ydata = y.data();
    const std::size_t plans = deblur::fft::Fftw::cached_plans<float>();
    for (int rep = 0; rep < 3; ++rep) {
        eff.apply(x, y);
        eff.apply_adjoint(g, xt_);
        eff.kernel_gradient(x, g, grad);
    }
    CHECK(y.data() == ydata);  // the output is written in place
    CHECK(max_abs_diff(y, y0) == 0);
    CHECK(max_abs_diff(xt_, x0) == 0);
    CHECK(max_abs_diff(grad, g0) == 0);
    CHECK(deblur::fft::Fftw::cached_plans<float>() == plans);
    // One padded transform size for every patch, large enough for the largest patch's linear convolution.
    CHECK(eff.fft_rows() >= grid.max_patch_rows() + 10);
    CHECK(eff.fft_cols() % 2 == 0);
}

TEST_CASE("EFFBlur picks the FFT for large kernels and the direct sum for small ones") {
    const EFFGrid grid(512, 512, 4, 4);
    CHECK(EFFBlur<float>(grid, 33, 33, BlurMode::valid).uses_fft());
    CHECK_FALSE(EFFBlur<float>(grid, 3, 3, BlurMode::valid).uses_fft());
}

TEST_CASE("EFFGrid and EFFBlur reject bad sizes with their names in the message") {
    auto grid_error = [](auto&& f) {
        const std::string e = error_of(f);
        CHECK(e.find("deblur::EFFGrid") != std::string::npos);
    };
    CHECK_THROWS_AS(EFFGrid(0, 10, 1, 1), std::invalid_argument);
    CHECK_THROWS_AS(EFFGrid(10, 10, 0, 2), std::invalid_argument);
    CHECK_THROWS_AS(EFFGrid(10, 10, 11, 2), std::invalid_argument);
    grid_error([] { EFFGrid(10, 10, 2, 11); });

    const EFFGrid grid(20, 18, 2, 3);
    auto blur_error = [](auto&& f, const char* what) {
        const std::string e = error_of(f);
        CAPTURE(e);
        CHECK(e.find("deblur::EFFBlur") != std::string::npos);
        CHECK(e.find(what) != std::string::npos);
    };
    CHECK_THROWS_AS(EFFBlur<double>(grid, 0, 3, BlurMode::same), std::invalid_argument);
    CHECK_THROWS_AS(EFFBlur<double>(grid, 21, 3, BlurMode::valid), std::invalid_argument);
    CHECK_NOTHROW(EFFBlur<double>(grid, 21, 3, BlurMode::same));  // zero outside: any kernel size
    CHECK_THROWS_AS(EFFBlur<double>(grid, 3, 3, BlurMode::circular), std::invalid_argument);
    blur_error([&] { EFFBlur<double>(grid, 3, 19, BlurMode::valid); }, "no larger than the image");

    EFFBlur<double> eff(grid, 5, 5, BlurMode::valid);
    const auto x = random_matrix<double>(20, 18, 1);
    CHECK_THROWS_AS(eff.apply(x), std::logic_error);  // no kernels yet
    blur_error([&] { eff.apply(x); }, "set_kernels");
    CHECK_THROWS_AS(eff.set_kernels(random_field<double>(5, 5, 5, 1)), std::invalid_argument);
    CHECK_THROWS_AS(eff.set_kernels(random_field<double>(6, 5, 4, 1)), std::invalid_argument);
    blur_error([&] { eff.set_kernels(random_field<double>(6, 3, 5, 1)); }, "kernel field must be 6 x 5x5");
    eff.set_kernels(random_field<double>(6, 5, 5, 1));
    CHECK_THROWS_AS(eff.apply(random_matrix<double>(18, 20, 1)), std::invalid_argument);
    blur_error([&] { eff.apply(random_matrix<double>(16, 14, 1)); }, "must be 20x18, got 16x14");
    CHECK_THROWS_AS(eff.apply_adjoint(random_matrix<double>(20, 18, 1)), std::invalid_argument);  // needs 16 x 14
    blur_error([&] { eff.apply_adjoint(random_matrix<double>(20, 18, 1)); }, "must be 16x14");
    CHECK_THROWS_AS(eff.kernel_gradient(x, random_matrix<double>(20, 18, 1)), std::invalid_argument);
    CHECK_THROWS_AS(eff.kernel_gradient(random_matrix<double>(16, 14, 1), random_matrix<double>(16, 14, 1)),
                    std::invalid_argument);
    xt::xtensor<double, 2> same = random_matrix<double>(20, 18, 1);
    EFFBlur<double> eff_same(grid, 5, 5, BlurMode::same);
    eff_same.set_kernels(random_field<double>(6, 5, 5, 1));
    CHECK_THROWS_AS(eff_same.apply(same, same), std::invalid_argument);  // the output aliases the input
    CHECK_THROWS_AS(eff_same.apply_adjoint(same, same), std::invalid_argument);
}
