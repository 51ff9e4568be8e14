#include "doctest_main.hpp"

#include <deblur/blur/blur.hpp>
#include <deblur/blur/motion_kernel_sampler.hpp>
#include <deblur/blur/noise.hpp>
#include <deblur/io/read_image.hpp>
#include <deblur/pipeline/blind_deblur.hpp>

#include <xtensor/xview.hpp>

#include <random>

namespace {

// A Levin sharp photo blurred 'valid' by a sampled 15 px camera-shake kernel, sigma 0.005, as 1 x H x W.
deblur::Tensor<float> blurry_photo() {
    const auto photo = deblur::io::read_image(DEBLUR_SOURCE_DIR "/../shared/data/levin/im3_ker1_sharp.pfm");
    const xt::xtensor<float, 2> sharp = xt::view(photo.pixels, 0, xt::all(), xt::all());
    std::mt19937_64 rng(11);
    const auto kernel = deblur::MotionKernelSampler{}.sample<float>(15, rng);
    xt::xtensor<float, 2> blurry = deblur::blur(sharp, kernel, deblur::BlurMode::valid);
    deblur::add_gaussian_noise(blurry, 0.005, rng);
    deblur::Tensor<float> image = deblur::make_tensor<float>(1, blurry.shape(0), blurry.shape(1));
    std::copy(blurry.begin(), blurry.end(), image.begin());
    return image;
}

}  // namespace

TEST_CASE("blind_deblur keeps its caches between calls, and release_thread_caches frees them without changing results") {
    const auto image = blurry_photo();
    const auto first = deblur::blind_deblur(image);
    REQUIRE(first.sharp.shape() == image.shape());
    REQUIRE(first.kernel.shape(0) % 2 == 1);
    CHECK(double(xt::sum(first.kernel)()) == doctest::Approx(1.0).epsilon(1e-4));

    auto& caches = deblur::detail::thread_caches();
    CHECK(caches.estimator != nullptr);
    CHECK(caches.deconvolver != nullptr);
    CHECK(caches.refiner != nullptr);
    const auto* deconvolver = caches.deconvolver.get();
    const auto again = deblur::blind_deblur(image);
    CHECK(caches.deconvolver.get() == deconvolver);  // reused, not rebuilt
    CHECK(again.kernel == first.kernel);
    CHECK(again.sharp == first.sharp);

    deblur::release_thread_caches();
    CHECK(caches.estimator == nullptr);
    CHECK(caches.deconvolver == nullptr);
    CHECK(caches.refiner == nullptr);
    CHECK(caches.model_path.empty());

    const auto rebuilt = deblur::blind_deblur(image);
    CHECK(rebuilt.kernel == first.kernel);
    CHECK(rebuilt.sharp == first.sharp);
}
