#include "doctest_main.hpp"

#include <deblur/blur/eff.hpp>
#include <deblur/blur/eff_grid.hpp>
#include <deblur/layers/eff_image_quotient.hpp>
#include <deblur/layers/eff_quotient.hpp>
#include <deblur/layers/image_quotient.hpp>
#include <deblur/layers/chain.hpp>
#include <deblur/layers/conv.hpp>
#include <deblur/layers/layer.hpp>
#include <deblur/layers/quotient.hpp>
#include <deblur/layers/recombine.hpp>
#include <deblur/layers/tanh.hpp>
#include <deblur/net/architecture.hpp>
#include <deblur/net/stage.hpp>
#include <deblur/testing/gradcheck.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

using deblur::Tensor;

namespace {

template <class T>
Tensor<T> random_tensor(std::size_t c, std::size_t h, std::size_t w, unsigned seed) {
    auto t = deblur::make_tensor<T>(c, h, w);
    std::mt19937 rng(seed);
    std::normal_distribution<double> d;
    for (auto& v : t) v = static_cast<T>(d(rng));
    return t;
}

// A positive K x K kernel summing to one: an anisotropic Gaussian around (dr, dc) from the centre.
std::vector<double> gaussian_kernel(int k, double dr, double dc, double sr, double sc) {
    std::vector<double> kernel(std::size_t(k) * k);
    double sum = 0;
    for (int a = 0; a < k; ++a)
        for (int b = 0; b < k; ++b) {
            const double u = (a - k / 2 - dr) / sr, v = (b - k / 2 - dc) / sc;
            sum += kernel[std::size_t(a) * k + b] = std::exp(-0.5 * (u * u + v * v));
        }
    for (auto& v : kernel) v /= sum;
    return kernel;
}

// A kernel field (patches x K x K) with a different Gaussian per patch.
template <class T>
Tensor<T> kernel_field(std::size_t patches, int k, unsigned seed) {
    auto field = deblur::make_tensor<T>(patches, std::size_t(k), std::size_t(k));
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> shift(-0.25 * k, 0.25 * k), width(0.5, 0.3 * k);
    for (std::size_t p = 0; p < patches; ++p) {
        const auto kernel = gaussian_kernel(k, shift(rng), shift(rng), width(rng), width(rng));
        for (std::size_t i = 0; i < kernel.size(); ++i) field.data()[p * kernel.size() + i] = static_cast<T>(kernel[i]);
    }
    return field;
}

xt::xtensor<double, 2> channel(const Tensor<double>& t, std::size_t ch) {
    xt::xtensor<double, 2> m = xt::zeros<double>({t.shape(1), t.shape(2)});
    for (std::size_t r = 0; r < t.shape(1); ++r)
        for (std::size_t c = 0; c < t.shape(2); ++c) m(r, c) = t(ch, r, c);
    return m;
}

// Feature maps 2P x H x W whose blurry-like half is the sharp-like half blurred
// by `field` through the EFF model ('same' borders), plus optional noise.
Tensor<double> eff_feature_maps(const Tensor<double>& sharp, const Tensor<double>& field, std::size_t grid_rows,
                                std::size_t grid_cols, double noise, unsigned seed) {
    const std::size_t p = sharp.shape(0), h = sharp.shape(1), w = sharp.shape(2);
    const deblur::EFFGrid grid(h, w, grid_rows, grid_cols);
    deblur::EFFBlur<double> blur(grid, field.shape(1), field.shape(2), deblur::BlurMode::same);
    blur.set_kernels(field);
    auto maps = deblur::make_tensor<double>(2 * p, h, w);
    std::mt19937 rng(seed);
    std::normal_distribution<double> d(0, noise > 0 ? noise : 1.0);
    for (std::size_t i = 0; i < p; ++i) {
        const auto y = blur.apply(channel(sharp, i));
        for (std::size_t r = 0; r < h; ++r)
            for (std::size_t c = 0; c < w; ++c) {
                maps(i, r, c) = sharp(i, r, c);
                maps(i + p, r, c) = y(r, c) + (noise > 0 ? d(rng) : 0.0);
            }
    }
    return maps;
}

// Horizontal and vertical forward differences of a 1 x H x W image (zero in the last column / row).
Tensor<double> gradients(const Tensor<double>& image) {
    const std::size_t h = image.shape(1), w = image.shape(2);
    auto g = deblur::make_tensor<double>(2, h, w);
    for (std::size_t r = 0; r < h; ++r)
        for (std::size_t c = 0; c < w; ++c) {
            g(0, r, c) = c + 1 < w ? image(0, r, c + 1) - image(0, r, c) : 0.0;
            g(1, r, c) = r + 1 < h ? image(0, r + 1, c) - image(0, r, c) : 0.0;
        }
    return g;
}

// A smooth-ish random image: white noise blurred a little, plus a few edges.
Tensor<double> test_image(std::size_t h, std::size_t w, unsigned seed) {
    const auto noise = random_tensor<double>(1, h, w, seed);
    auto image = deblur::make_tensor<double>(1, h, w);
    for (std::size_t r = 0; r < h; ++r)
        for (std::size_t c = 0; c < w; ++c) {
            double s = 0;
            for (int a = -1; a <= 1; ++a)
                for (int b = -1; b <= 1; ++b)
                    s += noise(0, std::min(h - 1, std::size_t(std::max<long>(0, long(r) + a))),
                               std::min(w - 1, std::size_t(std::max<long>(0, long(c) + b))));
            image(0, r, c) = s / 9 + ((r / 11 + c / 13) % 2 ? 0.5 : 0.0);
        }
    return image;
}

double relative_l2(const double* a, const double* b, std::size_t n) {
    double diff = 0, norm = 0;
    for (std::size_t i = 0; i < n; ++i) {
        diff += (a[i] - b[i]) * (a[i] - b[i]);
        norm += b[i] * b[i];
    }
    return std::sqrt(diff / norm);
}

std::string thrown_message(const std::function<void()>& f) {
    try {
        f();
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "(nothing thrown)";
}

}  // namespace

TEST_CASE_TEMPLATE("EFFQuotient with a 1x1 grid is Quotient, forward and backward bit for bit", T, float, double) {
    using E = deblur::Exec<T>;
    auto check = [](auto uniform, auto eff, const Tensor<T>& in, unsigned seed) {
        constexpr int k = decltype(uniform)::kernel_size;
        Tensor<T> out_u, out_e;
        uniform.forward(in, out_u);
        eff.forward(in, out_e);
        REQUIRE(out_e.shape() == out_u.shape());
        for (std::size_t i = 0; i < out_u.size(); ++i) CHECK(out_e.data()[i] == out_u.data()[i]);
        const auto g = random_tensor<T>(1, k, k, seed);
        auto grad_u = deblur::make_tensor<T>(in.shape(0), in.shape(1), in.shape(2), T(0.5));
        auto grad_e = grad_u;
        uniform.backward(in, out_u, g, grad_u);
        eff.backward(in, out_e, g, grad_e);
        // One core (layers/patch_quotient.hpp), one compiled copy: the same bits.
        for (std::size_t i = 0; i < grad_u.size(); ++i) CHECK(grad_e.data()[i] == grad_u.data()[i]);
    };
    for (unsigned seed : {1u, 2u}) {
        const auto in = random_tensor<T>(4, 23, 18, seed);
        check(deblur::Quotient<5, E>{}, deblur::EFFQuotient<5, E>{}, in, seed);
        check(deblur::Quotient<3, E>{}, deblur::EFFQuotient<3, E>(1, 1, deblur::EFFGrid::Window::bartlett),
              random_tensor<T>(2, 9, 12, seed + 5), seed);
    }
    // A blurred pair (no clipping trouble): also exact.
    const auto sharp = random_tensor<double>(2, 20, 21, 7);
    const auto field = kernel_field<double>(1, 5, 8);
    const auto maps64 = eff_feature_maps(sharp, field, 1, 1, 0.01, 9);
    Tensor<T> maps = deblur::make_tensor<T>(4, 20, 21);
    for (std::size_t i = 0; i < maps.size(); ++i) maps.data()[i] = static_cast<T>(maps64.data()[i]);
    check(deblur::Quotient<5, E>{}, deblur::EFFQuotient<5, E>{}, maps, 3);
}

TEST_CASE_TEMPLATE("EFFImageQuotient with a 1x1 grid is exactly ImageQuotient, forward and backward", T, float, double) {
    using E = deblur::Exec<T>;
    const std::size_t h = 19, w = 24;
    const auto field = kernel_field<T>(1, 5, 3);
    const auto blurry = random_tensor<T>(1, h, w, 4);
    const auto g = random_tensor<T>(1, h, w, 5);
    deblur::ImageQuotient<E> uniform;
    deblur::EFFImageQuotient<E> eff;
    uniform.set_beta(3e-3);
    eff.set_beta(3e-3);
    CHECK(eff.params()[0] == uniform.params()[0]);
    Tensor<T> out_u, out_e;
    uniform.forward(field, blurry, out_u);
    eff.forward(field, blurry, out_e);
    REQUIRE(out_e.shape() == out_u.shape());
    for (std::size_t i = 0; i < out_u.size(); ++i) CHECK(out_e.data()[i] == out_u.data()[i]);
    auto gk_u = deblur::make_tensor<T>(1, 5, 5), gk_e = gk_u;
    auto gy_u = deblur::make_tensor<T>(1, h, w), gy_e = gy_u;
    uniform.zero_grads();
    eff.zero_grads();
    uniform.backward(field, blurry, out_u, g, gk_u, gy_u);
    eff.backward(field, blurry, out_e, g, gk_e, gy_e);
    for (std::size_t i = 0; i < gk_u.size(); ++i) CHECK(gk_e.data()[i] == gk_u.data()[i]);
    for (std::size_t i = 0; i < gy_u.size(); ++i) CHECK(gy_e.data()[i] == gy_u.data()[i]);
    CHECK(eff.param_grads()[0] == uniform.param_grads()[0]);
}

TEST_CASE("EFFQuotient backward matches finite differences") {
    auto run = [](auto layer, const Tensor<double>& in, unsigned seed) {
        const auto r = deblur::testing::check_layer(layer, in, seed, 150);
        CHECK(r.output_written);
        CHECK(r.input_error < 1e-7);
        CHECK(r.param_error == 0);
        CHECK(layer.degenerate_count() == 0);
        MESSAGE("EFFQuotient<" << decltype(layer)::kernel_size << "> " << layer.grid_rows() << "x"
                               << layer.grid_cols() << " grid, " << in.shape(0) << "x" << in.shape(1) << "x"
                               << in.shape(2) << " seed " << seed << ": input gradient relative error "
                               << r.input_error);
    };
    using E = deblur::Exec<double>;
    for (unsigned seed : {1u, 2u}) {
        const auto a = eff_feature_maps(random_tensor<double>(1, 16, 14, seed), kernel_field<double>(4, 3, seed + 1),
                                        2, 2, 0.05, seed + 2);
        run(deblur::EFFQuotient<3, E>(2, 2), a, seed);
        const auto b = eff_feature_maps(random_tensor<double>(2, 24, 30, seed + 10),
                                        kernel_field<double>(6, 5, seed + 11), 2, 3, 0.05, seed + 12);
        run(deblur::EFFQuotient<5, E>(2, 3), b, seed);
        run(deblur::EFFQuotient<5, E>(2, 3, deblur::EFFGrid::Window::bartlett), b, seed + 20);
    }
}

TEST_CASE("EFFImageQuotient backward matches finite differences") {
    using E = deblur::Exec<double>;
    auto run = [](std::size_t grid_rows, std::size_t grid_cols, int k, std::size_t h, std::size_t w, unsigned seed) {
        deblur::EFFImageQuotient<E> layer(grid_rows, grid_cols);
        layer.set_beta(2e-2);
        auto kernels = kernel_field<double>(grid_rows * grid_cols, k, seed);
        auto blurry = random_tensor<double>(1, h, w, seed + 1);
        const auto r = random_tensor<double>(1, h, w, seed + 2);
        Tensor<double> latent;
        auto loss = [&] {
            layer.forward(kernels, blurry, latent);
            double s = 0;
            for (std::size_t i = 0; i < latent.size(); ++i) s += r.data()[i] * latent.data()[i];
            return s;
        };
        // Prefilled gradients: backward must add.
        constexpr double offset = 0.25;
        auto gk = deblur::make_tensor<double>(kernels.shape(0), kernels.shape(1), kernels.shape(2), offset);
        auto gy = deblur::make_tensor<double>(1, h, w, offset);
        layer.param_grads()[0] = offset;
        layer.forward(kernels, blurry, latent);
        layer.backward(kernels, blurry, latent, r, gk, gy);
        std::vector<double> ak(gk.begin(), gk.end()), ay(gy.begin(), gy.end()), ab{layer.param_grads()[0]};
        for (auto* v : {&ak, &ay, &ab})
            for (auto& x : *v) x -= offset;
        const double ek = deblur::testing::check_gradient({kernels.data(), kernels.size()}, ak, loss, seed, 100);
        const double ey = deblur::testing::check_gradient({blurry.data(), blurry.size()}, ay, loss, seed + 1, 100);
        const double eb = deblur::testing::check_gradient(layer.params(), ab, loss, seed + 2);
        CHECK(ek < 1e-7);
        CHECK(ey < 1e-7);
        CHECK(eb < 1e-7);
        MESSAGE("EFFImageQuotient " << grid_rows << "x" << grid_cols << " grid, K=" << k << ", " << h << "x" << w
                                    << ": relative errors kernels " << ek << ", blurry " << ey << ", log beta "
                                    << eb);
    };
    run(2, 2, 3, 18, 16, 1);
    run(2, 3, 5, 24, 31, 2);
    run(3, 2, 3, 40, 22, 3);  // interior patches: regions clipped on neither side
}

TEST_CASE("EFFQuotient and EFFImageQuotient recompute when inputs, beta or grid changed since forward") {
    using E = deblur::Exec<double>;
    const auto a = eff_feature_maps(random_tensor<double>(1, 20, 20, 1), kernel_field<double>(4, 3, 2), 2, 2, 0.1, 3);
    const auto b = eff_feature_maps(random_tensor<double>(1, 20, 20, 4), kernel_field<double>(4, 3, 5), 2, 2, 0.1, 6);
    const auto g = random_tensor<double>(4, 3, 3, 7);
    deblur::EFFQuotient<3, E> layer(2, 2);
    Tensor<double> out;
    auto fresh = deblur::make_tensor<double>(2, 20, 20), stale = fresh;
    layer.forward(a, out);
    layer.backward(a, out, g, fresh);
    layer.forward(b, out);
    layer.backward(a, out, g, stale);  // `a` is not what forward last saw
    for (std::size_t i = 0; i < fresh.size(); ++i) CHECK(stale.data()[i] == doctest::Approx(fresh.data()[i]));
    layer.set_grid(1, 2);
    layer.forward(a, out);
    CHECK(out.shape(0) == 2);
    REQUIRE(layer.grid());
    CHECK(layer.grid()->grid_rows() == 1);

    deblur::EFFImageQuotient<E> image(2, 2);
    const auto field = kernel_field<double>(4, 3, 8);
    const auto y = random_tensor<double>(1, 20, 20, 9), gx = random_tensor<double>(1, 20, 20, 10);
    Tensor<double> x;
    auto gk1 = deblur::make_tensor<double>(4, 3, 3), gk2 = gk1;
    auto gy1 = deblur::make_tensor<double>(1, 20, 20), gy2 = gy1;
    image.set_beta(0.05);
    image.forward(field, y, x);
    image.backward(field, y, x, gx, gk1, gy1);
    image.set_beta(0.01);
    image.forward(field, y, x);
    image.set_beta(0.05);  // backward at beta 0.05 after a forward at 0.01
    image.backward(field, y, x, gx, gk2, gy2);
    for (std::size_t i = 0; i < gk1.size(); ++i) CHECK(gk2.data()[i] == doctest::Approx(gk1.data()[i]));
    for (std::size_t i = 0; i < gy1.size(); ++i) CHECK(gy2.data()[i] == doctest::Approx(gy1.data()[i]));
}

TEST_CASE("EFFQuotient recovers a spatially-varying kernel field from ideal features") {
    // Sharp-like maps: the gradients of a sharp image; blurry-like: those maps
    // blurred by a kernel field through the EFF model (what the gradients of
    // the blurry image are, up to the window blending).
    constexpr int k = 7;
    const std::size_t h = 128, w = 128, gr = 2, gc = 2;
    const auto sharp = gradients(test_image(h, w, 1));
    const auto field = kernel_field<double>(gr * gc, k, 5);
    const auto maps = eff_feature_maps(sharp, field, gr, gc, 0.0, 0);
    const std::size_t kk = std::size_t(k) * k;

    deblur::EFFQuotient<k, deblur::Exec<double>> eff(gr, gc);
    Tensor<double> estimated;
    eff.forward(maps, estimated);
    deblur::Quotient<k, deblur::Exec<double>> uniform;
    Tensor<double> one;
    uniform.forward(maps, one);

    double worst = 0, worst_uniform = 0, total = 0;
    for (std::size_t p = 0; p < gr * gc; ++p) {
        const double e = relative_l2(estimated.data() + p * kk, field.data() + p * kk, kk);
        const double u = relative_l2(one.data(), field.data() + p * kk, kk);
        worst = std::max(worst, e);
        worst_uniform = std::max(worst_uniform, u);
        total += e;
        MESSAGE("patch " << p << ": EFFQuotient relative L2 error " << e << " (one uniform Quotient kernel: " << u
                         << ")");
    }
    MESSAGE("kernel field relative L2 error: worst " << worst << ", mean " << total / double(gr * gc)
                                                     << "; uniform kernel worst " << worst_uniform);
    CHECK(worst < 0.25);
    CHECK(worst < 0.5 * worst_uniform);

    // A constant field is the uniform blur: every patch recovers it closely.
    auto constant = deblur::make_tensor<double>(gr * gc, std::size_t(k), std::size_t(k));
    for (std::size_t p = 0; p < gr * gc; ++p)
        for (std::size_t i = 0; i < kk; ++i) constant.data()[p * kk + i] = field.data()[i];
    eff.forward(eff_feature_maps(sharp, constant, gr, gc, 0.0, 0), estimated);
    double worst_constant = 0;
    for (std::size_t p = 0; p < gr * gc; ++p)
        worst_constant = std::max(worst_constant, relative_l2(estimated.data() + p * kk, field.data(), kk));
    MESSAGE("constant kernel field: worst patch relative L2 error " << worst_constant);
    CHECK(worst_constant < 0.05);
}

TEST_CASE("EFFImageQuotient with the true kernel field beats one uniform deconvolution") {
    constexpr int k = 7;
    const std::size_t h = 96, w = 112, gr = 2, gc = 2;
    const auto sharp = test_image(h, w, 3);
    const auto field = kernel_field<double>(gr * gc, k, 11);
    const auto blurred = eff_feature_maps(sharp, field, gr, gc, 0.0, 0);  // channel 1: the EFF blur of the image
    auto blurry = deblur::make_tensor<double>(1, h, w);
    for (std::size_t r = 0; r < h; ++r)
        for (std::size_t c = 0; c < w; ++c) blurry(0, r, c) = blurred(1, r, c);
    const std::size_t kk = std::size_t(k) * k;
    auto mean = deblur::make_tensor<double>(1, std::size_t(k), std::size_t(k));
    for (std::size_t p = 0; p < gr * gc; ++p)
        for (std::size_t i = 0; i < kk; ++i) mean.data()[i] += field.data()[p * kk + i] / double(gr * gc);

    deblur::EFFImageQuotient<deblur::Exec<double>> eff(gr, gc);
    deblur::ImageQuotient<deblur::Exec<double>> uniform;
    eff.set_beta(1e-3);
    uniform.set_beta(1e-3);
    Tensor<double> x_eff, x_uniform;
    eff.forward(field, blurry, x_eff);
    uniform.forward(mean, blurry, x_uniform);
    // Compare away from the image border (the 'same' blur loses information there).
    auto interior_error = [&](const Tensor<double>& x) {
        double diff = 0, norm = 0;
        for (std::size_t r = k; r + k < h; ++r)
            for (std::size_t c = k; c + k < w; ++c) {
                diff += (x(0, r, c) - sharp(0, r, c)) * (x(0, r, c) - sharp(0, r, c));
                norm += sharp(0, r, c) * sharp(0, r, c);
            }
        return std::sqrt(diff / norm);
    };
    const double e_eff = interior_error(x_eff), e_uniform = interior_error(x_uniform);
    MESSAGE("latent relative L2 error (interior): EFFImageQuotient " << e_eff << ", ImageQuotient with the mean kernel "
                                                                     << e_uniform << ", blurry input "
                                                                     << interior_error(blurry));
    CHECK(e_eff < 0.5 * e_uniform);
}

TEST_CASE("EFFQuotient and EFFImageQuotient reject bad inputs") {
    using Q = deblur::EFFQuotient<5, deblur::Exec<double>>;
    using I = deblur::EFFImageQuotient<deblur::Exec<double>>;
    static_assert(Q::accepts_channels(2) && Q::accepts_channels(4) && !Q::accepts_channels(3) && !Q::accepts_channels(0));
    static_assert(Q::beta_k == 1e-4);
    static_assert(deblur::KernelModule<Q> && deblur::ImageModule<I>);
    Q grid;
    grid.set_grid(2, 3);
    CHECK(grid.kernel_count() == 6);  // one kernel per patch
    static_assert(std::is_same_v<deblur::rebind_t<Q, deblur::Exec<float>>, deblur::EFFQuotient<5, deblur::Exec<float>>>);
    static_assert(std::is_same_v<deblur::rebind_t<I, deblur::Exec<float>>, deblur::EFFImageQuotient<deblur::Exec<float>>>);
    auto names = [](const std::string& message, const char* name) {
        INFO(message);
        CHECK(message.find(name) != std::string::npos);
    };
    Q layer(2, 2);
    Tensor<double> out;
    names(thrown_message([&] { layer.forward(random_tensor<double>(3, 20, 20, 1), out); }), "deblur::EFFQuotient");
    names(thrown_message([&] { layer.forward(random_tensor<double>(1, 20, 20, 1), out); }), "deblur::EFFQuotient");
    // 12 rows on 2 patches: 9 rows each, K = 5 fits; 6 rows: 5 each ... 4 rows: 3 each, too small.
    CHECK_NOTHROW(layer.forward(random_tensor<double>(2, 12, 12, 1), out));
    names(thrown_message([&] { layer.forward(random_tensor<double>(2, 4, 20, 1), out); }), "deblur::EFFQuotient");
    names(thrown_message([&] { layer.forward(random_tensor<double>(2, 20, 1, 1), out); }), "deblur::EFFQuotient");
    auto nan = random_tensor<double>(2, 12, 12, 1);
    nan(1, 3, 3) = std::numeric_limits<double>::quiet_NaN();
    names(thrown_message([&] { layer.forward(nan, out); }), "deblur::EFFQuotient");
    names(thrown_message([&] { layer.set_grid(0, 2); }), "deblur::EFFQuotient");
    std::mt19937_64 rng(1);
    names(thrown_message([&] { layer.setup(3, rng); }), "deblur::EFFQuotient");
    CHECK_NOTHROW(layer.setup(4, rng));
    const auto in = random_tensor<double>(2, 12, 12, 2);
    layer.forward(in, out);
    auto grad = deblur::make_tensor<double>(2, 12, 12);
    names(thrown_message([&] { layer.backward(in, out, random_tensor<double>(1, 5, 5, 1), grad); }),
          "deblur::EFFQuotient");
    auto wrong_grad = deblur::make_tensor<double>(2, 12, 11);
    names(thrown_message([&] { layer.backward(in, out, random_tensor<double>(4, 5, 5, 1), wrong_grad); }),
          "deblur::EFFQuotient");
    CHECK(layer.params().empty());

    I image(2, 2);
    Tensor<double> latent;
    const auto field = kernel_field<double>(4, 5, 1);
    const auto blurry = random_tensor<double>(1, 20, 20, 3);
    CHECK_NOTHROW(image.forward(field, blurry, latent));
    names(thrown_message([&] { image.forward(kernel_field<double>(3, 5, 1), blurry, latent); }),
          "deblur::EFFImageQuotient");
    names(thrown_message([&] { image.forward(random_tensor<double>(4, 4, 4, 1), blurry, latent); }),
          "deblur::EFFImageQuotient");
    names(thrown_message([&] { image.forward(field, random_tensor<double>(2, 20, 20, 1), latent); }),
          "deblur::EFFImageQuotient");
    names(thrown_message([&] { image.forward(field, random_tensor<double>(1, 4, 20, 1), latent); }),
          "deblur::EFFImageQuotient");
    auto nan_blurry = blurry;
    nan_blurry(0, 2, 2) = std::numeric_limits<double>::infinity();
    names(thrown_message([&] { image.forward(field, nan_blurry, latent); }), "deblur::EFFImageQuotient");
    names(thrown_message([&] { image.set_beta(0); }), "deblur::EFFImageQuotient");
    names(thrown_message([&] { image.set_grid(2, 0); }), "deblur::EFFImageQuotient");
    auto gk = deblur::make_tensor<double>(4, 5, 5), gy = deblur::make_tensor<double>(1, 20, 20);
    names(thrown_message([&] { image.backward(field, blurry, latent, random_tensor<double>(1, 20, 19, 1), gk, gy); }),
          "deblur::EFFImageQuotient");
}

namespace {
template <class E>
using StageFeatures = deblur::Chain<deblur::Conv<3, 3, E>, deblur::Tanh<E>, deblur::Recombine<4, E>>;
template <class E>
using UniformStage = deblur::Stage<StageFeatures<E>, deblur::Quotient<5, E>, deblur::ImageQuotient<E>>;
template <class E>
using EFFStage = deblur::Stage<StageFeatures<E>, deblur::EFFQuotient<5, E>, deblur::EFFImageQuotient<E>>;

Tensor<double> smooth_image(std::size_t h, std::size_t w, unsigned seed) {
    auto t = test_image(h, w, seed);
    for (auto& v : t) v = 0.5 + 0.2 * v;
    return t;
}

// Copies every parameter block of `from` into `to` (same features, same beta_x layout).
template <class A, class B>
void copy_params(A& from, B& to) {
    std::vector<double> values;
    from.for_each_param_block([&](auto params, auto) { values.insert(values.end(), params.begin(), params.end()); });
    std::size_t at = 0;
    to.for_each_param_block([&](auto params, auto) {
        for (auto& v : params) v = values.at(at++);
    });
    REQUIRE(at == values.size());
}
}  // namespace

TEST_CASE("A Stage composes EFFQuotient and EFFImageQuotient; with a 1x1 grid it is the uniform stage") {
    using E = deblur::Exec<double>;
    static_assert(EFFStage<E>::kernel_size == 5 && EFFStage<E>::accepts_channels(1) && EFFStage<E>::accepts_channels(2));
    static_assert(std::is_same_v<deblur::rebind_t<EFFStage<deblur::Exec<float>>, E>, EFFStage<E>>);
    std::mt19937_64 rng(3);
    UniformStage<E> uniform;
    EFFStage<E> eff;
    uniform.setup(2, rng);
    eff.setup(2, rng);
    copy_params(uniform, eff);
    const auto blurry = smooth_image(30, 28, 4), latent = smooth_image(30, 28, 5);
    Tensor<double> k_u, x_u, k_e, x_e;
    uniform.forward(blurry, &latent, k_u, x_u);
    eff.forward(blurry, &latent, k_e, x_e);
    REQUIRE(k_e.shape() == k_u.shape());
    for (std::size_t i = 0; i < k_u.size(); ++i) CHECK(k_e.data()[i] == k_u.data()[i]);
    for (std::size_t i = 0; i < x_u.size(); ++i) CHECK(x_e.data()[i] == x_u.data()[i]);

    eff.set_grid(2, 2);
    eff.forward(blurry, &latent, k_e, x_e);
    CHECK(k_e.shape(0) == 4);
    CHECK(k_e.shape(1) == 5);
    CHECK(x_e.shape() == blurry.shape());
}

TEST_CASE("A spatially-varying Stage's backward matches finite differences") {
    using E = deblur::Exec<double>;
    std::mt19937_64 rng(7);
    EFFStage<E> stage;
    stage.setup(2, rng);
    stage.set_grid(2, 2);
    const auto blurry = smooth_image(26, 24, 8);
    auto latent = smooth_image(26, 24, 9);
    Tensor<double> kernel, out;
    stage.forward(blurry, &latent, kernel, out);
    const auto rk = random_tensor<double>(kernel.shape(0), kernel.shape(1), kernel.shape(2), 10);
    const auto rx = random_tensor<double>(1, 26, 24, 11);
    auto loss = [&] {
        Tensor<double> k, x;
        stage.forward(blurry, &latent, k, x);
        double s = 0;
        for (std::size_t i = 0; i < k.size(); ++i) s += rk.data()[i] * k.data()[i];
        for (std::size_t i = 0; i < x.size(); ++i) s += rx.data()[i] * x.data()[i];
        return s;
    };
    stage.for_each_param_block([](auto, auto grads) { std::fill(grads.begin(), grads.end(), 0.0); });
    auto grad_latent = deblur::make_tensor<double>(1, 26, 24);
    stage.forward(blurry, &latent, kernel, out);
    stage.backward(blurry, &latent, kernel, out, rk, rx, &grad_latent);
    unsigned block = 0;
    double worst = 0;
    stage.for_each_param_block([&](auto params, auto grads) {
        const std::vector<double> analytic(grads.begin(), grads.end());
        const double e = deblur::testing::check_gradient(params, analytic, loss, 20 + block, 60);
        MESSAGE("EFF stage parameter block " << block << " (" << params.size() << " values): relative error " << e);
        worst = std::max(worst, e);
        ++block;
    });
    const std::vector<double> analytic(grad_latent.begin(), grad_latent.end());
    const double e_latent = deblur::testing::check_gradient({latent.data(), latent.size()}, analytic, loss, 30, 120);
    MESSAGE("EFF stage latent-input gradient: relative error " << e_latent);
    CHECK(block == 3);  // Conv, Recombine, beta_x
    CHECK(worst < 1e-6);
    CHECK(e_latent < 1e-6);
}

TEST_CASE("EFF stages have an architecture name, without the run-time grid") {
    using S = deblur::Stage<deblur::Chain<deblur::Conv<2, 3>, deblur::Tanh<>, deblur::Recombine<2>>, deblur::EFFQuotient<5>,
                            deblur::EFFImageQuotient<>>;
    CHECK(deblur::architecture_of<S>() == "Stage<Chain<Conv<2,3>,Tanh,Recombine<2>>,EFFQuotient<5>,EFFImageQuotient>");
}
