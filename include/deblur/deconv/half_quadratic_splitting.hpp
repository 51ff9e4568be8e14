#pragma once
// The half-quadratic splitting schedule of the hyper-Laplacian deconvolvers
// (Krishnan & Fergus 2009), one loop for every blur operator: the uniform
// kernel (hyper_laplacian.hpp) and the EFF kernel field (eff_deconvolver.hpp)
// differ only in how they solve the x-subproblem. For
//
//     min_x 1/2 || A x - y ||^2 + lambda sum |Dx x|^alpha + |Dy x|^alpha,
//
// w ~ D x with the penalty lambda beta/2 || D x - w ||^2, beta from
// beta_start, times beta_rate per outer iteration; each of inner_iterations
// per outer iteration runs
//   - w_step(shrink): w = shrink(D x) per pixel (the w-subproblem; `shrink` is
//     the exact HyperLaplacianShrinkage, or a ShrinkageTable of it for
//     alpha != 1, rebuilt once per beta), and what the operator needs of w
//     (D'w, its transform);
//   - x_step(mu): the quadratic (mu A'A + D'D) x = mu A'y + D'w, mu = 1 / (lambda beta).
#include <optional>

#include "deconv_options.hpp"
#include "shrinkage.hpp"
#include "shrinkage_table.hpp"

namespace deblur::detail {

template <class T, class WStep, class XStep>
void half_quadratic_splitting(const DeconvOptions& options, std::optional<ShrinkageTable<T>>& table,
                              const WStep& w_step, const XStep& x_step) {
    double beta = options.beta_start;
    for (int outer = 0; outer < options.outer_iterations; ++outer, beta *= options.beta_rate) {
        const HyperLaplacianShrinkage<T> exact(options.alpha, beta);
        const T mu = static_cast<T>(1 / (options.lambda * beta));
        // Soft thresholding is cheap; other alphas use a per-beta lookup table.
        const bool tabulate = options.alpha != 1;
        if (tabulate) {
            if (table) table->rebuild(exact);
            else table.emplace(exact);
        }
        for (int inner = 0; inner < options.inner_iterations; ++inner) {
            if (tabulate) w_step(*table);
            else w_step(exact);
            x_step(mu);
        }
    }
}

}  // namespace deblur::detail
