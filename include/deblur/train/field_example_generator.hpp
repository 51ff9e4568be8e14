#pragma once
// Synthetic training pairs for spatially-varying blur (issue 7, Section 5.3):
// the sharp crop of ExampleGenerator (same photos, texture test, augmentation
// and sizes: `crop` blurry, crop + K - 1 sharp), blurred by a random camera
// trajectory with in-plane rotation (CameraShakeSampler) through the EFF
// model on a fine `true_grid` x `true_grid` grid (camera_shake_blur.hpp, the
// benchmark's data), plus Gaussian noise. The target is the trajectory's
// kernel field at the patch centres of the `grid` x `grid` estimation grid
// over the blurry image (FieldExample).
//
// Determinism as ExampleGenerator: next(rng) draws the crop, then the
// trajectory, then the noise from `rng`; fill_batch(batch, step) makes
// example i from derive_seed(seed, {step, i}), for any thread count.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>
#include <xtensor/xtensor.hpp>

#include "../blur/camera_shake_blur.hpp"
#include "../blur/camera_shake_sampler.hpp"
#include "../blur/eff_grid.hpp"
#include "../blur/noise.hpp"
#include "derive_seed.hpp"
#include "example_generator.hpp"
#include "fill_examples.hpp"
#include "field_example.hpp"
#include "training_set.hpp"

namespace deblur::train {

struct FieldExampleGeneratorOptions {
    // Crop, K, noise, texture test, augmentation, tries, seed (its GP kernel options are not used).
    ExampleGeneratorOptions data{};
    std::size_t grid = 3;        // estimation grid over the blurry image (patches per axis)
    std::size_t true_grid = 8;   // grid of the EFF blur that makes the data (finer: closer to the true field)
    CameraShakeOptions shake{};  // the trajectory model (translation and rotation scales)
};

class FieldExampleGenerator {
public:
    // `set` must outlive the generator; throws std::invalid_argument as ExampleGenerator does,
    // and for a grid that does not fit the crop.
    FieldExampleGenerator(const TrainingSet& set, FieldExampleGeneratorOptions options)
        : options_(options), crops_(set, options.data), sampler_(options.shake) {
        const auto crop = static_cast<std::size_t>(options.data.crop);
        if (options.grid < 1 || options.grid > crop || options.true_grid < 1 || options.true_grid > crops_.sharp_size())
            throw std::invalid_argument("deblur::train::FieldExampleGenerator: grid and true_grid must be at least 1 and fit the crop");
        if (options.data.kernel_size < 5 || options.data.kernel_size % 2 == 0)
            throw std::invalid_argument("deblur::train::FieldExampleGenerator: kernel_size must be odd and at least 5");
    }

    const FieldExampleGeneratorOptions& options() const { return options_; }
    std::size_t sharp_size() const { return crops_.sharp_size(); }
    std::size_t patches() const { return options_.grid * options_.grid; }
    std::uint64_t crops_drawn() const { return crops_.crops_drawn(); }
    std::uint64_t crops_rejected() const { return crops_.crops_rejected(); }
    // The estimation grid over the blurry image (where the target's kernels are).
    EFFGrid grid() const {
        const auto crop = static_cast<std::size_t>(options_.data.crop);
        return EFFGrid(crop, crop, options_.grid, options_.grid);
    }

    FieldExample next(std::mt19937_64& rng) const {
        FieldExample e;
        next(rng, e);
        return e;
    }

    // As above, reusing the memory of `out`; throws std::runtime_error as ExampleGenerator::next.
    void next(std::mt19937_64& rng, FieldExample& out) const {
        crops_.draw_crop(rng, out.sharp);
        const std::size_t s = sharp_size();
        const auto trajectory = sampler_.sample(s, s, options_.data.kernel_size, rng);
        out.blurry = camera_shake_blur(out.sharp, trajectory, options_.true_grid);
        add_gaussian_noise(out.blurry, options_.data.noise_sigma, rng);
        const auto field = CameraShakeSampler::valid_kernel_field<float>(trajectory, grid());
        out.kernel.resize({field.shape(0), field.shape(1), field.shape(2)});
        std::copy(field.begin(), field.end(), out.kernel.begin());
    }

    // Example `index` of training step `step` (what fill_batch puts at that index).
    FieldExample example_at(std::uint64_t step, std::uint64_t index) const {
        std::mt19937_64 rng(derive_seed(options_.data.seed, {step, index}));
        return next(rng);
    }

    // Fills every element of `batch` (size it first) with examples first,
    // first + 1, ... of step `step`, in parallel.
    void fill_batch(std::vector<FieldExample>& batch, std::uint64_t step, std::uint64_t first = 0) const {
        fill_examples(batch, options_.data.seed, step, first,
                      [this](std::mt19937_64& rng, FieldExample& out) { next(rng, out); });
    }

private:
    FieldExampleGeneratorOptions options_;
    ExampleGenerator crops_;  // the sharp crops (its kernels are not used)
    CameraShakeSampler sampler_;
};

}  // namespace deblur::train
