#pragma once
// The examples of one training step, made in parallel (OpenMP): element i of
// `batch` gets example `first + i` of step `step`, drawn by
// make(rng, batch[i]) from a generator seeded with
// derive_seed(seed, {step, first + i}). So a batch is the same whichever
// thread or process makes which example; the first error is rethrown.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <random>
#include <vector>

#include "../core/openmp.hpp"
#include "derive_seed.hpp"

namespace deblur::train {

template <class Example, class Make>
void fill_examples(std::vector<Example>& batch, std::uint64_t seed, std::uint64_t step, std::uint64_t first,
                   const Make& make) {
    const auto n = static_cast<std::ptrdiff_t>(batch.size());
    std::vector<std::exception_ptr> errors(batch.size());
DEBLUR_OMP(omp parallel for schedule(dynamic, 1))
    for (std::ptrdiff_t i = 0; i < n; ++i) {
        try {
            std::mt19937_64 rng(derive_seed(seed, {step, first + static_cast<std::uint64_t>(i)}));
            make(rng, batch[static_cast<std::size_t>(i)]);
        } catch (...) {
            errors[static_cast<std::size_t>(i)] = std::current_exception();
        }
    }
    for (const auto& e : errors)
        if (e) std::rethrow_exception(e);
}

}  // namespace deblur::train
