#include "doctest_main.hpp"

#include <deblur/blur/blur.hpp>
#include <deblur/blur/motion_kernel_sampler.hpp>
#include <deblur/blur/noise.hpp>
#include <deblur/io/read_image.hpp>
#include <deblur/pipeline/noise_level.hpp>
#include <deblur/pipeline/texture.hpp>

#include <xtensor/xview.hpp>

#include <algorithm>
#include <cmath>
#include <random>

using Image = xt::xtensor<float, 2>;

TEST_CASE("signal_deviation: the standard deviation without the noise's variance") {
    Image halves = xt::zeros<float>({64, 64});
    xt::view(halves, xt::all(), xt::range(32, 64)) = 1.0f;  // values 0 and 1, half each: deviation 0.5
    CHECK(deblur::signal_deviation(halves, 0.0) == doctest::Approx(0.5));
    CHECK(deblur::signal_deviation(halves, 0.3) == doctest::Approx(0.4));  // sqrt(0.25 - 0.09)
    CHECK(deblur::signal_deviation(halves, 0.6) == 0.0);                  // clamped, not NaN
}

TEST_CASE("is_texture_free: flat, quantised and pure-noise images are; edges, photos and heavy blur are not") {
    for (float level : {0.0f, 0.5f, 1.0f}) CHECK(deblur::is_texture_free(Image(xt::ones<float>({64, 64}) * level), 0.0));

    // One 8-bit level of dither on gray: below two levels.
    std::mt19937_64 rng(3);
    Image dither = xt::ones<float>({64, 64}) * 0.5f;
    for (auto& v : dither) v += float(int(rng() % 3) - 1) / 255;
    CHECK(deblur::is_texture_free(dither, 0.0));

    // Pure noise: all of its variance is the noise's.
    Image noise = xt::ones<float>({128, 128}) * 0.5f;
    deblur::add_gaussian_noise(noise, 0.1, rng);
    CHECK(deblur::is_texture_free(noise, deblur::estimate_noise_level(noise)));

    // A single edge, and the same edge blurred by a 75 px kernel with noise 0.01.
    Image edge = xt::zeros<float>({256, 256});
    xt::view(edge, xt::all(), xt::range(128, 256)) = 1.0f;
    CHECK_FALSE(deblur::is_texture_free(edge, 0.0));
    const auto kernel = deblur::MotionKernelSampler{}.sample<float>(75, rng);
    Image blurred = deblur::blur(edge, kernel, deblur::BlurMode::valid);
    deblur::add_gaussian_noise(blurred, 0.01, rng);
    CHECK_FALSE(deblur::is_texture_free(blurred, deblur::estimate_noise_level(blurred)));

    // Half and half: the deviation is half the step. A 4.5-level step passes the
    // 2-level bar, a 3.5-level one does not.
    CHECK_FALSE(deblur::is_texture_free(Image(edge * (4.5f / 255)), 0.0));
    CHECK(deblur::is_texture_free(Image(edge * (3.5f / 255)), 0.0));
}

// Known answers for the noise estimates: the sample scene (its edges are what
// a robust estimator must ignore) in three different channels, with
// independent noise of sigma per channel. Each channel's estimate, and their
// mean, is within 10 % of sigma; the luminance's noise is 0.67 sigma
// (sqrt(0.299^2 + 0.587^2 + 0.114^2)), which is why the deconvolution of a
// colour photo does not use it.
TEST_CASE("noise estimates: each channel within 10 %, the luminance at 0.67 sigma") {
    const auto photo = deblur::io::read_image(DEBLUR_SOURCE_DIR "/examples/sample-sharp.png").pixels;
    const Image gray = xt::view(photo, 0, xt::all(), xt::all());
    for (double sigma : {0.005, 0.01, 0.02, 0.05}) {
        CAPTURE(sigma);
        std::mt19937_64 rng(static_cast<unsigned>(sigma * 1e4));
        deblur::Tensor<float> colour = deblur::make_tensor<float>(3, gray.shape(0), gray.shape(1));
        const float a[3] = {0.8f, 0.6f, -0.7f}, b[3] = {0.1f, 0.2f, 0.8f};
        for (std::size_t c = 0; c < 3; ++c) {
            Image channel = a[c] * gray + b[c];
            deblur::add_gaussian_noise(channel, sigma, rng);
            xt::view(colour, c, xt::all(), xt::all()) = channel;
            CHECK(deblur::estimate_noise_level(channel) == doctest::Approx(sigma).epsilon(0.1).scale(0));
        }
        CHECK(deblur::estimate_channel_noise_level(colour) == doctest::Approx(sigma).epsilon(0.1).scale(0));
        const Image luminance = 0.299f * xt::view(colour, 0, xt::all(), xt::all()) +
                                0.587f * xt::view(colour, 1, xt::all(), xt::all()) +
                                0.114f * xt::view(colour, 2, xt::all(), xt::all());
        CHECK(deblur::estimate_noise_level(luminance) == doctest::Approx(0.668 * sigma).epsilon(0.1).scale(0));
    }
}

// 8-bit photos: the Haar details lie on a grid of 1/510, so a plain median
// jumps by whole steps of 0.0029 / 0.6745 in noise (sigma 0.004 and 0.006
// both read 0.0058, 0.0075 read 0.0087). Interpolated within the tied values'
// bin, the estimate follows sigma: within 15 % for the sample scene, noise
// added, then rounded to 8 bits (whose rounding adds sqrt(1 / 12) / 255 =
// 0.0011 of its own).
TEST_CASE("noise estimate of 8-bit images: between the quantisation steps") {
    const auto photo = deblur::io::read_image(DEBLUR_SOURCE_DIR "/examples/sample-sharp.png").pixels;
    const Image gray = xt::view(photo, 0, xt::all(), xt::all());
    for (double sigma : {0.004, 0.005, 0.006, 0.0075, 0.01}) {
        CAPTURE(sigma);
        std::mt19937_64 rng(static_cast<unsigned>(sigma * 1e5));
        Image noisy = 0.8f * gray + 0.1f;
        deblur::add_gaussian_noise(noisy, sigma, rng);
        for (float& v : noisy) v = std::round(std::clamp(v, 0.0f, 1.0f) * 255) / 255;
        const double expected = std::sqrt(sigma * sigma + 1.0 / 12 / 255 / 255);
        CHECK(deblur::estimate_noise_level(noisy) == doctest::Approx(expected).epsilon(0.15).scale(0));
    }
}
