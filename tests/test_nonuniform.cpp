// The nonuniform pipeline's pieces: synthetic camera shake with rotation
// (CameraShakeSampler), the network's kernel field (EFFKernelEstimator), the
// field refinement in the camera-motion basis (KernelFieldRefiner), and
// nonuniform_deblur end to end on a small synthetic photo.
#include "doctest_main.hpp"

#include <deblur/blur/camera_shake_sampler.hpp>
#include <deblur/blur/center_kernel.hpp>
#include <deblur/blur/eff.hpp>
#include <deblur/blur/noise.hpp>
#include <deblur/deconv/eff_deconvolver.hpp>
#include <deblur/eval/aligned_ssd.hpp>
#include <deblur/io/read_image.hpp>
#include <deblur/net/model_error.hpp>
#include <deblur/pipeline/eff_kernel_estimator.hpp>
#include <deblur/pipeline/blind_deblur.hpp>
#include <deblur/pipeline/kernel_field_refiner.hpp>
#include <deblur/pipeline/nonuniform_deblur.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <xtensor/xview.hpp>

namespace {

using deblur::Tensor;
using Image = xt::xtensor<float, 2>;
namespace fs = std::filesystem;

const fs::path default_model = fs::path(DEBLUR_SOURCE_DIR) / "models" / "default.dbm";

// Blocks, discs and a ramp: strong edges in every direction everywhere.
Image scene(std::size_t h, std::size_t w) {
    Image x = xt::zeros<float>({h, w});
    for (std::size_t r = 0; r < h; ++r)
        for (std::size_t c = 0; c < w; ++c) {
            const bool square = ((r / 11) + (c / 8)) % 2 == 0;
            const double dr = double(r % 40) - 20, dc = double(c % 50) - 25;
            const bool disc = dr * dr + dc * dc < 120;
            x(r, c) = float(0.1 + 0.4 * square + 0.3 * disc + 0.1 * double(r + c) / double(h + w));
        }
    return x;
}

double field_distance(const Tensor<float>& a, const Tensor<float>& b) {
    double s = 0;
    for (std::size_t i = 0; i < a.size(); ++i) s += std::pow(double(a.data()[i]) - b.data()[i], 2);
    return std::sqrt(s);
}

}  // namespace

TEST_CASE("CameraShakeSampler: seeded trajectories whose local kernels fit, are centred, and vary with the rotation") {
    deblur::CameraShakeSampler sampler;
    std::mt19937_64 a(3), b(3);
    const auto t = sampler.sample(200, 240, 21, a);
    const auto u = sampler.sample(200, 240, 21, b);
    CHECK(t.theta == u.theta);
    CHECK(t.tx == u.tx);
    const deblur::EFFGrid grid(200, 240, 3, 3);
    const auto field = deblur::CameraShakeSampler::kernel_field<float>(t, grid, 21);
    REQUIRE(field.shape() == std::array<std::size_t, 3>{9, 21, 21});
    for (std::size_t p = 0; p < 9; ++p) {
        const Image k = xt::view(field, p, xt::all(), xt::all());
        CHECK(xt::amin(k)() >= 0);
        CHECK(xt::sum(k)() == doctest::Approx(1.0).epsilon(1e-5));
        // Nothing within a pixel of the border (the trajectory was shrunk to fit).
        for (std::size_t i = 0; i < 21; ++i) {
            CHECK(k(0, i) == 0);
            CHECK(k(i, 20) == 0);
        }
        const auto [cr, cc] = deblur::kernel_centroid(k);
        CHECK(std::abs(cr - 10) < 0.5);
        CHECK(std::abs(cc - 10) < 0.5);
    }
    // Rotation: the corner kernels differ from each other; without it every kernel is the same.
    const Image first = xt::view(field, 0, xt::all(), xt::all()), last = xt::view(field, 8, xt::all(), xt::all());
    CHECK(xt::sum(xt::abs(first - last))() > 0.2);
    deblur::CameraShakeSampler translation_only(deblur::CameraShakeOptions{0.5, 0.0, {}});
    std::mt19937_64 c(4);
    const auto still = translation_only.sample(200, 240, 21, c);
    const auto flat = deblur::CameraShakeSampler::kernel_field<float>(still, grid, 21);
    const Image f0 = xt::view(flat, 0, xt::all(), xt::all()), f8 = xt::view(flat, 8, xt::all(), xt::all());
    CHECK(xt::amax(xt::abs(f0 - f8))() < 1e-6);

    CHECK_THROWS_AS(sampler.sample(200, 200, 20, a), std::invalid_argument);
    CHECK_THROWS_AS(sampler.sample(0, 200, 21, a), std::invalid_argument);
    CHECK_THROWS_AS(deblur::CameraShakeSampler(deblur::CameraShakeOptions{0.0, 0.0, {}}), std::invalid_argument);
    CHECK_THROWS_AS(deblur::CameraShakeSampler(deblur::CameraShakeOptions{-1.0, 0.5, {}}), std::invalid_argument);
}

TEST_CASE("EFFKernelEstimator: the uniform model's field, one normalised, centred kernel per patch") {
    deblur::EFFKernelEstimator<> estimator(default_model);
    CHECK(estimator.from_uniform_model());
    const int kn = estimator.largest_kernel();
    CHECK(kn == 33);  // the shipped model's three trained scales (17, 25, 33 px)
    const auto sharp = scene(150, 170);
    const Image blurry = xt::view(sharp, xt::range(0, 140), xt::range(0, 160));
    const auto field = estimator.estimate(blurry, 2, 2, 21);
    REQUIRE(field.shape() == std::array<std::size_t, 3>{4, 21, 21});
    for (std::size_t p = 0; p < 4; ++p) {
        const Image k = xt::view(field, p, xt::all(), xt::all());
        CHECK(xt::amin(k)() >= 0);
        CHECK(xt::sum(k)() == doctest::Approx(1.0).epsilon(1e-4));
    }
    CHECK(estimator.factor(140, 160, kn + 8, 1024) == doctest::Approx(double(kn) / (kn + 8)));
    CHECK(estimator.factor(140, 160, 21, 1024) == 1);  // never enlarged
    CHECK(estimator.factor(4000, 3000, 17, 1024) == doctest::Approx(1024.0 / 4000));
    CHECK_THROWS_AS(estimator.estimate(blurry, 2, 2, 20), std::invalid_argument);
    const Image small = xt::view(sharp, xt::range(0, 30), xt::range(0, 30));
    CHECK_THROWS_AS(estimator.estimate(small, 1, 1, 17), std::invalid_argument);

    const fs::path junk = fs::temp_directory_path() / ("deblur-junk-" + std::to_string(std::random_device{}()) + ".dbm");
    std::ofstream(junk) << "not a model";
    CHECK_THROWS_AS(deblur::EFFKernelEstimator<>{junk}, deblur::ModelError);
    fs::remove(junk);
}

TEST_CASE("KernelFieldRefiner moves a uniform start towards the true spatially-varying field") {
    const std::size_t h = 128, w = 128, s = 15, gr = 2, gc = 2;
    deblur::CameraShakeSampler sampler(deblur::CameraShakeOptions{0.3, 1.0, {}});
    std::mt19937_64 rng(11);
    const auto grid = deblur::EFFDeconvolver<float>::latent_grid(h, w, s, s, gr, gc);
    const auto t = sampler.sample(grid.rows(), grid.cols(), int(s), rng);
    const auto truth = deblur::CameraShakeSampler::kernel_field<float>(t, grid, int(s));
    deblur::EFFBlur<float> model(grid, s, s, deblur::BlurMode::valid);
    model.set_kernels(truth);
    Image blurry = model.apply(scene(grid.rows(), grid.cols()));
    deblur::add_gaussian_noise(blurry, 0.005, rng);
    // Start: the mean of the true kernels everywhere (what a uniform estimate at best gives).
    Tensor<float> start = truth;
    for (std::size_t i = 0; i < s * s; ++i) {
        float m = 0;
        for (std::size_t p = 0; p < gr * gc; ++p) m += truth.data()[p * s * s + i] / float(gr * gc);
        for (std::size_t p = 0; p < gr * gc; ++p) start.data()[p * s * s + i] = m;
    }
    const deblur::CameraMotionBasis<float> basis(grid, deblur::CameraPoseGrid::for_kernel(grid, s, s), s, s);
    deblur::KernelFieldRefinerOptions options;
    options.iterations = 2;
    options.fit_iterations = 20;
    options.eta = 0.05;
    const auto refined = deblur::KernelFieldRefiner<float>(options).refine(blurry, start, basis, 0.005);
    REQUIRE(refined.shape() == truth.shape());
    const double before = field_distance(start, truth), after = field_distance(refined, truth);
    MESSAGE("kernel-field L2 distance to the truth: start " << before << ", refined " << after);
    CHECK(after < 0.85 * before);

    const Tensor<float> wrong = deblur::make_tensor<float>(gr * gc, s + 2, s + 2, 1.0f);
    CHECK_THROWS_AS(deblur::KernelFieldRefiner<float>().refine(blurry, wrong, basis, 0.005), std::invalid_argument);
    deblur::KernelFieldRefinerOptions bad;
    bad.eta = 0;
    CHECK_THROWS_AS(deblur::KernelFieldRefiner<float>{bad}, std::invalid_argument);
}

TEST_CASE("nonuniform_deblur: a field per patch, closer to the true field than the uniform kernel" * deblur::test::needs_shared_data()) {
    const std::size_t h = 160, w = 176, k = 11;
    deblur::CameraShakeSampler sampler(deblur::CameraShakeOptions{0.4, 0.8, {}});
    std::mt19937_64 rng(5);
    const auto t = sampler.sample(h + k - 1, w + k - 1, int(k), rng);
    deblur::EFFBlur<float> model(deblur::EFFGrid(h + k - 1, w + k - 1, 4, 4), k, k, deblur::BlurMode::valid);
    model.set_kernels(deblur::CameraShakeSampler::kernel_field<float>(t, model.grid(), int(k)));
    const auto photo = deblur::io::read_image(DEBLUR_SOURCE_DIR "/../shared/data/levin/im2_ker1_sharp.pfm");
    const Image sharp = xt::view(photo.pixels, 0, xt::range(40, 40 + h + k - 1), xt::range(40, 40 + w + k - 1));
    Image blurry = model.apply(sharp);
    deblur::add_gaussian_noise(blurry, 0.005, rng);
    auto input = deblur::make_tensor<float>(1, h, w);
    xt::view(input, 0, xt::all(), xt::all()) = blurry;

    deblur::NonuniformDeblurOptions options;
    options.grid_rows = options.grid_cols = 2;
    options.base.noise = 0.005;
    options.base.kernel_size = int(k);  // the blur size given: the test is about the field, not the size rule
    options.field_refinement.iterations = 2;
    options.field_refinement.fit_iterations = 15;
    const auto result = deblur::nonuniform_deblur(input, options);
    REQUIRE(result.sharp.shape() == input.shape());
    CHECK(xt::all(xt::isfinite(result.sharp)));
    const std::size_t s = result.kernels.shape(1);
    REQUIRE(result.kernels.shape() == std::array<std::size_t, 3>{4, s, s});
    CHECK(s % 2 == 1);
    // Kernel similarity to the trajectory's kernel at each patch centre: the
    // field against the uniform kernel it started from.
    const auto grid = deblur::EFFDeconvolver<float>::latent_grid(h, w, s, s, 2, 2);
    double field_similarity = 0, uniform_similarity = 0;
    for (std::size_t p = 0; p < 4; ++p) {
        const Image kp = xt::view(result.kernels, p, xt::all(), xt::all());
        CHECK(xt::amin(kp)() >= 0);
        CHECK(xt::sum(kp)() == doctest::Approx(1.0).epsilon(1e-4));
        const double row = grid.row_centre(grid.grid_row(p)) - double(s / 2) + double(k / 2);
        const double col = grid.col_centre(grid.grid_col(p)) - double(s / 2) + double(k / 2);
        const auto truth = deblur::CameraShakeSampler::kernel_at<float>(t, row, col, int(k));
        field_similarity += deblur::kernel_similarity(kp, truth) / 4;
        uniform_similarity += deblur::kernel_similarity(result.uniform_kernel, truth) / 4;
    }
    MESSAGE("mean kernel similarity to the true field: nonuniform " << field_similarity << ", uniform kernel "
                                                                   << uniform_similarity);
    CHECK(field_similarity > uniform_similarity);

    CHECK(field_similarity > 0.7);  // measured 0.74; the uniform kernel 0.68, a delta about 0.4

    // The image: as close to the sharp one (after the best shift) as the
    // deconvolution with the true field gets, within 1.5 dB (measured 1.1 dB
    // below it). On this mild blur (PSNR 32 dB) neither beats the blurry input.
    const Image truth = xt::view(sharp, xt::range(k / 2, k / 2 + h), xt::range(k / 2, k / 2 + w));
    const auto psnr = [&](const deblur::Tensor<float>& estimate) {
        constexpr int border = 25;
        const double n = double(h - 2 * border) * double(w - 2 * border);
        return 10 * std::log10(n / deblur::aligned_ssd(Image(xt::view(estimate, 0, xt::all(), xt::all())), truth, 12, border));
    };
    const auto true_field = deblur::CameraShakeSampler::kernel_field<float>(
        t, deblur::EFFDeconvolver<float>::latent_grid(h, w, k, k, 2, 2), int(k));
    const auto with_true_field = deblur::EFFDeconvolver<float>(deblur::DeconvOptions::for_noise(0.005), options.cg_iterations)
                                     .deconvolve(input, true_field, 2, 2);
    MESSAGE("PSNR: estimated field " << psnr(result.sharp) << " dB, true field " << psnr(with_true_field) << " dB");
    CHECK(psnr(result.sharp) > psnr(with_true_field) - 1.5);

    // Step 1 is the uniform pipeline's kernel (the window is the whole image
    // here), by default without the refinement's tail pruning, with it on request.
    deblur::BlindDeblurOptions untrimmed = options.base;
    untrimmed.refinement.tail_prune = 0;
    const Image without = deblur::estimate_kernel(blurry, 0.005, untrimmed);
    const Image with = deblur::estimate_kernel(blurry, 0.005, options.base);
    CHECK(result.uniform_kernel == without);
    REQUIRE(!(with == without));  // else the option would not matter on this image
    auto pruned = options;
    pruned.uniform_tail_pruning = true;
    pruned.refine_field = false;  // step 1 is what is checked
    CHECK(deblur::nonuniform_deblur(input, pruned).uniform_kernel == with);

    // A grid whose patches are smaller than the kernel needs is refused before any estimation.
    options.grid_rows = options.grid_cols = 5;
    try {
        deblur::nonuniform_deblur(input, options);
        FAIL("a 5x5 grid on 176 x 160 was accepted");
    } catch (const std::invalid_argument& e) {
        CHECK(std::string(e.what()).find("use a coarser grid") != std::string::npos);
    }
    options.grid_rows = 0;
    CHECK_THROWS_AS(deblur::nonuniform_deblur(input, options), std::invalid_argument);
}
