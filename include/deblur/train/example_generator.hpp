#pragma once
// Synthetic training pairs on the fly (Section 3.3): a random sharp crop of a
// training photo (optionally flipped / rotated by a multiple of 90 degrees),
// rejected and redrawn while it has too little texture, a Gaussian-process
// camera-shake kernel, a 'valid' blur and white Gaussian noise.
//
// Sizes: `crop` is the size of the BLURRY image; the sharp crop is
// crop + K - 1 on each side and is blurred 'valid', so the blurry image never
// contains a wrapped or zero-padded border (see DESIGN.md, "Boundaries").
//
// Determinism: `next(rng)` draws everything from `rng` in a fixed order, so
// the same generator state gives the same example. `fill_batch(batch, step)`
// makes example i of step `step` from a generator seeded with
// derive_seed(seed, {step, i}): the batch is identical for any thread or
// process count and any example can be regenerated alone (`example_at`).
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>
#include <xtensor/xtensor.hpp>

#include "../blur/blur.hpp"
#include "../blur/motion_kernel_sampler.hpp"
#include "../blur/noise.hpp"
#include "derive_seed.hpp"
#include "fill_examples.hpp"
#include "gradient_fraction.hpp"
#include "training_example.hpp"
#include "training_set.hpp"

namespace deblur::train {

struct ExampleGeneratorOptions {
    int crop = 128;                      // blurry image size (square); the paper uses 256
    int kernel_size = 17;                // K
    double noise_sigma = 0.01;           // std of the added noise, images in [0, 1]
    double gradient_threshold = 0.05;    // |dx| and |dy| at least this ...
    double min_gradient_fraction = 0.06; // ... at this fraction of the sharp crop's pixels, or redraw
    bool augment = true;                 // random flips and rotations by multiples of 90 degrees
    int max_tries = 1000;                // crops drawn per example before giving up
    std::uint64_t seed = 0;              // for fill_batch / example_at
    MotionKernelOptions kernel{};        // the GP kernel model
};

class ExampleGenerator {
public:
    // `set` must outlive the generator. Images smaller than the sharp crop are
    // skipped (see skipped_images()); throws std::invalid_argument if none is left.
    ExampleGenerator(const TrainingSet& set, ExampleGeneratorOptions options)
        : set_(&set), options_(options), sampler_(options.kernel), counters_(std::make_unique<Counters>()) {
        const std::string who = "deblur::train::ExampleGenerator: ";
        if (options.crop < 2) throw std::invalid_argument(who + "crop must be at least 2");
        if (options.kernel_size < 3) throw std::invalid_argument(who + "kernel_size must be at least 3");
        if (!(options.noise_sigma >= 0) || !std::isfinite(options.noise_sigma))
            throw std::invalid_argument(who + "noise_sigma must be finite and >= 0");
        if (!(options.gradient_threshold >= 0) || !(options.min_gradient_fraction >= 0) ||
            !(options.min_gradient_fraction <= 1))
            throw std::invalid_argument(who + "gradient_threshold must be >= 0 and min_gradient_fraction in [0, 1]");
        if (options.max_tries < 1) throw std::invalid_argument(who + "max_tries must be at least 1");
        const std::size_t s = sharp_size();
        for (std::size_t i = 0; i < set.size(); ++i) {
            const auto& im = set.image(i);
            if (im.shape(0) >= s && im.shape(1) >= s) usable_.push_back(i);
        }
        if (usable_.empty())
            throw std::invalid_argument(who + "none of the " + std::to_string(set.size()) +
                                        " images is at least " + std::to_string(s) + " x " + std::to_string(s) +
                                        " (crop + kernel_size - 1)");
    }

    const ExampleGeneratorOptions& options() const { return options_; }
    std::size_t sharp_size() const { return std::size_t(options_.crop) + std::size_t(options_.kernel_size) - 1; }
    std::size_t usable_images() const { return usable_.size(); }
    std::size_t skipped_images() const { return set_->size() - usable_.size(); }
    // Crops drawn so far and how many of them failed the texture test (all threads).
    std::uint64_t crops_drawn() const { return counters_->drawn.load(); }
    std::uint64_t crops_rejected() const { return counters_->rejected.load(); }

    TrainingExample next(std::mt19937_64& rng) const {
        TrainingExample e;
        next(rng, e);
        return e;
    }

    // As above, reusing the memory of `out`. Throws std::runtime_error when
    // max_tries crops in a row fail the texture test (e.g. a set of flat images).
    void next(std::mt19937_64& rng, TrainingExample& out) const {
        draw_crop(rng, out.sharp);
        out.kernel = sampler_.sample<float>(options_.kernel_size, rng);
        out.blurry = blur(out.sharp, out.kernel, BlurMode::valid);
        add_gaussian_noise(out.blurry, options_.noise_sigma, rng);
    }

    // The sharp crop of next(): a random window (sharp_size() square) of a
    // random image, augmented, redrawn until it passes the texture test.
    // Throws std::runtime_error when max_tries crops in a row fail.
    void draw_crop(std::mt19937_64& rng, xt::xtensor<float, 2>& sharp) const {
        const std::size_t s = sharp_size();
        if (sharp.shape(0) != s || sharp.shape(1) != s) sharp.resize({s, s});
        std::uniform_int_distribution<std::size_t> pick_image(0, usable_.size() - 1);
        std::uniform_int_distribution<int> pick_orientation(0, options_.augment ? 7 : 0);
        bool accepted = false;
        int tries = 0;
        for (; tries < options_.max_tries && !accepted; ++tries) {
            const auto& image = set_->image(usable_[pick_image(rng)]);
            std::uniform_int_distribution<std::size_t> pick_row(0, image.shape(0) - s);
            std::uniform_int_distribution<std::size_t> pick_col(0, image.shape(1) - s);
            const std::size_t r0 = pick_row(rng), c0 = pick_col(rng);
            const int orientation = pick_orientation(rng);
            copy_crop(image, r0, c0, orientation, sharp);
            accepted = gradient_fraction(sharp, options_.gradient_threshold) >= options_.min_gradient_fraction;
        }
        counters_->drawn += std::uint64_t(tries);
        counters_->rejected += std::uint64_t(tries - (accepted ? 1 : 0));
        if (!accepted)
            throw std::runtime_error("deblur::train::ExampleGenerator: no crop out of " +
                                     std::to_string(options_.max_tries) + " had the required " +
                                     std::to_string(options_.min_gradient_fraction * 100) +
                                     " % of pixels with gradients >= " + std::to_string(options_.gradient_threshold) +
                                     " in x and y; are the training images flat?");
    }

    // Example `index` of training step `step` (what fill_batch puts at that index).
    TrainingExample example_at(std::uint64_t step, std::uint64_t index) const {
        std::mt19937_64 rng(derive_seed(options_.seed, {step, index}));
        return next(rng);
    }

    // Fills every element of `batch` (size it first) with examples first,
    // first + 1, ... of training step `step`, in parallel (OpenMP); reuses
    // the elements' memory.
    void fill_batch(std::vector<TrainingExample>& batch, std::uint64_t step, std::uint64_t first = 0) const {
        fill_examples(batch, options_.seed, step, first,
                      [this](std::mt19937_64& rng, TrainingExample& out) { next(rng, out); });
    }

    // The s x s window of `image` at (r0, c0) under one of the 8 symmetries of
    // the square: bit 0 transposes, bit 1 flips rows, bit 2 flips columns
    // (together: the 4 rotations by 90 degrees and their mirror images).
    static void copy_crop(const xt::xtensor<float, 2>& image, std::size_t r0, std::size_t c0, int orientation,
                          xt::xtensor<float, 2>& out) {
        const std::size_t s = out.shape(0), stride = image.shape(1);
        const float* src = image.data() + r0 * stride + c0;
        float* dst = out.data();
        const bool transpose = orientation & 1, flip_rows = orientation & 2, flip_cols = orientation & 4;
        // Source offset of output (r, c) = base + r * step_r + c * step_c.
        std::ptrdiff_t step_r = transpose ? 1 : std::ptrdiff_t(stride);
        std::ptrdiff_t step_c = transpose ? std::ptrdiff_t(stride) : 1;
        std::ptrdiff_t base = 0;
        if (flip_rows) {
            base += std::ptrdiff_t(s - 1) * step_r;
            step_r = -step_r;
        }
        if (flip_cols) {
            base += std::ptrdiff_t(s - 1) * step_c;
            step_c = -step_c;
        }
        for (std::size_t r = 0; r < s; ++r) {
            const float* in = src + base + std::ptrdiff_t(r) * step_r;
            float* o = dst + r * s;
            for (std::size_t c = 0; c < s; ++c) o[c] = in[std::ptrdiff_t(c) * step_c];
        }
    }

private:
    struct Counters {
        std::atomic<std::uint64_t> drawn{0};
        std::atomic<std::uint64_t> rejected{0};
    };

    const TrainingSet* set_;
    ExampleGeneratorOptions options_;
    MotionKernelSampler sampler_;
    std::vector<std::size_t> usable_;
    std::unique_ptr<Counters> counters_;
};

}  // namespace deblur::train
