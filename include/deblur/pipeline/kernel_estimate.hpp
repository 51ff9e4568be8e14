#pragma once
// The kernel estimate shared by the uniform and the spatially-varying
// pipelines (Deblurrer, nonuniform_deblur): the network, then the classical
// refinement on a ladder of supports, with a verdict on its reliability.
#include <algorithm>
#include <exception>
#include <functional>
#include <span>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

#include "../blur/crop_kernel.hpp"
#include "../core/cancelled.hpp"
#include "../core/openmp.hpp"
#include "../core/tensor.hpp"
#include "../fft/fftw.hpp"
#include "../eval/kernel_similarity.hpp"
#include "../net/model.hpp"
#include "blind_deblur_options.hpp"
#include "blind_deblur_timings.hpp"
#include "kernel_estimator.hpp"
#include "kernel_refiner.hpp"
#include "texture.hpp"
#include "workspace.hpp"

namespace deblur {

// What a kernel estimation found: the kernel, and whether it can be trusted.
struct KernelEstimate {
    xt::xtensor<float, 2> kernel;  // odd square, sum 1, convolution convention
    // False for a texture-free image (a 1 x 1 kernel) and when no two
    // supports of the ladder agreed (BlindDeblurOptions): the deblurring
    // calls then return the image unchanged, saying `note`.
    bool reliable = true;
    std::string note;  // why it is not reliable
    double noise = 0;  // the noise level the kernel was estimated with
};

namespace detail {

// Throws unless the image (a tensor of any rank) has values, all finite.
template <class E>
void check_image(const E& image, const char* who) {
    if (image.size() == 0) throw std::invalid_argument(std::string(who) + ": empty image");
    for (float v : image)
        if (!std::isfinite(v)) throw std::invalid_argument(std::string(who) + ": the image contains NaN or infinity");
}

inline xt::xtensor<float, 2> luminance(const Tensor<float>& image) {
    if (image.shape(0) >= 3)
        return 0.299f * xt::view(image, 0, xt::all(), xt::all()) + 0.587f * xt::view(image, 1, xt::all(), xt::all()) +
               0.114f * xt::view(image, 2, xt::all(), xt::all());
    return xt::view(image, 0, xt::all(), xt::all());
}

inline constexpr const char* texture_free_warning =
    "the image has no texture above its noise to estimate a blur from: the kernel is a delta";

// The largest kernel support the refinement takes on a crop: odd, at most half its shorter side.
inline int largest_support(const xt::xtensor<float, 2>& crop) {
    const int limit = static_cast<int>(std::min(crop.shape(0), crop.shape(1)) / 2);
    return std::max(3, limit % 2 ? limit : limit - 1);
}

// Kernels refined from `initial` on each of `supports` at once, one
// refinement per refiner and thread (with the threads left over for FFTW's
// large transforms). Each refinement is sequential and deterministic, so the
// kernels are those of refining one support after the other; their progress
// lines are passed on in the order of `supports` once all are done, and an
// exception (the first in that order) once all have stopped.
inline std::vector<xt::xtensor<float, 2>> refine_supports(const std::vector<KernelRefiner<float>*>& refiners,
                                                          const xt::xtensor<float, 2>& crop,
                                                          const xt::xtensor<float, 2>& initial, std::span<const int> supports,
                                                          double noise, const BlindDeblurOptions& options) {
    const std::size_t n = supports.size();
    if (refiners.size() < n) throw std::logic_error("deblur::refine_supports: fewer refiners than supports");
    std::vector<xt::xtensor<float, 2>> kernels(n);
    std::vector<std::vector<std::string>> lines(n);
    std::vector<std::exception_ptr> errors(n);
    const fft::ScopedThreads<fft::Fftw> shared(std::max(1, fft::Fftw::threads() / static_cast<int>(n)));
    DEBLUR_OMP(omp parallel for num_threads(static_cast<int>(n)) schedule(static, 1))
    for (std::ptrdiff_t i = 0; i < static_cast<std::ptrdiff_t>(n); ++i) {
        try {
            std::function<void(const std::string&)> record;  // the lines kept, a cancellation seen at once
            if (options.progress)
                record = checking_cancel([&lines, i](const std::string& line) { lines[i].push_back(line); }, options.cancel);
            kernels[i] = refiners[i]->refine(crop, initial, supports[i], noise, record);
        } catch (...) {
            errors[i] = std::current_exception();
        }
    }
    for (std::size_t i = 0; i < n; ++i) {
        if (errors[i]) std::rethrow_exception(errors[i]);
        for (const auto& line : lines[i]) options.progress(line);
    }
    return kernels;
}

// The odd support halfway (geometrically) between two supports, or 0 when none lies strictly between.
inline int odd_between(int smaller, int larger) {
    const int middle = static_cast<int>(std::lround(std::sqrt(double(smaller) * larger))) | 1;
    return middle > smaller && middle < larger ? middle : 0;
}

// The refinement on a ladder of supports (automatic size): each support is
// refine_ladder_growth times the previous one, the first refine_growth times
// the network's kernel, the last at most half the crop. A kernel is accepted
// when it lies inside its support (kernel_fits_support) and agrees with the
// previous support's kernel (kernel_similarity >= refine_agreement): a blur
// that a support holds comes out the same on a larger one, while a failed
// estimate spreads noise that changes with the support. The smaller of the
// two is kept when it fits too. When two neighbours disagree although both
// kernels lie inside their supports, the larger may have wandered off on its
// own: a support between them is refined, and the smaller is accepted if
// that one agrees with it (on Levin's benchmark this keeps one image from
// flipping to "unreliable" under perturbations of 1e-4). Each refinement starts from
// the network's kernel, so an error on one support does not carry over to
// the next, and with two refiners (two threads) the supports are refined two
// at a time: the result is that of one refiner, in less time. The accepted
// kernel is then polished on its support (KernelRefiner::polish); the
// comparisons use the unpolished kernels.
inline KernelEstimate refine_on_ladder(const std::vector<KernelRefiner<float>*>& refiners, const xt::xtensor<float, 2>& crop,
                                       const xt::xtensor<float, 2>& network_kernel, double noise,
                                       const BlindDeblurOptions& options) {
    const auto say = [&](const std::string& s) { if (options.progress) options.progress(s); };
    const int largest = largest_support(crop);
    std::vector<int> ladder{std::min(largest, KernelRefiner<float>::support_for(network_kernel.shape(0), options.refine_growth))};
    while (ladder.back() < largest && int(ladder.size()) < options.refine_ladder_steps)
        ladder.push_back(std::min(largest, KernelRefiner<float>::support_for(std::size_t(ladder.back()), options.refine_ladder_growth)));
    const auto trimmed = [](const xt::xtensor<float, 2>& k) { return crop_kernel_to_support(k, 0.0, 1); };
    const auto accepted = [&](const xt::xtensor<float, 2>& k) {
        return KernelEstimate{trimmed(refiners[0]->polish(crop, k, noise, options.progress)), true, {}};
    };
    const auto comparison = [](int smaller, int larger, double similarity) {
        return "kernels on " + std::to_string(smaller) + " and " + std::to_string(larger) + " px supports: similarity " +
               std::to_string(similarity);
    };

    std::vector<xt::xtensor<float, 2>> kernels;  // on ladder[0 .. kernels.size())
    const auto kernel_on = [&](std::size_t i) -> const xt::xtensor<float, 2>& {
        if (i >= kernels.size()) {
            const std::size_t count = std::min(refiners.size(), ladder.size() - kernels.size());
            for (auto& k : refine_supports(refiners, crop, network_kernel,
                                           std::span<const int>(ladder).subspan(kernels.size(), count), noise, options))
                kernels.push_back(std::move(k));
        }
        return kernels[i];
    };
    if (ladder.size() == 1) {
        const auto& only = kernel_on(0);
        if (kernel_fits_support(only)) return accepted(only);
        return {trimmed(only), false,
                "the kernel fills its " + std::to_string(ladder[0]) + " px support, the largest this image allows"};
    }
    xt::xtensor<float, 2> least_filled = kernel_on(0);
    for (std::size_t i = 1; i < ladder.size(); ++i) {
        const auto& k = kernel_on(i);
        const auto& previous = kernels[i - 1];
        const bool fits = kernel_fits_support(k);
        const double agreement = kernel_similarity(trimmed(k), trimmed(previous));
        say(comparison(ladder[i - 1], ladder[i], agreement) + (fits ? "" : ", the larger fills its support"));
        if (fits && agreement >= options.refine_agreement)
            return accepted(kernel_fits_support(previous) ? previous : k);
        // Both hold their kernels but disagree: the larger may have wandered
        // off on its own, and a support between the two decides. (When the
        // larger fills its support the blur may exceed the smaller one too.)
        const int between = odd_between(ladder[i - 1], ladder[i]);
        if (fits && kernel_fits_support(previous) && between > 0) {
            const auto middle = refine_supports(refiners, crop, network_kernel, std::span<const int>(&between, 1), noise, options)[0];
            const double middle_agreement = kernel_similarity(trimmed(middle), trimmed(previous));
            say(comparison(ladder[i - 1], between, middle_agreement));
            if (kernel_fits_support(middle) && middle_agreement >= options.refine_agreement) return accepted(previous);
        }
        if (kernel_outer_mass(k) < kernel_outer_mass(least_filled)) least_filled = k;
    }
    return {trimmed(least_filled), false,
            "the kernels on supports of " + std::to_string(ladder.front()) + " to " + std::to_string(ladder.back()) +
                " px disagree: the blur could not be estimated reliably"};
}

// The kernel of a gray crop (intensities in [0, 1], linear) with noise level
// `noise`: the model's network for that noise, then, unless options.refine is
// off or the noise is above options.refine_max_noise, the classical
// refinement (on the ladder of supports, or on options.kernel_size) and its
// polish. Says
// whether the estimate is reliable, and adds the network's and the
// refinement's times to `timings` when given.
template <class Net>
KernelEstimate estimate_kernel(const xt::xtensor<float, 2>& crop, double noise, const BlindDeblurOptions& options,
                               const Model& model, Workspace<Net>& workspace, BlindDeblurTimings* timings) {
    StageClock clock;
    if (!(options.refine_growth > 0) || !std::isfinite(options.refine_growth) || !(options.refine_ladder_growth > 1) ||
        !std::isfinite(options.refine_ladder_growth) || options.refine_ladder_steps < 1 ||
        !(options.refine_agreement >= 0 && options.refine_agreement <= 1))
        throw std::invalid_argument("deblur::estimate_kernel: refine_growth must be positive, refine_ladder_growth above 1, "
                                    "refine_ladder_steps at least 1 and refine_agreement in [0, 1]");
    const auto say = [&](const std::string& s) { if (options.progress) options.progress(s); };
    if (is_texture_free(crop, noise)) {
        say(texture_free_warning);
        return {xt::xtensor<float, 2>{{1.0f}}, false, texture_free_warning, noise};
    }
    const ModelBytes& network = model.network_for_noise(noise);
    say("model " + network.name);
    KernelEstimate estimate{options.network ? options.network(crop, network, options.kernel_size, options.progress)
                                            : workspace.estimator(network).estimate(crop, options.kernel_size, options.progress),
                            true, {}, noise};
    clock.lap(timings ? &timings->network : nullptr);
    if (options.refine && noise > options.refine_max_noise)
        say("noise above " + std::to_string(options.refine_max_noise) + ": the network's kernel is used unrefined");
    if (options.refine && noise <= options.refine_max_noise) {
        if (options.kernel_size > 0) {
            const int size = std::min(largest_support(crop), options.kernel_size | 1);
            KernelRefiner<float>& refiner = *workspace.refiners(options.refinement, 1)[0];
            const auto refined = refiner.refine(crop, estimate.kernel, size, noise, options.progress);
            estimate.kernel = crop_kernel_to_support(refiner.polish(crop, refined, noise, options.progress), 0.0, 1);
        } else {
            // Two supports at a time when there are threads for both.
            const std::size_t parallel = omp_get_max_threads() > 1 ? 2 : 1;
            estimate = refine_on_ladder(workspace.refiners(options.refinement, parallel), crop, estimate.kernel, noise, options);
            estimate.noise = noise;
        }
        clock.lap(timings ? &timings->refinement : nullptr);
    }
    return estimate;
}

}  // namespace detail
}  // namespace deblur
