#pragma once
// A FIXED validation set for spatially-varying training (issue 7): `count`
// field examples (field_example_generator.hpp) drawn from the validation
// photos with a fixed seed, so every run and checkpoint is measured on the
// same examples. Example i is FieldExampleGenerator::example_at(0, i) with
// options.data.seed (a random textured crop of a random photo, no
// augmentation), so the set depends only on the photos, the options and
// `count`, and a longer set starts with the shorter one.
//
// Never build it from training images: as ValidationSet, the constructor
// refuses a validation folder inside the training folder (or containing it).
#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <vector>

#include "../core/openmp.hpp"
#include "field_example.hpp"
#include "field_example_generator.hpp"
#include "training_set.hpp"
#include "validation_set.hpp"

namespace deblur::train {

class FieldValidationSet {
public:
    FieldValidationSet(const std::filesystem::path& folder, FieldExampleGeneratorOptions options, std::size_t count,
                       std::size_t max_images = 0, const std::filesystem::path& training_folder = {}) {
        if (!training_folder.empty() && ValidationSet::overlaps(folder, training_folder))
            throw std::invalid_argument("deblur::train::FieldValidationSet: validation folder " + folder.string() +
                                        " overlaps the training folder " + training_folder.string());
        build(TrainingSet(folder, TrainingSetOptions{max_images}), options, count);
    }

    // From images already in memory.
    FieldValidationSet(const TrainingSet& images, FieldExampleGeneratorOptions options, std::size_t count) {
        build(images, options, count);
    }

    std::span<const FieldExample> examples() const { return examples_; }
    std::size_t size() const { return examples_.size(); }

private:
    void build(const TrainingSet& images, FieldExampleGeneratorOptions options, std::size_t count) {
        options.data.augment = false;
        const FieldExampleGenerator generator(images, options);
        examples_.resize(count);
        std::vector<std::exception_ptr> errors(count);
DEBLUR_OMP(omp parallel for schedule(dynamic, 1))
        for (std::ptrdiff_t i = 0; i < static_cast<std::ptrdiff_t>(count); ++i) {
            try {
                examples_[static_cast<std::size_t>(i)] = generator.example_at(0, static_cast<std::uint64_t>(i));
            } catch (...) {
                errors[static_cast<std::size_t>(i)] = std::current_exception();
            }
        }
        for (const auto& e : errors)
            if (e) std::rethrow_exception(e);
    }

    std::vector<FieldExample> examples_;
};

}  // namespace deblur::train
