// EFFDeconvolver (deconv/eff_deconvolver.hpp): the hyper-Laplacian
// deconvolution of spatially-varying (EFF) blur, solved with the EFF operator
// by conjugate gradients.
#include "doctest_main.hpp"

#include <deblur/blur/blur.hpp>
#include <deblur/blur/eff.hpp>
#include <deblur/deconv/eff_deconvolver.hpp>
#include <deblur/deconv/hyper_laplacian.hpp>

#include <cmath>
#include <cstddef>
#include <numbers>
#include <stdexcept>
#include <string>
#include <xtensor/xview.hpp>

namespace {

using deblur::Tensor;

// Blocks, a disc and a ramp: edges in every direction, values in [0.1, 0.9].
xt::xtensor<float, 2> scene(std::size_t h, std::size_t w) {
    xt::xtensor<float, 2> x = xt::zeros<float>({h, w});
    for (std::size_t r = 0; r < h; ++r)
        for (std::size_t c = 0; c < w; ++c) {
            const bool square = ((r / 9) + (c / 7)) % 2 == 0;
            const double dr = double(r) - h / 2.0, dc = double(c) - w / 3.0;
            const bool disc = dr * dr + dc * dc < h * w / 12.0;
            x(r, c) = float(0.1 + 0.45 * square + 0.25 * disc + 0.1 * double(c) / double(w));
        }
    return x;
}

// A line kernel of length `len` at angle `angle` (radians), odd size k, sum 1.
xt::xtensor<float, 2> line_kernel(int k, double len, double angle) {
    xt::xtensor<float, 2> out = xt::zeros<float>({std::size_t(k), std::size_t(k)});
    const int steps = 64;
    for (int s = 0; s <= steps; ++s) {
        const double t = (double(s) / steps - 0.5) * len;
        const double r = k / 2 + t * std::sin(angle), c = k / 2 + t * std::cos(angle);
        const int r0 = int(std::floor(r)), c0 = int(std::floor(c));
        for (int a = 0; a < 2; ++a)
            for (int b = 0; b < 2; ++b) {
                const double wgt = (a ? r - r0 : 1 - (r - r0)) * (b ? c - c0 : 1 - (c - c0));
                if (r0 + a >= 0 && r0 + a < k && c0 + b >= 0 && c0 + b < k) out(r0 + a, c0 + b) += float(wgt);
            }
    }
    return out / xt::sum(out)();
}

Tensor<float> field_of(const std::vector<xt::xtensor<float, 2>>& kernels) {
    const std::size_t k = kernels[0].shape(0);
    auto f = deblur::make_tensor<float>(kernels.size(), k, k);
    for (std::size_t p = 0; p < kernels.size(); ++p) xt::view(f, p, xt::all(), xt::all()) = kernels[p];
    return f;
}

double rms_diff(const xt::xtensor<float, 2>& a, const xt::xtensor<float, 2>& b, std::size_t border) {
    double s = 0;
    std::size_t n = 0;
    for (std::size_t r = border; r + border < a.shape(0); ++r)
        for (std::size_t c = border; c + border < a.shape(1); ++c, ++n) s += std::pow(double(a(r, c)) - b(r, c), 2);
    return std::sqrt(s / double(n));
}

}  // namespace

TEST_CASE("EFFDeconvolver with a constant kernel field is the uniform hyper-Laplacian deconvolution away from the borders") {
    const std::size_t h = 96, w = 112;
    const int k = 11;
    const auto sharp = scene(h + k - 1, w + k - 1);
    const auto kernel = line_kernel(k, 8, 0.4);
    const xt::xtensor<float, 2> blurry = deblur::blur(sharp, kernel, deblur::BlurMode::valid);
    const auto options = deblur::DeconvOptions::for_noise(0.01);
    const auto uniform = deblur::HyperLaplacianDeconvolver<float>(options).deconvolve(blurry, kernel);
    const auto eff = deblur::EFFDeconvolver<float>(options).deconvolve(blurry, field_of({kernel, kernel, kernel, kernel}), 2, 2);
    const xt::xtensor<float, 2> truth = xt::view(sharp, xt::range(k / 2, k / 2 + h), xt::range(k / 2, k / 2 + w));
    const double between = rms_diff(eff, uniform, 2 * k), to_truth = rms_diff(uniform, truth, 2 * k);
    MESSAGE("interior RMS: EFF vs uniform " << between << ", uniform vs sharp " << to_truth << ", EFF vs sharp "
                                           << rms_diff(eff, truth, 2 * k) << ", blurry vs sharp " << rms_diff(blurry, truth, 2 * k));
    CHECK(between < 0.01);
    CHECK(between < 0.5 * to_truth);
}

TEST_CASE("EFFDeconvolver recovers an EFF-blurred image better than the blurry input and than one uniform deconvolution") {
    const std::size_t h = 100, w = 100, gr = 2, gc = 2;
    const int k = 13;
    const auto sharp = scene(h + k - 1, w + k - 1);
    const std::vector<xt::xtensor<float, 2>> kernels{line_kernel(k, 10, 0.0), line_kernel(k, 10, std::numbers::pi / 2),
                                                     line_kernel(k, 10, std::numbers::pi / 4), line_kernel(k, 6, -0.6)};
    const auto field = field_of(kernels);
    deblur::EFFBlur<float> model(deblur::EFFDeconvolver<float>::latent_grid(h, w, k, k, gr, gc), k, k,
                                 deblur::BlurMode::valid);
    model.set_kernels(field);
    const xt::xtensor<float, 2> blurry = model.apply(sharp);
    const xt::xtensor<float, 2> truth = xt::view(sharp, xt::range(k / 2, k / 2 + h), xt::range(k / 2, k / 2 + w));
    const auto options = deblur::DeconvOptions::for_noise(0.005);
    const auto eff = deblur::EFFDeconvolver<float>(options).deconvolve(blurry, field, gr, gc);
    xt::xtensor<float, 2> mean = xt::zeros<float>({std::size_t(k), std::size_t(k)});
    for (const auto& kp : kernels) mean += kp / 4.0f;
    const auto uniform = deblur::HyperLaplacianDeconvolver<float>(options).deconvolve(blurry, mean);
    const double e_eff = rms_diff(eff, truth, k), e_blurry = rms_diff(blurry, truth, k), e_uniform = rms_diff(uniform, truth, k);
    MESSAGE("RMS error: EFF deconvolution " << e_eff << ", uniform with the mean kernel " << e_uniform << ", blurry "
                                            << e_blurry);
    CHECK(e_eff < 0.5 * e_blurry);
    CHECK(e_eff < 0.75 * e_uniform);

    // Colour: every channel with the same field, as the one-channel call.
    auto colour = deblur::make_tensor<float>(2, h, w);
    xt::view(colour, 0, xt::all(), xt::all()) = blurry;
    xt::view(colour, 1, xt::all(), xt::all()) = 1.0f - blurry;
    const auto both = deblur::EFFDeconvolver<float>(options).deconvolve(colour, field, gr, gc);
    const xt::xtensor<float, 2> first = xt::view(both, 0, xt::all(), xt::all());
    CHECK(rms_diff(first, eff, 0) < 1e-5);
}

TEST_CASE("EFFDeconvolver rejects bad inputs") {
    const auto kernel = line_kernel(5, 3, 0.3);
    const xt::xtensor<float, 2> image = xt::ones<float>({32, 32}) * 0.5f;
    deblur::EFFDeconvolver<float> d;
    auto message = [](auto&& f) {
        try {
            f();
        } catch (const std::invalid_argument& e) {
            return std::string(e.what());
        }
        return std::string("(no exception)");
    };
    CHECK(message([&] { d.deconvolve(image, field_of({kernel, kernel}), 2, 2); }).find("one kernel per patch") != std::string::npos);
    auto even = deblur::make_tensor<float>(1, 4, 4);
    even.fill(1.0f / 16);
    CHECK(message([&] { d.deconvolve(image, even, 1, 1); }).find("odd") != std::string::npos);
    auto zero = field_of({kernel});
    zero.fill(0.0f);
    CHECK(message([&] { d.deconvolve(image, zero, 1, 1); }).find("positive sum") != std::string::npos);
    auto nan = field_of({kernel});
    nan(0, 0, 0) = std::nanf("");
    CHECK(message([&] { d.deconvolve(image, nan, 1, 1); }).find("NaN") != std::string::npos);
    const xt::xtensor<float, 2> tiny = xt::ones<float>({3, 3});
    CHECK(message([&] { d.deconvolve(tiny, field_of({kernel}), 1, 1); }).find("smaller than the kernels") != std::string::npos);
    CHECK(message([&] { d.deconvolve(image, field_of(std::vector<xt::xtensor<float, 2>>(64 * 64, kernel)), 64, 64); })
              .find("does not fit") != std::string::npos);
    CHECK_THROWS_AS(deblur::EFFDeconvolver<float>(deblur::DeconvOptions{}, 0), std::invalid_argument);
}
