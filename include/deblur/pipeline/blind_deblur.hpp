#pragma once
// The library's one-call API:
//
//   auto result = deblur::blind_deblur(image);   // C x H x W in [0, 1]
//   result.sharp, result.kernel, result.noise
//
//   auto sharp = deblur::deconvolve(image, kernel, deblur::DeconvOptions::for_noise(0.01));
//
// The kernel is estimated once on the luminance (on the window with the most
// edges of a large photo) by the network, then refined classically
// (KernelRefiner, unless options.refine is off); every channel is then
// deconvolved with it by the hyper-Laplacian solver. A texture-free image
// (texture.hpp: flat, or nothing above its noise) is returned unchanged with
// a 1 x 1 kernel and result.warning saying so.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

#include "../blur/crop_kernel.hpp"
#include "../eval/kernel_similarity.hpp"
#include "../core/tensor.hpp"
#include "../deconv/hyper_laplacian.hpp"
#include "blind_deblur_options.hpp"
#include "blind_deblur_timings.hpp"
#include "estimation_window.hpp"
#include "kernel_estimator.hpp"
#include "kernel_refiner.hpp"
#include "model_directory.hpp"
#include "noise_level.hpp"
#include "texture.hpp"

namespace deblur {

struct BlindDeblurResult {
    Tensor<float> sharp;           // C x H x W, same range as the input
    xt::xtensor<float, 2> kernel;  // odd square, sum 1, convolution convention
    double noise = 0;              // the channels' noise level (estimated or given), used by the deconvolution
    BlindDeblurTimings timings;    // wall and CPU seconds per stage
    // Non-empty when the photo was not deblurred as usual, saying why (e.g. a
    // texture-free image, returned as it was with a 1 x 1 kernel).
    std::string warning;
};

namespace detail {

inline void check_image(const Tensor<float>& image, const char* who) {
    if (image.shape(0) < 1 || image.shape(1) < 1 || image.shape(2) < 1)
        throw std::invalid_argument(std::string(who) + ": empty image");
    for (float v : image)
        if (!std::isfinite(v)) throw std::invalid_argument(std::string(who) + ": the image contains NaN or infinity");
}

inline xt::xtensor<float, 2> luminance(const Tensor<float>& image) {
    if (image.shape(0) >= 3)
        return 0.299f * xt::view(image, 0, xt::all(), xt::all()) + 0.587f * xt::view(image, 1, xt::all(), xt::all()) +
               0.114f * xt::view(image, 2, xt::all(), xt::all());
    return xt::view(image, 0, xt::all(), xt::all());
}

// What the one-call API keeps per thread between calls (release_thread_caches
// frees it): the estimator of the last model file used, with its network's
// buffers, so repeated calls (frames, benchmarks) neither reload the model nor
// fault in fresh pages for every layer; and the deconvolver and refiner, whose
// buffers (at 2048^2 some 200 MB of canvases and spectra; a few MB for the
// refiner) would otherwise be faulted in afresh on every call, which measured
// ~3 ms per MB on the 2-core machine. They stay allocated at the size of the
// largest image deconvolved on the thread.
struct ThreadCaches {
    std::filesystem::path model_path;  // the estimator's file, its size and time when loaded
    std::uintmax_t model_size = 0;
    std::filesystem::file_time_type model_time{};
    std::unique_ptr<KernelEstimator<>> estimator;
    std::unique_ptr<HyperLaplacianDeconvolver<float>> deconvolver;
    std::unique_ptr<KernelRefiner<float>> refiner;
};

inline ThreadCaches& thread_caches() {
    thread_local ThreadCaches caches;
    return caches;
}

// The cached estimator for `model`; a file that changed (size or time) is loaded again.
inline KernelEstimator<>& cached_estimator(const std::filesystem::path& model) {
    ThreadCaches& c = thread_caches();
    std::error_code ec;
    const auto size = std::filesystem::file_size(model, ec);
    const auto time = std::filesystem::last_write_time(model, ec);
    if (ec || !c.estimator || c.model_path != model || c.model_size != size || c.model_time != time) {
        c.estimator.reset();  // a failed load below must not leave a stale entry
        c.estimator = std::make_unique<KernelEstimator<>>(model);
        c.model_path = model;
        c.model_size = size;
        c.model_time = time;
    }
    return *c.estimator;
}

inline HyperLaplacianDeconvolver<float>& cached_deconvolver(const DeconvOptions& options) {
    auto& solver = thread_caches().deconvolver;
    if (!solver) solver = std::make_unique<HyperLaplacianDeconvolver<float>>();
    solver->set_options(options);
    return *solver;
}

inline KernelRefiner<float>& cached_refiner(const KernelRefinerOptions& options) {
    auto& refiner = thread_caches().refiner;
    if (!refiner) refiner = std::make_unique<KernelRefiner<float>>();
    refiner->set_options(options);
    return *refiner;
}

}  // namespace detail

// Frees what blind_deblur, estimate_kernel and deconvolve keep on the calling
// thread between calls (the loaded network, the deconvolver's and refiner's
// buffers: ~210 MB after a 2048^2 image). The next call rebuilds them, with
// the same results. For long-running programs that deblur once in a while.
inline void release_thread_caches() { detail::thread_caches() = {}; }

// Non-blind deconvolution of every channel with a known kernel.
inline Tensor<float> deconvolve(const Tensor<float>& image, const xt::xtensor<float, 2>& kernel,
                                const DeconvOptions& options) {
    detail::check_image(image, "deblur::deconvolve");
    if (kernel.shape(0) % 2 == 0 || kernel.shape(1) % 2 == 0)
        throw std::invalid_argument("deblur::deconvolve: the kernel must have odd width and height");
    if (kernel.shape(0) > image.shape(1) || kernel.shape(1) > image.shape(2))
        throw std::invalid_argument("deblur::deconvolve: the image is smaller than the kernel");
    return detail::cached_deconvolver(options).deconvolve(image, kernel);
}

namespace detail {

inline constexpr const char* texture_free_warning =
    "the image has no texture above its noise to estimate a blur from: the kernel is a delta";

// What the kernel estimation found: the kernel, and whether it is reliable.
struct KernelEstimate {
    xt::xtensor<float, 2> kernel;
    // False for a texture-free crop (a 1 x 1 kernel) and when no two supports
    // of the ladder agreed (see BlindDeblurOptions): blind_deblur and
    // nonuniform_deblur return the photo unchanged, saying `note`.
    bool reliable = true;
    std::string note;  // why it is not reliable
};

// The largest kernel support the refinement takes on a crop: odd, at most half its shorter side.
inline int largest_support(const xt::xtensor<float, 2>& crop) {
    const int limit = static_cast<int>(std::min(crop.shape(0), crop.shape(1)) / 2);
    return std::max(3, limit % 2 ? limit : limit - 1);
}

// The refinement on a ladder of supports (automatic size): each support is
// refine_ladder_growth times the previous one, the first refine_growth times
// the network's kernel, the last at most half the crop. A kernel is accepted
// when it lies inside its support (kernel_fits_support) and agrees with the
// previous support's kernel (kernel_similarity >= refine_agreement): a blur
// that a support holds comes out the same on a larger one, while a failed
// estimate spreads noise that changes with the support. The smaller of the
// two is kept when it fits too. Each refinement starts from the network's
// kernel, so an error on one support does not carry over to the next.
inline KernelEstimate refine_on_ladder(KernelRefiner<float>& refiner, const xt::xtensor<float, 2>& crop,
                                       const xt::xtensor<float, 2>& network_kernel, double noise,
                                       const BlindDeblurOptions& options) {
    const auto say = [&](const std::string& s) { if (options.progress) options.progress(s); };
    const int largest = largest_support(crop);
    std::vector<int> ladder{std::min(largest, KernelRefiner<float>::support_for(network_kernel.shape(0), options.refine_growth))};
    while (ladder.back() < largest && int(ladder.size()) < options.refine_ladder_steps)
        ladder.push_back(std::min(largest, KernelRefiner<float>::support_for(std::size_t(ladder.back()), options.refine_ladder_growth)));
    const auto trimmed = [](const xt::xtensor<float, 2>& k) { return crop_kernel_to_support(k, 0.0, 1); };

    xt::xtensor<float, 2> previous = refiner.refine(crop, network_kernel, ladder[0], noise, options.progress);
    if (ladder.size() == 1) {
        if (kernel_fits_support(previous)) return {trimmed(previous), true, {}};
        return {trimmed(previous), false,
                "the kernel fills its " + std::to_string(ladder[0]) + " px support, the largest this image allows"};
    }
    xt::xtensor<float, 2> least_filled = previous;
    for (std::size_t i = 1; i < ladder.size(); ++i) {
        const auto k = refiner.refine(crop, network_kernel, ladder[i], noise, options.progress);
        const bool fits = kernel_fits_support(k);
        const double agreement = kernel_similarity(trimmed(k), trimmed(previous));
        say("kernels on " + std::to_string(ladder[i - 1]) + " and " + std::to_string(ladder[i]) + " px supports: similarity " +
            std::to_string(agreement) + (fits ? "" : ", the larger fills its support"));
        if (fits && agreement >= options.refine_agreement)
            return {trimmed(kernel_fits_support(previous) ? previous : k), true, {}};
        if (kernel_outer_mass(k) < kernel_outer_mass(least_filled)) least_filled = k;
        previous = k;
    }
    return {trimmed(least_filled), false,
            "the kernels on supports of " + std::to_string(ladder.front()) + " to " + std::to_string(ladder.back()) +
                " px disagree: the blur could not be estimated reliably"};
}

// estimate_kernel below, with the reliability of the estimate, adding the
// network's and the refinement's times to `timings` when given.
inline KernelEstimate estimate_kernel(const xt::xtensor<float, 2>& crop, double noise, const BlindDeblurOptions& options,
                                      BlindDeblurTimings* timings) {
    StageClock clock;
    if (!(options.refine_growth > 0) || !std::isfinite(options.refine_growth) || !(options.refine_ladder_growth > 1) ||
        !std::isfinite(options.refine_ladder_growth) || options.refine_ladder_steps < 1 ||
        !(options.refine_agreement >= 0 && options.refine_agreement <= 1))
        throw std::invalid_argument("deblur::estimate_kernel: refine_growth must be positive, refine_ladder_growth above 1, "
                                    "refine_ladder_steps at least 1 and refine_agreement in [0, 1]");
    const auto say = [&](const std::string& s) { if (options.progress) options.progress(s); };
    if (is_texture_free(crop, noise)) {
        say(texture_free_warning);
        return {xt::xtensor<float, 2>{{1.0f}}, false, texture_free_warning};
    }
    const auto model = options.model.empty() ? default_model_for_noise(noise) : options.model;
    say("model " + model.string());
    KernelEstimate estimate{options.network ? options.network(crop, model, options.kernel_size, options.progress)
                                            : cached_estimator(model).estimate(crop, options.kernel_size, options.progress),
                            true, {}};
    clock.lap(timings ? &timings->network : nullptr);
    if (options.refine && noise > options.refine_max_noise)
        say("noise above " + std::to_string(options.refine_max_noise) + ": the network's kernel is used unrefined");
    if (options.refine && noise <= options.refine_max_noise) {
        KernelRefiner<float>& refiner = cached_refiner(options.refinement);
        if (options.kernel_size > 0) {
            const int size = std::min(largest_support(crop), options.kernel_size | 1);
            estimate.kernel = crop_kernel_to_support(refiner.refine(crop, estimate.kernel, size, noise, options.progress), 0.0, 1);
        } else {
            estimate = refine_on_ladder(refiner, crop, estimate.kernel, noise, options);
        }
        clock.lap(timings ? &timings->refinement : nullptr);
    }
    return estimate;
}

}  // namespace detail

// The kernel of a gray image (intensities in [0, 1], linear) with noise level
// `noise`, as blind_deblur finds it on its estimation window: the network
// (options.model, or the shipped model for the noise level), then, unless
// options.refine is off or the noise is above options.refine_max_noise, the
// classical refinement. A texture-free crop (texture.hpp) gets a 1 x 1 delta.
inline xt::xtensor<float, 2> estimate_kernel(const xt::xtensor<float, 2>& crop, double noise,
                                             const BlindDeblurOptions& options = {}) {
    return detail::estimate_kernel(crop, noise, options, nullptr).kernel;
}

inline BlindDeblurResult blind_deblur(const Tensor<float>& image, const BlindDeblurOptions& options = {}) {
    detail::StageClock clock;
    detail::check_image(image, "deblur::blind_deblur");
    if (!(options.gamma > 0)) throw std::invalid_argument("deblur::blind_deblur: gamma must be positive");
    const auto say = [&](const std::string& s) { if (options.progress) options.progress(s); };
    BlindDeblurResult result;

    Tensor<float> converted;  // the image in linear light, unless it is already (gamma 1: no copy)
    if (options.gamma != 1) converted = xt::pow(xt::maximum(image, 0.0f), float(options.gamma));
    const Tensor<float>& linear = options.gamma == 1 ? image : converted;
    const auto gray = detail::luminance(linear);
    // The kernel is estimated on the luminance, with the luminance's noise;
    // the channels are deconvolved with theirs (lower in the luminance when
    // the channels' noise is independent). A given noise level serves both.
    const double gray_noise = options.noise >= 0 ? options.noise : estimate_noise_level(gray);
    result.noise = options.noise >= 0 || linear.shape(0) == 1 ? gray_noise : estimate_channel_noise_level(linear);
    if (options.noise < 0) say("estimated noise level " + std::to_string(result.noise));

    const auto window = choose_estimation_window(gray, options.estimation_size);
    const xt::xtensor<float, 2> crop = xt::view(gray, xt::range(window.row, window.row + window.rows),
                                                xt::range(window.col, window.col + window.cols));
    clock.lap(&result.timings.preparation);
    auto estimate = detail::estimate_kernel(crop, gray_noise, options, &result.timings);
    result.kernel = std::move(estimate.kernel);
    if (!estimate.reliable) {  // a texture-free crop or a failed estimate: the photo as it was
        result.warning = estimate.note + "; the image is returned unchanged";
        result.sharp = image;
        return result;
    }
    clock.restart();
    say("kernel " + std::to_string(result.kernel.shape(0)) + " x " + std::to_string(result.kernel.shape(1)) +
        "; deconvolving " + std::to_string(image.shape(0)) + " channel(s)");

    result.sharp = deconvolve(linear, result.kernel, DeconvOptions::for_noise(result.noise));
    if (options.gamma != 1)
        result.sharp = xt::pow(xt::clip(result.sharp, 0.0f, 1.0f), float(1 / options.gamma));
    clock.lap(&result.timings.deconvolution);
    return result;
}

}  // namespace deblur
