#pragma once
// The refinement's support-solver options (kernel_refiner.hpp) as the
// programs' --refine-support-* flags.
#include <CLI/CLI.hpp>

#include <deblur/pipeline/kernel_refiner.hpp>

#include "command_line.hpp"

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

// Their values, before any work (UsageError naming the option and value).
inline void check_support_solver_options(const KernelRefinerOptions& options) {
    require_count("--refine-support-levels", options.support_levels, 0, 100);
    require_in_range("--refine-support-max-noise", options.support_max_noise, 0, 1);
    require_in_range("--refine-support-tail-noise", options.support_tail_noise, 0, 1e6);
    require_positive("--refine-support-weight", options.support_kernel_weight, 1e12);
}

}  // namespace deblur::tools
