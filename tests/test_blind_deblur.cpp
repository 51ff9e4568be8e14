#include "doctest_main.hpp"

#include <deblur/blur/blur.hpp>
#include <deblur/blur/motion_kernel_sampler.hpp>
#include <deblur/blur/noise.hpp>
#include <deblur/eval/aligned_ssd.hpp>
#include <deblur/eval/kernel_similarity.hpp>
#include <deblur/io/read_image.hpp>
#include <deblur/pipeline/blind_deblur.hpp>
#include <deblur/train/validation_set.hpp>

#include <xtensor/xview.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace {

// The sample scene (examples/) blurred 'valid' by a sampled 15 px camera-shake kernel, sigma 0.005, as 1 x H x W.
deblur::Tensor<float> blurry_photo() {
    const auto photo = deblur::io::read_image(DEBLUR_SOURCE_DIR "/examples/sample-sharp.png");
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

// The 16th validation example of deblur-validate --scale 2 --images 30
// (147091.jpg, a 33 px blur, sigma 0.01). The network's 17 px kernel fits,
// but refined on 35 px, then on 53 px, the kernel fills its support both
// times (error ratios 56 and 229); refined again from the network's kernel on
// 43 px (2.5 x 17) it fits (2.1) on some CPUs (the check below says which).
// Four refinements: skipped in unoptimised builds, run in Release.
TEST_CASE("estimate_kernel retries the refinement on other supports when the first two fail" * deblur::test::needs_shared_data(unoptimised_build)) {
    const std::filesystem::path val = std::filesystem::path(DEBLUR_SOURCE_DIR) / "../shared/data/val";
    REQUIRE(std::filesystem::exists(val / "bsds500" / "147091.jpg"));
    deblur::train::ValidationSetOptions set;
    set.kernel_sizes = {33};
    set.crop = 256;
    set.max_images = 30;
    set.noise_sigma = 0.01;
    const deblur::train::ValidationSet validation(val, set);
    REQUIRE(validation.sources().at(15).filename() == "147091.jpg");
    REQUIRE(validation.examples(33).size() > 15);
    const auto& example = validation.examples(33)[15];

    deblur::BlindDeblurOptions options;
    options.model = std::filesystem::path(DEBLUR_SOURCE_DIR) / "models/default.dbm";
    std::vector<std::string> messages;
    options.progress = [&](const std::string& m) { messages.push_back(m); };
    const auto retried = deblur::estimate_kernel(example.blurry, 0.01, options);
    const auto tried = [&](const std::string& s) { return std::find(messages.begin(), messages.end(), s) != messages.end(); };
    CHECK(tried("the kernel fills its 35 px support: trying 53 px"));
    CHECK(tried("the kernel fills its 53 px support: trying 43 px"));

    options.refine_retry_growths = {};
    options.progress = {};
    const auto kept = deblur::estimate_kernel(example.blurry, 0.01, options);
    CHECK(kept.shape(0) == 35);
    if (tried("no support fits: keeping the 35 px estimate")) {
        // Rounding differs between CPUs (FFTW's codelets): on some, the 43 and
        // 29 px retries fill their supports too; then the first estimate stays.
        MESSAGE("no retry fits on this machine");
        CHECK(retried == kept);
    } else {
        CHECK(retried.shape(0) <= 43);  // a retry's kernel, cropped to its non-zero part
        const double with_retry = deblur::kernel_similarity(retried, example.kernel);
        const double without = deblur::kernel_similarity(kept, example.kernel);
        MESSAGE("kernel similarity to the true kernel: " << with_retry << " with the retry, " << without << " without");
        CHECK(with_retry > without + 0.1);
    }
}

TEST_CASE("estimate_kernel rejects a refinement growth that is not positive") {
    const auto image = blurry_photo();
    const xt::xtensor<float, 2> gray = xt::view(image, 0, xt::all(), xt::all());
    for (double bad : {0.0, -1.0, std::nan("")}) {
        deblur::BlindDeblurOptions options;
        options.refine_retry_growths = {bad};
        CHECK_THROWS_WITH_AS(deblur::estimate_kernel(gray, 0.01, options),
                             "deblur::estimate_kernel: refine_growth and refine_retry_growths must be positive",
                             std::invalid_argument);
        options.refine_retry_growths = {};
        options.refine_growth = bad;
        CHECK_THROWS_AS(deblur::estimate_kernel(gray, 0.01, options), std::invalid_argument);
    }
}

// Flat and texture-free images once made the refinement loop for ever. Now
// they are returned as they were, with a 1 x 1 kernel and a warning; a single
// edge is deblurred as usual. Each takes at most twice the time of the
// textured sample photo of the same size (measured after a warm-up call).
TEST_CASE("blind_deblur returns flat and texture-free images unchanged, in bounded time") {
    const auto sample = deblur::io::read_image(DEBLUR_SOURCE_DIR "/examples/sample-blurry.png").pixels;
    const std::size_t h = sample.shape(1), w = sample.shape(2);
    using Clock = std::chrono::steady_clock;
    const auto seconds = [](auto&& work) {
        const auto start = Clock::now();
        work();
        return std::chrono::duration<double>(Clock::now() - start).count();
    };
    deblur::blind_deblur(sample);  // loads the model
    double textured = 0;
    const double textured_time = seconds([&] { textured = double(deblur::blind_deblur(sample).kernel.shape(0)); });
    CHECK(textured > 1);

    std::mt19937_64 rng(5);
    std::uniform_real_distribution<float> u(0, 1);
    deblur::Tensor<float> noise = deblur::make_tensor<float>(1, h, w);
    for (auto& v : noise) v = u(rng);
    deblur::Tensor<float> edge = deblur::make_tensor<float>(1, h, w, 0.2f);
    xt::view(edge, 0, xt::all(), xt::range(w / 2, w)) = 0.8f;
    const std::vector<std::pair<std::string, deblur::Tensor<float>>> flat{
        {"white", deblur::make_tensor<float>(1, h, w, 1.0f)},
        {"black", deblur::make_tensor<float>(1, h, w, 0.0f)},
        {"gray", deblur::make_tensor<float>(1, h, w, 0.5f)},
        {"colour", deblur::make_tensor<float>(3, h, w, 0.3f)},
        {"noise", noise}};
    for (const auto& [name, image] : flat) {
        CAPTURE(name);
        deblur::BlindDeblurResult result;
        const double t = seconds([&] { result = deblur::blind_deblur(image); });
        CHECK(t <= 2 * textured_time);
        CHECK(result.warning.find("no texture") != std::string::npos);
        CHECK(result.kernel == xt::xtensor<float, 2>{{1.0f}});
        CHECK(result.sharp == image);
    }
    deblur::BlindDeblurResult result;
    const double t = seconds([&] { result = deblur::blind_deblur(edge); });
    CHECK(t <= 2 * textured_time);
    CHECK(result.warning.empty());
    CHECK(result.kernel.shape(0) % 2 == 1);
    CHECK(xt::all(xt::isfinite(result.sharp)));
}

namespace {

double psnr_after_best_shift(const xt::xtensor<float, 2>& estimate, const xt::xtensor<float, 2>& truth) {
    constexpr int border = 20;
    const double ssd = deblur::aligned_ssd(estimate, truth, 5, border);
    return 10 * std::log10(double(truth.shape(0) - 2 * border) * double(truth.shape(1) - 2 * border) / ssd);
}

}  // namespace

// The sample scene (examples/: blurred 'valid' by a 17 px kernel, noise 0.01,
// and its sharp part under the blurry image): the result must be sharper than the input by a margin and the kernel
// like the true one, so a delta kernel or the input returned unchanged fails.
// Colour: three different channels (one inverted) share the gray image's
// structure; each must gain as much.
TEST_CASE("blind_deblur makes the sample photo sharper, in gray and in colour, with a kernel like the true one") {
    const auto blurry = deblur::io::read_image(DEBLUR_SOURCE_DIR "/examples/sample-blurry.png").pixels;
    const auto sharp = deblur::io::read_image(DEBLUR_SOURCE_DIR "/examples/sample-sharp.png").pixels;
    const auto kernel_image = deblur::io::read_image(DEBLUR_SOURCE_DIR "/examples/sample-kernel.pfm").pixels;
    const xt::xtensor<float, 2> true_kernel = xt::view(kernel_image, 0, xt::all(), xt::all());
    const std::size_t n = blurry.shape(1);
    REQUIRE(sharp.shape() == blurry.shape());  // the sharp scene's part under the blurry image
    const xt::xtensor<float, 2> truth = xt::view(sharp, 0, xt::all(), xt::all());
    const xt::xtensor<float, 2> gray = xt::view(blurry, 0, xt::all(), xt::all());
    const double blurry_psnr = psnr_after_best_shift(gray, truth);

    const auto result = deblur::blind_deblur(blurry);
    const double gain = psnr_after_best_shift(xt::xtensor<float, 2>(xt::view(result.sharp, 0, xt::all(), xt::all())), truth) -
                        blurry_psnr;
    const double similarity = deblur::kernel_similarity(result.kernel, true_kernel);
    MESSAGE("gray: gain " << gain << " dB, kernel similarity " << similarity);
    CHECK(result.warning.empty());
    CHECK(gain > 5.0);  // measured 11.2 dB (Release, 2-core development machine)
    CHECK(similarity > 0.8);

    // Channels: a x + b per channel, so the truth of each is known.
    const float a[3] = {1.0f, 0.8f, -1.0f}, b[3] = {0.0f, 0.1f, 1.0f};
    deblur::Tensor<float> colour = deblur::make_tensor<float>(3, n, n);
    for (std::size_t c = 0; c < 3; ++c) xt::view(colour, c, xt::all(), xt::all()) = a[c] * gray + b[c];
    const auto coloured = deblur::blind_deblur(colour);
    REQUIRE(coloured.sharp.shape() == colour.shape());
    CHECK(deblur::kernel_similarity(coloured.kernel, true_kernel) > 0.8);
    for (std::size_t c = 0; c < 3; ++c) {
        CAPTURE(c);
        const xt::xtensor<float, 2> channel_truth = a[c] * truth + b[c];
        const xt::xtensor<float, 2> in = xt::view(colour, c, xt::all(), xt::all());
        const xt::xtensor<float, 2> out = xt::view(coloured.sharp, c, xt::all(), xt::all());
        const double channel_gain = psnr_after_best_shift(out, channel_truth) - psnr_after_best_shift(in, channel_truth);
        MESSAGE("channel " << c << ": gain " << channel_gain << " dB");
        CHECK(channel_gain > 4.0);  // measured 7.8-8.3 dB
    }
}
