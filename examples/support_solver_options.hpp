#pragma once
// The refinement's support-solver options (kernel_refiner.hpp) as the
// programs' --refine-support-* flags.
#include <CLI/CLI.hpp>

#include <deblur/pipeline/kernel_refiner.hpp>

namespace deblur::tools {

inline void add_support_solver_options(CLI::App& app, KernelRefinerOptions& options) {
    app.add_option("--refine-support-levels", options.support_levels,
                   "Refinement: kernel update on its support (conjugate gradients) on this many finest levels of "
                   "low-noise images")->capture_default_str();
    app.add_option("--refine-support-max-noise", options.support_max_noise,
                   "Refinement: the most noise (estimated or given) for --refine-support-levels")->capture_default_str();
    app.add_option("--refine-support-tail-noise", options.support_tail_noise,
                   "Refinement: --refine-tail-noise for the images solved on the support")->capture_default_str();
    app.add_option("--refine-support-weight", options.support_kernel_weight,
                   "Refinement: Tikhonov weight of the kernel update on its support")->capture_default_str();
}

}  // namespace deblur::tools
