#pragma once
// A FIXED validation set: the same examples on every run, so validation losses
// of different runs and checkpoints compare. For each kernel size and each
// validation image (sorted path order, optionally the first N): the centre
// crop (crop + K - 1 sharp, `crop` blurry; or the whole image when crop = 0),
// one GP kernel and the noise, both drawn from a generator seeded with
// derive_seed(seed, {K, image index}) — so adding images or kernel sizes does
// not change the examples already there.
//
// Images whose centre crop fails the texture test of Section 3.3 (measured on
// the blurry-sized centre window, the same for every K) are left out, as are
// images smaller than the largest sharp crop; both are counted. Every kernel
// size therefore uses the same images.
//
// Never build it from training images: pass the training folder and the
// constructor refuses a validation folder inside it (or containing it).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>
#include <xtensor/xtensor.hpp>

#include "../blur/blur.hpp"
#include "../blur/motion_kernel_sampler.hpp"
#include "../blur/noise.hpp"
#include "../core/openmp.hpp"
#include "derive_seed.hpp"
#include "gradient_fraction.hpp"
#include "training_example.hpp"
#include "training_set.hpp"

namespace deblur::train {

struct ValidationSetOptions {
    std::vector<int> kernel_sizes{17, 25, 33};
    int crop = 256;                       // blurry size of the centre crop; 0: the whole image
    std::size_t max_images = 0;           // 0: all
    double noise_sigma = 0.01;
    double gradient_threshold = 0.05;     // the texture test of the training examples
    double min_gradient_fraction = 0.06;  // 0 keeps every image
    std::uint64_t seed = 0x5EED'7A11'DA7Eull;
    MotionKernelOptions kernel{};
};

class ValidationSet {
public:
    // Reads the images of `folder` (recursively). If `training_folder` is given, throws
    // std::invalid_argument when one folder lies inside the other (or they are the same).
    explicit ValidationSet(const std::filesystem::path& folder, ValidationSetOptions options = {},
                           const std::filesystem::path& training_folder = {})
        : options_(std::move(options)) {
        if (!training_folder.empty() && overlaps(folder, training_folder))
            throw std::invalid_argument("deblur::train::ValidationSet: validation folder " + folder.string() +
                                        " overlaps the training folder " + training_folder.string());
        build(TrainingSet(folder, TrainingSetOptions{options_.max_images}));
    }

    // From images already in memory.
    ValidationSet(const TrainingSet& images, ValidationSetOptions options) : options_(std::move(options)) {
        build(images);
    }

    const ValidationSetOptions& options() const { return options_; }
    const std::vector<int>& kernel_sizes() const { return options_.kernel_sizes; }
    // The examples for kernel size K (one per used image, in image order).
    std::span<const TrainingExample> examples(int kernel_size) const {
        for (std::size_t k = 0; k < options_.kernel_sizes.size(); ++k)
            if (options_.kernel_sizes[k] == kernel_size) return examples_[k];
        throw std::invalid_argument("deblur::train::ValidationSet: no examples for kernel size " +
                                    std::to_string(kernel_size));
    }
    // The files (or names) the examples came from, in example order.
    const std::vector<std::filesystem::path>& sources() const { return sources_; }
    std::size_t size() const { return sources_.size(); }
    std::size_t skipped_small() const { return skipped_small_; }
    std::size_t skipped_flat() const { return skipped_flat_; }

    // True when one path is the other or lies inside it.
    static bool overlaps(const std::filesystem::path& a, const std::filesystem::path& b) {
        namespace fs = std::filesystem;
        auto norm = [](const fs::path& p) { return fs::weakly_canonical(fs::absolute(p)); };
        auto inside = [](const fs::path& inner, const fs::path& outer) {
            auto i = inner.begin();
            for (auto o = outer.begin(); o != outer.end(); ++o, ++i) {
                if (o->empty()) continue;  // a trailing separator
                if (i == inner.end() || *i != *o) return false;
            }
            return true;
        };
        const auto na = norm(a), nb = norm(b);
        return inside(na, nb) || inside(nb, na);
    }

private:
    void build(const TrainingSet& images) {
        const std::string who = "deblur::train::ValidationSet: ";
        if (options_.kernel_sizes.empty()) throw std::invalid_argument(who + "no kernel sizes");
        for (int k : options_.kernel_sizes)
            if (k < 3) throw std::invalid_argument(who + "kernel sizes must be at least 3");
        if (options_.crop < 0 || options_.crop == 1) throw std::invalid_argument(who + "crop must be 0 or >= 2");
        if (!(options_.noise_sigma >= 0) || !std::isfinite(options_.noise_sigma))
            throw std::invalid_argument(who + "noise_sigma must be finite and >= 0");
        const int largest = *std::max_element(options_.kernel_sizes.begin(), options_.kernel_sizes.end());
        const MotionKernelSampler sampler(options_.kernel);
        const std::size_t n = options_.max_images > 0 ? std::min(options_.max_images, images.size()) : images.size();

        // Which images take part (cheap, serial), then their examples (in parallel:
        // each has its own seeded generator, so the thread count does not matter).
        struct Window {
            std::size_t image, bh, bw;
        };
        std::vector<Window> used;
        for (std::size_t i = 0; i < n; ++i) {
            const auto& image = images.image(i);
            const std::size_t h = image.shape(0), w = image.shape(1), big = std::size_t(largest);
            // The blurry-sized window all kernel sizes share (centred).
            if (h < big || w < big) {
                ++skipped_small_;
                continue;
            }
            const std::size_t bh = options_.crop > 0 ? std::size_t(options_.crop) : h + 1 - big;
            const std::size_t bw = options_.crop > 0 ? std::size_t(options_.crop) : w + 1 - big;
            if (h + 1 < bh + big || w + 1 < bw + big || bh < 2 || bw < 2) {
                ++skipped_small_;
                continue;
            }
            const float* window = image.data() + ((h - bh) / 2) * w + (w - bw) / 2;
            if (gradient_fraction(window, bh, bw, w, options_.gradient_threshold) < options_.min_gradient_fraction) {
                ++skipped_flat_;
                continue;
            }
            used.push_back({i, bh, bw});
            sources_.push_back(images.path(i));
        }

        const std::size_t sizes = options_.kernel_sizes.size();
        examples_.assign(sizes, std::vector<TrainingExample>(used.size()));
        const auto jobs = static_cast<std::ptrdiff_t>(sizes * used.size());
        std::vector<std::exception_ptr> errors(static_cast<std::size_t>(jobs));
DEBLUR_OMP(omp parallel for schedule(dynamic, 1))
        for (std::ptrdiff_t job = 0; job < jobs; ++job) {
            try {
                const std::size_t k = static_cast<std::size_t>(job) % sizes, u = static_cast<std::size_t>(job) / sizes;
                const auto& [i, bh, bw] = used[u];
                const auto& image = images.image(i);
                const std::size_t h = image.shape(0), w = image.shape(1);
                const int K = options_.kernel_sizes[k];
                std::mt19937_64 rng(derive_seed(options_.seed, {std::uint64_t(K), std::uint64_t(i)}));
                const std::size_t sh = bh + std::size_t(K) - 1, sw = bw + std::size_t(K) - 1;
                TrainingExample& e = examples_[k][u];
                e.sharp = xt::xtensor<float, 2>::from_shape({sh, sw});
                const std::size_t r0 = (h - sh) / 2, c0 = (w - sw) / 2;
                for (std::size_t r = 0; r < sh; ++r)
                    std::copy_n(image.data() + (r0 + r) * w + c0, sw, e.sharp.data() + r * sw);
                e.kernel = sampler.sample<float>(K, rng);
                e.blurry = blur(e.sharp, e.kernel, BlurMode::valid);
                add_gaussian_noise(e.blurry, options_.noise_sigma, rng);
            } catch (...) {
                errors[static_cast<std::size_t>(job)] = std::current_exception();
            }
        }
        for (const auto& e : errors)
            if (e) std::rethrow_exception(e);
        if (sources_.empty())
            throw std::invalid_argument(who + "no usable image (" + std::to_string(skipped_small_) + " too small, " +
                                        std::to_string(skipped_flat_) + " without enough texture)");
    }

    ValidationSetOptions options_;
    std::vector<std::vector<TrainingExample>> examples_;  // [kernel size][image]
    std::vector<std::filesystem::path> sources_;
    std::size_t skipped_small_ = 0;
    std::size_t skipped_flat_ = 0;
};

}  // namespace deblur::train
